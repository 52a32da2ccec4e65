"""The typed view of the blocking client's generated methods.

At run time ``BlockingMethods`` is empty: the blocking client gets the methods from its async twin on
first use (``naikit._runner.SyncClient``). Type checkers read ``_blocking.pyi`` beside this file instead,
generated from the async client by ``.ci/gen_blocking_stubs.py``.
"""

from __future__ import annotations

__all__ = ["BlockingMethods"]


class BlockingMethods:
    """Declares, for type checkers only, every method the blocking client gets from its async twin."""

    __slots__ = ()
