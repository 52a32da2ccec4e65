"""The per-account generation gate is freed however a generation ends.

For each way a text stream can end (complete, break, close, an error in the caller's loop, a malformed
answer whose exception is kept as a notebook keeps ``sys.last_value``, cancellation, KeyboardInterrupt, a
dropped connection, an abandoned iterator) the next generation on the same account must start: sync and
async, from the same thread and from another. The streams go through a loopback proxy in front of the
sandbox (which can corrupt or cut them). Nothing here measures time: the gate timeout (10 s) only turns a
hang into a GateTimeout failure.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from typing import Any

import aiohttp
import pytest
from lossy_proxy import LossyProxy

from naikit import errors, sandbox
from naikit._settings import Hosts, RetryPolicy, Timeouts
from naikit._transport import Transport
from naikit.novelai.async_client import AsyncNovelAI
from naikit.novelai.client import NovelAI

PROMPT = "The old lighthouse keeper climbed the stairs"
RETRY = RetryPolicy(attempts=400, backoff=0.01, max_backoff=0.05)
HANG_GUARD = Timeouts(gate=10.0)
ENDINGS = ["complete", "break", "close", "error", "malformed", "cancel", "keyboard", "dropped", "abandoned"]


@pytest.fixture(scope="module")
def sb():
    with sandbox.start(test_hooks=True) as server:

        async def slow(delay: float) -> None:
            async with aiohttp.ClientSession() as s:
                hook = server.url + "/_sandbox/text"
                async with s.put(hook, json={"token_delay": delay}, headers=server.admin_headers) as r:
                    assert r.status == 200

        asyncio.run(slow(0.01))  # streams are still running when the caller walks away
        yield server
        asyncio.run(slow(0))


@pytest.fixture(scope="module")
def proxy(sb):
    with LossyProxy(sb.url) as p:
        yield p


def _kw() -> dict[str, Any]:
    return dict(model="kayra", max_length=30, min_length=30)


def _plan(proxy: LossyProxy, ending: str) -> None:
    if ending == "malformed":
        proxy.plan("/ai/generate-stream", "malformed")
    elif ending == "dropped":
        proxy.plan("/ai/generate-stream", "cut")


def _plan_sync(proxy: LossyProxy, ending: str) -> None:
    _plan(proxy, ending)
    if ending == "cancel":
        proxy.plan("/ai/generate-stream", "stall")  # the stream cannot end before the interrupt


async def _end_async(client: AsyncNovelAI, ending: str, keep: list[Any]) -> None:
    """End one stream the way ``ending`` says, keeping iterators and exceptions alive in ``keep``."""
    it = client.generate_stream(PROMPT, "Carefree", **_kw())
    if ending != "abandoned":
        keep.append(it)
    if ending == "complete":
        events = [ev async for ev in it]
        assert events[-1].final and events[-1].generation is not None
    elif ending == "break":
        async for _ in it:
            break
    elif ending == "close":
        await it.__anext__()
        await it.aclose()
    elif ending == "error":
        try:
            async for _ in it:
                raise RuntimeError("the caller's code failed")
        except RuntimeError as exc:
            keep.append(exc)
    elif ending == "malformed":
        with pytest.raises(errors.ResponseShapeError) as e:
            async for _ in it:
                pass
        keep.append(e.value)
        sys.last_value = e.value  # what a notebook does: the traceback (and its frames) stay alive
    elif ending == "cancel":
        started = asyncio.Event()

        async def consume() -> None:
            async for _ in it:
                started.set()

        task = asyncio.create_task(consume())
        await started.wait()
        task.cancel()
        await asyncio.wait({task})
        assert task.cancelled()
    elif ending == "keyboard":
        try:
            async for _ in it:
                raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            keep.append(exc)
    elif ending == "dropped":
        with pytest.raises(errors.StreamIncomplete) as e:
            async for _ in it:
                pass
        keep.append(e.value)
        assert e.value.partial is not None
    elif ending == "abandoned":
        await it.__anext__()
        del it  # the last reference: CPython collects the iterator here
    else:  # pragma: no cover
        raise AssertionError(ending)


def _ctrl_c_once_waiting() -> None:
    """Send SIGINT to the main thread, as pressing Ctrl-C (or "interrupt kernel") does, once the main
    thread is blocked waiting for the runner (a state seen in its stack, not a delay)."""
    main = threading.main_thread().ident
    while True:
        frame = sys._current_frames().get(main)
        names = set()
        while frame is not None:
            names.add(frame.f_code.co_name)
            frame = frame.f_back
        if "_run_in_background" in names:
            break
        threading.Event().wait(0.001)
    signal.pthread_kill(main, signal.SIGINT)


def _end_sync(client: NovelAI, ending: str, keep: list[Any]) -> None:
    it = client.generate_stream(PROMPT, "Carefree", **_kw())
    if ending != "abandoned":
        keep.append(it)
    if ending == "complete":
        assert list(it)[-1].final
    elif ending == "break":
        for _ in it:
            break
    elif ending == "close":
        next(it)
        it.close()
    elif ending == "error":
        try:
            for _ in it:
                raise RuntimeError("the caller's code failed")
        except RuntimeError as exc:
            keep.append(exc)
    elif ending == "malformed":
        with pytest.raises(errors.ResponseShapeError) as e:
            for _ in it:
                pass
        keep.append(e.value)
        sys.last_value = e.value
    elif ending == "cancel":
        # Ctrl-C while the caller waits for the next token of a stream that has stalled
        assert threading.current_thread() is threading.main_thread()
        next(it)
        with pytest.raises(KeyboardInterrupt):
            threading.Thread(target=_ctrl_c_once_waiting).start()
            next(it)
    elif ending == "keyboard":
        try:
            for _ in it:
                raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            keep.append(exc)
    elif ending == "dropped":
        with pytest.raises(errors.StreamIncomplete):
            for _ in it:
                pass
    elif ending == "abandoned":
        next(it)
        del it  # the last reference: CPython collects the iterator here


def _next_generation_in_a_thread(url: str, token: str) -> Any:
    box: list[Any] = []

    def work() -> None:
        try:
            with NovelAI(base_url=url, token=token, retry=RETRY, timeouts=HANG_GUARD) as c:
                box.append(c.generate(PROMPT, "Carefree", model="kayra", max_length=2))
        except BaseException as exc:  # noqa: BLE001 - reported in the test's thread
            box.append(exc)

    t = threading.Thread(target=work)
    t.start()
    t.join(60)  # a hang guard only: the gate timeout (10 s) fails long before
    assert box, "the next generation did not finish"
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


@pytest.fixture
def restore_last_value():
    saved = getattr(sys, "last_value", None)
    yield
    sys.last_value = saved


@pytest.mark.parametrize("where", ["same", "other-thread"])
@pytest.mark.parametrize("ending", ENDINGS)
def test_async_next_generation_starts(sb, proxy, ending, where, restore_last_value):
    token = sb.create_persistent_token()
    keep: list[Any] = []

    async def main() -> Any:
        async with AsyncNovelAI(base_url=proxy.url, token=token, retry=RETRY, timeouts=HANG_GUARD) as c:
            _plan(proxy, ending)
            await _end_async(c, ending, keep)
            if where == "same":
                return await c.generate(PROMPT, "Carefree", model="kayra", max_length=2)
            return await asyncio.to_thread(_next_generation_in_a_thread, proxy.url, token)

    gen = asyncio.run(main())
    assert gen.tokens, "the next generation ran"


@pytest.mark.parametrize("where", ["same", "other-thread"])
@pytest.mark.parametrize("ending", ENDINGS)
def test_sync_next_generation_starts(sb, proxy, ending, where, restore_last_value):
    token = sb.create_persistent_token()
    keep: list[Any] = []
    with NovelAI(base_url=proxy.url, token=token, retry=RETRY, timeouts=HANG_GUARD) as c:
        _plan_sync(proxy, ending)
        _end_sync(c, ending, keep)
        if where == "same":
            gen = c.generate(PROMPT, "Carefree", model="kayra", max_length=2)
        else:
            gen = _next_generation_in_a_thread(proxy.url, token)
    assert gen.tokens, "the next generation ran"


def test_waiting_on_a_held_gate_times_out_with_a_clear_error():
    async def main() -> errors.GateTimeout:
        t = Transport(Hosts.single("http://127.0.0.1:9"), timeouts=Timeouts(gate=0.01))
        t.set_token("pst-gate-timeout-test-token")
        lease = await t.gate().acquire("POST /ai/generate-stream (stream)", None)
        try:
            with pytest.raises(errors.GateTimeout) as e:
                await t.request("POST", "text", "/ai/generate", json={}, generation=True)
            return e.value
        finally:
            lease.release()
            assert t.gate().held() == 0

    e = asyncio.run(main())
    assert isinstance(e, TimeoutError) and e.holders and "/ai/generate-stream" in str(e)
    assert "close()" in str(e) and "Timeouts(gate=" in str(e)


def test_a_lease_is_released_once_from_any_thread():
    async def main() -> None:
        t = Transport(Hosts.single("http://127.0.0.1:9"))
        t.set_token("pst-lease-thread-test-token")
        gate = t.gate()
        lease = await gate.acquire("test", None)
        threads = [threading.Thread(target=lease.release) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert gate.held() == 0 and not lease.held
        again = await gate.acquire("test", 1.0)  # the slot is free again, exactly once (BoundedSemaphore)
        again.release()

    asyncio.run(main())


def test_a_progressing_queue_never_times_out():
    """The gate timeout measures a stuck holder, not a long queue: each release restarts it."""

    async def main() -> errors.GateTimeout:
        t = Transport(Hosts.single("http://127.0.0.1:9"), max_concurrent_generations=1)
        t.set_token("pst-gate-queue-test-token")
        gate = t.gate()
        clock = [0.0]  # a driven clock: time passes only when the test says so
        holder = await gate.acquire("first", None)
        waiter = asyncio.create_task(gate.acquire("waiter", 5.0, clock=lambda: clock[0]))

        async def let_it_poll() -> None:
            await asyncio.sleep(0.1)  # longer than the waiter's longest poll interval (0.05 s)

        await let_it_poll()
        clock[0] = 4.0
        # the first generation ends and the next in the queue takes the slot before the waiter looks
        holder.release()
        holder = await gate.acquire("second", None)
        await let_it_poll()
        clock[0] = 8.0  # 8 s of waiting, but only 4 since the gate last moved
        await let_it_poll()
        assert not waiter.done(), "a progressing queue must not time out"
        clock[0] = 10.0  # 6 s with no release: now the holder looks stuck
        await let_it_poll()
        assert waiter.done()
        holder.release()
        with pytest.raises(errors.GateTimeout) as e:
            waiter.result()
        return e.value

    e = asyncio.run(main())
    assert "second" in str(e)
