"""A loopback proxy in front of the sandbox that loses answers on purpose (tests only).

Each request is forwarded to the sandbox unless a *mode* queued for its path says otherwise:

* ``"524"`` / ``"502"``: forward, let the sandbox act, then answer Cloudflare's 524 / a 502 page instead
* ``"drop"``: forward, let the sandbox act, then close the connection without an answer
* ``"refuse500"``: do not forward; answer 500 (the server did not act)
* ``"malformed"``: forward, then send the first bytes of the answer followed by a line that is not JSON
* ``"cut"``: forward, send the first event of a stream, then close the connection
* ``"stall"``: forward, send the first event of a stream, then send nothing more until the client leaves

Modes are queued per path prefix (``proxy.plan("/user/objects", "524")``) and used once each, in order.
``proxy.forwarded`` lists the (method, path) of every request that reached the sandbox.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque

import aiohttp
from aiohttp import ClientSession, web


class LossyProxy:
    """Start with ``with LossyProxy(sandbox_url) as proxy:``; ``proxy.url`` is its address."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.modes: dict[str, deque[str]] = {}
        self.forwarded: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="lossy-proxy")

    def plan(self, prefix: str, *modes: str) -> None:
        """Queue ``modes`` for the next requests whose path starts with ``prefix``."""
        with self.lock:
            self.modes.setdefault(prefix, deque()).extend(modes)

    def _mode(self, path: str) -> str:
        with self.lock:
            for prefix, q in self.modes.items():
                if path.startswith(prefix) and q:
                    return q.popleft()
        return "pass"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        mode = self._mode(request.path)
        if mode == "refuse500":
            return web.json_response({"statusCode": 500, "message": "Internal server error"}, status=500)
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
        with self.lock:
            self.forwarded.append((request.method, request.path))
        try:
            return await self._forward(request, body, headers, mode)
        except (ConnectionError, aiohttp.ClientConnectionResetError):
            return web.Response(status=499)  # the client left mid-stream: nothing to answer

    async def _forward(
        self, request: web.Request, body: bytes, headers: dict[str, str], mode: str
    ) -> web.StreamResponse:
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=body, headers=headers
        ) as up:
            ctype = up.headers.get("Content-Type", "application/octet-stream")
            if mode in ("pass", "malformed", "cut", "stall") and ctype.startswith(
                ("text/event-stream", "application/x-msgpack")
            ):
                resp = web.StreamResponse(status=up.status, headers={"Content-Type": ctype})
                await resp.prepare(request)
                first = True
                async for chunk in up.content.iter_any():
                    if mode != "pass" and not first:
                        break
                    await resp.write(chunk)
                    first = False
                if mode == "malformed":
                    await resp.write(b"\n\ndata: {this is not json\n\n")
                elif mode == "stall":
                    # until the client goes away (aiohttp does not cancel handlers on a disconnect)
                    while request.transport is not None and not request.transport.is_closing():
                        await asyncio.sleep(0.01)
                    return resp
                elif mode == "cut":
                    assert request.transport is not None
                    request.transport.abort()
                    return resp
                await resp.write_eof()
                return resp
            payload = await up.read()
            status = up.status
        if mode == "524":
            return web.Response(status=524, text="error code: 524")
        if mode == "502":
            return web.Response(
                status=502, text="<html><h1>502 Bad Gateway</h1></html>", content_type="text/html"
            )
        if mode == "drop":
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500, text="")
        return web.Response(status=status, body=payload, headers={"Content-Type": ctype})

    async def _start(self) -> None:
        self._session = ClientSession()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        await self._session.close()
        await self._runner.cleanup()

    def __enter__(self) -> LossyProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
