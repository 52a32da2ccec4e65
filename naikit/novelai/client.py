"""The blocking NovelAI client, :class:`NovelAI`: the methods of
:class:`~naikit.novelai.async_client.AsyncNovelAI`, each run to completion (see :mod:`naikit._runner`).

The class is light: its methods are made from the async client on first use (the first instance, or the
first look at a method), so ``naikit.NovelAI`` does not import asyncio or the areas' request builders and
result classes until then. Type checkers read the methods from the generated ``_blocking.pyi``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _runner
from ._blocking import BlockingMethods

if TYPE_CHECKING:
    from .async_client import AsyncNovelAI

__all__ = ["NovelAI"]


def _async_class() -> type[AsyncNovelAI]:
    """Return :class:`AsyncNovelAI`, importing the async client (every area) on the first call."""
    from .async_client import AsyncNovelAI

    return AsyncNovelAI


class NovelAI(BlockingMethods, _runner.SyncClient, twin=_async_class):
    """Blocking client with the same methods as :class:`AsyncNovelAI` and the same constructor.

    Each call runs to completion on the calling thread's own event loop in a script, or on naikit's
    background loop when the thread's loop is already running (a Jupyter kernel); no global asyncio
    patching. Use ``with NovelAI() as nai:`` or call ``close()``.
    """

    if not TYPE_CHECKING:  # type checkers read the async client's parameters from _blocking.pyi

        def __init__(self, *args: Any, **kwargs: Any):
            twin = _async_class()
            args, kwargs = _runner.mask_secrets(twin.__init__, args, kwargs)
            super().__init__(twin(*args, **kwargs))

    @property
    def validate(self) -> bool:
        """Return whether responses are checked against the documented shapes."""
        return self._async.validate

    @validate.setter
    def validate(self, value: bool) -> None:
        self._async.validate = bool(value)
