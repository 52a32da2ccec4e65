"""The entry of the context builder: check the arguments, pick the model's tokenizer and budget, and
run the native or the GLM builder (:func:`naikit.novelai.story_context.build_context` and
:meth:`naikit.novelai.story.Story.context` both call :func:`build`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._validate import check_int
from ..errors import InputError
from ._context_glm import _build_glm
from ._context_native import _build_native
from ._context_result import Context
from ._context_text import _Enc

if TYPE_CHECKING:  # pragma: no cover
    from .story import Story

#: The GLM rolling window's extra tokens (the community notes' "28K + 8K rolling"; guess for tiers).
GLM_ROLLING = 8192


class _ModelTokenizer:
    def __init__(self, model: str):
        self.model = model

    def encode(self, text: str) -> list[int]:
        from ..tokenizers import encode

        return encode(text, self.model)

    def decode(self, ids: list[int]) -> str:
        from ..tokenizers import decode

        return decode(ids, self.model)


def build(
    story: Story,
    model: Any = "erato",
    *,
    tier: str | int = "opus",
    token_limit: int | None = None,
    tokenizer: Any = None,
    max_length: int = 150,
    preamble: str = "",
    window: dict | None = None,
    for_generation: bool = False,
    extra_context: int | None = None,
    continue_to_sentence_end: bool = False,
) -> Context:
    """Return the :class:`Context` for a story already known to be a Story (see ``build_context``)."""
    from .models import text_model

    tm = text_model(model)
    check_int(max_length, "max_length", lo=0)
    if token_limit is None:
        ctx = tm.context.for_tier(tier)
        token_limit = ctx - max_length
        if continue_to_sentence_end:
            token_limit -= 40 if tm.tokenizer == "glm4" else 20
    if isinstance(token_limit, bool) or not isinstance(token_limit, int) or token_limit <= 0:
        raise InputError("token_limit", token_limit, "a positive number of tokens")
    if tokenizer is not None and not (
        callable(getattr(tokenizer, "encode", None)) and callable(getattr(tokenizer, "decode", None))
    ):
        raise InputError("tokenizer", tokenizer, "an object with encode(text) and decode(ids)")
    if not isinstance(preamble, str):
        raise InputError("preamble", preamble, "a string")
    glm = tm.tokenizer == "glm4"
    if glm:
        enc = _Enc(tokenizer) if tokenizer is not None else None
        if window is not None and not isinstance(window, dict):
            raise InputError("window", window, "a dict kept between calls (or None)")
        extra = GLM_ROLLING if extra_context is None else extra_context
        return _build_glm(story, enc, token_limit, tm.value, window, extra, for_generation)
    enc = _Enc(tokenizer if tokenizer is not None else _ModelTokenizer(tm.value))
    keep = 1 if tm.tokenizer == "llama3" else 0
    return _build_native(story, enc, token_limit, tm.value, preamble, keep)
