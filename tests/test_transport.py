"""Transport: retries, Retry-After, error mapping, drops, timeouts, streams, the generation gate."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

import pytest
from aiohttp import web

from naikit import errors
from naikit._framing import parse_sse
from naikit._settings import Hosts, RetryPolicy, Timeouts, check_base_url
from naikit._transport import Transport
from naikit._wire import parse_retry_after


class Script:
    """A loopback aiohttp server whose handler replays a list of behaviours, one per request."""

    def __init__(self, steps: list[Callable[[web.Request], object]]):
        self.steps = steps
        self.seen: list[tuple[str, str, dict]] = []

    async def handler(self, request: web.Request):
        self.seen.append((request.method, request.path, dict(request.headers)))
        step = self.steps[min(len(self.seen) - 1, len(self.steps) - 1)]
        result = step(request)
        if asyncio.iscoroutine(result):
            result = await result
        return result


async def _serve(script: Script):
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", script.handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def run_with(steps, body, **transport_kw):
    """Start a scripted server and a Transport on it, run ``body(transport, script)``; return its result."""

    async def main():
        script = Script(steps)
        runner, url = await _serve(script)
        t = Transport(Hosts.single(url), **transport_kw)
        sleeps: list[float] = []

        async def fake_sleep(s: float) -> None:
            sleeps.append(s)

        t.sleep = fake_sleep
        t.set_token("pst-secret-token-value")
        try:
            return await body(t, script, sleeps)
        finally:
            await t.close()
            await runner.cleanup()

    return asyncio.run(main())


def ok(data=None, status=200):
    return lambda r: web.json_response(data if data is not None else {"ok": True}, status=status)


def err(status, message="nope", headers=None):
    return lambda r: web.json_response(
        {"statusCode": status, "message": message}, status=status, headers=headers
    )


def drop(request: web.Request):
    request.transport.abort()  # type: ignore[union-attr]
    raise ConnectionResetError("dropped by test")


def test_success_and_bearer_header():
    async def body(t, s, sleeps):
        r = await t.request("GET", "api", "/user/information")
        return r, s.seen

    r, seen = run_with([ok({"a": 1})], body)
    assert r.body == {"a": 1} and r.status == 200 and r.attempts == 1
    assert seen[0][2]["Authorization"] == "Bearer pst-secret-token-value"


def test_429_retry_after_is_honoured():
    async def body(t, s, sleeps):
        r = await t.request("GET", "api", "/x")
        return r, sleeps, t.stats

    r, sleeps, stats = run_with([err(429, "Too many", {"Retry-After": "3"}), ok()], body)
    assert r.attempts == 2
    assert len(sleeps) == 1 and 3.0 <= sleeps[0] <= 3.5
    assert stats["retry_429"] == 1 and stats["retries"] == 1


def test_5xx_and_cloudflare_retried_with_growing_backoff():
    policy = RetryPolicy(attempts=5, backoff=1.0, max_backoff=100)

    async def body(t, s, sleeps):
        r = await t.request("GET", "api", "/x")
        return r, sleeps

    steps = [err(500), err(502), err(524), lambda r: web.Response(status=520, text="cf"), ok()]
    r, sleeps = run_with(steps, body, retry=policy)
    assert r.attempts == 5 and len(sleeps) == 4
    assert all(0 <= s <= 2**i for i, s in enumerate(sleeps))


def test_retries_exhausted_raises_server_error():
    async def body(t, s, sleeps):
        with pytest.raises(errors.ServerError) as e:
            await t.request("GET", "api", "/x")
        return e.value, len(s.seen)

    e, n = run_with([err(500, "Error generating image")], body, retry=RetryPolicy(attempts=3))
    assert n == 3 and e.status == 500 and "Error generating image" in str(e)


def test_retry_after_beyond_cap_raises_at_once():
    async def body(t, s, sleeps):
        with pytest.raises(errors.RateLimited) as e:
            await t.request("GET", "api", "/x")
        return e.value, sleeps

    e, sleeps = run_with([err(429, "slow down", {"Retry-After": "3600"})], body)
    assert e.retry_after == 3600 and sleeps == []


def test_error_body_on_2xx_is_an_error():
    async def body(t, s, sleeps):
        with pytest.raises(errors.APIError) as e:
            await t.request("GET", "api", "/user/information")
        return e.value

    e = run_with(
        [ok({"error": "model overloaded", "statusCode": 503}, status=200)],
        body,
        retry=RetryPolicy(attempts=1),
    )
    assert isinstance(e, errors.ServerError) and "model overloaded" in str(e)


@pytest.mark.parametrize(
    "status,cls",
    [
        (400, errors.APIError),
        (401, errors.AuthError),
        (402, errors.PaymentRequired),
        (404, errors.NotFound),
        (409, errors.Conflict),
    ],
)
def test_status_mapping_not_retried(status, cls):
    async def body(t, s, sleeps):
        with pytest.raises(cls) as e:
            await t.request("GET", "api", "/x")
        return e.value, len(s.seen)

    e, n = run_with([err(status, "the message")], body)
    assert n == 1 and e.status == status and e.message == "the message"


def test_concurrent_generation_hint():
    async def body(t, s, sleeps):
        with pytest.raises(errors.RateLimited) as e:
            await t.request("POST", "image", "/ai/generate-image", generation=True)
        return e.value

    e = run_with([err(429, "Concurrent generation is locked")], body, retry=RetryPolicy(attempts=1))
    assert "another generation" in str(e)


def test_dropped_get_is_retried():
    async def body(t, s, sleeps):
        r = await t.request("GET", "api", "/x")
        return r, t.stats

    r, stats = run_with([drop, ok()], body)
    assert r.attempts == 2 and stats["retry_dropped"] == 1


def test_dropped_create_is_not_repeated():
    async def body(t, s, sleeps):
        with pytest.raises(errors.ConnectionDropped) as e:
            await t.request(
                "PUT", "api", "/user/objects/stories", json={"meta": "m", "data": "d"}, idempotent=False
            )
        return e.value, len(s.seen)

    e, n = run_with([drop, ok()], body)
    assert n == 1, "a create must not be sent twice after a drop"
    assert "not sent again" in str(e)


def test_connect_failure_retried_then_transport_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once closed

    async def main():
        t = Transport(Hosts.single(f"http://127.0.0.1:{port}"), retry=RetryPolicy(attempts=3))
        sleeps = []

        async def fake_sleep(x):
            sleeps.append(x)

        t.sleep = fake_sleep
        t.set_token("pst-secret-token-value")
        try:
            with pytest.raises(errors.TransportError) as e:
                await t.request("POST", "api", "/ai/generate", json={})
        finally:
            await t.close()
        return e.value, sleeps

    e, sleeps = asyncio.run(main())
    assert e.attempts == 3 and len(sleeps) == 2
    assert "pst-secret" not in str(e) and "pst-secret" not in repr(e)


def test_total_timeout():
    async def slow(r):
        await asyncio.sleep(2)
        return web.json_response({})

    async def body(t, s, sleeps):
        t0 = time.monotonic()
        with pytest.raises(errors.RequestTimeout):
            await t.request("GET", "api", "/x")
        return time.monotonic() - t0

    run_with([slow], body, timeouts=Timeouts(connect=1, total=0.2), retry=RetryPolicy(attempts=2))


def test_stream_not_retried_after_data():
    async def half_stream(request):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"event: newToken\ndata: {}\n\n")
        request.transport.abort()
        return resp

    async def body(t, s, sleeps):
        got = []
        with pytest.raises(errors.TransportError, match="not retried"):
            async for chunk in t.stream("POST", "text", "/ai/generate-stream", json={}):
                got.append(chunk)
        return got, len(s.seen)

    got, n = run_with([half_stream, ok()], body)
    assert got and n == 1


def test_stream_retried_before_data():
    async def full_stream(request):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"data: a\n\ndata: b\n\n")
        return resp

    async def body(t, s, sleeps):
        chunks = [c async for c in t.stream("POST", "text", "/ai/generate-stream", json={})]
        return b"".join(chunks), len(s.seen)

    data, n = run_with([err(429, "Concurrent generation is locked", {"Retry-After": "0"}), full_stream], body)
    assert n == 2 and data == b"data: a\n\ndata: b\n\n"


def test_generation_gate_limit_exact():
    trace = []

    async def busy(r):
        trace.append(("start", r.method))
        await asyncio.sleep(0.03)
        trace.append(("end", r.method))
        return web.json_response({})

    async def body(t, s, sleeps):
        await asyncio.gather(*[t.request("POST", "image", "/g", generation=True) for _ in range(3)])

    run_with([busy], body)
    # strictly alternating start/end: never two generations at once
    assert [k for k, _ in trace] == ["start", "end"] * 3


def test_check_base_url():
    assert check_base_url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert check_base_url("https://api.novelai.net") == "https://api.novelai.net"
    for bad in [
        "",
        "ftp://x",
        "api.novelai.net",
        "http://",
        "http://host:99999",
        "http://a b",
        "http://u:p@h",
        "http://h/?q=1",
    ]:
        with pytest.raises(errors.InputError, match="base_url"):
            check_base_url(bad)


def test_parse_retry_after_forms():
    assert parse_retry_after("5") == 5
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert 59 <= parse_retry_after("Wed, 21 Oct 2015 07:29:00 GMT", now=1445412480.0) <= 61


def test_parse_sse():
    events, rest = parse_sse(
        'event: newToken\nid: 0\ndata: {"a":1}\n\n: comment\ndata: x\ndata: y\n\ndata: part'
    )
    assert events == [{"event": "newToken", "id": "0", "data": '{"a":1}'}, {"data": "x\ny"}]
    assert rest == "data: part"
    events, _ = parse_sse("data: crlf\r\n\r\n")
    assert events == [{"data": "crlf"}]


def test_transport_repr_hides_token():
    t = Transport(Hosts())
    t.set_token("pst-very-secret")
    assert "very-secret" not in repr(t)


class _TopOfRange:
    """A stand-in RNG that always draws the top of the jitter range, so the backoff ceiling is visible."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_backoff_ceiling_doubles_up_to_the_cap():
    policy = RetryPolicy(attempts=8, backoff=0.5, max_backoff=5.0)
    # full jitter draws from [0, min(cap, backoff * 2**(n-1))]:
    # hand-worked ceilings 0.5, 1, 2, 4, then the cap
    assert [policy.delay(n, _TopOfRange()) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_streams_and_requests_share_one_retry_policy():
    """The same failures are retried the same way, with the same waits and the same counters."""

    async def full_stream(request):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"data: a\n\n")
        return resp

    steps = [err(429, "slow down", {"Retry-After": "2"}), err(503, "busy"), drop]

    async def plain(t, s, sleeps):
        await t.request("GET", "api", "/x")
        return dict(t.stats), list(sleeps)

    async def streamed(t, s, sleeps):
        async with t.stream("GET", "api", "/x") as chunks:
            assert b"".join([c async for c in chunks]) == b"data: a\n\n"
        return dict(t.stats), list(sleeps)

    p_stats, p_sleeps = run_with([*steps, ok()], plain)
    s_stats, s_sleeps = run_with([*steps, full_stream], streamed)
    keys = ("attempts", "retries", "retry_429", "retry_503", "retry_dropped", "requests")
    assert [p_stats.get(k) for k in keys] == [s_stats.get(k) for k in keys] == [4, 3, 1, 1, 1, 1]
    for sleeps in (p_sleeps, s_sleeps):
        # Retry-After is honoured plus jitter on both paths (never less than asked, never more than 1 s over)
        assert 2 <= sleeps[0] <= 2 + min(RetryPolicy().backoff, 1.0) and len(sleeps) == 3


def test_connect_failure_of_a_stream_is_retried_and_counted():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def main():
        t = Transport(Hosts.single(f"http://127.0.0.1:{port}"), retry=RetryPolicy(attempts=3))

        async def fake_sleep(x):
            pass

        t.sleep = fake_sleep
        t.set_token("pst-secret-token-value")
        try:
            with pytest.raises(errors.TransportError) as e:
                async with t.stream("POST", "text", "/ai/generate-stream", json={}) as chunks:
                    async for _ in chunks:
                        pass
        finally:
            await t.close()
        return e.value, dict(t.stats)

    e, stats = asyncio.run(main())
    # a refused connection never reached the server: even a generation may be tried again
    assert e.attempts == 3 and stats["retry_connect"] == 2 and stats["retries"] == 2
    assert not isinstance(e, errors.OutcomeUnknown)


def test_a_drop_of_a_creating_stream_says_what_to_check():
    async def body(t, s, sleeps):
        with pytest.raises(errors.ConnectionDropped) as e:
            async with t.stream("POST", "image", "/ai/generate-image-stream", json={}) as chunks:
                async for _ in chunks:
                    pass
        return e.value, len(s.seen)

    e, n = run_with([drop, ok()], body)
    assert n == 1 and "Anlas" in e.check and "not sent again" in str(e)
