"""NovelAI's image tables (spec §6.3, §6.4, §6.6, §6.9): the actions, the largest sizes and sample counts,
the samplers and noise schedules of each model generation, the undesired-content presets and quality tags
the website adds, and the director tools. Pure data and look-ups: the client builds requests from them and
the sandbox checks requests against them. The models themselves are :mod:`naikit.novelai.models`'s table."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from .models import ImageModel, image_model

Action = Literal["generate", "img2img", "infill"]
ACTIONS: tuple[str, ...] = ("generate", "img2img", "infill")
GENERATIONS: tuple[str, ...] = ("v1", "v2", "v3", "v4", "v4.5", "v5")

#: Largest image area the service renders (1024×3072 = 1536×2048); above it n_samples may be 0.
MAX_PIXELS = 3 * 1024 * 1024
MAX_SIDE = 3072
MAX_CHARACTERS = 6
MAX_VIBES = 16


# -------------------------------------------------------------------------------- samplers and schedules

SAMPLERS: tuple[str, ...] = (
    "k_lms", "k_euler", "k_euler_ancestral", "k_heun", "plms", "ddim", "ddim_v3", "nai_smea", "nai_smea_dyn",
    "k_dpmpp_2m", "k_dpmpp_2m_sde", "k_dpmpp_2s_ancestral", "k_dpmpp_sde", "k_dpmpp_3m_sde", "k_dpm_2",
    "k_dpm_2_ancestral", "k_dpm_adaptive", "k_dpm_fast",
)  # fmt: skip
NOISE_SCHEDULES: tuple[str, ...] = ("native", "karras", "exponential", "polyexponential")

# plms, nai_smea, k_dpm_adaptive and k_dpm_fast do not work on the service (REF marks them so); V4+ reject
# ddim, the nai_smea samplers and plms; the website's V4+ list is the six below.
_OLD_SAMPLERS = (
    "k_euler", "k_euler_ancestral", "k_dpmpp_2s_ancestral", "k_dpmpp_2m", "k_dpmpp_sde", "k_dpm_2",
    "k_dpm_2_ancestral", "k_lms", "k_heun", "ddim", "nai_smea_dyn",
)  # fmt: skip
_V4_SAMPLERS = (
    "k_euler", "k_euler_ancestral", "k_dpmpp_2s_ancestral", "k_dpmpp_2m_sde", "k_dpmpp_2m", "k_dpmpp_sde",
)  # fmt: skip
_SAMPLERS_BY_GEN: dict[str, tuple[str, ...]] = {
    "v1": _OLD_SAMPLERS,
    "v2": _OLD_SAMPLERS,
    "v3": (*_OLD_SAMPLERS, "ddim_v3", "k_dpmpp_2m_sde"),
    "v4": _V4_SAMPLERS,
    "v4.5": _V4_SAMPLERS,
    "v5": _V4_SAMPLERS,
}
_ALL_SCHEDULES = frozenset(("k_euler", "k_euler_ancestral", "k_dpmpp_2s_ancestral", "k_dpmpp_2m",
                            "k_dpmpp_2m_sde", "k_dpmpp_sde"))  # fmt: skip


def samplers_for(model: str | ImageModel) -> tuple[str, ...]:
    """Return the samplers the model accepts."""
    return _SAMPLERS_BY_GEN[image_model(model).generation]


def schedules_for(model: str | ImageModel, sampler: str) -> tuple[str, ...]:
    """Return the noise schedules valid for ``sampler`` on ``model`` (first = the website's default)."""
    spec = image_model(model)
    if sampler in _ALL_SCHEDULES:
        out = ("karras", "exponential", "polyexponential") if spec.is_v4_plus else NOISE_SCHEDULES
    elif sampler == "k_dpm_2":
        out = ("exponential", "polyexponential")
    else:
        out = ("native",)
    return tuple(out)


# ------------------------------------------------------------------------------------------ data tables


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    return json.loads(resources.files("naikit.data.image").joinpath("presets.json").read_text("utf-8"))


def uc_presets(model: str | ImageModel) -> dict[str, str]:
    """Return the model's undesired-content presets, name -> text, in website order (index = ucPreset)."""
    return dict(_data()["groups"][image_model(model).group]["uc"])


def quality_tags(model: str | ImageModel) -> tuple[str, str]:
    """Return (prefix, suffix) the website adds to the prompt when quality tags are on."""
    q = _data()["groups"][image_model(model).group]["quality"]
    return q["prefix"], q["suffix"]


def max_n_samples(width: int, height: int) -> int:
    """Return how many samples one request may ask for at this size (0 = too large): the website's table,
    8 up to 512x704, 6 up to 640x640, 4 up to 3 MPx."""
    area = width * height
    for limit, n in ((512 * 704, 8), (640 * 640, 6), (MAX_PIXELS, 4)):
        if area <= limit:
            return n
    return 0


DIRECTOR_TOOLS: tuple[str, ...] = (
    "bg-removal", "lineart", "sketch", "colorize", "emotion", "declutter", "declutter-keep-bubbles",
)  # fmt: skip
EMOTIONS: tuple[str, ...] = (
    "neutral", "happy", "sad", "angry", "scared", "surprised", "tired", "excited", "nervous", "thinking",
    "confused", "shy", "disgusted", "smug", "bored", "laughing", "irritated", "aroused", "embarrassed",
    "worried", "love", "determined", "hurt", "playful",
)  # fmt: skip
