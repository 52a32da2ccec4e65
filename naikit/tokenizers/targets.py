"""Which tokenizer a model uses: model names resolved to tokenizer targets, token widths and limits.

A target is what every tokenizer function starts from: the label naikit reports (the API value, or
the tokenizer name when one was given directly), the tokenizer that model uses and the model's entry
in ``naikit.novelai.models`` (its context sizes, prompt limit and base64 token width).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..novelai.models import (
    IMAGE_MODELS,
    OA_MODELS,
    TEXT_MODELS,
    TOKENIZERS,
    ImageModel,
    TextModel,
    find_model,
)

__all__ = [
    "LLAMA3_BOS",
    "Target",
    "resolve",
    "limits",
    "tokenizer_for",
    "canonical_name",
    "known_models",
    "token_width",
    "context_limit",
]

#: Every model a name can pick, text models first.
_MODELS: tuple[TextModel | ImageModel, ...] = (*TEXT_MODELS, *OA_MODELS, *IMAGE_MODELS)

#: llama3's ``<|begin_of_text|>``: NovelAI's Erato prompts start with it.
LLAMA3_BOS = 128000


@dataclass(frozen=True)
class Target:
    """A resolved model: the label shown, the tokenizer and the model entry (None for a bare tokenizer)."""

    label: str  # API value, or the tokenizer name when a tokenizer was named directly
    tokenizer: str
    model: TextModel | ImageModel | None


def resolve(model: Any) -> Target:
    """Return the :class:`Target` of ``model`` (a model, an API value, a short name or a tokenizer name).

    Raises InputError listing every accepted name when ``model`` is none of them."""
    if isinstance(model, Target):
        return model
    if isinstance(model, str) and model.strip().lower() in TOKENIZERS:
        name = model.strip().lower()
        return Target(name, name, None)
    try:
        found = find_model(model)
    except InputError:
        listing = ", ".join([f"{m.value} ({m.short})" for m in _MODELS] + list(TOKENIZERS))
        raise InputError(
            "model", model, f"a model or tokenizer name: {listing}", hint="Names are case-insensitive."
        ) from None
    if isinstance(found, TextModel):
        return Target(found.value, found.tokenizer, found)
    return Target(found.value, found.prompt_tokenizer, found)


def limits(target: Target, tier: str | int) -> tuple[int | None, int | None, str]:
    """Return (limit, CLIP chunk length, which end the limit keeps: "end" for text, "start" for images)."""
    m = target.model
    if isinstance(m, TextModel):
        return m.context.for_tier(tier), None, "end"
    if isinstance(m, ImageModel):
        return m.prompt_limit, m.chunk, "start"
    if target.tokenizer == "clip":
        return 225, 75, "start"
    return None, None, "end"


def tokenizer_for(model: str | TextModel | ImageModel) -> str:
    """Return the tokenizer name ("nerdstash_v2", "llama3", "clip", ...) that ``model`` uses."""
    return resolve(model).tokenizer


def canonical_name(model: str | TextModel | ImageModel) -> str:
    """Return the API value for ``model``, or the tokenizer name when one was given; InputError if unknown."""
    return resolve(model).label


def known_models() -> list[str]:
    """Return every accepted model name: API values and short names, then the tokenizer names."""
    names = [n for m in _MODELS for n in (m.value, m.short)]
    return names + list(TOKENIZERS)


def token_width(model: str | TextModel) -> int:
    """Return how many bytes one token takes in the API's base64 strings: 2, or 4 for Erato (llama3)."""
    target = resolve(model)
    if isinstance(target.model, ImageModel) or target.tokenizer in ("clip", "t5"):
        raise InputError(
            "model", target.label, "a text model (image prompts are sent as text, not base64 tokens)"
        )
    if isinstance(target.model, TextModel):
        return target.model.token_bytes
    return 4 if target.tokenizer == "llama3" else 2


def context_limit(model: str | TextModel | ImageModel, tier: str | int = "opus") -> int:
    """Return the token limit for ``model``: the context size for ``tier`` (text) or the prompt limit (image).

    Text context sizes are client-side knowledge (see ``naikit.novelai.models``); an account's
    ``/user/subscription`` ``perks.contextTokens`` is the server's own number.
    """
    target = resolve(model)
    limit, _, _ = limits(target, tier)
    if limit is None:
        raise InputError("model", target.label, "a model name (a bare tokenizer name has no limit)")
    return limit
