"""The NovelAI model table: text models (spec §5.1) and image models (spec §6.1), as plain data.

Nothing here imports anything heavy, so text generation, image generation, the sandbox and the
tokenizers can all share one table. Each text model names its tokenizer, the width of one token in
the base64 ``input``/``output`` fields, the host that serves it and the success status that host
answers with, and its context size per subscription tier. Each image model names the tokenizer of
its prompt and the prompt limit.

Context sizes are client-side knowledge: the server is the authority, and an account's
``/user/subscription`` answer carries its own ``perks.contextTokens``. Numbers that no source
confirms are marked as guesses where they are defined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import InputError

__all__ = [
    "TIERS",
    "TierLimits",
    "TextModel",
    "ImageModel",
    "TEXT_MODELS",
    "OA_MODELS",
    "IMAGE_MODELS",
    "TOKENIZERS",
    "text_model",
    "image_model",
    "find_model",
    "known_model_names",
    "tier_name",
]

#: Subscription tiers that carry a context size, by the names the API's ``tier`` numbers 1-3 have.
TIERS: tuple[str, ...] = ("tablet", "scroll", "opus")

#: Tokenizer names, as used in ``naikit.tokenizers`` and in the NOTICE of the shipped data files.
TOKENIZERS: tuple[str, ...] = (
    "gpt2",
    "gpt2-genji",
    "pile",
    "nerdstash_v1",
    "nerdstash_v2",
    "llama3",
    "clip",
    "t5",
)


@dataclass(frozen=True)
class TierLimits:
    """Context size in tokens for each paid tier (Tablet, Scroll, Opus)."""

    tablet: int
    scroll: int
    opus: int

    def for_tier(self, tier: str | int) -> int:
        """Return the context size for ``tier`` ("tablet"/"scroll"/"opus" or the API number 1-3)."""
        return int(getattr(self, tier_name(tier)))


@dataclass(frozen=True)
class TextModel:
    """One text model: what the API calls it and what a client needs to talk to it."""

    name: str
    value: str
    short: str
    tokenizer: str
    token_bytes: Literal[2, 4]
    host: Literal["api", "text"]
    ok_status: Literal[200, 201]
    context: TierLimits
    #: False when the context sizes are guesses (no source confirms them).
    context_confirmed: bool = False
    kind: Literal["text"] = "text"
    #: "native" for ``/ai/generate`` models, "oa" for the GLM family served only over ``/oa/v1``.
    api: Literal["native", "oa"] = "native"
    #: Largest response length the website offers (``max_length`` / ``max_tokens``).
    max_output: int = 2048

    def available_on(self, tier: str | int) -> bool:
        """Return True when the model may be used on ``tier`` (a context size of 0 means not offered)."""
        return self.context.for_tier(tier) > 0


@dataclass(frozen=True)
class ImageModel:
    """One image model: API value, generation, family, its inpainting sibling, and the tokenizer that
    counts its prompt. The one table of image models (tokenizers, image requests and the sandbox use it).
    """

    name: str
    value: str
    short: str
    generation: str
    prompt_tokenizer: Literal["clip", "t5"]
    #: Tokens the prompt may hold (CLIP: 3 chunks of 75; T5: 512).
    prompt_limit: int
    #: CLIP prompts are encoded in chunks of this many tokens (None for T5).
    chunk: int | None
    inpainting: bool = False
    family: Literal["curated", "full", "furry"] = "full"
    #: The model used for ``infill`` (itself for an inpainting model; None when the generation has none).
    inpaint_value: str | None = None
    kind: Literal["image"] = "image"

    @property
    def group(self) -> str:
        """Return the key of this model's quality-tag / UC-preset table in ``data/image/presets.json``."""
        g = self.generation
        if g == "v1":
            return "v1-furry" if self.family == "furry" else "v1-anime"
        if g == "v3":
            return "v3-furry" if self.family == "furry" else "v3"
        if g in ("v4", "v4.5"):
            return f"{g}-{'curated' if self.family == 'curated' else 'full'}"
        return g

    @property
    def is_v4_plus(self) -> bool:
        """Return True for models that take ``v4_prompt`` and character prompts (V4, V4.5, V5)."""
        return self.generation in ("v4", "v4.5", "v5")


# Old GPT-2-vocabulary models: NovelAI's tier table of the time gave Tablet 1024 tokens and Scroll/Opus 2048.
# Guess: no client in the spec states it, and the numbers come from memory of the old subscription page.
_OLD = TierLimits(tablet=1024, scroll=2048, opus=2048)
# Clio: 8192 on every tier (SillyTavern docs and its settings code clamp Clio to 8192).
_CLIO = TierLimits(tablet=8192, scroll=8192, opus=8192)
# Kayra: SillyTavern's current getKayraMaxContextTokens gives 4096/8192/8192 (tiers 1/2/3); its older
# releases and docs said 3072/6144/8192. The current numbers are used.
_KAYRA = TierLimits(tablet=4096, scroll=8192, opus=8192)
# Erato: SillyTavern clamps every tier to 8192 ("subscriber limits coming soon"); Tablet/Scroll are a guess.
_ERATO = TierLimits(tablet=8192, scroll=8192, opus=8192)
# HypeBot and the inline/infill model are small internal models; 2048 is a guess.
_SMALL = TierLimits(tablet=2048, scroll=2048, opus=2048)

TEXT_MODELS: tuple[TextModel, ...] = (
    TextModel("Sigurd", "6B-v4", "sigurd", "gpt2", 2, "api", 201, _OLD),
    TextModel("Euterpe", "euterpe-v2", "euterpe", "gpt2", 2, "api", 201, _OLD),
    TextModel("Krake", "krake-v2", "krake", "pile", 2, "api", 201, _OLD),
    TextModel("Clio", "clio-v1", "clio", "nerdstash_v1", 2, "api", 201, _CLIO, context_confirmed=True),
    TextModel("Kayra", "kayra-v1", "kayra", "nerdstash_v2", 2, "text", 200, _KAYRA, context_confirmed=True),
    TextModel("Erato", "llama-3-erato-v1", "erato", "llama3", 4, "text", 200, _ERATO),
    TextModel("Genji", "genji-jp-6b-v2", "genji", "gpt2-genji", 2, "api", 201, _OLD),
    TextModel("Snek", "genji-python-6b", "snek", "gpt2", 2, "api", 201, _OLD),
    TextModel("HypeBot", "hypebot", "hypebot", "gpt2", 2, "api", 201, _SMALL),
    TextModel("Inline", "infillmodel", "inline", "gpt2", 2, "api", 201, _SMALL),
)

# The GLM family, served only over /oa/v1 (spec novelai-oa.md). Context per tier from the website's code
# (January 2026 bundle, the per-model context table: glm-4-5/glm-4-6 -> 8192 / 12288 / 28672), so confirmed
# for glm-4-6. The site's largest response length for the family is 1024 tokens (same bundle).
_GLM = TierLimits(tablet=8192, scroll=12288, opus=28672)
# Xialong (April 2026, after the bundle): Opus only (launch notes); 28672 is a guess ("28K base" in the
# community notes, the same window as glm-4-6). Tablet/Scroll 0: not offered there.
_XIALONG = TierLimits(tablet=0, scroll=0, opus=28672)

#: Text models served over the OpenAI-style API (``/oa/v1``); kept apart from TEXT_MODELS (native API).
OA_MODELS: tuple[TextModel, ...] = (
    TextModel(
        "GLM-4.6",
        "glm-4-6",
        "glm",
        "glm4",
        4,
        "text",
        200,
        _GLM,
        context_confirmed=True,
        api="oa",
        max_output=1024,
    ),
    TextModel(
        "Xialong", "xialong-v1", "xialong", "glm4", 4, "text", 200, _XIALONG, api="oa", max_output=1024
    ),
)

# CLIP prompts are cut into 75-token chunks; 3 chunks (225 tokens) is the limit NovelAI's editor showed
# for V1-V3 (guess: no client in the spec states it). T5 (V4+): 512 tokens.
_CLIP_LIMIT = 225
_T5_LIMIT = 512


def _image(
    name: str,
    value: str,
    short: str,
    gen: str,
    family: str,
    inpaint: str | None = None,
    inpainting: bool = False,
) -> ImageModel:
    clip = gen in ("v1", "v2", "v3")
    return ImageModel(
        name,
        value,
        short,
        gen,
        "clip" if clip else "t5",
        _CLIP_LIMIT if clip else _T5_LIMIT,
        75 if clip else None,
        inpainting,
        family,  # type: ignore[arg-type]
        value if inpainting else inpaint,
    )


IMAGE_MODELS: tuple[ImageModel, ...] = (
    _image("Anime Curated", "safe-diffusion", "anime-curated", "v1", "curated", "safe-diffusion-inpainting"),
    _image("Anime Full", "nai-diffusion", "anime-full", "v1", "full", "nai-diffusion-inpainting"),
    _image("Furry", "nai-diffusion-furry", "furry", "v1", "furry", "furry-diffusion-inpainting"),
    _image(
        "Inpainting Anime Curated",
        "safe-diffusion-inpainting",
        "anime-curated-inpainting",
        "v1",
        "curated",
        inpainting=True,
    ),
    _image(
        "Inpainting Anime Full",
        "nai-diffusion-inpainting",
        "anime-full-inpainting",
        "v1",
        "full",
        inpainting=True,
    ),
    _image(
        "Inpainting Furry", "furry-diffusion-inpainting", "furry-inpainting", "v1", "furry", inpainting=True
    ),
    _image("Anime V2", "nai-diffusion-2", "v2", "v2", "full"),
    _image("Anime V3", "nai-diffusion-3", "v3", "v3", "full", "nai-diffusion-3-inpainting"),
    _image(
        "Inpainting Anime V3", "nai-diffusion-3-inpainting", "v3-inpainting", "v3", "full", inpainting=True
    ),
    _image(
        "Furry V3", "nai-diffusion-furry-3", "furry-v3", "v3", "furry", "nai-diffusion-furry-3-inpainting"
    ),
    _image(
        "Inpainting Furry V3",
        "nai-diffusion-furry-3-inpainting",
        "furry-v3-inpainting",
        "v3",
        "furry",
        inpainting=True,
    ),
    _image(
        "Anime V4 Curated",
        "nai-diffusion-4-curated-preview",
        "v4-curated",
        "v4",
        "curated",
        "nai-diffusion-4-curated-inpainting",
    ),
    _image("Anime V4 Full", "nai-diffusion-4-full", "v4", "v4", "full", "nai-diffusion-4-full-inpainting"),
    _image(
        "Inpainting Anime V4 Curated",
        "nai-diffusion-4-curated-inpainting",
        "v4-curated-inpainting",
        "v4",
        "curated",
        inpainting=True,
    ),
    _image(
        "Inpainting Anime V4 Full",
        "nai-diffusion-4-full-inpainting",
        "v4-inpainting",
        "v4",
        "full",
        inpainting=True,
    ),
    _image(
        "Anime V4.5 Curated",
        "nai-diffusion-4-5-curated",
        "v4.5-curated",
        "v4.5",
        "curated",
        "nai-diffusion-4-5-curated-inpainting",
    ),
    _image(
        "Anime V4.5 Full",
        "nai-diffusion-4-5-full",
        "v4.5",
        "v4.5",
        "full",
        "nai-diffusion-4-5-full-inpainting",
    ),
    _image(
        "Inpainting Anime V4.5 Curated",
        "nai-diffusion-4-5-curated-inpainting",
        "v4.5-curated-inpainting",
        "v4.5",
        "curated",
        inpainting=True,
    ),
    _image(
        "Inpainting Anime V4.5 Full",
        "nai-diffusion-4-5-full-inpainting",
        "v4.5-inpainting",
        "v4.5",
        "full",
        inpainting=True,
    ),
    # V5 as far as novelai-sdk documents it (spec §6.1); its prompt tokenizer is assumed to be T5 like V4.
    # There is no V5 curated inpainting model (the service answers 400 "model doesn't exist", spec §8.2).
    _image("Anime V5 Curated", "nai-diffusion-5-curated", "v5-curated", "v5", "curated"),
    _image("Anime V5 Full", "nai-diffusion-5-full", "v5", "v5", "full", "nai-diffusion-5-full-inpainting"),
    _image(
        "Inpainting Anime V5 Full",
        "nai-diffusion-5-full-inpainting",
        "v5-inpainting",
        "v5",
        "full",
        inpainting=True,
    ),
    # The lower-cost "medium effort" V5 Full (spec §8.2): 14 steps by default.
    _image(
        "Anime V5 Full Medium",
        "nai-diffusion-5-full-medium",
        "v5-medium",
        "v5",
        "full",
        "nai-diffusion-5-full-medium-inpainting",
    ),
    _image(
        "Inpainting Anime V5 Full Medium",
        "nai-diffusion-5-full-medium-inpainting",
        "v5-medium-inpainting",
        "v5",
        "full",
        inpainting=True,
    ),
)

# Other names people type for the same models (older short names, novelai-sdk's aliases).
_IMAGE_ALIASES = {
    "v1": "nai-diffusion",
    "v1-curated": "safe-diffusion",
    "v1-furry": "nai-diffusion-furry",
    "v3-furry": "nai-diffusion-furry-3",
    "nai-diffusion-4-curated": "nai-diffusion-4-curated-preview",
    "nai-diffusion-3-furry": "nai-diffusion-furry-3",
}

_TEXT_INDEX: dict[str, TextModel] = {}
for _m in (*TEXT_MODELS, *OA_MODELS):
    _TEXT_INDEX[_m.value.lower()] = _m
    _TEXT_INDEX[_m.short] = _m
_IMAGE_INDEX: dict[str, ImageModel] = {}
for _im in IMAGE_MODELS:
    _IMAGE_INDEX[_im.value.lower()] = _im
    _IMAGE_INDEX[_im.short] = _im
for _alias, _value in _IMAGE_ALIASES.items():
    _IMAGE_INDEX[_alias] = _IMAGE_INDEX[_value]


def tier_name(tier: str | int) -> str:
    """Return the canonical tier name ("tablet", "scroll" or "opus") for a name or the API number 1-3."""
    if isinstance(tier, int) and not isinstance(tier, bool) and 1 <= tier <= 3:
        return TIERS[tier - 1]
    if isinstance(tier, str) and tier.strip().lower() in TIERS:
        return tier.strip().lower()
    raise InputError("tier", tier, "'tablet', 'scroll' or 'opus' (or the API tier number 1, 2 or 3)")


def known_model_names(kind: Literal["text", "image", "all"] = "all") -> list[str]:
    """Return every accepted model name (API value, then short name), text models first."""
    names: list[str] = []
    if kind in ("text", "all"):
        names += [n for m in (*TEXT_MODELS, *OA_MODELS) for n in (m.value, m.short)]
    if kind in ("image", "all"):
        names += [n for m in IMAGE_MODELS for n in (m.value, m.short)]
    return names


def _unknown(field: str, value: object, kind: Literal["text", "image", "all"]) -> InputError:
    if kind == "text":
        listing = ", ".join(f"{m.value} ({m.short})" for m in (*TEXT_MODELS, *OA_MODELS))
    elif kind == "image":
        listing = ", ".join(f"{m.value} ({m.short})" for m in IMAGE_MODELS)
    else:
        names = [f"{m.value} ({m.short})" for m in (*TEXT_MODELS, *OA_MODELS)]
        listing = ", ".join(names + [f"{m.value} ({m.short})" for m in IMAGE_MODELS])
    return InputError(field, value, f"one of the known models: {listing}")


def text_model(model: str | TextModel) -> TextModel:
    """Return the TextModel for an API value ("kayra-v1") or short name ("kayra"); InputError if unknown."""
    if isinstance(model, TextModel):
        return model
    if isinstance(model, str) and model.strip().lower() in _TEXT_INDEX:
        return _TEXT_INDEX[model.strip().lower()]
    raise _unknown("model", model, "text")


def image_model(model: str | ImageModel) -> ImageModel:
    """Return the ImageModel for an API value ("nai-diffusion-3") or a short name ("v3").

    Raises InputError, listing the known image models, for any other name.
    """
    if isinstance(model, ImageModel):
        return model
    if isinstance(model, str) and model.strip().lower() in _IMAGE_INDEX:
        return _IMAGE_INDEX[model.strip().lower()]
    raise _unknown("model", model, "image")


def find_model(model: str | TextModel | ImageModel) -> TextModel | ImageModel:
    """Return the text or image model called ``model`` (API value or short name); InputError if unknown."""
    if isinstance(model, (TextModel, ImageModel)):
        return model
    if isinstance(model, str):
        key = model.strip().lower()
        if key in _TEXT_INDEX:
            return _TEXT_INDEX[key]
        if key in _IMAGE_INDEX:
            return _IMAGE_INDEX[key]
    raise _unknown("model", model, "all")
