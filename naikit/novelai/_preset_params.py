"""The sampler tables and the checks that refuse bad text-generation parameters; each parameter's type and
range (:class:`ParamSpec`, :data:`PARAMS`) is in :mod:`.text_param_tables`."""

from __future__ import annotations

import math
from typing import Any

from .._validate import check_number, is_token_id
from ..errors import InputError
from ..sampling import SAMPLER_NAMES
from .models import TextModel, text_model
from .text_param_tables import PARAMS, REQUEST_PARAMS, ParamSpec

#: Sampler names as preset files spell them, in NovelAI's id order (spec §5.3).
# The sampler ids are sampling.py's table (the order of the tuple is the id NovelAI's API uses).
SAMPLERS: tuple[str, ...] = SAMPLER_NAMES
#: Sampler name -> the id sent in ``order``.
SAMPLER_IDS: dict[str, int] = {name: i for i, name in enumerate(SAMPLERS)}
#: Sampler name -> the parameters that belong to it (not sent while it is disabled).
SAMPLER_KEYS: dict[str, tuple[str, ...]] = {
    "temperature": ("temperature",),
    "top_k": ("top_k",),
    "top_p": ("top_p",),
    "tfs": ("tail_free_sampling",),
    "top_a": ("top_a",),
    "typical_p": ("typical_p",),
    "cfg": ("cfg_scale", "cfg_uc"),
    "top_g": ("top_g",),
    "mirostat": ("mirostat_tau", "mirostat_lr"),
    "math1": ("math1_temp", "math1_quad", "math1_quad_entropy_scale"),
    "min_p": ("min_p",),
}
_NEW = ("clio-v1", "kayra-v1", "llama-3-erato-v1")
#: Samplers that only some models have; the others exist for every model.
SAMPLER_MODELS: dict[str, tuple[str, ...]] = {
    "cfg": _NEW,
    "top_g": _NEW,
    "mirostat": _NEW,
    "math1": ("kayra-v1", "llama-3-erato-v1"),
    "min_p": ("kayra-v1", "llama-3-erato-v1"),
}
#: Models served over /oa/v1 (GLM family): their presets hold only the parameters the website offers them.
OA_PRESET_MODELS: tuple[str, ...] = ("glm-4-6", "xialong-v1")
#: The GLM samplers, in the one order the website shows them (its sampling list: temperature, top-k,
#: top-p, min-p; no ``order`` is sent, so the order is fixed). The sandbox and the explainer apply them so.
OA_SAMPLERS: tuple[str, ...] = ("temperature", "top_k", "top_p", "min_p")
#: Preset keys the website's GLM request builder reads (besides ``order``), mapped to the request field.
OA_PARAM_FIELDS: dict[str, str] = {
    "max_length": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "repetition_penalty_frequency": "frequency_penalty",
    "repetition_penalty_presence": "presence_penalty",
    "math1_temp": "unified_linear",
    "math1_quad": "unified_quadratic",
    "math1_quad_entropy_scale": "unified_increase_linear_with_entropy",
    "math2_cubic": "unified_cubic",
}
_FILE_ONLY = ("textGenerationSettingsVersion",)
# The "Unified" cubic term exists only in the GLM request (``unified_cubic``); not a native parameter.
_OA_EXTRA: dict[str, ParamSpec] = {
    "math2_cubic": ParamSpec("math2_cubic", "float", -10, 10, group="Samplers", label="Unified: cubic")
}
# The frequency and presence penalties GLM takes are OpenAI's (-2..2), as the native ones.


def is_oa_model(model: str | TextModel) -> bool:
    """Return True when ``model`` is served over /oa/v1 (its presets are GLM presets)."""
    return (model.value if isinstance(model, TextModel) else model) in OA_PRESET_MODELS


def check_oa_parameter(key: str, value: Any, model: str, where: str | None = None) -> Any:
    """Return ``value`` checked for a GLM-family preset; InputError for a key these models do not take
    (tail-free sampling, repetition penalty, CFG...) or a bad value."""
    if key not in OA_PARAM_FIELDS:
        raise InputError(
            where or key,
            value,
            f"a parameter {model} takes: " + ", ".join(OA_PARAM_FIELDS),
            hint=f"{key} is a parameter of the native models (Kayra, Erato), not of the GLM family.",
        )
    if key in _OA_EXTRA:
        spec = _OA_EXTRA[key]
        return check_number(value, where or key, lo=spec.lo, hi=spec.hi, allowed=spec.allowed())
    if key == "max_length":
        hi = text_model(model).max_output
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
            raise InputError(
                where or key, value, f"an integer in [1, {hi}] (the website's range for {model})"
            )
        return value
    return check_parameter(key, value, where)


def check_parameter(key: str, value: Any, where: str | None = None) -> Any:
    """Return ``value`` (ints kept, integral floats turned into ints for int keys) if ``key`` accepts it.

    Raises InputError naming ``where`` (default: the key), the value and what is allowed; an unknown key
    lists the known ones.
    """
    name = where or key
    spec = PARAMS.get(key) or REQUEST_PARAMS.get(key)
    if spec is None:
        raise InputError(name, value, "a known parameter: " + ", ".join(sorted(PARAMS)))
    kind = spec.kind
    if kind == "bool":
        if not isinstance(value, bool):
            raise InputError(name, value, spec.allowed())
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise InputError(name, value, spec.allowed())
        return value
    if kind == "choice":
        if value not in spec.choices:
            raise InputError(name, value, spec.allowed())
        return value
    if kind == "tokens":
        if not isinstance(value, (list, tuple)) or not all(is_token_id(t) for t in value):
            raise InputError(name, value, spec.allowed())
        return list(value)
    if kind == "sequences":
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(s, (list, tuple)) and s and all(is_token_id(t) for t in s) for s in value
        ):
            raise InputError(name, value, spec.allowed() + " (each non-empty)")
        return [list(s) for s in value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(name, value, spec.allowed())
    if kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise InputError(name, value, spec.allowed())
            value = int(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise InputError(name, value, spec.allowed())
    lo, hi = spec.lo, spec.hi
    if lo is not None and (value < lo or (spec.lo_open and value == lo)):
        raise InputError(name, value, spec.allowed())
    if hi is not None and value > hi:
        raise InputError(name, value, spec.allowed())
    return value
