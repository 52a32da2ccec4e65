"""The async NovelAI client, :class:`AsyncNovelAI`: the core that the blocking :class:`~.client.NovelAI`
drives (same methods, awaited).

Credentials are resolved on the first call that needs them, in this order: what the constructor or a
``login*`` method was given; ``NAI_TOKEN``; ``NAI_USERNAME`` + ``NAI_PASSWORD``; otherwise the embedded
offline sandbox with its demo account (announced once, in one line). Hosts: ``hosts=``/``base_url=``;
else ``NAI_BASE_URL`` (one URL for all three hosts, what ``naikit lab`` sets) or ``NAI_API_BASE`` /
``NAI_IMAGE_BASE`` / ``NAI_TEXT_BASE``; else NovelAI's real hosts.

The client is composed of one area per module, each built on the typed core
:class:`~naikit.novelai._base.ClientCore` (transport, validation, readiness, credentials and keys):
account calls (:mod:`.user_api`), raw objects (:mod:`.objects_api`), keystore (:mod:`.keystore_api`),
content (:mod:`.content_api`), stories (:mod:`.stories_api`), text (:mod:`.text`), GLM text (:mod:`.oa`),
images (:mod:`.image`), modules (:mod:`.modules`) and voice (:mod:`.voice`).
"""

from __future__ import annotations

from typing import Any

from .image import ImageAPI
from .modules import ModulesAPI
from .text import TextAPI
from .voice import VoiceAPI

__all__ = ["AsyncNovelAI"]


class AsyncNovelAI(TextAPI, ImageAPI, ModulesAPI, VoiceAPI):
    """Async client for NovelAI's REST API: account, content, text, images, modules and voice.

    Construct with any one of: ``token`` (a login JWT or a ``pst-`` persistent token), ``email`` +
    ``password``, ``access_key``; or nothing, to use the environment or, failing that, the offline
    sandbox. Use as ``async with AsyncNovelAI() as nai:`` or call :meth:`close` at the end.

    ``validate`` (default True) checks every response against the documented shapes and raises
    ResponseShapeError naming the field that differs. ``sandbox``: None = automatic, True = always
    the embedded sandbox, False = never.
    """

    async def __aenter__(self) -> AsyncNovelAI:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
