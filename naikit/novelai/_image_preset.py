"""The image model vocabulary (:class:`ImageModelSpec`, :func:`model_spec`) and :class:`ImagePreset`, the
settings of an image request with the website's defaults. The tables are in :mod:`.image_tables`."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from ..errors import InputError
from .models import IMAGE_MODELS, ImageModel, image_model

# The image model table is the one in models.py (shared with the tokenizers); these names keep this
# module's vocabulary.
ImageModelSpec = ImageModel
IMAGE_MODEL_SPECS: tuple[ImageModel, ...] = IMAGE_MODELS


def model_spec(model: str | ImageModel) -> ImageModel:
    """Return the image model of an API value or short name; InputError listing the models otherwise."""
    return image_model(model)


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
