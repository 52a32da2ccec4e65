"""NovelAI endpoints for text generation and streaming with presets.

``TextAPI`` is a mixin of :class:`naikit.novelai.client.AsyncNovelAI`: its public coroutine methods use the
client's ``_call`` / ``transport`` and appear on the sync ``NovelAI`` automatically.
"""

from __future__ import annotations

__all__ = ["TextAPI"]


class TextAPI:
    """Mixin: text generation and streaming with presets (issue 3)."""
