"""The ``.preset`` file format: the checks a file passes when read, a fresh preset's contents, and the
official presets shipped in ``naikit/data/presets`` (see its NOTICE)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

from .._validate import check_bool
from ..errors import InputError
from ._preset_params import (
    OA_PARAM_FIELDS,
    OA_PRESET_MODELS,
    OA_SAMPLERS,
    SAMPLER_IDS,
    SAMPLER_MODELS,
    SAMPLERS,
    check_oa_parameter,
    check_parameter,
)
from .models import TEXT_MODELS, TextModel, text_model
from .text_param_tables import PARAMS

#: The preset file format version naikit reads and writes.
PRESET_VERSION = 3

# What novelai-api puts in a fresh preset (its DEFAULTS), used by Preset.new.
_NEW_PRESET = {
    "textGenerationSettingsVersion": 3,
    "temperature": 1.0,
    "max_length": 40,
    "min_length": 1,
    "top_k": 0,
    "top_p": 1.0,
    "top_a": 1.0,
    "typical_p": 1.0,
    "tail_free_sampling": 1.0,
    "repetition_penalty": 1.0,
    "repetition_penalty_range": 0,
    "repetition_penalty_slope": 0.0,
    "repetition_penalty_frequency": 0.0,
    "repetition_penalty_presence": 0.0,
    "repetition_penalty_default_whitelist": False,
    "phrase_rep_pen": "off",
}


def _folder(model: TextModel) -> str:
    return "presets_" + model.value.replace("-", "_")


@cache
def _official_files(model_value: str) -> tuple[tuple[str, str], ...]:
    """Return ((name, raw text), ...) of one model's shipped presets, sorted by name."""
    root = resources.files("naikit") / "data" / "presets" / _folder(text_model(model_value))
    out = []
    if root.is_dir():
        for entry in root.iterdir():
            if entry.name.endswith(".preset"):
                text = entry.read_text(encoding="utf-8")
                out.append((json.loads(text)["name"], text))
    return tuple(sorted(out))


# Erato's folder has no default.txt (novelai-api returns None); naikit uses Golden Arrow, the preset
# NovelAI's site selected for Erato at launch.
_DEFAULT_FALLBACK = {"llama-3-erato-v1": "Golden Arrow"}


def default_preset_name(model: str | TextModel) -> str:
    """Return the name of ``model``'s default official preset."""
    return _default_name(text_model(model))


@cache  # a packaged file: read once, not on every generation that uses the default preset
def _default_name(m: TextModel) -> str:
    root = resources.files("naikit") / "data" / "presets" / _folder(m) / "default.txt"
    if root.is_file():
        return root.read_text(encoding="utf-8").splitlines()[0]
    return _DEFAULT_FALLBACK[m.value]


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _blank(name: str, model: str) -> dict[str, Any]:
    if model in OA_PRESET_MODELS:
        oa: dict[str, Any] = {
            "textGenerationSettingsVersion": 8,
            "temperature": 1.0,
            "max_length": 60,
            "min_length": 1,
            "top_k": 0,
            "top_p": 1.0,
            "repetition_penalty_frequency": 0.0,
            "repetition_penalty_presence": 0.0,
            "math1_temp": 0.0,
            "math1_quad": 0.0,
            "math1_quad_entropy_scale": 0.0,
            "min_p": 0.0,
            "order": [{"id": s, "enabled": s == "temperature"} for s in OA_SAMPLERS],
        }
        return _preset_file(name, oa, model)
    params: dict[str, Any] = dict(_NEW_PRESET)
    order = []
    for s in SAMPLERS:
        only = SAMPLER_MODELS.get(s)
        if only is None or model in only:
            order.append({"id": s, "enabled": s == "temperature"})
    if model in SAMPLER_MODELS["cfg"]:
        params.update(cfg_scale=1.0, cfg_uc="", top_g=0, mirostat_tau=0.0, mirostat_lr=1.0)
    if model in SAMPLER_MODELS["math1"]:
        params.update(math1_temp=1.0, math1_quad=0.0, math1_quad_entropy_scale=0.0, min_p=0.0)
    params["order"] = order
    return _preset_file(name, params, model)


def _preset_file(name: str, parameters: dict[str, Any], model: str) -> dict[str, Any]:
    """Return a new preset file (a fresh id, no remote id) around ``parameters``."""
    return {
        "presetVersion": PRESET_VERSION,
        "name": name,
        "id": str(uuid.uuid4()),
        "remoteId": "",
        "parameters": parameters,
        "model": model,
    }


def _model_of(value: str) -> TextModel:
    """Return the model a preset's ``model`` names; a ``-vN`` suffix other than the known one is tolerated."""
    try:
        return text_model(value)
    except InputError:
        pass
    if isinstance(value, str):
        parts = value.split("-")
        if parts[-1].startswith("v") and parts[-1][1:].isdecimal():
            stem = "-".join(parts[:-1])
            for m in TEXT_MODELS:
                mp = m.value.split("-")
                mstem = "-".join(mp[:-1]) if mp[-1].startswith("v") and mp[-1][1:].isdecimal() else m.value
                if mstem == stem:
                    return m
    raise InputError(
        "model",
        value,
        "a text model: " + ", ".join(m.value for m in TEXT_MODELS),
        hint="(the preset's model)",
    )


def _check_oa_order(items: list[dict[str, Any]], model: str, where: str) -> None:
    if model not in OA_PRESET_MODELS:
        return
    for o in items:
        if o["enabled"] and o["id"] not in OA_SAMPLERS:
            raise InputError(where, o["id"], f"a sampler {model} has: " + ", ".join(OA_SAMPLERS))


def _check_sampler(name: Any, where: str) -> str:
    if not isinstance(name, str) or name not in SAMPLER_IDS:
        raise InputError(where, name, "a sampler: " + ", ".join(SAMPLERS))
    return name


def _order_list(value: Any, where: str) -> list[dict[str, Any]]:
    """Return a preset file's ``order`` (a JSON list) as checked ``{"id", "enabled"}`` items."""
    if not isinstance(value, list):
        raise InputError(where, value, '[{"id": <sampler>, "enabled": <bool>}, ...]')
    return _order_items(value, where)


def _order_items(order: Iterable[Any], where: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, o in enumerate(order):
        if isinstance(o, str):
            name, on = o, True
        elif isinstance(o, dict):
            if set(o) - {"id", "enabled"} or "id" not in o:
                raise InputError(f"{where}[{i}]", o, '{"id": <sampler>, "enabled": <bool>}')
            name, on = o["id"], o.get("enabled", True)
        elif isinstance(o, (tuple, list)) and len(o) == 2:
            name, on = o
        else:
            raise InputError(f"{where}[{i}]", o, "a sampler name, (name, enabled) or {id, enabled}")
        _check_sampler(name, f"{where}[{i}].id")
        check_bool(on, f"{where}[{i}].enabled")
        if name in seen:
            raise InputError(f"{where}[{i}].id", name, "each sampler at most once")
        seen.add(name)
        items.append({"id": name, "enabled": on})
    return items


def _validate_file(data: dict[str, Any]) -> dict[str, Any]:
    """Check a ``.preset`` object in place; return it. Errors name the key ("parameters.top_p")."""
    version = data.get("presetVersion", PRESET_VERSION)
    if isinstance(version, bool) or not isinstance(version, int):
        raise InputError("presetVersion", version, f"an integer (naikit reads version {PRESET_VERSION})")
    if version > PRESET_VERSION:
        raise InputError(
            "presetVersion",
            version,
            f"at most {PRESET_VERSION}",
            hint="The file was written by a newer NovelAI than naikit knows; update naikit.",
        )
    for key, kind in (("name", str), ("id", str), ("remoteId", str)):
        if key in data and not isinstance(data[key], kind):
            raise InputError(key, data[key], "a string")
    if "name" not in data:
        raise InputError("name", None, "the preset's name (a string)")
    if "model" not in data:
        raise InputError("model", None, "the model the preset is for, e.g. 'kayra-v1'")
    model = _model_of(data["model"])
    params = data.get("parameters")
    if not isinstance(params, dict):
        raise InputError("parameters", params, "a JSON object of generation parameters")
    if model.value in OA_PRESET_MODELS:
        # a GLM preset: the website's file carries every native key too (neutral or not); only the keys
        # the GLM request reads are checked, the others are kept in the file and never sent
        for key, value in params.items():
            where = f"parameters.{key}"
            if key == "order":
                params["order"] = _order_list(value, where)
                _check_oa_order(params["order"], model.value, where)
            elif key in OA_PARAM_FIELDS:
                check_oa_parameter(key, value, model.value, where)
        return data
    for key, value in params.items():
        where = f"parameters.{key}"
        if key == "order":
            params["order"] = _order_list(value, where)
        elif key == "textGenerationSettingsVersion":
            if isinstance(value, bool) or not isinstance(value, int):
                raise InputError(where, value, "an integer")
        elif key in PARAMS:
            check_parameter(key, value, where)
        elif key in ("bad_words_ids", "logit_bias_exp", "logit_bias_groups"):
            pass  # kept in the file; send bans and biases as BanList / BiasGroup
        # other unknown keys (a newer NovelAI's) are kept in the file and not sent
    return data
