"""The sync facade's engine: a persistent loop per thread, and one background loop for callers whose
own loop is already running.

Why not ``nest_asyncio``: it patches asyncio globally, is archived upstream and breaks with newer
Pythons and with other libraries' loops. Instead (the pattern of ``jupyter_core.utils.run_sync``), a
sync call from a thread without a running loop drives that thread's own persistent loop (no thread
hop, which matters for many small calls on a 2-core machine); a sync call from a thread whose loop is
running (inside a Jupyter kernel, next to top-level ``await``) hands its coroutine to a private loop on
a daemon thread and waits. Each aiohttp session is created, used and closed on the loop it belongs to.

asyncio itself is imported by the first call, not with this module: the blocking clients' classes are
built on :class:`SyncClient`, and ``naikit.NovelAI`` should cost no more than the classes until used.
"""

from __future__ import annotations

import atexit
import functools
import sys
import threading
import weakref
from _thread import allocate_lock
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from ._secret import Secret

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")

__all__ = ["get_loop", "run", "iterate", "in_runner_thread", "SyncClient"]

_lock = threading.Lock()
_local = threading.local()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def _load_asyncio() -> None:
    """Import asyncio and bind it, and ``_running_loop``, in this module's globals; returns None.

    Every function here that uses ``asyncio`` at run time is reached through one that called this (or
    through :func:`run`, whose first call does): :func:`get_loop`, :class:`_ThreadLoop`, :func:`close_loop`.
    """
    global _running_loop
    import asyncio as module

    globals()["asyncio"] = module  # the name the TYPE_CHECKING import declares
    # the non-raising form: run() asks it on every call, so the name is bound to asyncio's own function
    _running_loop = module._get_running_loop


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The running loop of this thread, or None; the first call imports asyncio and rebinds this name to
    asyncio's own (C) function, so later calls cost what ``asyncio._get_running_loop()`` costs."""
    _load_asyncio()
    return _running_loop()


def get_loop() -> asyncio.AbstractEventLoop:
    """Return the runner's event loop, starting its thread on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None or _loop.is_closed():
            _load_asyncio()
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
    """Run ``coro`` to completion from synchronous code and return its result (or raise its error).

    As ``jupyter_core.utils.run_sync`` does: in a thread with no running event loop (scripts, tests,
    worker threads) the coroutine runs on that thread's own persistent loop, with no thread hop; in a
    thread whose loop is already running (a Jupyter kernel) it runs on the shared background loop.
    """
    if _running_loop() is None:  # asyncio's non-raising form once loaded: this runs on every call
        return _run_here(coro, timeout)
    return _run_in_background(coro, timeout)


class _ThreadLoop:
    """A thread's persistent loop, held in the thread's local slot and closed when the thread ends.

    When a thread finishes, Python clears its thread-local values in that same thread, before ``join()``
    returns; dropping this holder then closes what was opened on the loop (the sessions registered with
    :func:`at_loop_close`), its async generators, and the loop itself: no "unclosed event loop" or
    "unclosed client session" left for the garbage collector to warn about.
    """

    __slots__ = ("loop",)

    def __init__(self) -> None:
        _load_asyncio()
        self.loop = asyncio.new_event_loop()
        _thread_loops.add(self.loop)

    def __del__(self) -> None:
        if not sys.is_finalizing():  # at interpreter exit the atexit hooks and finalizers own cleanup
            close_loop(self.loop)


_thread_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
# What to close on each thread loop before the loop itself; weak, so a dropped client's session is not kept.
_closables: dict[asyncio.AbstractEventLoop, weakref.WeakSet[Any]] = {}


def at_loop_close(loop: asyncio.AbstractEventLoop, closable: Any) -> None:
    """Have ``await closable.close()`` run on ``loop`` (unless ``closable.closed``) before the runner
    closes that loop because its thread ended; returns None. For a loop the runner did not make for a
    thread (a notebook's, the background one) this does nothing: its owner closes it."""
    if loop in _thread_loops:
        with _lock:
            _closables.setdefault(loop, weakref.WeakSet()).add(closable)


async def _close_all(items: list[Any]) -> None:
    await asyncio.gather(*(c.close() for c in items if not c.closed), return_exceptions=True)


def close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Close an idle loop of the runner's: close what was registered on it, finish its async generators,
    close it; returns None. Does nothing to a running or closed loop."""
    with _lock:
        items = list(_closables.pop(loop, ()))
    if loop.is_closed() or loop.is_running():
        return
    _load_asyncio()
    try:
        if _running_loop() is None:  # another loop running here cannot be re-entered
            loop.run_until_complete(_close_all(items))
            loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()


def _thread_loop() -> asyncio.AbstractEventLoop:
    holder: _ThreadLoop | None = getattr(_local, "holder", None)
    if holder is None or holder.loop.is_closed():
        holder = _local.holder = _ThreadLoop()
    return holder.loop


def _run_here(coro: Awaitable[T], timeout: float | None) -> T:
    loop = _thread_loop()
    work = asyncio.wait_for(coro, timeout) if timeout is not None else coro
    task = loop.create_task(_stop_after(work, loop))
    try:
        while not task.done():  # (something else may stop the loop first: run it again)
            loop.run_forever()
    except BaseException:
        # KeyboardInterrupt mid-call: cancel the work so it does not resume on the next call.
        if not task.done():
            task.cancel()
            try:
                while not task.done():
                    loop.run_forever()
            except BaseException:
                pass
        raise
    return task.result()


async def _stop_after(work: Awaitable[T], loop: asyncio.AbstractEventLoop) -> T:
    """Await ``work`` and stop ``loop`` in the same step: ``run_until_complete`` stops it from a done-
    callback one loop turn later, which cost a script's call about 10 us more."""
    try:
        return await work
    finally:
        loop.stop()


def _run_in_background(coro: Awaitable[T], timeout: float | None) -> T:
    if in_runner_thread():
        close = getattr(coro, "close", None)
        if close is not None:
            close()  # never awaited: close it so Python does not warn about it
        raise RuntimeError(
            "a sync naikit call was made from inside naikit's own loop; use the async client there"
        )
    loop = get_loop()
    # A bare lock instead of run_coroutine_threadsafe's chained futures: half the hand-off cost.
    done = allocate_lock()
    done.acquire()
    box: list[asyncio.Task[None]] = []
    outcome: list[Any] = []  # [result] or [exception, None]: set before the lock is released

    async def _body() -> None:
        # The outcome is recorded and the lock released in the task's own last step (not by a
        # done-callback one loop turn later): the caller wakes as soon as the work is over.
        try:
            outcome.append(await coro)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            outcome[:] = [exc, None]
        finally:
            done.release()

    def _start() -> None:
        box.append(loop.create_task(_body()))

    def _cancel() -> None:  # runs on the loop, after _start (callbacks run in order)
        if box:
            box[0].cancel()

    loop.call_soon_threadsafe(_start)
    try:
        if not done.acquire(timeout=-1 if timeout is None else timeout):
            loop.call_soon_threadsafe(_cancel)
            raise TimeoutError(f"naikit call did not finish within {timeout} s")
    except KeyboardInterrupt:
        # Ctrl-C / "interrupt kernel" in Jupyter: stop the work on the loop too, then re-raise.
        loop.call_soon_threadsafe(_cancel)
        raise
    if len(outcome) == 2:
        exc = outcome[0]
        outcome.clear()  # no reference cycle through the traceback
        raise exc
    return outcome[0]


def iterate(agen: AsyncIterator[T]) -> Iterator[T]:
    """Yield the items of an async iterator, each fetched on the shared background loop.

    Always that loop, never the calling thread's own: between two ``next()`` calls a thread's loop is
    idle, and a stream parked on it (an iterator left unfinished after a ``break``) could never read its
    answer to the end and free the account's generation gate for other threads. The background loop
    keeps running, so the stream's reader finishes by itself.
    """
    try:
        while True:
            try:
                yield _run_in_background(agen.__anext__(), None)
            except StopAsyncIteration:
                return
    finally:
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            try:
                _run_in_background(aclose(), None)
            except RuntimeError:
                pass


def _shutdown() -> None:
    global _loop
    loop = _loop
    if loop is not None and loop.is_running():
        loop.call_soon_threadsafe(loop.stop)


atexit.register(_shutdown)


def _add_blocking_methods(cls: type, async_cls: type) -> None:
    """Give ``cls`` every public async method of ``async_cls`` as a blocking method of the same name,
    signature and docstring; returns None.

    The class keeps its async twin in ``self._async``. Async generators become ordinary iterators;
    properties are forwarded read-only; anything the class (or a base such as SyncClient) defines itself
    is kept.
    """
    import inspect

    for name, attr in inspect.getmembers(async_cls):
        if name.startswith("_") or any(name in k.__dict__ for k in cls.__mro__ if k is not object):
            continue
        raw = inspect.getattr_static(async_cls, name)
        if isinstance(raw, property):
            setattr(cls, name, property(functools.partial(_forward_property, name=name), doc=raw.__doc__))
        elif inspect.iscoroutinefunction(attr):
            setattr(cls, name, _make_sync(name, attr))
        elif inspect.isasyncgenfunction(attr):
            setattr(cls, name, _make_iter(name, attr))


# blocking class -> the function returning its async twin (given as ``twin=`` where the class is defined)
_twins: weakref.WeakKeyDictionary[type, Callable[[], type]] = weakref.WeakKeyDictionary()
_complete: weakref.WeakSet[type] = weakref.WeakSet()  # classes whose whole MRO has its blocking methods
_fill_lock = threading.RLock()


def _fill(cls: type) -> None:
    """Make sure ``cls`` and its bases have their blocking methods; returns None. The first time, this
    imports each async twin (the whole client) and builds the methods; later it is a set lookup."""
    if cls in _complete:
        return
    with _fill_lock:
        for k in cls.__mro__:
            twin = _twins.get(k)
            if twin is not None and k not in _complete:
                _add_blocking_methods(k, twin())
                _complete.add(k)
        _complete.add(cls)


class _Facade(type):
    """Metaclass of the blocking clients: a class's methods are made from its async twin on first use
    (the first instance, see ``SyncClient.__init__``; the first public class attribute that is not there
    yet; ``dir()``, ``help()``), not when the class is created. So ``naikit.NovelAI`` costs this module
    and the class body, and importing the client (asyncio, request builders, result classes) waits until
    it is used. Type checkers never see this: they read the generated ``_blocking.pyi`` stubs.
    """

    if not TYPE_CHECKING:  # a class-level __getattr__ would make mypy accept any name on the class

        def __getattr__(cls, name: str) -> Any:
            # only reached when normal lookup failed; private and dunder names are never generated
            if name.startswith("_") or cls in _complete:
                raise AttributeError(f"type object {cls.__name__!r} has no attribute {name!r}")
            _fill(cls)
            return type.__getattribute__(cls, name)

    def __dir__(cls) -> list[str]:
        _fill(cls)
        return list(super().__dir__())


def _forward_property(self: Any, name: str) -> Any:
    return getattr(self._async, name)


# Parameters of the clients' methods that carry a secret string.
SECRET_PARAMS = frozenset(
    {
        "password",
        "new_password",
        "access_key",
        "current_access_key",
        "new_access_key",
        "token",
        "api_key",
        "recovery_token",
        "verification_token",
    }
)


@functools.cache
def _secret_positions(func: Callable[..., Any]) -> tuple[tuple[int, str], ...]:
    import inspect

    params = list(inspect.signature(func).parameters.values())[1:]  # after self
    return tuple(
        (i, p.name)
        for i, p in enumerate(params)
        if p.name in SECRET_PARAMS and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    )


def mask_secrets(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Return ``args`` and ``kwargs`` for a call of ``func`` (a method) with every string given to a
    secret-carrying parameter (:data:`SECRET_PARAMS`) wrapped in a :class:`~._secret.Secret`.

    A caller that rebinds its own ``args, kwargs`` to the result keeps only masked values in its frame.
    """
    positions = dict(_secret_positions(func))
    if not any(i < len(args) for i in positions) and not SECRET_PARAMS & kwargs.keys():
        return args, kwargs
    masked = tuple(Secret(a) if i in positions and isinstance(a, str) else a for i, a in enumerate(args))
    named = {k: Secret(v) if k in SECRET_PARAMS and isinstance(v, str) else v for k, v in kwargs.items()}
    return masked, named


def _make_sync(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    import inspect

    # Whether this method takes a secret at all, worked out once: most calls then skip the masking.
    secretive = bool(_secret_positions(func)) or any(
        p.name in SECRET_PARAMS or p.kind is p.VAR_KEYWORD
        for p in inspect.signature(func).parameters.values()
    )

    @functools.wraps(func)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if secretive and (args or kwargs):
            # rebinding masks the secrets in this frame (an error tracker records its locals)
            args, kwargs = mask_secrets(func, args, kwargs)
        return run(getattr(self._async, name)(*args, **kwargs))

    return method


def _make_iter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def method(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        return iterate(getattr(self._async, name)(*args, **kwargs))

    return method


class SyncClient(metaclass=_Facade):
    """Base of the blocking clients: the async twin lives in ``_async`` (made by the subclass's
    ``__init__`` from the same arguments).

    A subclass names its twin where it is defined, ``class NovelAI(SyncClient, twin=load)`` with ``load``
    a function returning the async class: the blocking methods (every public coroutine of the twin,
    every async generator as an iterator, every property forwarded read-only) are made from it on
    first use (see :class:`_Facade`).

    ``transports_of(async_client)`` lists the twin's transports, so sessions on every loop are closed by
    ``close()`` and, should the client be dropped unclosed, by a finalizer.
    """

    _async: Any

    def __init_subclass__(cls, *, twin: Callable[[], type] | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if twin is not None:
            _twins[cls] = twin

    def __init__(self, async_client: Any):
        # The first instance fills the class here, not in a metaclass __call__: a Python frame there would
        # hold the constructor's arguments (secrets) unmasked while the client is built.
        _fill(type(self))
        self._async = async_client
        # the finalizer must not hold ``self``: it gets the twin and the (static) way to list transports
        weakref.finalize(self, _close_transports, async_client, type(self).transports_of)

    @staticmethod
    def transports_of(async_client: Any) -> list[Any]:
        """Return the transports of an async client (its ``transport``)."""
        return [async_client.transport]

    def close(self) -> None:
        """Close the HTTP session; returns None. The client can be used again afterwards."""
        run(self._async.close())
        _close_transports(self._async, self.transports_of)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        name = type(self._async).__name__
        return repr(self._async).replace(name, type(self).__name__, 1)


def _close_transports(async_client: Any, transports_of: Callable[[Any], list[Any]]) -> None:
    for t in transports_of(async_client):
        try:
            t.close_everywhere()
        except Exception:  # at interpreter exit, loops may already be half torn down
            pass
