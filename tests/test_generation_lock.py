"""Per-account generation slots: the registry itself, the sandbox's 429 "Concurrent generation is locked"
for text, and naikit's clients waiting and retrying when two of them share an account."""

from __future__ import annotations

import asyncio
import secrets
import time

import aiohttp
import pytest
from sandbox_fixtures import DEMO, sandbox_fixture

from naikit._transport import RetryPolicy
from naikit.novelai.async_client import AsyncNovelAI
from naikit.novelai.presets import Preset, build_request
from naikit.sandbox.generation_lock import LOCKED_MESSAGE, GenerationLocks, generation_locks, generation_slot
from naikit.sandbox.http import ApiError

PROMPT = "The old lighthouse keeper climbed the stairs"
FAST_RETRY = RetryPolicy(attempts=60, backoff=0.02, max_backoff=0.1)


# -- the registry --------------------------------------------------------------------------------------


def test_registry_counts_per_account_and_pool():
    locks = GenerationLocks()
    assert locks.acquire("a", "text", 1)
    assert not locks.acquire("a", "text", 1)  # the second text generation of the account
    assert locks.acquire("a", "image", 1)  # another pool is independent
    assert locks.acquire("b", "text", 1)  # another account too
    assert locks.acquire("a", "text", 2)  # a higher limit lets a second one in
    assert locks.running("a", "text") == 2
    assert locks.snapshot() == {"image": {"a": 1}, "text": {"a": 2, "b": 1}}
    locks.release("a", "text")
    locks.release("a", "text")
    assert locks.running("a", "text") == 0 and "a" not in locks.snapshot()["text"]
    with pytest.raises(ValueError):
        locks.acquire("a", "text", 0)


def test_slot_refuses_with_429_and_releases_once():
    class State:  # stands in for SandboxState: the registry is kept in its per-area extras
        def __init__(self) -> None:
            self.extras: dict[str, object] = {}

    state = State()
    with generation_slot(state, "acc", "text") as slot:
        with pytest.raises(ApiError) as e:
            generation_slot(state, "acc", "text")
        assert e.value.status == 429 and e.value.message == LOCKED_MESSAGE
        slot.release()
        assert not slot.held
        # released early: a second one may start while the first block is still open
        with generation_slot(state, "acc", "text"):
            assert generation_locks(state).running("acc", "text") == 1
    assert generation_locks(state).running("acc", "text") == 0  # the exit did not release twice
    with pytest.raises(RuntimeError):
        with generation_slot(state, "acc", "text"):
            raise RuntimeError("the generation failed")
    assert generation_locks(state).running("acc", "text") == 0  # released on failure


# -- the sandbox over HTTP -----------------------------------------------------------------------------


sb = sandbox_fixture(test_hooks=True)


def _settings(sb, **values):
    async def put():
        async with aiohttp.ClientSession() as s:
            async with s.put(sb.url + "/_sandbox/text", json=values, headers=sb.admin_headers) as r:
                return r.status, await r.json()

    return asyncio.run(put())


@pytest.fixture
def slow(sb):
    """Streams take ~40 ms per token while a test runs."""
    _settings(sb, token_delay=0.04, concurrency=1)
    yield
    _settings(sb, token_delay=0, concurrency=1)


def _body(max_length: int) -> dict:
    # exactly max_length tokens: "continue to sentence end" (the website's default) would run past it
    preset = Preset.official("kayra", "Carefree")
    return build_request(
        PROMPT, preset, max_length=max_length, min_length=max_length, generate_until_sentence=False
    )


async def _post(s: aiohttp.ClientSession, url: str, token: str, path: str, body: dict) -> tuple[int, object]:
    async with s.post(url + path, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, (await r.json() if r.content_type == "application/json" else await r.text())


def _new_account_token(sb) -> str:
    async def register():
        async with aiohttp.ClientSession() as s:
            body = {"recapcha": "sandbox", "key": secrets.token_urlsafe(48)[:64]}
            async with s.post(sb.url + "/user/register", json=body) as r:
                assert r.status == 201
                return (await r.json())["accessToken"]

    return asyncio.run(register())


def test_second_generation_on_an_account_gets_429_while_a_stream_runs(sb, slow):
    demo_a = sb.create_persistent_token()
    demo_b = sb.create_persistent_token()  # the same account, another token
    other = _new_account_token(sb)

    async def main():
        async with aiohttp.ClientSession() as s:
            hdr = {"Authorization": f"Bearer {demo_a}"}
            async with s.post(sb.url + "/ai/generate-stream", json=_body(20), headers=hdr) as stream:
                assert stream.status == 200
                await stream.content.readuntil(b"\n\n")  # the stream has started
                during = await _post(s, sb.url, demo_b, "/ai/generate", _body(2))
                during_stream = await _post(s, sb.url, demo_b, "/ai/generate-stream", _body(2))
                other_account = await _post(s, sb.url, other, "/ai/generate", _body(2))
                rest = await stream.read()
            after = await _post(s, sb.url, demo_b, "/ai/generate", _body(2))
            return during, during_stream, other_account, rest, after

    during, during_stream, other_account, rest, after = asyncio.run(main())
    assert during == (429, {"statusCode": 429, "message": "Concurrent generation is locked"})
    assert during_stream == (429, {"statusCode": 429, "message": "Concurrent generation is locked"})
    assert other_account[0] == 200  # another account is not locked
    assert rest.count(b"event: newToken") == 19 and b'"final":true' in rest  # the first stream went on
    assert after[0] == 200  # and freed the account when it ended


def test_concurrency_setting(sb, slow):
    token = sb.create_persistent_token()
    assert _settings(sb, concurrency=2) == (200, {"token_delay": 0.04, "concurrency": 2})

    async def main():
        async with aiohttp.ClientSession() as s:
            hdr = {"Authorization": f"Bearer {token}"}
            async with s.post(sb.url + "/ai/generate-stream", json=_body(10), headers=hdr) as first:
                await first.content.readuntil(b"\n\n")
                second = await _post(s, sb.url, token, "/ai/generate", _body(2))
                async with s.post(sb.url + "/ai/generate-stream", json=_body(10), headers=hdr) as third:
                    await third.content.readuntil(b"\n\n")
                    fourth = await _post(s, sb.url, token, "/ai/generate", _body(2))
                    await third.read()
                await first.read()
            return second, fourth

    second, fourth = asyncio.run(main())
    assert second[0] == 200 and fourth[0] == 429  # two may run; a third is refused
    for bad in ({"concurrency": 0}, {"concurrency": "2"}, {"concurrency": True}, {"speed": 1}):
        status, body = _settings(sb, **bad)
        assert status == 400 and body["statusCode"] == 400


def test_a_dropped_stream_frees_the_account(sb, slow, caplog):
    token = sb.create_persistent_token()

    async def main():
        async with aiohttp.ClientSession() as s:
            hdr = {"Authorization": f"Bearer {token}"}
            stream = await s.post(sb.url + "/ai/generate-stream", json=_body(60), headers=hdr)
            await stream.content.readuntil(b"\n\n")
            locked = await _post(s, sb.url, token, "/ai/generate", _body(1))
            stream.close()  # the client goes away mid-stream
            # the handler notices at its next write; poll (a liveness check, not a timing assertion)
            deadline = time.monotonic() + 120  # a hang guard only: the loop ends at the first non-429
            while True:
                status, _ = await _post(s, sb.url, token, "/ai/generate", _body(1))
                if status != 429 or time.monotonic() > deadline:
                    return locked[0], status
                await asyncio.sleep(0.05)

    with caplog.at_level("DEBUG", logger="naikit.sandbox"):
        locked, later = asyncio.run(main())
    assert locked == 429 and later == 200
    # a client leaving early is normal: no error (and no traceback on a notebook's stderr)
    assert not [r for r in caplog.records if r.levelno >= 30], [r.getMessage() for r in caplog.records]
    assert any("disconnected" in r.getMessage() for r in caplog.records)


# -- naikit's clients ----------------------------------------------------------------------------------


def test_two_clients_on_one_account_wait_and_retry(sb, slow):
    """Two clients of one account (different tokens, so the per-process gate does not serialise them):
    the sandbox refuses the overlapping requests and the clients wait and retry until they get through."""
    second_token = sb.create_persistent_token()

    async def main():
        async with (
            AsyncNovelAI(base_url=sb.url, retry=FAST_RETRY, **DEMO) as a,
            AsyncNovelAI(second_token, base_url=sb.url, retry=FAST_RETRY) as b,
        ):
            started = asyncio.Event()

            async def stream_a():
                out = []
                async for ev in a.generate_stream(
                    PROMPT, "Carefree", model="kayra", seed=1, max_length=15, generate_until_sentence=False
                ):
                    started.set()
                    out.append(ev)
                return out[-1].generation

            async def generate_b():
                await started.wait()
                return await b.generate(
                    PROMPT, "Asper", model="kayra", seed=2, max_length=8, generate_until_sentence=False
                )

            async def stream_b():
                await started.wait()
                events = [
                    ev
                    async for ev in b.generate_stream(
                        PROMPT, "Asper", model="kayra", seed=3, max_length=5, generate_until_sentence=False
                    )
                ]
                return events[-1].generation

            ga, gb, sb_gen = await asyncio.gather(stream_a(), generate_b(), stream_b())
            alone_b = await b.generate(
                PROMPT, "Asper", model="kayra", seed=2, max_length=8, generate_until_sentence=False
            )
            alone_a = await a.generate(
                PROMPT, "Carefree", model="kayra", seed=1, max_length=15, generate_until_sentence=False
            )
            return ga, gb, sb_gen, alone_a, alone_b, b.stats

    ga, gb, sb_gen, alone_a, alone_b, stats = asyncio.run(main())
    assert stats.get("retry_429", 0) >= 2  # both of b's calls were refused at least once, then went through
    assert gb.text == alone_b.text and gb.tokens == alone_b.tokens  # the retried call is the same request
    assert ga.tokens == alone_a.tokens and len(sb_gen.tokens) == 5


def test_one_client_never_meets_the_lock(sb, slow):
    """The per-account gate of one client (and of clients sharing a token in one process) keeps its
    generations one at a time, so the sandbox never has to refuse them."""

    async def main():
        async with AsyncNovelAI(base_url=sb.url, retry=FAST_RETRY, **DEMO) as c:

            async def streamed(seed):
                return [ev async for ev in c.generate_stream(PROMPT, model="kayra", seed=seed, max_length=4)]

            await asyncio.gather(
                streamed(1),
                streamed(2),
                *(c.generate(PROMPT, model="kayra", seed=s, max_length=4) for s in range(3)),
            )
            return c.stats

    stats = asyncio.run(main())
    assert stats.get("retry_429", 0) == 0 and stats["requests"] >= 5
