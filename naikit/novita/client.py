"""Novita.ai clients: :class:`AsyncNovita` (the core) and :class:`Novita` (same methods, blocking).

The API key comes from the constructor or ``NOVITA_API_KEY``; with neither, the client uses naikit's
embedded offline sandbox with its demo key (announced once, in one line). The base URL comes from
``base_url=``, else ``NOVITA_BASE_URL`` (or ``NOVITA_API_URI``, what Novita's own examples read), else
``https://api.novita.ai``. The key is held by the transport and never appears in a repr, log line or
exception.

Generation methods submit a v3 async task and, with ``wait=True`` (the default), poll it with a
time-based timeout and a growing interval, then download the results (with retries) so ``.images``
gives PIL images. ``wait=False`` returns the :class:`~naikit.novita.tasks.Task` at once. Every submitted
task id is also appended to ``client.task_ids``; errors raised while waiting carry ``task_id``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .. import _runner
from .._transport import Transport
from ._base import DEFAULT_BASE_URL
from ._blocking import BlockingMethods
from ._case import CaseArea, EditedImage
from ._catalogue import CatalogueArea
from ._generation import GenerationArea
from ._lora_training import TrainingArea

__all__ = ["AsyncNovita", "Novita", "EditedImage", "DEFAULT_BASE_URL"]


class AsyncNovita(GenerationArea, CaseArea, TrainingArea, CatalogueArea):
    """Async client for Novita.ai's v3 image, video, training, model and account APIs.

    ``api_key``: a Novita key (else ``NOVITA_API_KEY``, else the sandbox). ``sandbox``: None = automatic,
    True = always the embedded sandbox, False = never. ``validate`` checks response shapes.
    """


@_runner.sync_facade(AsyncNovita)
class Novita(BlockingMethods, _runner.SyncClient):
    """Blocking client with the same methods as :class:`AsyncNovita` and the same constructor.

    Each call runs on naikit's runner loop, so it works in scripts and inside a running Jupyter kernel.
    """

    if not TYPE_CHECKING:  # type checkers read the async client's parameters from _blocking.pyi

        def __init__(self, *args: Any, **kwargs: Any):
            args, kwargs = _runner.mask_secrets(AsyncNovita.__init__, args, kwargs)
            super().__init__(AsyncNovita(*args, **kwargs))

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
