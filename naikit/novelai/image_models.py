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
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import os
import random
import re
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from .._decode import open_image
from ..errors import InputError
from .models import IMAGE_MODELS, ImageModel, image_model

__all__ = [
    "GENERATIONS",
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

Action = Literal["generate", "img2img", "infill"]
ACTIONS: tuple[str, ...] = ("generate", "img2img", "infill")
GENERATIONS: tuple[str, ...] = ("v1", "v2", "v3", "v4", "v4.5", "v5")

#: Largest image area the service renders (1024×3072 = 1536×2048); above it n_samples may be 0.
MAX_PIXELS = 3 * 1024 * 1024
MAX_SIDE = 3072
MAX_CHARACTERS = 6
MAX_VIBES = 16


# The image model table is the one in models.py (shared with the tokenizers); these names keep this
# module's vocabulary.
ImageModelSpec = ImageModel
IMAGE_MODEL_SPECS: tuple[ImageModel, ...] = IMAGE_MODELS


def model_spec(model: str | ImageModel) -> ImageModel:
    """Return the image model of an API value or short name; InputError listing the models otherwise."""
    return image_model(model)


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


def samplers_for(model: str | ImageModelSpec) -> tuple[str, ...]:
    """Return the samplers the model accepts."""
    return _SAMPLERS_BY_GEN[model_spec(model).generation]


def schedules_for(model: str | ImageModelSpec, sampler: str) -> tuple[str, ...]:
    """Return the noise schedules valid for ``sampler`` on ``model`` (first = the website's default)."""
    spec = model_spec(model)
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


@lru_cache(maxsize=1)
def _cost_tables() -> dict[str, list[list[float]]]:
    return json.loads(resources.files("naikit.data.image").joinpath("cost_tables.json").read_text("utf-8"))


def uc_presets(model: str | ImageModelSpec) -> dict[str, str]:
    """Return the model's undesired-content presets, name -> text, in website order (index = ucPreset)."""
    return dict(_data()["groups"][model_spec(model).group]["uc"])


def quality_tags(model: str | ImageModelSpec) -> tuple[str, str]:
    """Return (prefix, suffix) the website adds to the prompt when quality tags are on."""
    q = _data()["groups"][model_spec(model).group]["quality"]
    return q["prefix"], q["suffix"]


# ------------------------------------------------------------------------------------- input dataclasses

Position = str | tuple[float, float] | None


def grid_position(position: Position, field_name: str = "position") -> tuple[float, float]:
    """Return (x, y) for a grid cell "A1".."E5" (letter = x, digit = y; C3 = centre) or an (x, y) pair."""
    if position is None or position == "":
        return (0.5, 0.5)
    if isinstance(position, str):
        p = position.strip().upper()
        if len(p) == 2 and p[0] in "ABCDE" and p[1] in "12345":
            return (round(0.1 + 0.2 * "ABCDE".index(p[0]), 1), round(0.1 + 0.2 * "12345".index(p[1]), 1))
    elif isinstance(position, (tuple, list)) and len(position) == 2:
        x, y = position
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1 for v in (x, y)):
            return (float(x), float(y))
    raise InputError(field_name, position, 'a grid cell "A1" to "E5" (letter = column x) or (x, y) in 0..1')


def _snap(v: float) -> float:
    return (0.1, 0.3, 0.5, 0.7, 0.9)[min(4, int(v * 5))]


@dataclass(frozen=True)
class Character:
    """A V4+ character prompt: its own prompt and UC, and where it stands (None = the AI chooses)."""

    prompt: str
    uc: str = ""
    position: Position = None
    enabled: bool = True


@dataclass(frozen=True)
class CharacterReference:
    """A V4.5 character / style reference image (precise reference, spec §6.5)."""

    image: Any
    kind: Literal["character&style", "character", "style"] = "character&style"
    strength: float = 1.0
    fidelity: float = 1.0


@dataclass(frozen=True)
class Vibe:
    """A vibe-transfer reference.

    V4+: ``encoding`` is the base64 of a ``/ai/encode-vibe`` answer (``naikit.novelai.vibes``); V3: ``image``
    is the picture itself and ``information_extracted`` is sent with it. ``cached`` says whether the encoding
    was already paid for (an uncached one costs 2 Anlas to encode).
    """

    encoding: str | None = None
    strength: float = 0.6
    information_extracted: float = 1.0
    image: Any = None
    cached: bool = True


# ------------------------------------------------------------------------------------------------- preset


@dataclass(frozen=True)
class ImagePreset:
    """Generation settings with the website's defaults for a model (``ImagePreset.default(model)``).

    A field that is None is not sent. ``replace(**changes)`` returns a changed copy (presets are frozen, so
    an X/Y plot can vary one field without touching the original).
    """

    model: str = "nai-diffusion-4-5-full"
    width: int = 832
    height: int = 1216
    steps: int = 23
    scale: float = 5.0
    sampler: str = "k_euler_ancestral"
    noise_schedule: str | None = "karras"
    n_samples: int = 1
    seed: int = 0
    uc: str = ""
    uc_preset: str | None = "heavy"
    quality_toggle: bool = True
    #: V5 only: "standard", "light" or "none" (None: "standard" when ``quality_toggle``, else "none").
    quality_preset: str | None = None
    #: V5 only: ask for a transparent background (adds the tag and ``tag_hint_transparent_background``).
    transparent_background: bool = False
    smea: bool = False
    smea_dyn: bool = False
    auto_smea: bool | None = False
    cfg_rescale: float | None = 0.0
    #: Not sent unless set (the website no longer sends it); 0 is sent as 1e-5, as the website does.
    uncond_scale: float | None = None
    variety_boost: bool = False
    decrisper: bool = False
    #: img2img strength and noise; sent only with an image (img2img and infill), as the website does.
    strength: float | None = 0.7
    noise: float | None = 0.0
    add_original_image: bool | None = True
    inpaint_strength: float | None = 1.0
    controlnet_strength: float | None = 1.0
    legacy: bool | None = False
    legacy_v3_extend: bool | None = False
    legacy_uc: bool | None = False
    #: None: the website's for the model (3; V5 4), so a preset moved to another model stays right.
    params_version: int | None = None
    #: None: the website's rule (false/true with k_euler_ancestral on a non-native schedule, else unsent).
    deliberate_euler_ancestral_bug: bool | None = None
    prefer_brownian: bool | None = None
    normalize_reference_strength_multiple: bool | None = True
    #: None: true exactly when a character has a position (what the website does); V5 always true.
    use_coords: bool | None = None
    #: Also send the combined UC as ``uc`` (novelai-api does; the website deletes it).
    duplicate_uc: bool = False
    image_format: Literal["png", "webp"] | None = "png"
    #: V5: ``straight_alpha`` (the website always sends true on V5).
    straight_alpha: bool | None = None
    #: Parameters sent as given, last (for fields naikit does not model).
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def default(cls, model: str = "nai-diffusion-4-5-full") -> ImagePreset:
        """Return the website's default preset for ``model`` (per model, as the January 2026 bundle has it;
        V5 as the V5 website sends it)."""
        spec = model_spec(model)
        base = spec.value
        if spec.inpainting:  # the website keeps the base model's settings while inpainting
            base = next((m.value for m in IMAGE_MODELS if m.inpaint_value == spec.value and not m.inpainting),
                        spec.value)  # fmt: skip
        kw = dict(_WEBSITE_DEFAULTS[_default_key(model_spec(base))])
        res = kw.pop("size")
        uc_preset = "lowQuality" if spec.group == "v1-furry" else "heavy"
        return cls(model=spec.value, width=res[0], height=res[1], uc_preset=uc_preset, **kw)

    def replace(self, **changes: Any) -> ImagePreset:
        """Return a copy with ``changes`` applied; unknown names raise InputError."""
        names = {f.name for f in fields(self)}
        for k in changes:
            if k not in names:
                raise InputError(k, changes[k], "an ImagePreset field: " + ", ".join(sorted(names)))
        return replace(self, **changes)

    @property
    def size(self) -> tuple[int, int]:
        """Return (width, height)."""
        return (self.width, self.height)

    def to_dict(self) -> dict[str, Any]:
        """Return the preset as a plain dict (JSON-serialisable)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _default_key(spec: ImageModel) -> str:
    if spec.generation == "v3" and spec.family == "furry":
        return "v3-furry"
    if spec.value.endswith("-medium"):
        return "v5-medium"
    return spec.generation


# The website's per-model defaults (January 2026 bundle; V5 from the V5 website's requests). Fields left out
# keep the ImagePreset defaults above (cfg_rescale 0, strength 0.7, noise 0, ...).
_WEBSITE_DEFAULTS: dict[str, dict[str, Any]] = {
    "v1": dict(size=(512, 768), scale=10.0, steps=28, noise_schedule="native", auto_smea=False),
    "v2": dict(size=(832, 1216), scale=10.0, steps=28, noise_schedule="native", auto_smea=True),
    "v3": dict(size=(832, 1216), scale=5.0, steps=23, auto_smea=True),
    "v3-furry": dict(size=(832, 1216), scale=6.2, steps=23, auto_smea=True),
    "v4": dict(size=(832, 1216), scale=5.5, steps=23),
    "v4.5": dict(size=(832, 1216), scale=5.0, steps=23),
    "v5": dict(size=(832, 1216), scale=7.0, steps=23, use_coords=True, straight_alpha=True),
    "v5-medium": dict(size=(832, 1216), scale=7.0, steps=14, use_coords=True, straight_alpha=True),
}


def max_n_samples(width: int, height: int) -> int:
    """Return how many samples one request may ask for at this size (0 = too large): the website's table,
    8 up to 512x704, 6 up to 640x640, 4 up to 3 MPx."""
    area = width * height
    for limit, n in ((512 * 704, 8), (640 * 640, 6), (MAX_PIXELS, 4)):
        if area <= limit:
            return n
    return 0


# ----------------------------------------------------------------------------------------------- images


def load_image(image: Any, field_name: str = "image") -> tuple[bytes, tuple[int, int], Any]:
    """Return (PNG bytes, (width, height), PIL image) for bytes, a path, base64 text or a PIL image.

    Raises InputError naming ``field_name`` when the input cannot be read as an image.
    """

    allowed = "PNG/JPEG/WebP bytes, a file path, base64 text or a PIL image"
    if hasattr(image, "save") and hasattr(image, "size") and hasattr(image, "mode"):
        pil = image
    else:
        raw: bytes | None = None
        if isinstance(image, (bytes, bytearray, memoryview)):
            raw = bytes(image)
        elif isinstance(image, os.PathLike) or (isinstance(image, str) and len(image) < 1024 and
                                                 os.path.exists(image)):  # fmt: skip
            try:
                raw = Path(image).read_bytes()
            except OSError as exc:
                raise InputError(
                    field_name, str(image), allowed, f"The file cannot be read ({exc})."
                ) from None
        elif isinstance(image, str):
            text = image.split(",", 1)[1] if image.startswith("data:") else image
            try:
                raw = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise InputError(field_name, image, allowed, "It is neither a file nor base64.") from None
        else:
            raise InputError(field_name, type(image).__name__, allowed)
        size = len(raw)
        pil = open_image(
            raw,
            lambda reason: InputError(
                field_name, f"<{size} bytes>", allowed, f"The data is not a readable image ({reason})."
            ),
        )
        if pil.format == "PNG":
            return raw, pil.size, pil
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue(), pil.size, pil


def _png(pil: Any) -> bytes:
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


#: Canvases the website letterboxes a character reference into (portrait, landscape, square).
REFERENCE_CANVASES: tuple[tuple[int, int], ...] = ((1024, 1536), (1536, 1024), (1472, 1472))


def letterbox(image: Any, canvas: tuple[int, int] | None = None) -> tuple[bytes, tuple[int, int]]:
    """Return (PNG bytes, canvas size) of ``image`` scaled to fit a canvas, centred on black.

    Without ``canvas``, the one of :data:`REFERENCE_CANVASES` closest in aspect ratio is used (the
    website's rule: the smallest difference of width/height ratios, the first on a tie; the scaled size is
    rounded to the nearest pixel).
    """
    from PIL import Image

    _, (w, h), pil = load_image(image, "character_references")
    ratio = w / h
    if canvas is None:
        canvas = min(REFERENCE_CANVASES, key=lambda c: abs(c[0] / c[1] - ratio))
    cw, ch = canvas
    if ratio > cw / ch:
        nw, nh = cw, math.floor(cw / ratio + 0.5)
    else:
        nw, nh = math.floor(ch * ratio + 0.5), ch
    resized = pil.convert("RGB").resize((nw, nh), Image.LANCZOS)
    bg = Image.new("RGB", canvas, (0, 0, 0))
    bg.paste(resized, ((cw - nw) // 2, (ch - nh) // 2))
    return _png(bg), canvas


def _fit(pil: Any, size: tuple[int, int], mask: bool) -> bytes:
    from PIL import Image

    if mask:
        gray = pil.split()[-1] if pil.mode in ("RGBA", "LA") else pil.convert("L")
        gray = gray.resize(size, Image.NEAREST).point(lambda v: 255 if v > 127 else 0)
        return _png(gray.convert("RGB"))
    return _png(pil.convert("RGB").resize(size, Image.LANCZOS))


# ---------------------------------------------------------------------------------------------- checks


def _num(
    name: str, value: Any, lo: float, hi: float, *, integer: bool = False, none_ok: bool = False
) -> None:
    if value is None and none_ok:
        return
    kind = int if integer else (int, float)
    what = "an integer" if integer else "a number"
    if not isinstance(value, kind) or isinstance(value, bool) or not (lo <= value <= hi):
        raise InputError(name, value, f"{what} from {lo:g} to {hi:g}")


def _as_items(value: Any, field_name: str, allowed: str) -> list[Any]:
    """Return ``value`` (None, a list or a tuple) as a list; anything else is refused naming the field."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise InputError(field_name, value, allowed + " (or None)")
    return list(value)


def validate_request(
    preset: ImagePreset,
    action: str = "generate",
    *,
    image: Any = None,
    mask: Any = None,
    characters: list[Character] | None = None,
    vibes: list[Vibe] | None = None,
    character_references: list[CharacterReference] | None = None,
) -> ImageModelSpec:
    """Check everything the service would refuse; return the model spec (InputError names the field)."""
    if not isinstance(preset, ImagePreset):
        raise InputError("preset", type(preset).__name__, "an ImagePreset (ImagePreset.default(model))")
    spec = model_spec(preset.model)
    g = spec.generation
    if action not in ACTIONS:
        raise InputError("action", action, "one of " + ", ".join(ACTIONS))
    for name in ("width", "height"):
        v = getattr(preset, name)
        if not isinstance(v, int) or isinstance(v, bool) or v % 64 or not 64 <= v <= MAX_SIDE:
            raise InputError(name, v, f"a multiple of 64 from 64 to {MAX_SIDE}")
    if preset.width * preset.height > MAX_PIXELS:
        raise InputError(
            "width",
            f"{preset.width}x{preset.height}",
            f"at most {MAX_PIXELS} pixels (e.g. 1024x3072 or 1536x2048)",
        )
    _num("steps", preset.steps, 1, 50, integer=True)
    limit = max_n_samples(preset.width, preset.height)
    _num("n_samples", preset.n_samples, 1, limit, integer=True)
    _num("scale", preset.scale, 0, 10 if g not in ("v1", "v2") else 25)
    _num("seed", preset.seed, 0, 2**32 - 1, integer=True)
    _num("cfg_rescale", preset.cfg_rescale, 0, 1, none_ok=True)
    _num("uncond_scale", preset.uncond_scale, 0, 1.5, none_ok=True)
    _num("controlnet_strength", preset.controlnet_strength, 0, 1, none_ok=True)
    allowed = samplers_for(spec)
    if preset.sampler not in allowed:
        raise InputError("sampler", preset.sampler, f"a sampler {spec.value} accepts: " + ", ".join(allowed))
    if preset.steps in (3, 9, 27, 36, 37) and preset.sampler in ("ddim", "plms", "ddim_v3"):
        # The website refuses these: "This combination of sampling type and steps is known to error."
        raise InputError(
            "steps", preset.steps, f"not 3, 9, 27, 36 or 37 with {preset.sampler} (the service errors)"
        )
    # Samplers that take no schedule: the website drops it, so any value is fine (it is not sent).
    if (preset.noise_schedule is not None or spec.is_v4_plus) and preset.sampler not in _NO_SCHEDULE_SAMPLERS:
        ok = schedules_for(spec, preset.sampler)
        if preset.noise_schedule not in ok:
            raise InputError(
                "noise_schedule",
                preset.noise_schedule,
                f"for {preset.sampler} on {spec.value}: " + ", ".join(ok),
            )
    if preset.uc_preset is not None and preset.uc_preset not in uc_presets(spec):
        raise InputError("uc_preset", preset.uc_preset, f"for {spec.value}: " + ", ".join(uc_presets(spec)))
    if not isinstance(preset.uc, str):
        raise InputError("uc", preset.uc, "a string")
    if preset.quality_preset is not None and (g != "v5" or preset.quality_preset not in V5_QUALITY_PRESETS):
        raise InputError(
            "quality_preset",
            preset.quality_preset,
            "on V5: " + ", ".join(V5_QUALITY_PRESETS) + "; older models: None (use quality_toggle)",
        )
    if preset.transparent_background and g != "v5":
        raise InputError("transparent_background", True, f"False on {spec.value} (a V5 option)")
    if action == "img2img":
        if image is None:
            raise InputError("image", None, "an image for img2img")
        _num("strength", preset.strength if preset.strength is not None else 0.7, 0.01, 0.99)
        _num("noise", preset.noise if preset.noise is not None else 0.0, 0, 0.99)
    if action == "infill":
        if image is None or mask is None:
            raise InputError("mask" if image is not None else "image", None, "an image and a mask for infill")
        if spec.inpaint_value is None:
            raise InputError("model", spec.value, "a model with an inpainting variant (V1, V3, V4, V4.5, V5)")
        _num("inpaint_strength", preset.inpaint_strength, 0.01, 1, none_ok=True)
    chars = _as_items(characters, "characters", "a list of Character")
    if chars:
        if not spec.is_v4_plus:
            raise InputError(
                "characters", f"{len(chars)} character(s)", "character prompts on V4, V4.5 or V5 only"
            )
        most = V5_MAX_CHARACTERS if g == "v5" else MAX_CHARACTERS
        if len(chars) > most:
            raise InputError("characters", f"{len(chars)} characters", f"at most {most} on {spec.value}")
        for i, c in enumerate(chars):
            if not isinstance(c, Character) or not isinstance(c.prompt, str) or not isinstance(c.uc, str):
                raise InputError(f"characters[{i}]", c, "a Character(prompt, uc='', position=None)")
            if c.position is not None:
                grid_position(c.position, f"characters[{i}].position")
    vs = _as_items(vibes, "vibes", "a list of Vibe objects, encodings or pictures")
    if vs:
        if g in ("v1", "v2", "v5"):
            raise InputError("vibes", f"{len(vs)} vibe(s)", "vibe transfer on V3, V4 or V4.5 only")
        if len(vs) > MAX_VIBES:
            raise InputError("vibes", f"{len(vs)} vibes", f"at most {MAX_VIBES}")
        for i, v in enumerate(vs):
            if not isinstance(v, Vibe):
                raise InputError(f"vibes[{i}]", v, "a Vibe (naikit.novelai.vibes.encode or Vibe(image=...))")
            _num(f"vibes[{i}].strength", v.strength, 0, 1)
            _num(f"vibes[{i}].information_extracted", v.information_extracted, 0.01, 1)
            if g == "v3" and v.image is None:
                raise InputError(f"vibes[{i}].image", None, "the reference picture itself on V3")
            if g != "v3" and not v.encoding:
                raise InputError(
                    f"vibes[{i}].encoding",
                    None,
                    "an encoding from /ai/encode-vibe on V4+ (nai.encode_vibe(image) or a .naiv4vibe file)",
                    "Sending the raw picture would silently apply no vibe.",
                )
    refs = _as_items(character_references, "character_references", "a list of CharacterReference")
    if refs:
        if g != "v4.5":
            raise InputError(
                "character_references", f"{len(refs)} reference(s)", "character reference on V4.5 only"
            )
        if vs:
            raise InputError("character_references", f"{len(refs)} reference(s)", "no vibes at the same time")
        for i, r in enumerate(refs):
            if not isinstance(r, CharacterReference):
                raise InputError(f"character_references[{i}]", r, "a CharacterReference(image, ...)")
            _num(f"character_references[{i}].strength", r.strength, 0, 1)
            _num(f"character_references[{i}].fidelity", r.fidelity, 0, 1)
            if r.kind not in ("character&style", "character", "style"):
                raise InputError(
                    f"character_references[{i}].kind", r.kind, "character&style, character or style"
                )
    return spec


# ---------------------------------------------------------------------------------------------- request


#: V5's quality presets (``qualityPresetId``) and the suffix each adds.
V5_QUALITY_PRESETS: tuple[str, ...] = ("standard", "light", "none")


def _quality_suffix(spec: ImageModelSpec, preset: ImagePreset) -> tuple[str, str]:
    """Return (prefix, suffix) the website adds to the prompt for these settings ("" when off)."""
    if spec.generation == "v5":
        qp = _v5_quality(preset)
        suffix = _data()["groups"]["v5"]["quality_presets"][qp]
        # Transparent background goes before the quality tags (V5 website).
        return "", (", transparent background" if preset.transparent_background else "") + suffix
    if not preset.quality_toggle:
        return "", ""
    return quality_tags(spec)


def _v5_quality(preset: ImagePreset) -> str:
    if preset.quality_preset is not None:
        return preset.quality_preset
    return "standard" if preset.quality_toggle else "none"


# The website's "Text:" block marker on V4+ prompts: quality tags go before the first one.
_TEXT_BLOCK = re.compile(r"(?:^|\s|[,.:\[\]{}])text:(?!:)", re.IGNORECASE)
_PIPE, _DOUBLE = "\U000103b9", "\U00012137"  # placeholders the website uses while splitting on "|"


def _first_segment(prompt: str) -> tuple[str, str]:
    """Split a V4+ prompt at its first "|" that is not part of a "||...||" span: (first, rest with "|")."""
    marked = _DOUBLE.join(
        seg.replace("|", _PIPE) if i % 2 else seg for i, seg in enumerate(prompt.split("||"))
    )
    first, sep, rest = marked.partition("|")

    def back(t: str) -> str:
        return t.replace(_PIPE, "|").replace(_DOUBLE, "||")

    return back(first), back(sep + rest)


def _with_quality(spec: ImageModelSpec, prompt: str, preset: ImagePreset) -> str:
    """Return the prompt with the website's quality tags (V4+: on the first segment, before any "Text:")."""
    pre, suf = _quality_suffix(spec, preset)
    if not pre and not suf:
        return prompt
    if spec.is_v4_plus:
        first, rest = _first_segment(prompt)
        m = _TEXT_BLOCK.search(first)
        if m is None:
            return f"{pre}{first}{suf}{rest}"
        # The website rejoins every piece with the first marker it found (later markers take its spelling).
        pieces = _TEXT_BLOCK.split(first)
        return m.group(0).join([f"{pre}{pieces[0]}{suf}", *pieces[1:]]) + rest
    out = []
    for seg in prompt.split("|"):
        w = re.search(r"(:[\d.]+$)", seg)
        weight = w.group(1) if w else ""
        body = seg[: len(seg) - len(weight)] if weight else seg
        out.append(f"{pre}{body}{suf}{weight}")
    return "|".join(out)


def _combine_uc(spec: ImageModelSpec, preset: ImagePreset, prompt: str) -> str:
    """Return the negative prompt the website builds from the UC preset, the prompt and the user's UC.

    Curated models never get "nsfw, "; other models get it before a preset (not "none") unless the prompt
    says nsfw in any case. With "none", V1-V3's "lowres" is kept only while the user's UC is empty.
    """
    user = preset.uc
    if preset.uc_preset is None:
        return user
    table = list(uc_presets(spec).items())
    idx = [name for name, _ in table].index(preset.uc_preset)
    text, last = table[idx][1], table[-1][1]
    add_nsfw = spec.family != "curated" and "nsfw" not in prompt.lower()
    if spec.is_v4_plus and add_nsfw and text:
        first, _, rest = user.partition("|")
        first = f"{text}, {first}" if first else text
        return "nsfw, " + first + ("|" + rest if "|" in user else "")
    out = text
    if add_nsfw and out != last:
        out = "nsfw, " + out if out else "nsfw"
    if user:
        if idx == len(table) - 1:
            out = ""
        out = f"{out}, {user}" if out else user
    return out


def _sized(raw: Any, field_name: str, size: tuple[int, int], resize: str, mask: bool = False) -> str:
    png, got, pil = load_image(raw, field_name)
    if got != size:
        if resize != "resize":
            raise InputError(
                field_name,
                f"{got[0]}x{got[1]}",
                f"an image of {size[0]}x{size[1]} (the generation size)",
                "Pass resize='resize' to have naikit resize it, or change width/height.",
            )
        return _b64(_fit(pil, size, mask))
    if mask:
        return _b64(_fit(pil, size, True))
    return _b64(png)


def build_request(
    prompt: str,
    preset: ImagePreset | None = None,
    action: str = "generate",
    *,
    image: Any = None,
    mask: Any = None,
    characters: list[Character] | None = None,
    vibes: list[Vibe] | None = None,
    character_references: list[CharacterReference] | None = None,
    resize: Literal["refuse", "resize"] = "refuse",
    rng: random.Random | None = None,
) -> dict[str, Any]:
    """Return the JSON body of ``POST /ai/generate-image`` (``{input, model, action, parameters}``).

    Validates first (InputError on anything the service would refuse). A seed of 0 is replaced by a random
    one, leaving room for ``seed + i`` of every sample. An img2img image or an inpaint mask of another size
    than width×height is refused unless ``resize="resize"``. For ``infill`` the model's inpainting variant is
    used.
    """
    preset = preset or ImagePreset.default()
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError("prompt", prompt, "a non-empty string")
    if resize not in ("refuse", "resize"):
        raise InputError("resize", resize, "'refuse' or 'resize'")
    spec = validate_request(
        preset, action, image=image, mask=mask, characters=characters, vibes=vibes,
        character_references=character_references,
    )  # fmt: skip
    g = spec.generation
    model = spec.inpaint_value if action == "infill" and not spec.inpainting else spec.value
    v5 = g == "v5"
    old = g in ("v1", "v2", "v3")
    has_image = action in ("img2img", "infill")

    full_prompt = _with_quality(spec, prompt, preset)
    uc = _combine_uc(spec, preset, full_prompt)

    seed = preset.seed
    if seed == 0:
        seed = (rng or random).randint(1, 2**32 - preset.n_samples)
    sampler = "ddim_v3" if preset.sampler == "ddim" and spec.value == "nai-diffusion-3" else preset.sampler

    # SMEA: V1-V3 turn autoSmea into sm by image area and never send it; V4+ send autoSmea and no sm.
    sm, sm_dyn = preset.smea, preset.smea_dyn
    if old and preset.auto_smea:
        if preset.width * preset.height >= (2166785 if g == "v3" else 1064961):
            sm = True
        else:
            sm = sm_dyn = False
    if has_image:
        sm = sm_dyn = False
    if sampler == "nai_smea":
        sampler, sm = "k_euler_ancestral", True
    elif sampler == "nai_smea_dyn":
        sampler, sm, sm_dyn = "k_euler_ancestral", True, True
    if sm_dyn and not sm:
        sm_dyn = False
    if sampler in _NO_SMEA_SAMPLERS:
        sm = sm_dyn = False

    p: dict[str, Any] = {
        "params_version": preset.params_version if preset.params_version is not None else 4 if v5 else 3
    }
    p.update(
        width=preset.width, height=preset.height, scale=preset.scale, sampler=sampler, steps=preset.steps
    )
    p.update(n_samples=preset.n_samples, seed=seed)
    if has_image:
        p["strength"] = preset.strength if preset.strength is not None else 0.7
        p["noise"] = preset.noise if preset.noise is not None else 0.0
    if v5:
        p["ucPresetId"] = preset.uc_preset if preset.uc_preset is not None else "none"
        p["qualityPresetId"] = _v5_quality(preset)
    else:
        if preset.uc_preset is not None:
            p["ucPreset"] = list(uc_presets(spec)).index(preset.uc_preset)
        p["qualityToggle"] = preset.quality_toggle
    if not old and preset.auto_smea is not None:
        p["autoSmea"] = preset.auto_smea
    if old:
        p["sm"] = sm
        if g == "v3":
            p["sm_dyn"] = sm_dyn
    p["dynamic_thresholding"] = bool(preset.decrisper) if old else False
    for key, value in (
        ("controlnet_strength", preset.controlnet_strength),
        ("legacy", preset.legacy),
        ("add_original_image", preset.add_original_image),
        ("legacy_v3_extend", preset.legacy_v3_extend),
    ):
        if value is not None:
            p[key] = value
    # V1 and V2 have no noise schedule (nor cfg_rescale); some samplers never take one.
    schedule = (
        preset.noise_schedule if g not in ("v1", "v2") and sampler not in _NO_SCHEDULE_SAMPLERS else None
    )
    if g not in ("v1", "v2"):
        if preset.cfg_rescale is not None:
            p["cfg_rescale"] = preset.cfg_rescale
        if schedule is not None:
            p["noise_schedule"] = schedule
    if preset.uncond_scale is not None and g != "v1":
        p["uncond_scale"] = preset.uncond_scale or 1e-5
    if not v5 and g not in ("v1", "v2"):
        p["skip_cfg_above_sigma"] = (
            variety_sigma(spec, preset.width, preset.height) if preset.variety_boost else None
        )
    elif v5 and preset.variety_boost:
        p["skip_cfg_above_sigma"] = variety_sigma(spec, preset.width, preset.height)
    if spec.is_v4_plus:
        for key, value in (
            ("legacy_uc", preset.legacy_uc),
            ("normalize_reference_strength_multiple", preset.normalize_reference_strength_multiple),
            ("inpaintImg2ImgStrength", preset.inpaint_strength),
        ):
            if value is not None:
                p[key] = value
    bug, brownian = preset.deliberate_euler_ancestral_bug, preset.prefer_brownian
    if sampler == "k_euler_ancestral" and schedule != "native":
        bug = False if bug is None else bug
        brownian = True if brownian is None else brownian
    if bug is not None:
        p["deliberate_euler_ancestral_bug"] = bug
    if brownian is not None:
        p["prefer_brownian"] = brownian
    if preset.image_format is not None:
        p["image_format"] = preset.image_format
    if v5:
        p["straight_alpha"] = True if preset.straight_alpha is None else preset.straight_alpha
        if preset.transparent_background:
            p["tag_hint_transparent_background"] = True
    p["negative_prompt"] = uc
    if preset.duplicate_uc:
        p["uc"] = uc

    # Characters: the website leaves out disabled ones and those with an empty prompt (and V1-V3 send []).
    chars = [c for c in (characters or []) if c.enabled and c.prompt]
    centers = []
    for c in chars:
        x, y = grid_position(c.position)
        if not v5 and c.position is not None and not isinstance(c.position, str):
            x, y = _snap(x), _snap(y)
        centers.append({"x": x, "y": y})
    p["characterPrompts"] = [
        {"prompt": c.prompt, "uc": c.uc, "center": ctr, "enabled": True}
        for c, ctr in zip(chars, centers, strict=False)
    ]
    if spec.is_v4_plus:
        if v5:
            use_coords = True if preset.use_coords is None else preset.use_coords
        else:
            positioned = any(c.position is not None for c in chars)
            use_coords = positioned if preset.use_coords is None else preset.use_coords
        p["use_coords"] = use_coords
        p["v4_prompt"] = {
            "caption": {
                "base_caption": full_prompt,
                "char_captions": [
                    {"char_caption": c.prompt, "centers": [ctr]}
                    for c, ctr in zip(chars, centers, strict=True)
                ],
            },
            "use_coords": use_coords,
            "use_order": True,
        }
        p["v4_negative_prompt"] = {
            "caption": {
                "base_caption": uc,
                "char_captions": [
                    {"char_caption": c.uc, "centers": [ctr]} for c, ctr in zip(chars, centers, strict=True)
                ],
            },
            "legacy_uc": bool(preset.legacy_uc),
        }

    size = (preset.width, preset.height)
    if has_image:
        p["image"] = _sized(image, "image", size, resize)
        # The website's extra noise seed is the seed minus one.
        p["extra_noise_seed"] = seed - 1
    if action == "img2img":
        p["color_correct"] = False
    if action == "infill":
        p["mask"] = _sized(mask, "mask", size, resize, mask=True)
        strength = preset.inpaint_strength if preset.inpaint_strength is not None else 1.0
        if spec.is_v4_plus and strength != 1:
            # Inpainting with less than full strength is an img2img inside the mask (V4+).
            p["img2img"] = {"strength": strength, "color_correct": True}

    if vibes:
        strengths = [v.strength for v in vibes]
        if g == "v3":
            p["reference_image_multiple"] = [_b64(load_image(v.image, "vibes")[0]) for v in vibes]
            p["reference_information_extracted_multiple"] = [v.information_extracted for v in vibes]
        else:
            p["reference_image_multiple"] = [v.encoding for v in vibes]
            total = sum(abs(s) for s in strengths)
            if preset.normalize_reference_strength_multiple and len(strengths) > 1 and total > 1:
                # The website divides the strengths by their sum when they add up to more than 1.
                strengths = [s / total for s in strengths]
        p["reference_strength_multiple"] = strengths

    if character_references:
        p["director_reference_images"] = [_b64(letterbox(r.image)[0]) for r in character_references]
        p["director_reference_descriptions"] = [
            {"caption": {"base_caption": r.kind, "char_captions": []}, "legacy_uc": False}
            for r in character_references
        ]
        p["director_reference_information_extracted"] = [1.0 for _ in character_references]
        p["director_reference_strength_values"] = [r.strength for r in character_references]
        p["director_reference_secondary_strength_values"] = [1 - r.fidelity for r in character_references]

    p.update(preset.extra)
    return {
        "input": full_prompt,
        "model": model,
        "action": action,
        "parameters": _js_numbers(p),
        "use_new_shared_trial": True,
    }


def _js_numbers(value: Any) -> Any:
    """Return ``value`` with whole floats as ints, so the JSON reads as the website's (JavaScript has one
    number type: it writes 5, never 5.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _js_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_js_numbers(v) for v in value]
    return value


# Samplers the website sends without SMEA, and those it sends without a noise schedule.
_NO_SMEA_SAMPLERS = frozenset(("ddim", "plms", "k_lms", "nai_smea", "nai_smea_dyn", "ddim_v3"))
_NO_SCHEDULE_SAMPLERS = _NO_SMEA_SAMPLERS | {"k_dpm_fast"}

#: The latent area (4 x 104 x 152 of an 832x1216 image) Variety+'s sigma is given for.
_VARIETY_AREA = 4 * 104 * 152


def variety_sigma(model: str | ImageModelSpec, width: int, height: int) -> float:
    """Return Variety+'s ``skip_cfg_above_sigma``: the model's sigma (V4.5/V5 58, older 19) scaled by
    the square root of the image's latent area over 832x1216's, as the website does."""
    spec = model_spec(model)
    base = 58 if spec.generation in ("v4.5", "v5") else 19
    return base * ((4 * (width // 8) * (height // 8)) / _VARIETY_AREA) ** 0.5


V5_MAX_CHARACTERS = 22


def v5_multipart(body: dict[str, Any], boundary: str | None = None) -> tuple[bytes, str]:
    """Return (multipart body, Content-Type) of a V5 request: one ``request`` part holding the JSON, as
    the V5 website posts it to ``/ai/generate-image-stream``."""
    boundary = boundary or "naikit" + os.urandom(12).hex()
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="request"; filename="blob"\r\n'
        "Content-Type: application/json\r\n\r\n"
    ).encode("ascii")
    return head + payload + f"\r\n--{boundary}--\r\n".encode(
        "ascii"
    ), f"multipart/form-data; boundary={boundary}"


# ------------------------------------------------------------------------------------------------- cost


@dataclass(frozen=True)
class CostEstimate:
    """An Anlas estimate (the server is the authority). ``int(estimate)`` is the total."""

    model: str
    total: int
    per_image: int
    samples: int
    billed_samples: int
    opus_free: bool
    strength_factor: float = 1.0
    character_reference: int = 0
    vibe_encoding: int = 0
    vibe_references: int = 0
    #: The per-image price is above 140 Anlas, which the website refuses.
    over_cap: bool = False

    def __int__(self) -> int:
        return self.total

    def __repr__(self) -> str:
        free = ", 1 free (Opus)" if self.opus_free else ""
        return f"CostEstimate({self.total} Anlas: {self.per_image} x {self.billed_samples}{free})"


_A = 2.951823174884865e-6
_B = 5.753298233447344e-7
PER_IMAGE_CAP = 140


def estimate_cost(body: dict[str, Any], *, opus: bool = False, uncached_vibes: int = 0) -> CostEstimate:
    """Return the Anlas a ``build_request`` body costs (spec §6.10; V3+ priced as novelai-sdk/the website).

    ``opus``: an active Opus subscription (one free sample at ≤1 MPx and ≤28 steps). ``uncached_vibes``:
    vibes that still need ``/ai/encode-vibe`` (2 Anlas each).
    """
    spec = model_spec(body["model"])
    p = body["parameters"]
    w, h, steps = p["width"], p["height"], p["steps"]
    n = max(1, p.get("n_samples", 1))
    action = body.get("action", "generate")
    if action == "infill" or p.get("mask") is not None:
        factor = p.get("inpaintImg2ImgStrength") or 1.0
    elif action == "img2img" or p.get("image") is not None:
        factor = p.get("strength") or 1.0
    else:
        factor = 1.0
    sm, dyn = bool(p.get("sm")), bool(p.get("sm") and p.get("sm_dyn"))
    g = spec.generation
    refs = len(p.get("director_reference_images") or [])
    # The website's free Opus sample: no character reference, at most 1 MPx and 28 steps (every model).
    free = opus and not refs and w * h <= 1024 * 1024 and steps <= 28
    if g in ("v1", "v2"):
        r = max(w * h, 65536)
        sampler = p.get("sampler")
        if r <= 1024 * 1024 and sampler in ("plms", "ddim", "k_euler", "k_euler_ancestral", "k_lms"):
            # The website's curve takes the true area (the 65536 floor only picks the branch).
            per: float = (
                15.266497014243718 * math.exp(w * h / 1024 / 1024 * 0.6326248927474729) - 15.225164493059737
            )
            per = per * steps / 28
        else:
            t = _cost_tables()
            idx = math.ceil(w / 64) * math.ceil(h / 64) - 1
            if sampler == "nai_smea_dyn" or dyn:
                a, b = t["SMEA_DYN_COSTS"][idx]
            elif sampler == "nai_smea" or sm:
                a, b = t["SMEA_COSTS"][idx]
            elif sampler == "ddim":
                a, b = t["DDIM_COSTS"][idx]
            else:
                a, b = t["NAI_COSTS"][idx]
            per = a * steps + b
        per_image = max(math.ceil(per * factor), 2)
    else:
        area = w * h
        mult = 1.4 if dyn else 1.2 if sm else 1.0
        base = math.ceil(_A * area + _B * area * steps)
        per_image = max(math.ceil(base * mult * factor), 2)
    billed = max(n - 1, 0) if free else n
    total = per_image * billed
    cref = refs * 5 * n
    vibes = len(p.get("reference_image_multiple") or [])
    v_enc = v_ref = 0
    if g in ("v4", "v4.5"):
        v_enc = max(uncached_vibes, 0) * 2
        v_ref = max(vibes - 4, 0) * 2
    return CostEstimate(
        model=spec.value,
        total=total + cref + v_enc + v_ref,
        per_image=per_image,
        samples=n,
        billed_samples=billed,
        opus_free=bool(free),
        strength_factor=factor,
        character_reference=cref,
        vibe_encoding=v_enc,
        vibe_references=v_ref,
        over_cap=per_image > PER_IMAGE_CAP,
    )


DIRECTOR_TOOLS: tuple[str, ...] = (
    "bg-removal", "lineart", "sketch", "colorize", "emotion", "declutter", "declutter-keep-bubbles",
)  # fmt: skip
EMOTIONS: tuple[str, ...] = (
    "neutral", "happy", "sad", "angry", "scared", "surprised", "tired", "excited", "nervous", "thinking",
    "confused", "shy", "disgusted", "smug", "bored", "laughing", "irritated", "aroused", "embarrassed",
    "worried", "love", "determined", "hurt", "playful",
)  # fmt: skip


def estimate_augment_cost(tool: str, width: int, height: int, *, opus: bool = False) -> CostEstimate:
    """Return the Anlas of a director tool on a width×height image (area normalised into 1–3 MPx)."""
    if tool not in DIRECTOR_TOOLS:
        raise InputError("tool", tool, "one of " + ", ".join(DIRECTOR_TOOLS))
    bw, bh = width, height
    if bw * bh > 3_145_728:
        f = (3_145_728 / (bw * bh)) ** 0.5
        bw, bh = math.floor(bw * f), math.floor(bh * f)
    if bw * bh < 1_048_576:
        f = (1_048_576 / (bw * bh)) ** 0.5
        bw, bh = math.floor(bw * f), math.floor(bh * f)
    area = bw * bh
    base = max(math.ceil(_A * area + _B * area * 28), 2)
    if tool == "bg-removal":
        return CostEstimate("augment:" + tool, 3 * base + 5, base, 1, 1, False)
    free = opus and area <= 1_048_576
    return CostEstimate("augment:" + tool, 0 if free else base, base, 1, 0 if free else 1, free)
