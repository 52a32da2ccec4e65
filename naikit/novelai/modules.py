"""NovelAI endpoints for NovelAI custom AI module training.

``ModulesAPI`` is a mixin of :class:`naikit.novelai.client.AsyncNovelAI`: its public coroutine methods use the
client's ``_call`` / ``transport`` and appear on the sync ``NovelAI`` automatically.
"""

from __future__ import annotations

__all__ = ["ModulesAPI"]


class ModulesAPI:
    """Mixin: NovelAI custom AI module training (issue 6)."""
