"""Per-account generation slots of the sandbox: the 429 "Concurrent generation is locked" of NovelAI.

NovelAI refuses a second generation on an account while one runs. Each sandbox keeps one
:class:`GenerationLocks` registry (on its :class:`~naikit.sandbox.app.SandboxState`) counting the
generations each account runs per *pool*; a handler takes a slot for as long as its generation runs::

    from .generation_lock import generation_slot

    with generation_slot(request.app[STATE], account.id, "text", limit=1):
        ...  # generate; a second request meanwhile gets ApiError(429, "Concurrent generation is locked")

Pools are independent ("text" and "image" each have their own count); an area that should share a limit
with another uses the same pool name. A slot is a plain context manager (the sandbox runs on one event
loop, and a threading lock keeps the count right even if a handler takes it from an executor thread), so
it can be released early with :meth:`Slot.release` (a stream frees the account before its last event
reaches the client, so the client's next request does not race the end of the handler), and is always
released on exit, including when the client drops the connection.
"""

from __future__ import annotations

import threading
from typing import Any

from .http import ApiError, SandboxState

__all__ = ["GenerationLocks", "Slot", "generation_locks", "generation_slot", "LOCKED_MESSAGE"]

#: NovelAI's message for a generation refused because another one runs on the account.
LOCKED_MESSAGE = "Concurrent generation is locked"


class GenerationLocks:
    """How many generations each account runs, per pool; :meth:`acquire` refuses beyond a limit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str], int] = {}

    def acquire(self, account_id: str, pool: str, limit: int) -> bool:
        """Take a slot if fewer than ``limit`` generations of ``pool`` run on the account; return whether
        it was taken."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be an int >= 1, not {limit!r}")
        key = (account_id, pool)
        with self._lock:
            n = self._running.get(key, 0)
            if n >= limit:
                return False
            self._running[key] = n + 1
            return True

    def release(self, account_id: str, pool: str) -> None:
        """Give back one slot of ``pool`` on the account; returns None."""
        key = (account_id, pool)
        with self._lock:
            n = self._running.get(key, 0) - 1
            if n <= 0:
                self._running.pop(key, None)
            else:
                self._running[key] = n

    def running(self, account_id: str, pool: str) -> int:
        """Return how many generations of ``pool`` run on the account now."""
        with self._lock:
            return self._running.get((account_id, pool), 0)

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Return ``{pool: {account_id: running}}`` for every slot taken now."""
        out: dict[str, dict[str, int]] = {}
        with self._lock:
            for (account, pool), n in sorted(self._running.items()):
                out.setdefault(pool, {})[account] = n
        return out


_registry_lock = threading.Lock()


def generation_locks(state: SandboxState) -> GenerationLocks:
    """Return the registry of one sandbox (made on first use and kept on its state object)."""
    with _registry_lock:
        locks = state.extras.get("generation_locks")
        if not isinstance(locks, GenerationLocks):
            locks = state.extras["generation_locks"] = GenerationLocks()
        return locks


class Slot:
    """A taken generation slot; leaving the ``with`` block (or :meth:`release`) gives it back once."""

    def __init__(self, locks: GenerationLocks, account_id: str, pool: str):
        self._locks = locks
        self.account_id = account_id
        self.pool = pool
        self._held = True

    @property
    def held(self) -> bool:
        """Return True until the slot is released."""
        return self._held

    def release(self) -> None:
        """Give the slot back now (later calls and the ``with`` exit do nothing); returns None."""
        if self._held:
            self._held = False
            self._locks.release(self.account_id, self.pool)

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def generation_slot(state: SandboxState, account_id: str, pool: str, *, limit: int = 1) -> Slot:
    """Return a held :class:`Slot` of ``pool`` for the account, or raise ApiError 429
    ("Concurrent generation is locked") when ``limit`` generations of that pool already run."""
    locks = generation_locks(state)
    if not locks.acquire(account_id, pool, limit):
        raise ApiError(429, LOCKED_MESSAGE)
    return Slot(locks, account_id, pool)
