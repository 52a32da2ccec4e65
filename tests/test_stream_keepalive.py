"""A complete text stream leaves its connection reusable: the next request does not open a new one.

Closing a stream mid-body (the consumer has the final event, the body's end marker has not been read)
drops the connection, so every generation paid a new connection (against the real service a new TLS
handshake). The observer here is independent of the client: a TCP relay in front of the sandbox that
counts the connections it accepts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sandbox_fixtures import DEMO

from naikit import _chunk_stream
from naikit.novelai.async_client import AsyncNovelAI


@asynccontextmanager
async def relay(target: str) -> AsyncIterator[tuple[str, list[int]]]:
    """Yield (url, accepted) for a TCP relay to ``target`` (``http://host:port``); ``accepted`` grows by
    one for every connection a client opens to the relay."""
    host, port = target.removeprefix("http://").rstrip("/").split(":")
    accepted: list[int] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        accepted.append(1)
        server_r, server_w = await asyncio.open_connection(host, int(port))
        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield url, accepted
    finally:
        server.close()


def _run_streams(sb_url: str, model: str, runs: int) -> tuple[int, int]:
    async def main() -> tuple[int, int]:
        async with relay(sb_url) as (url, accepted):
            async with AsyncNovelAI(base_url=url, **DEMO) as c:
                await c.subscription()  # log in and open the one connection first
                before = len(accepted)
                finals = 0
                for _ in range(runs):
                    async for tok in c.generate_stream("The lighthouse keeper", model=model, max_length=6):
                        finals += tok.final
                assert c.transport.stats["requests"] >= runs + 1
                return len(accepted) - before, finals

    return asyncio.run(main())


@pytest.fixture(autouse=True)
def patient_finish(monkeypatch):
    # the body's end follows the final event at once; a long grace keeps a slow machine from cutting it
    monkeypatch.setattr(_chunk_stream, "FINISH_GRACE", 60.0)


def test_native_streams_reuse_one_connection(sb):
    new, finals = _run_streams(sb.url, "kayra", 3)
    assert finals == 3, "every stream ended with its final event"
    assert new == 0, f"{new} new connections for 3 complete streams after login"


def test_oa_streams_reuse_one_connection(sb):
    new, finals = _run_streams(sb.url, "glm", 3)
    assert finals == 3
    assert new == 0, f"{new} new connections for 3 complete streams after login"


def test_a_stream_left_early_still_frees_the_account(sb):
    # leaving after the first token still closes the stream at once (the connection is dropped, as
    # before): the next generation can start and completes
    async def main() -> bool:
        async with relay(sb.url) as (url, _):
            async with AsyncNovelAI(base_url=url, max_concurrent_generations=1, **DEMO) as c:
                async for _tok in c.generate_stream("The lighthouse keeper", model="kayra", max_length=40):
                    break
                gen = await c.generate("The lighthouse keeper", model="kayra", max_length=4)
                return bool(gen.tokens)

    assert asyncio.run(main())


def test_finish_cuts_a_body_that_stays_open_and_frees_the_gate():
    # a server that sends its last event and then keeps the body open: finish() waits at most its grace
    # (0 here), closes the stream, and the account's generation gate is free for the next request
    from aiohttp import web

    from naikit._settings import Hosts
    from naikit._transport import Transport

    release = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b'data: {"final": true}\n\n')
        await release.wait()
        return resp

    async def main() -> tuple[bytes, bool]:
        app = web.Application()
        app.router.add_post("/ai/generate-stream", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        t = Transport(Hosts.single(f"http://127.0.0.1:{port}"), max_concurrent_generations=1)
        t.set_token("pst-secret-token-value")
        try:
            chunks = t.stream("POST", "text", "/ai/generate-stream", json={}, generation=True)
            async with chunks:
                first = await chunks.__anext__()
                await chunks.finish(grace=0)
            lease = await t.gate().acquire("next", 0)  # GateTimeout at once if still held
            lease.release()
            return first, True
        finally:
            release.set()
            await t.close()
            await runner.cleanup()

    first, freed = asyncio.run(main())
    assert first == b'data: {"final": true}\n\n' and freed
