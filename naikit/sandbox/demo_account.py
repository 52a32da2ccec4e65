"""The sandbox's demo credentials: the NovelAI demo account and the Novita demo key.

Kept apart from the server so the package face, the clients' door to the sandbox (``naikit._embedded``)
and the sandbox's own modules all read them without loading aiohttp.
"""

from __future__ import annotations

__all__ = ["DEMO_EMAIL", "DEMO_PASSWORD", "DEMO_KEY"]

DEMO_EMAIL = "demo@naikit.dev"
DEMO_PASSWORD = "naikit-demo"
#: The Novita API key the sandbox accepts.
DEMO_KEY = "naikit-demo-key"
