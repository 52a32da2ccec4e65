"""Run a client's one-time setup (credentials, hosts, the sandbox) once, even when first calls overlap."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

__all__ = ["OnceGate"]


class OnceGate:
    """The lock behind a client's "resolve once": :meth:`run` runs a setup unless it is done already."""

    def __init__(self) -> None:
        self._lock: asyncio.Lock | None = None

    async def run(self, done: Callable[[], bool], setup: Callable[[], Awaitable[None]]) -> None:
        """Await ``setup()`` unless ``done()``; returns None.

        Calls that arrive while a setup runs wait for it, then check ``done()`` again, so concurrent first
        requests log in once.
        """
        if done():
            return
        if self._lock is None:
            # made on first use, inside the loop that makes the first call
            self._lock = asyncio.Lock()
        async with self._lock:
            if not done():
                await setup()
