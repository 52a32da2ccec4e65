"""Image models, presets, request bodies, validation and Anlas estimates (spec §6, §8.3).

Everything here is pure: no network, no client. ``build_request`` turns a prompt, an :class:`ImagePreset`
and the action's inputs into the exact JSON body of ``POST /ai/generate-image``, after
``validate_request`` has refused anything the service would reject (and before any Anlas are spent).
``estimate_cost`` prices a body the way the website does.

What the website sends (its January 2026 bundle; V5 as the V5 website sends it) is what ``build_request``
builds, checked field by field in ``tests/test_website_image.py`` against a reference written from the
bundle:

* quality tags per model (V1/V2 prefix on every "|" part; V3+ suffix; V4+ on the first part, before a
  "Text:" block); V5's quality presets ``standard`` / ``light`` / ``none`` (``qualityPresetId``);
* undesired-content presets: ``"<preset>, <uc>"`` with "nsfw, " first on non-curated models unless the
  prompt says nsfw in any case; ``ucPreset`` is the preset's index (V5: ``ucPresetId``, its name);
* the fields the website deletes per model (``uc``, ``sm``/``sm_dyn`` on V4+, the noise schedule on V1/V2,
  strength/noise without an image) and always sends (``image_format``, ``use_new_shared_trial``);
* Variety+ scaled by image size, ``extra_noise_seed`` = seed - 1, img2img ``color_correct`` false, the
  nested ``img2img`` of a V4+ inpaint below full strength, disabled characters left out.

Deliberate differences (README, "Image requests"): inpaint keeps ``add_original_image`` true, an empty
UC is sent as ``negative_prompt: ""``, masks are strict black-and-white PNGs. How novelai-api and
novelai-sdk differ from the website is named in ``tests/test_interop_image.py``.

Layout: the tables (actions, sizes, samplers, presets' texts, director tools) are in ``image_tables``, the
Anlas estimates in ``image_cost`` (both format modules the sandbox shares), :class:`ImagePreset` in
``_image_preset``, characters, vibes and pictures in ``_image_inputs``, validation and the request body in
``_image_request``; this module is where every public name is imported from.
"""

from __future__ import annotations

# The error every check here raises, reachable as ``image_models.InputError`` as before the tables moved.
from ..errors import InputError  # noqa: F401
from ._image_inputs import Character, CharacterReference, Vibe, grid_position, letterbox, load_image
from ._image_preset import IMAGE_MODEL_SPECS, ImageModelSpec, ImagePreset, model_spec
from ._image_request import (
    V5_MAX_CHARACTERS,
    V5_QUALITY_PRESETS,
    build_request,
    v5_multipart,
    validate_request,
    variety_sigma,
)
from .image_cost import CostEstimate, estimate_augment_cost, estimate_cost
from .image_tables import (
    ACTIONS,
    DIRECTOR_TOOLS,
    EMOTIONS,
    GENERATIONS,
    MAX_CHARACTERS,
    MAX_PIXELS,
    MAX_SIDE,
    MAX_VIBES,
    NOISE_SCHEDULES,
    SAMPLERS,
    max_n_samples,
    quality_tags,
    samplers_for,
    schedules_for,
    uc_presets,
)

__all__ = [
    "ACTIONS",
    "GENERATIONS",
    "MAX_SIDE",
    "MAX_CHARACTERS",
    "MAX_VIBES",
    "ImageModelSpec",
    "IMAGE_MODEL_SPECS",
    "model_spec",
    "SAMPLERS",
    "NOISE_SCHEDULES",
    "samplers_for",
    "schedules_for",
    "uc_presets",
    "quality_tags",
    "Character",
    "CharacterReference",
    "Vibe",
    "ImagePreset",
    "CostEstimate",
    "max_n_samples",
    "grid_position",
    "load_image",
    "letterbox",
    "validate_request",
    "build_request",
    "estimate_cost",
    "estimate_augment_cost",
    "MAX_PIXELS",
    "DIRECTOR_TOOLS",
    "EMOTIONS",
    "V5_QUALITY_PRESETS",
    "V5_MAX_CHARACTERS",
    "variety_sigma",
    "v5_multipart",
]
