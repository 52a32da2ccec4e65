"""The sandbox's sense of time.

Everything in the sandbox that depends on time (token expiry, ``lastUpdatedAt``, subscription expiry,
and later the progress of Novita tasks and module training) reads ``clock.now()`` instead of
``time.time()``, so a test can swap in a :class:`FakeClock` and move time forward by a month, or run a
whole training, in no time at all.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "FakeClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything with ``now()`` returning unix seconds (float)."""

    def now(self) -> float:
        """Return the current time as unix seconds."""
        ...


class SystemClock:
    """Real wall-clock time."""

    def now(self) -> float:
        """Return ``time.time()``."""
        return time.time()

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """A clock that only moves when told to; safe to move from another thread than the server's.

    ``start`` defaults to the real time at construction, so tokens it stamps still look fresh to clients that
    check expiry against their own clock.
    """

    def __init__(self, start: float | None = None):
        self._now = float(time.time() if start is None else start)
        # The server thread reads while the test thread advances.
        self._lock = threading.Lock()

    def now(self) -> float:
        """Return the fake current time (unix seconds)."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (not backwards); return the new time."""
        if seconds < 0:
            raise ValueError(f"seconds={seconds!r}: a clock only moves forward; use set() to jump back")
        with self._lock:
            self._now += float(seconds)
            return self._now

    def set(self, timestamp: float) -> float:
        """Jump to ``timestamp`` (unix seconds), in either direction; return it."""
        with self._lock:
            self._now = float(timestamp)
            return self._now

    def __repr__(self) -> str:
        return f"FakeClock(now={self.now():.3f})"
