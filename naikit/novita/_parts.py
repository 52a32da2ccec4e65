"""Parts of Novita request bodies: LoRAs, embeddings, ControlNet units, custom S3 storage and ``extra``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._novita_limits import CONTROLNET_PREPROCESSORS, IMAGE_TYPES, MAX_EMBEDDINGS, MAX_LORAS
from .._validate import check_bool, check_choice, check_number, check_string
from ..errors import InputError
from ._image_input import image_to_base64

__all__ = [
    "LoRA",
    "ControlNetUnit",
    "S3Storage",
    "build_extra",
    "put",
    "loras_json",
    "embeddings_json",
    "controlnet_json",
]


def put(body: dict[str, Any], key: str, value: Any) -> None:
    """Set ``body[key]`` unless ``value`` is None (unset optional fields are left out); returns None."""
    if value is not None:
        body[key] = value


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
        put(s3, "save_to_path_directly", self.save_to_path_directly)
        return {"aws_s3": s3}


def loras_json(value: Any) -> list[dict[str, Any]] | None:
    """Return ``loras`` (LoRA objects, names, dicts or a {name: strength} dict) as Novita's list, or None."""
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
            item = LoRA(
                check_string(item.get("model_name"), f"loras[{i}].model_name"), item.get("strength", 1.0)
            )
        if not isinstance(item, LoRA):
            raise InputError(f"loras[{i}]", item, "a LoRA(model_name, strength), a name, or a dict")
        check_string(item.model_name, f"loras[{i}].model_name")
        check_number(item.strength, f"loras[{i}].strength", lo=0, hi=1)
        out.append(item.to_json())
    return out


def embeddings_json(value: Any) -> list[dict[str, Any]] | None:
    """Return ``embeddings`` (names or dicts) as Novita's ``[{"model_name": ...}]``, or None."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise InputError("embeddings", value, "a list of embedding names")
    if len(value) > MAX_EMBEDDINGS:
        raise InputError("embeddings", f"<{len(value)} embeddings>", f"at most {MAX_EMBEDDINGS} embeddings")
    out = []
    for i, item in enumerate(value):
        name = item.get("model_name") if isinstance(item, Mapping) else item
        out.append({"model_name": check_string(name, f"embeddings[{i}]")})
    return out


def controlnet_json(units: Any) -> dict[str, Any] | None:
    """Return ControlNet units (objects or dicts) as Novita's ``{"units": [...]}``, or None."""
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
                check_string(unit.get("model_name"), f"controlnet_units[{i}].model_name"),
                unit.get("image", unit.get("image_base64")),
                unit.get("strength", 1.0),
                unit.get("preprocessor"),
                unit.get("guidance_start"),
                unit.get("guidance_end"),
            )
        if not isinstance(unit, ControlNetUnit):
            raise InputError(f"controlnet_units[{i}]", unit, "a ControlNetUnit or its dict")
        j: dict[str, Any] = {
            "model_name": check_string(unit.model_name, f"controlnet_units[{i}].model_name"),
            "image_base64": image_to_base64(unit.image, f"controlnet_units[{i}].image")[0],
            "strength": check_number(unit.strength, f"controlnet_units[{i}].strength", lo=0, hi=1),
        }
        if unit.preprocessor is not None:
            j["preprocessor"] = check_choice(
                unit.preprocessor, f"controlnet_units[{i}].preprocessor", CONTROLNET_PREPROCESSORS
            )
        if unit.guidance_start is not None:
            j["guidance_start"] = check_number(
                unit.guidance_start, f"controlnet_units[{i}].guidance_start", lo=0, hi=1
            )
        if unit.guidance_end is not None:
            j["guidance_end"] = check_number(
                unit.guidance_end, f"controlnet_units[{i}].guidance_end", lo=0, hi=1
            )
        if "guidance_start" in j and "guidance_end" in j and j["guidance_start"] > j["guidance_end"]:
            raise InputError(f"controlnet_units[{i}].guidance_start", j["guidance_start"], "<= guidance_end")
        out.append(j)
    return {"units": out}


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
        "response_image_type": check_choice(response_image_type, "response_image_type", IMAGE_TYPES)
    }
    if enable_nsfw_detection is not None:
        extra["enable_nsfw_detection"] = check_bool(enable_nsfw_detection, "enable_nsfw_detection")
    if nsfw_detection_level is not None:
        extra["nsfw_detection_level"] = check_choice(nsfw_detection_level, "nsfw_detection_level", (0, 1, 2))
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
            check_string(s3.get(key), f"custom_storage.aws_s3.{key}")
        extra["custom_storage"] = storage
    if enterprise_plan is not None:
        extra["enterprise_plan"] = {"enabled": check_bool(enterprise_plan, "enterprise_plan")}
    return extra
