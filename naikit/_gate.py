"""The per-account generation gate: a limit on concurrent generations that holds across threads and
event loops, whose slots are leases that whoever sees a generation end can give back."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from .errors import GateTimeout

__all__ = ["Gate", "Lease", "gate_for"]


class Lease:
    """One held slot of a :class:`Gate`. :meth:`release` is idempotent and thread-safe, so whoever
    notices first that a generation is over (its reader at end of stream, ``aclose``, a finalizer on an
    abandoned iterator, an exception handler) can give the slot back."""

    __slots__ = ("_gate", "_lock", "held", "what", "since", "__weakref__")

    def __init__(self, gate: Gate, what: str):
        self._gate = gate
        self._lock = threading.Lock()
        self.held = True
        self.what = what
        self.since = time.time()

    def release(self) -> None:
        """Give the slot back (later calls do nothing); returns None."""
        with self._lock:
            if not self.held:
                return
            self.held = False
        self._gate._give_back(self)

    def describe(self) -> str:
        """Return who holds the slot and since when (for GateTimeout)."""
        return f"{self.what} (for {max(0.0, time.time() - self.since):.0f} s)"


class Gate:
    """A per-account limit on concurrent generations that holds across threads and event loops.

    The sync facade may drive requests from several loops (one per thread) and a notebook from its own,
    so an asyncio.Semaphore (bound to one loop) is not enough. Waiting polls a threading semaphore with
    a short growing sleep: cancellation-safe, and the poll cost is nothing next to a generation. A slot
    is a :class:`Lease`, an object of its own rather than a ``finally`` in some generator frame, so it
    can be released from wherever a generation is seen to end (see ``Transport.stream``).
    """

    def __init__(self, limit: int):
        self._sem = threading.BoundedSemaphore(limit)
        self._holders_lock = threading.Lock()
        self._holders: set[Lease] = set()
        self._released = 0

    async def acquire(
        self, what: str, timeout: float | None, clock: Callable[[], float] | None = None
    ) -> Lease:
        """Wait for a slot; return its Lease, or raise GateTimeout naming the holders when no slot has been
        released for ``timeout`` seconds (None: wait forever). ``clock`` (default: the loop's) can be
        driven by tests."""
        now = clock or asyncio.get_running_loop().time
        deadline = None if timeout is None else now() + timeout
        seen = self._released
        delay = 0.002
        while not self._sem.acquire(blocking=False):
            if self._released != seen:
                # the gate moved (another generation ended): a queue is progressing, not stuck, so the
                # timeout counts from the last release (a batch of 100 queued images never times out)
                seen = self._released
                deadline = None if timeout is None else now() + timeout
            if deadline is not None and now() >= deadline:
                with self._holders_lock:
                    holders = [h.describe() for h in self._holders]
                raise GateTimeout(timeout or 0.0, holders)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
        lease = Lease(self, what)
        with self._holders_lock:
            self._holders.add(lease)
        return lease

    def _give_back(self, lease: Lease) -> None:
        with self._holders_lock:
            self._holders.discard(lease)
            self._released += 1
        self._sem.release()

    def held(self) -> int:
        """Return how many slots are taken now."""
        with self._holders_lock:
            return len(self._holders)


_gates: dict[tuple[str, int], Gate] = {}
_gates_lock = threading.Lock()


def gate_for(account: str, limit: int) -> Gate:
    """Return the process-wide gate of ``account`` (a non-secret fingerprint) with ``limit`` slots."""
    key = (account, limit)
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = Gate(limit)
    return gate
