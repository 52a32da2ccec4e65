"""NovelAI endpoints for text to speech.

``VoiceAPI`` is a mixin of :class:`naikit.novelai.client.AsyncNovelAI`: its public coroutine methods use the
client's ``_call`` / ``transport`` and appear on the sync ``NovelAI`` automatically.
"""

from __future__ import annotations

__all__ = ["VoiceAPI"]


class VoiceAPI:
    """Mixin: text to speech (issue 6)."""
