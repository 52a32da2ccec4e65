"""Typed, validated request builders for Novita's v3 image, video and training APIs (spec: novita.md).

Every builder checks its input against the documented limits and raises
:class:`~naikit.errors.InputError` naming the field, the value and what is allowed, before anything is
sent: an unknown sampler or training base model, more than 5 LoRAs or embeddings, an image over
16 megapixels or 10 MB, a learning rate Novita does not accept, a width outside 128–2048, ...

Builders return the JSON body (a dict) exactly as the endpoint wants it; unset optional fields are left
out rather than sent as ``null``. Images may be given as PIL images, raw bytes, a path, or base64 text.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._validate import check_mapping, check_text
from ..errors import InputError

__all__ = [
    "SAMPLERS",
    "IMAGE_TYPES",
    "VIDEO_TYPES",
    "UPSCALERS",
    "HIRES_UPSCALERS",
    "CONTROLNET_PREPROCESSORS",
    "IP_ADAPTER_MODELS",
    "TRAINING_BASE_MODELS",
    "LEARNING_RATES",
    "LR_SCHEDULERS",
    "TRAINING_COMPONENTS",
    "MAX_LORAS",
    "MAX_EMBEDDINGS",
    "MAX_TRAINING_IMAGES",
    "LoRA",
    "ControlNetUnit",
    "S3Storage",
    "image_to_base64",
    "build_extra",
    "txt2img_request",
    "img2img_request",
    "inpainting_request",
    "upscale_request",
    "img2video_request",
    "txt2video_request",
    "case_request",
    "expert_setting",
    "components_json",
    "training_request",
]

# v3 docs list these 20 sampler names (the SDK's enum lacks three and adds one the docs do not have).
SAMPLERS = (
    "Euler a",
    "Euler",
    "LMS",
    "Heun",
    "DPM2",
    "DPM2 a",
    "DPM++ 2S a",
    "DPM++ 2M",
    "DPM++ SDE",
    "DPM fast",
    "DPM adaptive",
    "LMS Karras",
    "DPM2 Karras",
    "DPM2 a Karras",
    "DPM++ 2S a Karras",
    "DPM++ 2M Karras",
    "DPM++ SDE Karras",
    "DDIM",
    "PLMS",
    "UniPC",
)
IMAGE_TYPES = ("png", "webp", "jpeg")
VIDEO_TYPES = ("mp4", "gif")
UPSCALERS = ("RealESRGAN_x4plus_anime_6B", "RealESRNet_x4plus", "4x-UltraSharp")
HIRES_UPSCALERS = ("RealESRGAN_x4plus_anime_6B", "RealESRNet_x4plus", "Latent")
CONTROLNET_PREPROCESSORS = (
    "scribble_hed",
    "softedge_hed",
    "scribble_hedsafe",
    "softedge_hedsafe",
    "depth_midas",
    "mlsd",
    "openpose",
    "openpose_face",
    "openpose_faceonly",
    "openpose_full",
    "openpose_hand",
    "dwpose",
    "scribble_pidinet",
    "softedge_pidinet",
    "scribble_pidsafe",
    "softedge_pidsafe",
    "normal_bae",
    "lineart_coarse",
    "lineart_realistic",
    "lineart_anime",
    "lineart",
    "depth_zoe",
    "shuffle",
    "mediapipe_face",
    "canny",
    "depth",
    "depth_leres",
    "depth_leres++",
)
IP_ADAPTER_MODELS = ("ip-adapter_sd15.bin", "ip-adapter_sdxl.bin")
TRAINING_BASE_MODELS = (
    "stable-diffusion-xl-base-1.0",
    "dreamshaperXL09Alpha_alpha2Xl10_91562",
    "protovisionXLHighFidelity3D_release0630Bakedvae_154359",
    "v1-5-pruned-emaonly",
    "epicrealism_naturalSin_121250",
    "chilloutmix_NiPrunedFp32Fix",
    "abyssorangemix3AOM3_aom3a3_10864",
    "dreamshaper_8_93211",
    "WFChild_v1.0",
    "majichenmixrealistic_v10",
    "realisticVisionV51_v51VAE_94301",
    "sdxlUnstableDiffusers_v11_216694",
    "realisticVisionV40_v40VAE_81510",
    "epicrealismXL_v10_247189",
    "somboy_v10_172675",
    "yesmixXL_v10_283329",
    "animagineXLV31_v31_325600",
)
LEARNING_RATES = (1e-4, 1e-5, 1e-6, 2e-4, 5e-5)
LR_SCHEDULERS = ("constant", "linear", "cosine", "cosine_with_restarts", "polynomial", "constant_with_warmup")
# component name -> its argument names (all values are sent as strings)
TRAINING_COMPONENTS: dict[str, tuple[str, ...]] = {
    "face_crop_region": ("ratio",),
    "resize": ("width", "height"),
    "face_restore": ("method", "upscale"),
}
IMG2VIDEO_MODELS = {"SVD": 14, "SVD-XT": 25}
IMG2VIDEO_RESIZE = ("ORIGINAL_RESOLUTION", "CROP_TO_ASPECT_RATIO")

MAX_LORAS = 5
MAX_EMBEDDINGS = 5
MAX_TRAINING_IMAGES = 50
MB = 1024 * 1024


# ----------------------------------------------------------------------------------------- checks


def _int(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InputError(name, value, _range_text("an integer", lo, hi))
    return value


def _num(
    name: str, value: Any, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False
) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and lo is not None and (value <= lo if lo_open else value < lo):
        ok = False
    if ok and hi is not None and value > hi:
        ok = False
    if not ok:
        low = f"more than {lo}" if lo_open else None
        raise InputError(
            name, value, low and f"a number {low} and at most {hi}" or _range_text("a number", lo, hi)
        )
    return value


def _range_text(kind: str, lo: Any, hi: Any) -> str:
    if lo is not None and hi is not None:
        return f"{kind} from {lo} to {hi}"
    if lo is not None:
        return f"{kind} >= {lo}"
    if hi is not None:
        return f"{kind} <= {hi}"
    return kind


def _str(name: str, value: Any, lo: int = 1, hi: int | None = None) -> str:
    allowed = f"a string of {lo} to {hi} characters" if hi else f"a string of at least {lo} characters"
    if not isinstance(value, str) or len(value) < lo or (hi is not None and len(value) > hi):
        raise InputError(name, value, allowed)
    return check_text(value, name, allowed=allowed)


def _choice(name: str, value: Any, allowed: Sequence[Any], hint: str = "") -> Any:
    if value not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        raise InputError(name, value, f"one of {shown}", hint)
    return value


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InputError(name, value, "True or False")
    return value


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        body[key] = value


# ----------------------------------------------------------------------------------------- images


def image_to_base64(
    image: Any,
    name: str = "image",
    *,
    max_bytes: int = 10 * MB,
    max_pixels: int = 16_000_000,
    max_side: int | None = None,
) -> tuple[str, tuple[int, int]]:
    """Return ``(base64 text, (width, height))`` for a PIL image, bytes, a path or base64 text.

    Raises InputError when the input is not an image, is larger than ``max_bytes`` once encoded, has
    more than ``max_pixels`` pixels, or a side over ``max_side``. PIL images are encoded as PNG (alpha
    kept); bytes and files are sent as they are.
    """
    from PIL import Image

    raw: bytes
    if isinstance(image, Image.Image):
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        raw = buf.getvalue()
    elif isinstance(image, (bytes, bytearray, memoryview)):
        raw = bytes(image)
    elif isinstance(image, os.PathLike) or (
        isinstance(image, str) and len(image) < 4096 and os.path.isfile(image)
    ):
        with open(image, "rb") as fh:
            raw = fh.read()
    elif isinstance(image, str):
        text = image.split(",", 1)[1] if image.startswith("data:") else image
        if text.startswith(("http://", "https://")):
            raise InputError(
                name, image, "a PIL image, bytes, a file path or base64 text", "Download URLs yourself."
            )
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(
                name,
                image,
                "a PIL image, bytes, a file path or base64 text",
                "It is neither a file nor base64.",
            ) from None
    else:
        raise InputError(name, type(image).__name__, "a PIL image, bytes, a file path or base64 text")
    if len(raw) > max_bytes:
        raise InputError(
            name,
            f"<{len(raw) / MB:.1f} MB image>",
            f"an image of at most {max_bytes // MB} MB",
            "Downscale it or save it as JPEG/WebP first.",
        )
    try:
        with Image.open(io.BytesIO(raw)) as im:
            size = im.size
    except Exception:  # PIL raises several types for non-images
        raise InputError(
            name, f"<{len(raw)} bytes>", "an image PIL can read (png, jpeg, webp, ...)"
        ) from None
    w, h = size
    if w * h > max_pixels:
        raise InputError(
            name,
            f"<{w}x{h} image, {w * h / 1e6:.1f} MP>",
            f"an image of at most {max_pixels / 1e6:g} megapixels",
            "Downscale it first (PIL: image.thumbnail((4096, 4096))).",
        )
    if max_side is not None and max(w, h) > max_side:
        raise InputError(name, f"<{w}x{h} image>", f"an image of at most {max_side}x{max_side} pixels")
    return base64.b64encode(raw).decode("ascii"), size


# ----------------------------------------------------------------------------------------- parts


@dataclass(frozen=True)
class LoRA:
    """A LoRA for v3 generation: ``model_name`` is the model's ``sd_name_in_api``; strength 0–1."""

    model_name: str
    strength: float = 1.0

    def to_json(self) -> dict[str, Any]:
        """Return the JSON object Novita wants."""
        return {"model_name": self.model_name, "strength": self.strength}


@dataclass(frozen=True)
class ControlNetUnit:
    """One ControlNet unit for img2img: model, conditioning image, strength 0–1, optional preprocessor."""

    model_name: str
    image: Any
    strength: float = 1.0
    preprocessor: str | None = None
    guidance_start: float | None = None
    guidance_end: float | None = None


@dataclass(frozen=True)
class S3Storage:
    """Custom storage: Novita writes results to your bucket (which must grant Novita PutObject)."""

    region: str
    bucket: str
    path: str
    save_to_path_directly: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """Return ``{"aws_s3": {...}}`` as ``extra.custom_storage`` wants it."""
        s3: dict[str, Any] = {"region": self.region, "bucket": self.bucket, "path": self.path}
        _put(s3, "save_to_path_directly", self.save_to_path_directly)
        return {"aws_s3": s3}


def _loras(value: Any) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        value = [LoRA(k, v) for k, v in value.items()]
    if not isinstance(value, (list, tuple)):
        raise InputError("loras", value, "a list of LoRA(model_name, strength) or a {name: strength} dict")
    if len(value) > MAX_LORAS:
        raise InputError("loras", f"<{len(value)} LoRAs>", f"at most {MAX_LORAS} LoRAs")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            item = LoRA(item)
        elif isinstance(item, Mapping):
            item = LoRA(item.get("model_name"), item.get("strength", 1.0))  # type: ignore[arg-type]
        if not isinstance(item, LoRA):
            raise InputError(f"loras[{i}]", item, "a LoRA(model_name, strength), a name, or a dict")
        _str(f"loras[{i}].model_name", item.model_name)
        _num(f"loras[{i}].strength", item.strength, 0, 1)
        out.append(item.to_json())
    return out


def _embeddings(value: Any) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise InputError("embeddings", value, "a list of embedding names")
    if len(value) > MAX_EMBEDDINGS:
        raise InputError("embeddings", f"<{len(value)} embeddings>", f"at most {MAX_EMBEDDINGS} embeddings")
    out = []
    for i, item in enumerate(value):
        name = item.get("model_name") if isinstance(item, Mapping) else item
        out.append({"model_name": _str(f"embeddings[{i}]", name)})
    return out


def build_extra(
    *,
    response_image_type: str = "png",
    enable_nsfw_detection: bool | None = None,
    nsfw_detection_level: int | None = None,
    webhook: str | Mapping[str, Any] | None = None,
    custom_storage: S3Storage | Mapping[str, Any] | None = None,
    enterprise_plan: bool | None = None,
) -> dict[str, Any]:
    """Return the v3 ``extra`` object: image type, NSFW check, webhook, custom S3 storage, enterprise plan."""
    extra: dict[str, Any] = {
        "response_image_type": _choice("response_image_type", response_image_type, IMAGE_TYPES)
    }
    if enable_nsfw_detection is not None:
        extra["enable_nsfw_detection"] = _bool("enable_nsfw_detection", enable_nsfw_detection)
    if nsfw_detection_level is not None:
        extra["nsfw_detection_level"] = _choice("nsfw_detection_level", nsfw_detection_level, (0, 1, 2))
    if webhook is not None:
        hook = {"url": webhook} if isinstance(webhook, str) else dict(webhook)
        url = hook.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InputError("webhook", webhook, "an http(s) URL or {'url': ..., 'test_mode': {...}}")
        extra["webhook"] = hook
    if custom_storage is not None:
        if isinstance(custom_storage, S3Storage):
            storage = custom_storage.to_json()
        elif isinstance(custom_storage, Mapping):
            storage = {"aws_s3": dict(custom_storage.get("aws_s3", custom_storage))}
        else:
            raise InputError("custom_storage", custom_storage, "S3Storage(region, bucket, path) or its dict")
        s3 = storage["aws_s3"]
        for key in ("region", "bucket", "path"):
            _str(f"custom_storage.aws_s3.{key}", s3.get(key))
        extra["custom_storage"] = storage
    if enterprise_plan is not None:
        extra["enterprise_plan"] = {"enabled": _bool("enterprise_plan", enterprise_plan)}
    return extra


def _common(
    body: dict[str, Any],
    *,
    model_name: str,
    prompt: str,
    negative_prompt: str | None,
    image_num: int,
    steps: int,
    guidance_scale: float,
    sampler_name: str,
    seed: int | None,
    clip_skip: int | None,
    sd_vae: str | None,
    loras: Any,
    embeddings: Any,
) -> dict[str, Any]:
    body["model_name"] = _str("model_name", model_name)
    body["prompt"] = _str("prompt", prompt, 1, 1024)
    if negative_prompt:
        body["negative_prompt"] = _str("negative_prompt", negative_prompt, 1, 1024)
    body["image_num"] = _int("image_num", image_num, 1, 8)
    body["steps"] = _int("steps", steps, 1, 100)
    body["guidance_scale"] = _num("guidance_scale", guidance_scale, 1, 30)
    body["sampler_name"] = _choice("sampler_name", sampler_name, SAMPLERS)
    if seed is not None:
        body["seed"] = _int("seed", seed, -1, 2**32 - 1)
    if clip_skip is not None:
        body["clip_skip"] = _int("clip_skip", clip_skip, 1, 12)
    if sd_vae is not None:
        body["sd_vae"] = _str("sd_vae", sd_vae)
    _put(body, "loras", _loras(loras))
    _put(body, "embeddings", _embeddings(embeddings))
    return body


def txt2img_request(
    prompt: str,
    *,
    model_name: str,
    negative_prompt: str | None = None,
    width: int = 512,
    height: int = 512,
    image_num: int = 1,
    steps: int = 20,
    guidance_scale: float = 7.5,
    sampler_name: str = "Euler a",
    seed: int | None = -1,
    clip_skip: int | None = None,
    sd_vae: str | None = None,
    loras: Any = None,
    embeddings: Any = None,
    hires_fix: Mapping[str, Any] | None = None,
    refiner: float | Mapping[str, Any] | None = None,
    enable_transparent_background: bool | None = None,
    restore_faces: bool | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the ``{"extra", "request"}`` body of ``POST /v3/async/txt2img``.

    ``hires_fix`` = ``{"target_width", "target_height", "strength"?, "upscaler"?}``; ``refiner`` = the
    switch point (0–1) or ``{"switch_at": x}``.
    """
    req: dict[str, Any] = {}
    _common(
        req,
        model_name=model_name,
        prompt=prompt,
        negative_prompt=negative_prompt,
        image_num=image_num,
        steps=steps,
        guidance_scale=guidance_scale,
        sampler_name=sampler_name,
        seed=seed,
        clip_skip=clip_skip,
        sd_vae=sd_vae,
        loras=loras,
        embeddings=embeddings,
    )
    req["width"] = _int("width", width, 128, 2048)
    req["height"] = _int("height", height, 128, 2048)
    if hires_fix is not None:
        if not isinstance(hires_fix, Mapping):
            raise InputError(
                "hires_fix", hires_fix, "a dict with target_width, target_height, strength, upscaler"
            )
        hf: dict[str, Any] = {
            "target_width": _int("hires_fix.target_width", hires_fix.get("target_width"), 128, 4096),
            "target_height": _int("hires_fix.target_height", hires_fix.get("target_height"), 128, 4096),
            "strength": _num("hires_fix.strength", hires_fix.get("strength", 0.5), 0, 1),
        }
        if hires_fix.get("upscaler") is not None:
            hf["upscaler"] = _choice("hires_fix.upscaler", hires_fix["upscaler"], HIRES_UPSCALERS)
        unknown = set(hires_fix) - {"target_width", "target_height", "strength", "upscaler"}
        if unknown:
            raise InputError(
                "hires_fix", sorted(unknown), "only target_width, target_height, strength, upscaler"
            )
        req["hires_fix"] = hf
    if refiner is not None:
        switch = refiner.get("switch_at") if isinstance(refiner, Mapping) else refiner
        req["refiner"] = {"switch_at": _num("refiner.switch_at", switch, 0, 1)}
    if enable_transparent_background is not None:
        req["enable_transparent_background"] = _bool(
            "enable_transparent_background", enable_transparent_background
        )
        if enable_transparent_background and (extra or {}).get("response_image_type", "png") != "png":
            raise InputError(
                "enable_transparent_background",
                True,
                "response_image_type='png' (a transparent JPEG is impossible)",
            )
    if restore_faces is not None:
        req["restore_faces"] = _bool("restore_faces", restore_faces)
    return {"extra": check_mapping(extra, "extra") or build_extra(), "request": req}


def _controlnet(units: Any) -> dict[str, Any] | None:
    if units is None:
        return None
    if isinstance(units, ControlNetUnit):
        units = [units]
    if not isinstance(units, (list, tuple)) or not units:
        raise InputError("controlnet_units", units, "a non-empty list of ControlNetUnit")
    out = []
    for i, unit in enumerate(units):
        if isinstance(unit, Mapping):
            unit = ControlNetUnit(
                unit.get("model_name"),
                unit.get("image", unit.get("image_base64")),
                unit.get("strength", 1.0),
                unit.get("preprocessor"),
                unit.get("guidance_start"),
                unit.get("guidance_end"),
            )
        if not isinstance(unit, ControlNetUnit):
            raise InputError(f"controlnet_units[{i}]", unit, "a ControlNetUnit or its dict")
        j: dict[str, Any] = {
            "model_name": _str(f"controlnet_units[{i}].model_name", unit.model_name),
            "image_base64": image_to_base64(unit.image, f"controlnet_units[{i}].image")[0],
            "strength": _num(f"controlnet_units[{i}].strength", unit.strength, 0, 1),
        }
        if unit.preprocessor is not None:
            j["preprocessor"] = _choice(
                f"controlnet_units[{i}].preprocessor", unit.preprocessor, CONTROLNET_PREPROCESSORS
            )
        if unit.guidance_start is not None:
            j["guidance_start"] = _num(f"controlnet_units[{i}].guidance_start", unit.guidance_start, 0, 1)
        if unit.guidance_end is not None:
            j["guidance_end"] = _num(f"controlnet_units[{i}].guidance_end", unit.guidance_end, 0, 1)
        if "guidance_start" in j and "guidance_end" in j and j["guidance_start"] > j["guidance_end"]:
            raise InputError(f"controlnet_units[{i}].guidance_start", j["guidance_start"], "<= guidance_end")
        out.append(j)
    return {"units": out}


def img2img_request(
    image: Any,
    prompt: str,
    *,
    model_name: str,
    negative_prompt: str | None = None,
    width: int | None = None,
    height: int | None = None,
    image_num: int = 1,
    steps: int = 20,
    guidance_scale: float = 7.5,
    sampler_name: str = "Euler a",
    seed: int | None = -1,
    clip_skip: int | None = None,
    sd_vae: str | None = None,
    loras: Any = None,
    embeddings: Any = None,
    strength: float = 0.5,
    controlnet_units: Any = None,
    ip_adapters: Sequence[Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the body of ``POST /v3/async/img2img``; width/height default to the image's own size.

    The image must be at most 16 megapixels and 10 MB; ``strength`` is in (0, 1].
    """
    b64, (w, h) = image_to_base64(image, "image", max_bytes=10 * MB, max_pixels=16_000_000)
    req: dict[str, Any] = {"image_base64": b64}
    _common(
        req,
        model_name=model_name,
        prompt=prompt,
        negative_prompt=negative_prompt,
        image_num=image_num,
        steps=steps,
        guidance_scale=guidance_scale,
        sampler_name=sampler_name,
        seed=seed,
        clip_skip=clip_skip,
        sd_vae=sd_vae,
        loras=loras,
        embeddings=embeddings,
    )
    # The official SDK sends 512x512 whatever the input is; the image's own size (clamped) is saner.
    req["width"] = _int("width", width if width is not None else min(max(w, 128), 2048), 128, 2048)
    req["height"] = _int("height", height if height is not None else min(max(h, 128), 2048), 128, 2048)
    req["strength"] = _num("strength", strength, 0, 1, lo_open=True)
    _put(req, "controlnet", _controlnet(controlnet_units))
    if ip_adapters is not None:
        if not isinstance(ip_adapters, (list, tuple)) or len(ip_adapters) > 1:
            raise InputError("ip_adapters", ip_adapters, "a list of at most 1 IP-adapter")
        ads = []
        for i, ad in enumerate(ip_adapters):
            ads.append(
                {
                    "model_name": _choice(
                        f"ip_adapters[{i}].model_name", ad.get("model_name"), IP_ADAPTER_MODELS
                    ),
                    "image_base64": image_to_base64(
                        ad.get("image", ad.get("image_base64")), f"ip_adapters[{i}].image"
                    )[0],
                    "strength": _num(f"ip_adapters[{i}].strength", ad.get("strength", 1.0), 0, 1),
                }
            )
        req["ip_adapters"] = ads
    return {"extra": check_mapping(extra, "extra") or build_extra(), "request": req}


def inpainting_request(
    image: Any,
    mask: Any,
    prompt: str,
    *,
    model_name: str,
    negative_prompt: str | None = None,
    image_num: int = 1,
    steps: int = 20,
    guidance_scale: float = 7.5,
    sampler_name: str = "Euler a",
    seed: int | None = -1,
    clip_skip: int | None = None,
    sd_vae: str | None = None,
    loras: Any = None,
    embeddings: Any = None,
    strength: float | None = None,
    mask_blur: int | None = None,
    inpainting_full_res: bool = False,
    inpainting_full_res_padding: int = 8,
    inpainting_mask_invert: bool = False,
    initial_noise_multiplier: float = 0.5,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the body of ``POST /v3/async/inpainting``; image and mask of the same size (16 MP, 30 MB)."""
    img, size = image_to_base64(image, "image", max_bytes=30 * MB)
    msk, msize = image_to_base64(mask, "mask", max_bytes=30 * MB)
    if size != msize:
        raise InputError(
            "mask", f"<{msize[0]}x{msize[1]} mask>", f"a mask of the image's size {size[0]}x{size[1]}"
        )
    req: dict[str, Any] = {"image_base64": img, "mask_image_base64": msk}
    _common(
        req,
        model_name=model_name,
        prompt=prompt,
        negative_prompt=negative_prompt,
        image_num=image_num,
        steps=steps,
        guidance_scale=guidance_scale,
        sampler_name=sampler_name,
        seed=seed,
        clip_skip=clip_skip,
        sd_vae=sd_vae,
        loras=loras,
        embeddings=embeddings,
    )
    if strength is not None:
        req["strength"] = _num("strength", strength, 0, 1)
    if mask_blur is not None:
        req["mask_blur"] = _int("mask_blur", mask_blur, 0, 64)
    req["inpainting_full_res"] = int(_bool("inpainting_full_res", inpainting_full_res))
    req["inpainting_full_res_padding"] = _int(
        "inpainting_full_res_padding", inpainting_full_res_padding, 0, 256
    )
    req["inpainting_mask_invert"] = int(_bool("inpainting_mask_invert", inpainting_mask_invert))
    req["initial_noise_multiplier"] = _num("initial_noise_multiplier", initial_noise_multiplier, 0, 1.5)
    return {"extra": check_mapping(extra, "extra") or build_extra(), "request": req}


def upscale_request(
    image: Any,
    *,
    model_name: str = "RealESRGAN_x4plus_anime_6B",
    scale_factor: float = 2,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the body of ``POST /v3/async/upscale`` (image at most 2048x2048 and 30 MB; factor in (1, 4])."""
    b64, _ = image_to_base64(image, "image", max_bytes=30 * MB, max_side=2048)
    req = {
        "model_name": _choice("model_name", model_name, UPSCALERS),
        "image_base64": b64,
        "scale_factor": _num("scale_factor", scale_factor, 1, 4, lo_open=True),
    }
    return {"extra": check_mapping(extra, "extra") or build_extra(), "request": req}


def img2video_request(
    image: Any,
    *,
    model_name: str = "SVD-XT",
    frames_num: int | None = None,
    frames_per_second: int = 6,
    image_file_resize_mode: str = "CROP_TO_ASPECT_RATIO",
    steps: int = 20,
    seed: int | None = -1,
    motion_bucket_id: int = 127,
    cond_aug: float = 0.02,
    enable_frame_interpolation: bool = False,
    response_video_type: str = "mp4",
) -> dict[str, Any]:
    """Return the flat body of ``POST /v3/async/img2video`` (frames: 14 for SVD, 25 for SVD-XT; 6 fps)."""
    _choice("model_name", model_name, tuple(IMG2VIDEO_MODELS))
    frames = IMG2VIDEO_MODELS[model_name] if frames_num is None else frames_num
    _choice(
        "frames_num", frames, (IMG2VIDEO_MODELS[model_name],), f"{model_name} makes exactly that many frames"
    )
    body: dict[str, Any] = {
        "model_name": model_name,
        "image_file": image_to_base64(image, "image", max_bytes=30 * MB, max_side=2048)[0],
        "frames_num": frames,
        "frames_per_second": _choice("frames_per_second", frames_per_second, (6,)),
        "image_file_resize_mode": _choice("image_file_resize_mode", image_file_resize_mode, IMG2VIDEO_RESIZE),
        "steps": _int("steps", steps, 1, 50),
        "motion_bucket_id": _int("motion_bucket_id", motion_bucket_id, 1, 255),
        "cond_aug": _num("cond_aug", cond_aug, 0, 1),
        "enable_frame_interpolation": _bool("enable_frame_interpolation", enable_frame_interpolation),
        "extra": {"response_video_type": _choice("response_video_type", response_video_type, VIDEO_TYPES)},
    }
    if seed is not None:
        body["seed"] = _int("seed", seed, -1, 2**32 - 1)
    return body


def txt2video_request(
    prompts: Sequence[tuple[str, int] | Mapping[str, Any]] | str,
    *,
    model_name: str,
    width: int = 512,
    height: int = 512,
    steps: int = 20,
    frames: int = 16,
    negative_prompt: str | None = None,
    guidance_scale: float = 7.5,
    seed: int | None = -1,
    loras: Any = None,
    embeddings: Any = None,
    clip_skip: int | None = None,
    closed_loop: bool | None = None,
    response_video_type: str = "mp4",
) -> dict[str, Any]:
    """Return the flat body of ``POST /v3/async/txt2video``: prompts as ``[(text, frames), ...]`` (8–64 frames
    each, 128 in all) or one string shown for ``frames`` frames."""
    if isinstance(prompts, str):
        prompts = [(prompts, frames)]
    if not isinstance(prompts, (list, tuple)) or not prompts:
        raise InputError("prompts", prompts, "a string or a non-empty list of (prompt, frames)")
    items = []
    for i, p in enumerate(prompts):
        if isinstance(p, Mapping):
            text, n = p.get("prompt"), p.get("frames")
        elif isinstance(p, (list, tuple)) and len(p) == 2:
            text, n = p
        else:
            raise InputError(f"prompts[{i}]", p, "a (prompt, frames) pair or {'prompt': ..., 'frames': ...}")
        items.append(
            {
                "prompt": _str(f"prompts[{i}].prompt", text, 1, 1024),
                "frames": _int(f"prompts[{i}].frames", n, 8, 64),
            }
        )
    total = sum(it["frames"] for it in items)
    if total > 128:
        raise InputError("prompts", f"<{total} frames in all>", "at most 128 frames over all prompts")
    body: dict[str, Any] = {
        "model_name": _str("model_name", model_name),
        "width": _int("width", width, 256, 1024),
        "height": _int("height", height, 256, 1024),
        "steps": _int("steps", steps, 1, 50),
        "prompts": items,
        "guidance_scale": _num("guidance_scale", guidance_scale, 1, 30),
        "extra": {"response_video_type": _choice("response_video_type", response_video_type, VIDEO_TYPES)},
    }
    if negative_prompt:
        body["negative_prompt"] = _str("negative_prompt", negative_prompt, 1, 1024)
    if seed is not None:
        body["seed"] = _int("seed", seed, -1, 2**32 - 1)
    _put(body, "loras", _loras(loras))
    _put(body, "embeddings", _embeddings(embeddings))
    if clip_skip is not None:
        body["clip_skip"] = _int("clip_skip", clip_skip, 1, 12)
    if closed_loop is not None:
        body["closed_loop"] = _bool("closed_loop", closed_loop)
    return body


# Case endpoints still in service: image fields and limits (bytes, max side or None for 16 MP).
CASE_ENDPOINTS: dict[str, dict[str, Any]] = {
    "remove-background": {"images": ("image_file",), "max_bytes": 30 * MB, "max_side": None},
    "replace-background": {"images": ("image_file",), "max_bytes": 30 * MB, "max_side": 2048, "prompt": True},
    "cleanup": {"images": ("image_file", "mask_file"), "max_bytes": 30 * MB, "max_side": None},
    "remove-text": {"images": ("image_file",), "max_bytes": 30 * MB, "max_side": None},
    "reimagine": {"images": ("image_file",), "max_bytes": 30 * MB, "max_side": None},
    "merge-face": {"images": ("image_file", "face_image_file"), "max_bytes": 30 * MB, "max_side": 2048},
    "img2prompt": {"images": ("image_file",), "max_bytes": 30 * MB, "max_side": None, "no_extra": True},
}


def case_request(
    endpoint: str,
    images: Mapping[str, Any],
    *,
    prompt: str | None = None,
    response_image_type: str = "png",
    enterprise_plan: bool = False,
) -> dict[str, Any]:
    """Return the flat body of a synchronous case endpoint (``/v3/remove-background`` and friends)."""
    spec = CASE_ENDPOINTS[_choice("endpoint", endpoint, tuple(CASE_ENDPOINTS))]
    body: dict[str, Any] = {}
    for key in spec["images"]:
        body[key] = image_to_base64(
            images.get(key), key, max_bytes=spec["max_bytes"], max_side=spec["max_side"]
        )[0]
    if spec.get("prompt"):
        body["prompt"] = _str("prompt", prompt, 1, 1024)
    if not spec.get("no_extra"):
        body["extra"] = {
            "response_image_type": _choice("response_image_type", response_image_type, IMAGE_TYPES),
            "enterprise_plan": {"enabled": _bool("enterprise_plan", enterprise_plan)},
        }
    return body


# ----------------------------------------------------------------------------------------- training


def _learning_rate(value: Any) -> float:
    rate = value
    if isinstance(value, str):
        try:
            rate = float(value)
        except ValueError:
            rate = None
    if (
        not isinstance(rate, (int, float))
        or isinstance(rate, bool)
        or not any(math.isclose(rate, r, rel_tol=1e-9) for r in LEARNING_RATES)
    ):
        raise InputError(
            "learning_rate",
            value,
            "one of 1e-4, 1e-5, 1e-6, 2e-4, 5e-5",
            "Novita accepts only these; 3e-4 (used by its own playground) is refused by the API docs.",
        )
    return float(rate)


def expert_setting(
    kind: str,
    *,
    instance_prompt: str | None = None,
    class_prompt: str | None = None,
    learning_rate: float | str | None = None,
    max_train_steps: int | None = None,
    train_batch_size: int | None = None,
    seed: int | None = None,
    lr_scheduler: str | None = None,
    lr_warmup_steps: int | None = None,
    with_prior_preservation: bool | None = None,
    prior_loss_weight: float | None = None,
    train_text_encoder: bool | None = None,
    lora_r: int | None = None,
    lora_alpha: int | None = None,
    lora_text_encoder_r: int | None = None,
    lora_text_encoder_alpha: int | None = None,
) -> dict[str, Any]:
    """Return a validated ``expert_setting`` for a ``"subject"`` or ``"style"`` training (unset keys omitted).

    Subject training needs ``instance_prompt`` and ``class_prompt`` ("person"); style training takes only the
    batch size, learning rate, steps, seed and scheduler settings.
    """
    _choice("kind", kind, ("subject", "style"))
    es: dict[str, Any] = {}
    if kind == "subject":
        es["instance_prompt"] = _str("instance_prompt", instance_prompt, 1, 1024)
        es["class_prompt"] = _choice("class_prompt", class_prompt, ("person",))
    else:
        subject_only = {
            "instance_prompt": instance_prompt,
            "class_prompt": class_prompt,
            "with_prior_preservation": with_prior_preservation,
            "prior_loss_weight": prior_loss_weight,
            "train_text_encoder": train_text_encoder,
            "lora_r": lora_r,
            "lora_alpha": lora_alpha,
            "lora_text_encoder_r": lora_text_encoder_r,
            "lora_text_encoder_alpha": lora_text_encoder_alpha,
        }
        given = [k for k, v in subject_only.items() if v is not None]
        if given:
            raise InputError(
                given[0], subject_only[given[0]], "not set for a style training (subject training only)"
            )
    if train_batch_size is not None:
        es["train_batch_size"] = _int("train_batch_size", train_batch_size, 1, 4)
    if learning_rate is not None:
        es["learning_rate"] = _learning_rate(learning_rate)
    if max_train_steps is not None:
        es["max_train_steps"] = _int("max_train_steps", max_train_steps, 1)
    if seed is not None:
        es["seed"] = _int("seed", seed, 1)
    if lr_scheduler is not None:
        es["lr_scheduler"] = _choice("lr_scheduler", lr_scheduler, LR_SCHEDULERS)
    if lr_warmup_steps is not None:
        es["lr_warmup_steps"] = _int("lr_warmup_steps", lr_warmup_steps, 0)
    if with_prior_preservation is not None:
        es["with_prior_preservation"] = _bool("with_prior_preservation", with_prior_preservation)
    if prior_loss_weight is not None:
        es["prior_loss_weight"] = _num("prior_loss_weight", prior_loss_weight, 0, None, lo_open=True)
    if train_text_encoder is not None:
        es["train_text_encoder"] = _bool("train_text_encoder", train_text_encoder)
    for name, value in (
        ("lora_r", lora_r),
        ("lora_alpha", lora_alpha),
        ("lora_text_encoder_r", lora_text_encoder_r),
        ("lora_text_encoder_alpha", lora_text_encoder_alpha),
    ):
        if value is not None:
            es[name] = _int(name, value, 4, 128)
    return es


def components_json(components: Any) -> list[dict[str, Any]]:
    """Return training ``components`` as Novita wants them (``[{name, args: [{name, value: str}]}]``).

    Accepts that list, or a dict ``{"face_crop_region": {"ratio": 1.4}, "resize": {"width": 512, ...}}``.
    """
    if isinstance(components, Mapping):
        components = [
            {"name": n, "args": [{"name": k, "value": v} for k, v in (args or {}).items()]}
            for n, args in components.items()
        ]
    if not isinstance(components, (list, tuple)):
        raise InputError("components", components, "a list of {name, args} or a {name: {arg: value}} dict")
    out = []
    for i, comp in enumerate(components):
        name = comp.get("name") if isinstance(comp, Mapping) else None
        _choice(f"components[{i}].name", name, tuple(TRAINING_COMPONENTS))
        args = []
        for arg in comp.get("args") or []:
            arg_name = arg.get("name") if isinstance(arg, Mapping) else None
            _choice(f"components[{i}].args.name", arg_name, TRAINING_COMPONENTS[name])
            value = arg.get("value")
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise InputError(f"components[{i}].args.{arg_name}", value, "a number or a string")
            args.append({"name": arg_name, "value": str(value)})
        out.append({"name": name, "args": args})
    return out


def training_request(
    kind: str,
    *,
    name: str,
    base_model: str,
    assets_ids: Sequence[str],
    captions: Sequence[str] | None = None,
    width: int = 512,
    height: int = 512,
    expert: Mapping[str, Any] | None = None,
    components: Any = None,
) -> dict[str, Any]:
    """Return the body of ``POST /v3/training/subject`` or ``/v3/training/style``.

    Style training needs one caption (1–1024 characters) per image; at most 50 images per task.
    """
    _choice("kind", kind, ("subject", "style"))
    _str("name", name, 1, 256)
    _choice("base_model", base_model, TRAINING_BASE_MODELS)
    if not isinstance(assets_ids, (list, tuple)) or not assets_ids:
        raise InputError("images", assets_ids, "at least one training image")
    if len(assets_ids) > MAX_TRAINING_IMAGES:
        raise InputError(
            "images", f"<{len(assets_ids)} images>", f"at most {MAX_TRAINING_IMAGES} images per task"
        )
    items: list[dict[str, Any]] = [{"assets_id": _str("assets_id", a)} for a in assets_ids]
    if kind == "style" or captions is not None:
        if not isinstance(captions, (list, tuple)) or len(captions) != len(items):
            raise InputError(
                "captions",
                f"<{len(captions)} captions>" if isinstance(captions, (list, tuple)) else captions,
                f"a list of one caption per image ({len(items)})",
            )
        for i, (item, cap) in enumerate(zip(items, captions, strict=True)):
            item["caption"] = _str(f"captions[{i}]", cap, 1, 1024)
    body: dict[str, Any] = {
        "name": name,
        "base_model": base_model,
        "width": _int("width", width, 1),
        "height": _int("height", height, 1),
        "image_dataset_items": items,
        "expert_setting": dict(expert if expert is not None else expert_setting(kind)),
    }
    if components is not None:
        body["components"] = components_json(components)
    elif kind == "subject":
        # documented as required for subject training; these are the SDK's face defaults
        body["components"] = components_json(
            {
                "face_crop_region": {"ratio": "1.4"},
                "resize": {"width": width, "height": height},
                "face_restore": {"method": "gfpgan_1.4", "upscale": "1.0"},
            }
        )
    else:
        body["components"] = []
    return body
