"""Novita.ai client: v3 async image generation, case endpoints, video, LoRA training, models, account.

::

    from naikit.novita import Novita, LoRA

    nv = Novita()                       # NOVITA_API_KEY, else the offline sandbox (demo key)
    res = nv.txt2img("a lighthouse at dusk", model_name="dreamshaper_8_93211.safetensors", seed=7)
    res.images[0]                       # PIL image
    nv.models(types="lora").to_frame()  # the catalogue, every page

Names load on first use so that ``import naikit.novita`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    "Novita": ".client",
    "AsyncNovita": ".client",
    "ImageResult": ".client",
    "Task": ".tasks",
    "TaskResult": ".tasks",
    "ProgressBar": ".._poll",
    "TaskFailed": ".errors",
    "TaskTimeout": ".errors",
    "LoRA": ".requests",
    "ControlNetUnit": ".requests",
    "S3Storage": ".requests",
    "build_extra": ".requests",
    "TrainingStatus": ".training",
    "TrainingList": ".training",
    "ModelCatalogue": ".training",
    "UserInfo": ".training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'naikit.novita' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
