"""A loopback HTTP proxy that counts the generation requests it forwards, to prove what was sent.

``CountingProxy(target_url)`` listens on 127.0.0.1 and forwards every request to ``target_url``. Each
generation request (``/ai/generate*``, ``/oa/v1/*``) is counted under the sha256 of its method, path,
query and body. ``hold_at=n`` holds the n-th generation request after forwarding it (its response is not
returned) until :meth:`release`, and sets :attr:`arrived` when it comes: a deterministic point to kill a
client at, with one request in flight.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import threading

from aiohttp import ClientSession, web

GENERATION_PREFIXES = ("/ai/generate", "/oa/v1/")


class CountingProxy:
    """A counting proxy on its own thread and loop (use as a context manager)."""

    def __init__(self, target: str, hold_at: int | None = None):
        self.target = target.rstrip("/")
        self.hold_at = hold_at
        self.counts: collections.Counter[str] = collections.Counter()
        self.generations = 0
        self.arrived = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.url = ""
        self._thread = threading.Thread(target=self._main, daemon=True)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def release(self) -> None:
        """Let a held request answer."""
        self._release.set()

    def total(self) -> int:
        """Return the number of generation requests forwarded."""
        with self._lock:
            return sum(self.counts.values())

    def _main(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        session = ClientSession()
        app = web.Application(client_max_size=64 * 1024 * 1024)

        async def handle(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            held = False
            if request.path.startswith(GENERATION_PREFIXES):
                key = hashlib.sha256(f"{request.method} {request.path_qs}\n".encode() + body).hexdigest()
                with self._lock:
                    self.counts[key] += 1
                    self.generations += 1
                    held = self.hold_at is not None and self.generations == self.hold_at
            headers = {
                k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
            }
            async with session.request(
                request.method, self.target + request.path_qs, data=body, headers=headers
            ) as resp:
                data = await resp.read()
                status, ctype = resp.status, resp.headers.get("Content-Type")
                extra = {k: v for k, v in resp.headers.items() if k.lower() in ("retry-after",)}
            if held:
                self.arrived.set()
                while not self._release.is_set():
                    await asyncio.sleep(0.01)
            out = web.Response(status=status, body=data, headers=extra)
            if ctype:
                out.headers["Content-Type"] = ctype
            return out

        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
        await self._stop.wait()
        await session.close()
        await runner.cleanup()
