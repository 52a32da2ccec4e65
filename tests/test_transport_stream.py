"""Transport.stream sends the caller's headers (and the Bearer header over any Authorization among them)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from naikit._settings import Hosts
from naikit._transport import Transport


def _run(auth: bool, headers: dict[str, str] | None) -> tuple[list[dict[str, str]], bytes]:
    seen: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.headers))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"data: a\n\n")
        return resp

    async def main() -> bytes:
        app = web.Application()
        app.router.add_post("/ai/generate-stream", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        t = Transport(Hosts.single(f"http://127.0.0.1:{port}"))
        t.set_token("pst-secret-token-value")
        try:
            chunks = [
                c
                async for c in t.stream(
                    "POST", "text", "/ai/generate-stream", json={}, auth=auth, headers=headers
                )
            ]
        finally:
            await t.close()
            await runner.cleanup()
        return b"".join(chunks)

    data = asyncio.run(main())
    return seen, data


def test_stream_sends_extra_headers():
    seen, data = _run(True, {"X-Naikit-Seed": "7", "Accept": "text/event-stream"})
    assert data == b"data: a\n\n" and len(seen) == 1
    assert seen[0]["X-Naikit-Seed"] == "7" and seen[0]["Accept"] == "text/event-stream"
    assert seen[0]["Authorization"] == "Bearer pst-secret-token-value"


def test_stream_bearer_wins_and_no_headers_is_fine():
    seen, _ = _run(True, {"Authorization": "Bearer other"})
    assert seen[0]["Authorization"] == "Bearer pst-secret-token-value"
    seen, _ = _run(False, None)
    assert "Authorization" not in seen[0] and "X-Naikit-Seed" not in seen[0]
