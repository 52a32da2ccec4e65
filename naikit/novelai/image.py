"""NovelAI endpoints for image generation, vibe transfer, director tools, upscale and tag suggestions.

``ImageAPI`` is a mixin of :class:`naikit.novelai.client.AsyncNovelAI`: its public coroutine methods use the
client's ``_call`` / ``transport`` and appear on the sync ``NovelAI`` automatically.
"""

from __future__ import annotations

__all__ = ["ImageAPI"]


class ImageAPI:
    """Mixin: image generation, vibe transfer, director tools, upscale and tag suggestions (issue 5)."""
