"""The sync facade's background loop: works from plain code, threads, and inside a running loop."""

from __future__ import annotations

import asyncio
import inspect
import threading

import pytest

from naikit import _runner
from naikit.novelai.client import AsyncNovelAI, NovelAI


async def _where():
    await asyncio.sleep(0)
    return threading.current_thread().name


def test_run_returns_result_on_runner_thread():
    assert _runner.run(_where()) == "naikit-runner"


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

    def worker(i):
        async def f():
            await asyncio.sleep(0.01)
            return i

        results.append(_runner.run(f()))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(8))


def test_run_from_runner_thread_is_refused():
    async def nested():
        return _runner.run(_where())

    with pytest.raises(RuntimeError, match="async client"):
        _runner.run(nested())


def test_iterate_async_generator():
    async def gen():
        for i in range(3):
            await asyncio.sleep(0)
            yield i

    assert list(_runner.iterate(gen())) == [0, 1, 2]


def test_sync_client_mirrors_async_methods():
    public_async = {
        n for n, f in inspect.getmembers(AsyncNovelAI) if not n.startswith("_") and inspect.iscoroutinefunction(f)
    }
    for name in public_async:
        meth = getattr(NovelAI, name)
        assert not inspect.iscoroutinefunction(meth), name
        assert inspect.signature(meth) == inspect.signature(getattr(AsyncNovelAI, name)), name
        assert meth.__doc__ == getattr(AsyncNovelAI, name).__doc__
