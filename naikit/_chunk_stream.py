"""The raw body chunks of one streaming response, read by a task into a queue (see :class:`ChunkStream`)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Coroutine
from typing import Any

from ._gate import Lease

__all__ = ["ChunkStream", "StreamState", "Reader", "MAX_BUFFERED_STREAM_BYTES", "FINISH_GRACE"]

#: Unconsumed bytes a stream may hold before it gives up (a consumer that stopped reading).
MAX_BUFFERED_STREAM_BYTES = 256 * 1024 * 1024
#: Seconds :meth:`ChunkStream.finish` waits for the rest of a complete answer's body (its end marker).
FINISH_GRACE = 0.5
_EOF = object()


class StreamState:
    """What a stream's reader task and its finalizer share. It never refers to the ChunkStream, so an
    abandoned ChunkStream can be collected, and its finalizer then frees the gate."""

    __slots__ = ("queue", "lease", "task", "loop", "closed", "arrived", "queued", "content_type")

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] | None = None
        self.lease: Lease | None = None
        self.task: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        self.arrived = 0
        self.queued = 0
        self.content_type = ""


#: What fills a stream: a coroutine function that, given the state, puts the body's chunks on
#: ``state.queue`` (counting them in ``arrived`` and ``queued``) and may take a ``lease`` first.
Reader = Callable[[StreamState], Coroutine[Any, Any, None]]


def _stop_stream(st: StreamState) -> None:
    """Free the gate and stop the reader; safe from any thread, a finalizer or twice."""
    st.closed = True
    if st.lease is not None:
        st.lease.release()
    task, loop = st.task, st.loop
    if task is None or loop is None or task.done():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        task.cancel()
        return
    try:
        loop.call_soon_threadsafe(task.cancel)
    except RuntimeError:
        pass  # that loop is closed: its sockets went with it


class ChunkStream:
    """The raw body chunks of one streaming response, as an async iterator (``Transport.stream``).

    Why a reader task and a lease instead of a generator holding the gate in a ``finally``: a generator
    frame may never resume (a ``break`` with the iterator kept in a variable, an exception whose
    traceback keeps the frame alive in ``sys.last_value``), and its ``finally`` would then hold the
    account's generation gate forever. Here a task reads the response into a queue and frees the gate
    as soon as the server's answer has ended (or failed), whether or not anyone consumes it; ``aclose``
    (also via ``async with``), cancellation and a finalizer that runs when the stream is garbage-
    collected stop the reader and free the gate at once, from any thread.
    """

    def __init__(self, url: str, reader: Reader):
        self._reader = reader
        self._st = StreamState()
        self._done = False
        self.url = url

    @property
    def content_type(self) -> str:
        """Return the response's content type once the first chunk arrived ("" before)."""
        return self._st.content_type

    @property
    def bytes_received(self) -> int:
        """Return how many body bytes have arrived so far."""
        return self._st.arrived

    def _start(self) -> None:
        st = self._st
        st.loop = asyncio.get_running_loop()
        st.queue = asyncio.Queue()
        st.task = st.loop.create_task(_run_reader(st, self._reader))
        weakref.finalize(self, _stop_stream, st)

    def __aiter__(self) -> ChunkStream:
        return self

    async def __anext__(self) -> bytes:
        st = self._st
        if self._done or st.closed:
            raise StopAsyncIteration
        if st.task is None:
            self._start()
        assert st.queue is not None
        item = await st.queue.get()
        if item is _EOF:
            self._done = True
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self._done = True
            raise item
        st.queued -= len(item)
        return item

    async def aclose(self) -> None:
        """Stop reading, free the generation gate and close the response; returns None. Idempotent."""
        self._done = True
        st = self._st
        _stop_stream(st)
        task = st.task
        if task is not None and not task.done() and st.loop is asyncio.get_running_loop():
            await asyncio.wait({task})

    async def finish(self, grace: float | None = None) -> None:
        """Close the stream once its answer is complete (the consumer saw the last event), letting the
        reader first read the body to its end for at most ``grace`` seconds (None: :data:`FINISH_GRACE`);
        returns None.

        Why: closing mid-body (what :meth:`aclose` does) drops the connection, so the next request pays
        a new connection (a TLS handshake against the real service); read to its end, the connection goes
        back to the pool. A server that keeps the body open past ``grace`` is cut as before.
        """
        st = self._st
        task = st.task
        if task is not None and not task.done() and st.loop is asyncio.get_running_loop():
            await asyncio.wait({task}, timeout=FINISH_GRACE if grace is None else grace)
        await self.aclose()

    async def __aenter__(self) -> ChunkStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _run_reader(st: StreamState, reader: Reader) -> None:
    """Run ``reader``; then hand the consumer the end of the stream or the error, and free the gate."""
    assert st.queue is not None
    queue = st.queue
    try:
        await reader(st)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer, who raises it
        queue.put_nowait(exc)
    else:
        queue.put_nowait(_EOF)
    finally:
        # the server's answer is over (or failed): the account may generate again, consumed or not
        if st.lease is not None:
            st.lease.release()
