"""The sync facade's background loop: works from plain code, threads, and inside a running loop."""

from __future__ import annotations

import asyncio
import inspect
import threading

import pytest

from naikit import _runner
from naikit.novelai.async_client import AsyncNovelAI
from naikit.novelai.client import NovelAI


async def _where():
    await asyncio.sleep(0)
    return threading.current_thread().name


def test_run_without_a_loop_stays_in_the_calling_thread():
    # Scripts and tests: the calling thread drives its own persistent loop (no thread hop).
    assert _runner.run(_where()) == threading.current_thread().name
    loop1 = _runner._thread_loop()
    _runner.run(_where())
    assert _runner._thread_loop() is loop1, "the per-thread loop persists (keep-alive connections survive)"


def test_run_propagates_exceptions():
    async def boom():
        raise KeyError("x")

    with pytest.raises(KeyError):
        _runner.run(boom())


def test_run_inside_a_running_loop():
    # What a Jupyter cell does: sync call while the kernel's own loop is running in this thread.
    async def cell():
        return _runner.run(_where())

    assert asyncio.run(cell()) == "naikit-runner"


def test_run_from_many_threads():
    results = []
    names = set()

    def worker(i):
        async def f():
            await asyncio.sleep(0.01)
            return i

        results.append(_runner.run(f()))
        names.add(_runner.run(_where()))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(8))
    assert len(names) == 8, "each thread drives its own loop"


def test_run_from_runner_thread_is_refused():
    async def nested():
        return _runner.run(_where())

    async def cell():
        return _runner.run(nested())  # runs nested() on the background loop, which must not block on itself

    with pytest.raises(RuntimeError, match="async client"):
        asyncio.run(cell())


def test_interrupted_call_does_not_resume_later():
    ran = []

    async def slow():
        await asyncio.sleep(0.2)
        ran.append("finished")

    async def interrupt():
        raise KeyboardInterrupt

    async def both():
        await asyncio.gather(slow(), interrupt())

    with pytest.raises(KeyboardInterrupt):
        _runner.run(both())
    _runner.run(asyncio.sleep(0.3))
    assert ran == []


def test_iterate_async_generator():
    async def gen():
        for i in range(3):
            await asyncio.sleep(0)
            yield i

    assert list(_runner.iterate(gen())) == [0, 1, 2]


def test_sync_client_mirrors_async_methods():
    public_async = {
        n
        for n, f in inspect.getmembers(AsyncNovelAI)
        if not n.startswith("_") and inspect.iscoroutinefunction(f)
    }
    for name in public_async:
        meth = getattr(NovelAI, name)
        assert not inspect.iscoroutinefunction(meth), name
        assert inspect.signature(meth) == inspect.signature(getattr(AsyncNovelAI, name)), name
        assert meth.__doc__ == getattr(AsyncNovelAI, name).__doc__
