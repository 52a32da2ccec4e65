"""NovelAI: clients, credentials, account records and (in later modules) content, text and images."""

from __future__ import annotations
