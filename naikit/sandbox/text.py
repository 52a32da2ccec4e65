"""Sandbox route table for the text area (filled by its issue; see app.AREAS)."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
