"""NovelAI endpoints for the account's encrypted content: keystore, stories, presets, modules, shelves.

``ContentAPI`` is a mixin of :class:`naikit.novelai.client.AsyncNovelAI`: its public coroutine methods use the
client's ``_call`` / ``transport`` and appear on the sync ``NovelAI`` automatically.
"""

from __future__ import annotations

__all__ = ["ContentAPI"]


class ContentAPI:
    """Mixin: the account's encrypted content (keystore, stories, presets, modules, shelves; issue 4)."""
