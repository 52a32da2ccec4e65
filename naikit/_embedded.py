"""The embedded default: the one place clients start the offline sandbox when they have no credentials.

Clients import the sandbox only through here (it is a server beside them, not part of them), start it
off the event loop (binding and seeding block briefly), and announce it once per service, in one line.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

# The demo credentials clients log in with when they use the sandbox (a tiny module: no server code loads).
from .sandbox.demo_account import DEMO_EMAIL, DEMO_KEY, DEMO_PASSWORD

if TYPE_CHECKING:
    from .sandbox.server import Sandbox

__all__ = ["start_embedded", "novita_demo_key", "DEMO_EMAIL", "DEMO_PASSWORD", "DEMO_KEY"]

_announced: set[tuple[str, str]] = set()


async def start_embedded(service: str, announcement: str) -> Sandbox:
    """Return the process's embedded sandbox, started on first use; print ``announcement`` (its
    ``{url}`` filled in) the first time ``service`` uses this sandbox."""
    from . import sandbox

    server = await asyncio.get_running_loop().run_in_executor(None, sandbox.embedded)
    if (service, server.url) not in _announced:
        _announced.add((service, server.url))
        print("naikit: " + announcement.format(url=server.url), file=sys.stdout)
    return server


def novita_demo_key() -> str:
    """Return the key the embedded sandbox's Novita emulation accepts (its demo key)."""
    from .sandbox.novita_store import DEMO_KEY

    return DEMO_KEY
