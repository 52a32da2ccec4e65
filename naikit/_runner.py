"""The sync facade's engine: one background thread running one asyncio event loop.

Why not ``nest_asyncio``: it patches asyncio globally, is archived upstream and breaks with newer
Pythons and with other libraries' loops. Instead (the pattern of ``jupyter_core.utils.run_sync``), sync
calls hand their coroutine to a private loop on a daemon thread and wait for the result. That works
inside a running Jupyter kernel (whose own loop keeps running), in plain scripts, in threads, and next
to top-level ``await``. Every aiohttp session of a sync client is created, used and closed on this loop.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["get_loop", "run", "iterate", "sync_facade", "in_runner_thread"]

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def get_loop() -> asyncio.AbstractEventLoop:
    """Return the runner's event loop, starting its thread on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def _main() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            _thread = threading.Thread(target=_main, name="naikit-runner", daemon=True)
            _thread.start()
            ready.wait()
            _loop = loop
        return _loop


def in_runner_thread() -> bool:
    """Return True when called from the runner's own thread (where blocking on it would deadlock)."""
    return _thread is not None and threading.current_thread() is _thread


def run(coro: Awaitable[T], timeout: float | None = None) -> T:
    """Run ``coro`` on the runner loop, block until done, and return its result (or raise its error)."""
    if in_runner_thread():
        raise RuntimeError(
            "a sync naikit call was made from inside naikit's own loop; use the async client there"
        )
    future = asyncio.run_coroutine_threadsafe(coro, get_loop())  # type: ignore[arg-type]
    try:
        return future.result(timeout)
    except KeyboardInterrupt:
        # Ctrl-C / "interrupt kernel" in Jupyter: stop the work on the loop too, then re-raise.
        future.cancel()
        raise


def iterate(agen: AsyncIterator[T]) -> Iterator[T]:
    """Yield the items of an async iterator, each fetched on the runner loop."""
    try:
        while True:
            try:
                yield run(agen.__anext__())
            except StopAsyncIteration:
                return
    finally:
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            try:
                run(aclose())
            except RuntimeError:
                pass


def _shutdown() -> None:
    global _loop
    loop = _loop
    if loop is not None and loop.is_running():
        loop.call_soon_threadsafe(loop.stop)


atexit.register(_shutdown)


def sync_facade(async_cls: type) -> Callable[[type], type]:
    """Return a class decorator that gives the decorated class every public async method of
    ``async_cls`` as a blocking method of the same name, signature and docstring.

    The decorated class must keep its async twin in ``self._async``. Async generators become
    ordinary iterators; properties are forwarded read-only; anything the decorated class defines
    itself is kept.
    """

    def decorate(cls: type) -> type:
        for name, attr in inspect.getmembers(async_cls):
            if name.startswith("_") or name in cls.__dict__:
                continue
            raw = inspect.getattr_static(async_cls, name)
            if isinstance(raw, property):
                setattr(cls, name, property(functools.partial(_forward_property, name=name), doc=raw.__doc__))
            elif inspect.iscoroutinefunction(attr):
                setattr(cls, name, _make_sync(name, attr))
            elif inspect.isasyncgenfunction(attr):
                setattr(cls, name, _make_iter(name, attr))
        return cls

    return decorate


def _forward_property(self: Any, name: str) -> Any:
    return getattr(self._async, name)


def _make_sync(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return run(getattr(self._async, name)(*args, **kwargs))

    return method


def _make_iter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def method(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        return iterate(getattr(self._async, name)(*args, **kwargs))

    return method
