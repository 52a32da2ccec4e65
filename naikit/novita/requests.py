"""Typed, validated request builders for Novita's v3 image, video and training APIs (spec: novita.md).

Every builder checks its input against the documented limits and raises
:class:`~naikit.errors.InputError` naming the field, the value and what is allowed, before anything is
sent: an unknown sampler or training base model, more than 5 LoRAs or embeddings, an image over
16 megapixels or 10 MB, a learning rate Novita does not accept, a width outside 128–2048, ...

Builders return the JSON body (a dict) exactly as the endpoint wants it; unset optional fields are left
out rather than sent as ``null``. Images may be given as PIL images, raw bytes, a path, or base64 text.
"""

from __future__ import annotations

# The builders live in modules by idea; this module is where users import them from.
from .._novita_limits import (
    CONTROLNET_PREPROCESSORS,
    HIRES_UPSCALERS,
    IMAGE_TYPES,
    IP_ADAPTER_MODELS,
    LEARNING_RATES,
    LR_SCHEDULERS,
    MAX_EMBEDDINGS,
    MAX_LORAS,
    MAX_TRAINING_IMAGES,
    SAMPLERS,
    TRAINING_BASE_MODELS,
    TRAINING_COMPONENTS,
    UPSCALERS,
    VIDEO_TYPES,
)
from ._image_bodies import case_request, img2img_request, inpainting_request, txt2img_request, upscale_request
from ._image_input import image_to_base64
from ._parts import ControlNetUnit, LoRA, S3Storage, build_extra
from ._training_bodies import components_json, expert_setting, training_request
from ._video_bodies import img2video_request, txt2video_request

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
