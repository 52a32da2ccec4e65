"""Novita.ai client: v3 async image generation, case endpoints, video, LoRA training, models, account.

::

    from naikit.novita import Novita, LoRA

    nv = Novita()                       # NOVITA_API_KEY, else the offline sandbox (demo key)
    res = nv.txt2img("a lighthouse at dusk", model_name="dreamshaper_8_93211.safetensors", seed=7)
    res.images[0]                       # PIL image
    nv.models(types="lora").to_frame()  # the catalogue, every page

Names load on first use so that ``import naikit.novita`` stays light.
"""

import typing as _typing

from .._lazy import lazy_exports as _lazy_exports

# public name -> defining module, relative to this package (the TYPE_CHECKING imports list the same names)
_EXPORTS: dict[str, str] = {
    "Novita": ".client",
    "AsyncNovita": ".async_client",
    "EditedImage": ".async_client",
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

# the same names, written out for static tools (ruff, pyright: `from naikit import *`)
__all__ = [
    "AsyncNovita",
    "ControlNetUnit",
    "EditedImage",
    "LoRA",
    "ModelCatalogue",
    "Novita",
    "ProgressBar",
    "S3Storage",
    "Task",
    "TaskFailed",
    "TaskResult",
    "TaskTimeout",
    "TrainingList",
    "TrainingStatus",
    "UserInfo",
    "build_extra",
]

if _typing.TYPE_CHECKING:  # pragma: no cover  # for type checkers and IDEs only
    from .._poll import ProgressBar
    from .async_client import AsyncNovita, EditedImage
    from .client import Novita
    from .errors import TaskFailed, TaskTimeout
    from .requests import ControlNetUnit, LoRA, S3Storage, build_extra
    from .tasks import Task, TaskResult
    from .training import ModelCatalogue, TrainingList, TrainingStatus, UserInfo
else:
    __getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)
