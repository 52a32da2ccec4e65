"""The blocking Novita.ai client, :class:`Novita`: the methods of
:class:`~naikit.novita.async_client.AsyncNovita`, each run to completion (see :mod:`naikit._runner`).

The class is light: its methods are made from the async client on first use (the first instance, or the
first look at a method), so ``naikit.Novita`` does not import asyncio or the areas until then. Type
checkers read the methods from the generated ``_blocking.pyi``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .. import _runner
from ._blocking import BlockingMethods

if TYPE_CHECKING:
    from .._transport import Transport
    from .async_client import AsyncNovita

__all__ = ["Novita"]


def _async_class() -> type[AsyncNovita]:
    """Return :class:`AsyncNovita`, importing the async client (every area) on the first call."""
    from .async_client import AsyncNovita

    return AsyncNovita


class Novita(BlockingMethods, _runner.SyncClient, twin=_async_class):
    """Blocking client with the same methods as :class:`AsyncNovita` and the same constructor.

    Each call runs on naikit's runner loop, so it works in scripts and inside a running Jupyter kernel.
    """

    if not TYPE_CHECKING:  # type checkers read the async client's parameters from _blocking.pyi

        def __init__(self, *args: Any, **kwargs: Any):
            twin = _async_class()
            args, kwargs = _runner.mask_secrets(twin.__init__, args, kwargs)
            super().__init__(twin(*args, **kwargs))

    @staticmethod
    def transports_of(async_client: Any) -> list[Transport]:
        """Return the API transport and those of generated files and uploads (made as they are needed)."""
        return [async_client.transport, *async_client._file_transports.values()]

    @property
    def task_ids(self) -> list[str]:
        """Return every task id this client submitted, oldest first."""
        return self._async.task_ids

    @property
    def poll_clock(self) -> Callable[[], float]:
        """Return the clock polling measures its timeout with (``time.monotonic`` by default)."""
        return self._async.poll_clock

    @poll_clock.setter
    def poll_clock(self, value: Callable[[], float]) -> None:
        self._async.poll_clock = value

    @property
    def poll_sleep(self) -> Callable[[float], Awaitable[None]]:
        """Return the coroutine function polling sleeps with (``asyncio.sleep`` by default)."""
        return self._async.poll_sleep

    @poll_sleep.setter
    def poll_sleep(self, value: Callable[[float], Awaitable[None]]) -> None:
        self._async.poll_sleep = value

    @property
    def transport(self) -> Transport:
        """Return the underlying transport (retry policy, stats)."""
        return self._async.transport
