"""Text-generation presets and the exact ``parameters`` object NovelAI expects (spec §5.2-§5.4, §8.2).

:class:`Preset` reads and writes NovelAI's ``.preset`` files (a file read and written back is unchanged),
knows every parameter with its type and allowed range, and keeps the sampler order with enabled flags.
``Preset.official(model, name)`` returns one of the 48 official presets shipped in
``naikit/data/presets`` (see its NOTICE); ``name=None`` gives the model's default.

:func:`build_parameters` turns a preset, :class:`GlobalSettings`, bans (:class:`BanList`), biases
(:class:`BiasGroup`), stop sequences and a module into the request's ``parameters`` exactly as
novelai.net builds them (its January 2026 code: bans, default bias, whitelist, sampler support, rescales;
tests/test_site_text.py checks every official preset); :func:`build_request` adds ``input``, ``model``
and ``use_new_shared_trial``. Where naikit differs from ``novelai-api`` 0.34.1 (each case has a test):

* parameters of disabled samplers are never sent (novelai-api keeps ``tail_free_sampling``, ``cfg_scale``,
  ``cfg_uc``, ``mirostat_*`` and ``math1_*`` of disabled samplers because of name mismatches);
* Erato's stop sequences, bias phrases, bans and rep-pen whitelist do not start with BOS (128000) — only the
  prompt does;
* the rep-pen whitelist is sent only when the preset asks for it, in the site's order.

naikit's own deliberate differences from the website are listed in the README.

Everything a user gives is checked before a request is built; bad values raise InputError naming the
key, the value and what is allowed.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from .._decode import MAX_DEPTH, depth_exceeds, load_json
from ..errors import InputError
from ..sampling import SAMPLER_NAMES
from .models import OA_MODELS, TEXT_MODELS, TextModel, text_model
from .modules_catalog import check_module

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "SAMPLERS",
    "SAMPLER_IDS",
    "SAMPLER_KEYS",
    "SAMPLER_MODELS",
    "PHRASE_REP_PEN",
    "PARAMS",
    "ParamSpec",
    "Preset",
    "GlobalSettings",
    "BiasGroup",
    "BanList",
    "PRESET_VERSION",
    "build_parameters",
    "build_request",
    "check_parameter",
    "official_presets",
    "default_preset_name",
    "OA_SAMPLERS",
    "OA_PARAM_FIELDS",
    "is_oa_model",
    "check_oa_parameter",
]

#: The preset file format version naikit reads and writes.
PRESET_VERSION = 3

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
PHRASE_REP_PEN: tuple[str, ...] = ("off", "very_light", "light", "medium", "aggressive", "very_aggressive")


@dataclass(frozen=True)
class ParamSpec:
    """One generation parameter: its type, allowed range, settings group and label."""

    key: str
    kind: str  # "float", "int", "bool", "str", "choice", "tokens", "sequences"
    lo: float | None = None
    hi: float | None = None
    group: str = "other"
    label: str = ""
    lo_open: bool = False
    choices: tuple[str, ...] = ()
    # slider range of the editor (the API accepts lo..hi)
    ui: tuple[float, float, float] | None = None
    help: str = ""

    def allowed(self) -> str:
        """Return a sentence describing the accepted values."""
        if self.kind == "bool":
            return "True or False"
        if self.kind == "str":
            return "a string"
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "tokens":
            return "a list of token ids (int >= 0)"
        if self.kind == "sequences":
            return "a list of token-id lists"
        noun = "an integer" if self.kind == "int" else "a number"
        if self.lo is not None and self.hi is not None:
            left = "(" if self.lo_open else "["
            return f"{noun} in {left}{_num(self.lo)}, {_num(self.hi)}]"
        if self.lo is not None:
            return f"{noun} {'>' if self.lo_open else '>='} {_num(self.lo)}"
        return noun


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _p(key: str, kind: str, lo: float | None = None, hi: float | None = None, **kw: Any) -> ParamSpec:
    return ParamSpec(key, kind, lo, hi, **kw)


_G, _S, _R, _O = "Generation options", "Samplers", "Repetition penalty", "Other"
#: Every parameter a preset or a request may carry (spec §5.2), with its type and allowed range.
PARAMS: dict[str, ParamSpec] = {
    p.key: p
    for p in (
        _p("temperature", "float", 0, 100, lo_open=True, group=_S, label="Randomness (temperature)",
           ui=(0.01, 2.5, 0.01)),
        _p("max_length", "int", 1, 2048, group=_G, label="Output length (tokens)", ui=(1, 150, 1)),
        _p("min_length", "int", 0, 2048, group=_G, label="Minimum length (tokens)", ui=(0, 150, 1)),
        _p("top_k", "int", 0, 1 << 20, group=_S, label="Top-K (0 = off)", ui=(0, 300, 1)),
        _p("top_p", "float", 0, 1, group=_S, label="Nucleus (top-p)", ui=(0, 1, 0.001)),
        _p("top_a", "float", 0, 1, group=_S, label="Top-A", ui=(0, 1, 0.001)),
        _p("typical_p", "float", 0, 1, group=_S, label="Typical-p", ui=(0, 1, 0.001)),
        _p("tail_free_sampling", "float", 0, 1, group=_S, label="Tail-free sampling", ui=(0, 1, 0.001)),
        _p("cfg_scale", "float", 0, 16, group=_S, label="CFG scale", ui=(1, 3, 0.005)),
        _p("cfg_uc", "str", group=_S, label="CFG alternative context (deprecated)"),
        _p("top_g", "int", 0, 1 << 20, group=_S, label="Top-G (0 = off)", ui=(0, 100, 1)),
        _p("mirostat_tau", "float", 0, 20, group=_S, label="Mirostat tau (0 = off)", ui=(0, 6, 0.01)),
        _p("mirostat_lr", "float", 0, 1, group=_S, label="Mirostat learning rate", ui=(0, 1, 0.01)),
        _p("math1_temp", "float", -10, 10, group=_S, label="Unified: linear", ui=(-1, 1, 0.0005)),
        _p("math1_quad", "float", -10, 10, group=_S, label="Unified: quad", ui=(0, 1, 0.0005)),
        _p("math1_quad_entropy_scale", "float", -10, 10, group=_S, label="Unified: conf",
           ui=(-1, 1, 0.0005)),
        _p("min_p", "float", 0, 1, group=_S, label="Min-p", ui=(0, 1, 0.001)),
        _p("repetition_penalty", "float", 1, 16, group=_R, label="Repetition penalty", ui=(1, 8, 0.0025)),
        _p("repetition_penalty_range", "int", 0, 1 << 16, group=_R, label="Range (tokens, 0 = all)",
           ui=(0, 8192, 16)),
        _p("repetition_penalty_slope", "float", 0, 10, group=_R, label="Slope", ui=(0, 10, 0.01)),
        _p("repetition_penalty_frequency", "float", -2, 2, group=_R, label="Frequency penalty",
           ui=(0, 1, 0.0001)),
        _p("repetition_penalty_presence", "float", -2, 2, group=_R, label="Presence penalty",
           ui=(0, 10, 0.01)),
        _p("repetition_penalty_whitelist", "tokens", group=_R, label="Whitelist (token ids)"),
        _p("repetition_penalty_default_whitelist", "bool", group=_R, label="Use the default whitelist"),
        _p("phrase_rep_pen", "choice", group=_R, label="Phrase repetition penalty", choices=PHRASE_REP_PEN),
        _p("stop_sequences", "sequences", group=_O, label="Stop sequences (token ids)"),
        _p("length_penalty", "float", -100, 100, group=_O),
        _p("diversity_penalty", "float", -100, 100, group=_O),
        _p("pad_token_id", "int", 0, 1 << 32, group=_O),
        _p("bos_token_id", "int", 0, 1 << 32, group=_O),
        _p("eos_token_id", "int", 0, 1 << 32, group=_O),
        _p("max_time", "int", 0, 1 << 20, group=_O),
        _p("no_repeat_ngram_size", "int", 0, 1 << 10, group=_O),
        _p("encoder_no_repeat_ngram_size", "int", 0, 1 << 10, group=_O),
        _p("num_return_sequences", "int", 1, 16, group=_O),
        _p("get_hidden_states", "bool", group=_O),
    )
}  # fmt: skip
# Request-only parameters the high level builds (GlobalSettings and friends), accepted as overrides.
_REQUEST_PARAMS: dict[str, ParamSpec] = {
    p.key: p
    for p in (
        _p("num_logprobs", "int", -1, 30),
        _p("generate_until_sentence", "bool"),
        _p("return_full_text", "bool"),
        _p("use_string", "bool"),
        _p("use_cache", "bool"),
        _p("bracket_ban", "bool"),
        _p("bad_words_ids", "sequences"),
    )
}
_FILE_ONLY = ("textGenerationSettingsVersion",)
# The "Unified" cubic term exists only in the GLM request (``unified_cubic``); not a native parameter.
_OA_EXTRA: dict[str, ParamSpec] = {
    "math2_cubic": _p("math2_cubic", "float", -10, 10, group=_S, label="Unified: cubic")
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
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not spec.lo <= value <= spec.hi:  # type: ignore[operator]
            raise InputError(where or key, value, spec.allowed())
        return value
    if key == "max_length":
        from .models import text_model as _tm

        hi = _tm(model).max_output
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
            raise InputError(
                where or key, value, f"an integer in [1, {hi}] (the website's range for {model})"
            )
        return value
    return check_parameter(key, value, where)


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


def check_parameter(key: str, value: Any, where: str | None = None) -> Any:
    """Return ``value`` (ints kept, integral floats turned into ints for int keys) if ``key`` accepts it.

    Raises InputError naming ``where`` (default: the key), the value and what is allowed; an unknown key
    lists the known ones.
    """
    name = where or key
    spec = PARAMS.get(key) or _REQUEST_PARAMS.get(key)
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
        if not isinstance(value, (list, tuple)) or not all(_is_token(t) for t in value):
            raise InputError(name, value, spec.allowed())
        return list(value)
    if kind == "sequences":
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(s, (list, tuple)) and s and all(_is_token(t) for t in s) for s in value
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


def _is_token(t: Any) -> bool:
    return isinstance(t, int) and not isinstance(t, bool) and t >= 0


def _folder(model: TextModel) -> str:
    return "presets_" + model.value.replace("-", "_")


@cache
def _official_files(model_value: str) -> tuple[tuple[str, str], ...]:
    """Return ((name, raw text), ...) of one model's shipped presets, sorted by name."""
    root = resources.files("naikit").joinpath("data", "presets", _folder(text_model(model_value)))
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
    m = text_model(model)
    root = resources.files("naikit").joinpath("data", "presets", _folder(m), "default.txt")
    if root.is_file():
        return root.read_text(encoding="utf-8").splitlines()[0]
    return _DEFAULT_FALLBACK[m.value]


def official_presets(model: str | TextModel | None = None) -> list[Preset]:
    """Return copies of the official presets of ``model`` (every text model's when None), by name."""
    models = [text_model(model)] if model is not None else [*TEXT_MODELS, *OA_MODELS]
    return [Preset.from_json(text) for m in models for _, text in _official_files(m.value)]


_Observer = Callable[[str, Any], None]


class Preset:
    """A NovelAI text preset: name, model, parameters and the sampler order with enabled flags.

    Read with :meth:`load` / :meth:`from_json` / :meth:`official`, write with :meth:`save` /
    :meth:`to_json`. Parameters read and write as items or attributes (``p["top_p"]``, ``p.top_p = 0.9``);
    every assignment is checked (InputError on a bad value). :meth:`observe` registers a callback called
    after each change (the preset editor widget uses it to stay in sync).
    """

    __slots__ = ("_data", "_source", "_snapshot", "_observers")

    def __init__(self, data: dict[str, Any] | None = None, *, _source: str | None = None):
        object.__setattr__(self, "_observers", [])
        if data is not None and not isinstance(data, dict):
            raise InputError(
                "preset", data, "a dict with presetVersion, name, model and parameters (or None)"
            )
        data = _validate_file(copy.deepcopy(data) if data is not None else _blank("Untitled", "kayra-v1"))
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_source", _source)
        object.__setattr__(self, "_snapshot", _dump(data) if _source is not None else None)

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def new(cls, model: str | TextModel = "kayra-v1", name: str = "Untitled", **params: Any) -> Preset:
        """Return a fresh preset for ``model``: neutral values, every sampler of the model in id order.

        Only temperature is enabled; ``params`` set values (and do not enable samplers).
        """
        p = cls(_blank(name, text_model(model).value))
        p.update(params)
        return p

    @classmethod
    def from_json(cls, data: str | bytes | dict[str, Any]) -> Preset:
        """Return the preset in ``data`` (the text of a ``.preset`` file, or its parsed dict).

        Raises InputError naming the key when the file has a wrong type, an unknown sampler, or a
        ``presetVersion`` newer than naikit knows.
        """
        source = None
        if isinstance(data, (bytes, bytearray)):
            try:
                data = bytes(data).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError("preset", data, "UTF-8 text of a .preset file", hint=str(exc)) from None
        if isinstance(data, str):
            source = text = data
            allowed = "the JSON text of a .preset file"
            data = load_json(text, lambda reason: InputError("preset", text, allowed, hint=reason))
        elif isinstance(data, dict) and depth_exceeds(data):
            raise InputError("preset", data, f"a JSON object nesting at most {MAX_DEPTH} levels")
        if not isinstance(data, dict):
            raise InputError("preset", data, "a JSON object with presetVersion, name, model and parameters")
        return cls(data, _source=source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Preset:
        """Return the preset stored in the ``.preset`` file at ``path``.

        Raises InputError when ``path`` is not a path, the file cannot be read, or it is not a preset.
        """
        from .._validate import check_path

        check_path(path)  # an int would open (and later close) a file descriptor
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as exc:
            raise InputError("path", str(path), "a readable .preset file", hint=str(exc)) from None
        return cls.from_json(raw)

    @classmethod
    def official(cls, model: str | TextModel, name: str | None = None) -> Preset:
        """Return a copy of the official preset ``name`` of ``model`` (its default when None).

        Raises InputError listing the model's presets when there is no such name.
        """
        m = text_model(model)
        files = dict(_official_files(m.value))
        name = default_preset_name(m) if name is None else name
        if name not in files:
            lower = {k.lower(): k for k in files}
            if isinstance(name, str) and name.lower() in lower:
                name = lower[name.lower()]
            else:
                raise InputError("name", name, f"one of {m.name}'s presets: " + ", ".join(files))
        return cls.from_json(files[name])

    @staticmethod
    def official_names(model: str | TextModel) -> list[str]:
        """Return the names of ``model``'s official presets, sorted."""
        return [n for n, _ in _official_files(text_model(model).value)]

    def copy(self, name: str | None = None) -> Preset:
        """Return an independent copy (renamed when ``name`` is given); observers are not copied."""
        p = Preset(self._data)
        if name is not None:
            p.name = name
        return p

    def assign(self, other: Preset) -> Preset:
        """Make this preset a copy of ``other`` (name, model, parameters, order) in place, keeping this
        object and its observers (an editor bound to it stays bound); return self."""
        if not isinstance(other, Preset):
            raise InputError("other", other, "a Preset")
        object.__setattr__(self, "_data", copy.deepcopy(other._data))
        object.__setattr__(self, "_source", other._source)
        object.__setattr__(self, "_snapshot", other._snapshot)
        self._changed("preset", self)
        return self

    # -- identity ----------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Return the preset's name."""
        return self._data["name"]

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str):
            raise InputError("name", value, "a string")
        self._data["name"] = value
        self._changed("name", value)

    @property
    def model(self) -> str:
        """Return the API value of the model this preset is for (``kayra-v1``...)."""
        return _model_of(self._data["model"]).value

    @property
    def text_model(self) -> TextModel:
        """Return the TextModel record of this preset's model."""
        return _model_of(self._data["model"])

    @property
    def id(self) -> str:
        """Return the preset's id (a UUID string, may be empty for some official presets)."""
        return self._data.get("id", "")

    @property
    def parameters(self) -> dict[str, Any]:
        """Return a copy of the stored parameters (as in the file; ``order`` as a list of dicts)."""
        return copy.deepcopy(self._data["parameters"])

    # -- parameters --------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        if key not in PARAMS and key not in _FILE_ONLY and key not in _OA_EXTRA:
            raise KeyError(key)
        return copy.deepcopy(self._data["parameters"].get(key))

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "order":
            self.set_order(value)
            return
        if is_oa_model(self.model):
            value = check_oa_parameter(key, value, self.model)
        else:
            value = check_parameter(key, value)
        params = self._data["parameters"]
        if key == "min_length" and value > params.get("max_length", 2048):
            raise InputError("min_length", value, f"at most max_length ({params.get('max_length')})")
        if key == "max_length" and value < params.get("min_length", 0):
            raise InputError("max_length", value, f"at least min_length ({params.get('min_length')})")
        params[key] = value
        self._changed(key, value)

    def __delitem__(self, key: str) -> None:
        del self._data["parameters"][key]
        self._changed(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._data["parameters"] and key != "order"

    def __getattr__(self, key: str) -> Any:
        if key in PARAMS or key in _OA_EXTRA:
            return self._data["parameters"].get(key)
        raise AttributeError(f"'Preset' object has no attribute {key!r}")

    def __setattr__(self, key: str, value: Any) -> None:
        if key in PARAMS or key in _OA_EXTRA or key == "order":
            self[key] = value
        elif key == "name":
            Preset.name.fset(self, value)  # type: ignore[attr-defined]
        else:
            raise AttributeError(f"cannot set {key!r} on a Preset (not a parameter)")

    def get(self, key: str, default: Any = None) -> Any:
        """Return the parameter ``key`` or ``default`` when the preset does not set it."""
        if not isinstance(key, str):
            raise InputError("key", key, "a parameter name such as 'temperature'")
        v = self._data["parameters"].get(key, default)
        return copy.deepcopy(v)

    def update(self, values: dict[str, Any] | None = None, **params: Any) -> Preset:
        """Set several parameters (checked together before any is applied); return self."""
        if values is not None and not isinstance(values, dict):
            raise InputError("values", values, "a dict of parameter name -> value (or None)")
        merged = {**(values or {}), **params}
        for k, v in merged.items():
            if k != "order":
                if is_oa_model(self.model):
                    check_oa_parameter(k, v, self.model)
                else:
                    check_parameter(k, v)
        for k, v in merged.items():
            self[k] = v
        return self

    def settings(self) -> dict[str, Any]:
        """Return every parameter except ``order`` as a plain dict (file keys included)."""
        return {k: copy.deepcopy(v) for k, v in self._data["parameters"].items() if k != "order"}

    # -- samplers ----------------------------------------------------------------------------------
    @property
    def order(self) -> list[tuple[str, bool]]:
        """Return the sampler order as ``[(name, enabled), ...]`` (a copy)."""
        return [(o["id"], o["enabled"]) for o in self._data["parameters"].get("order", [])]

    @property
    def enabled_samplers(self) -> list[str]:
        """Return the names of the enabled samplers, in application order."""
        return [n for n, on in self.order if on]

    def set_order(self, order: Sequence[str | tuple[str, bool] | dict[str, Any]]) -> Preset:
        """Replace the sampler order; items are names (enabled), ``(name, enabled)`` or ``{id, enabled}``.

        Raises InputError for an unknown sampler or a duplicate. Returns self.
        """
        if isinstance(order, (str, bytes)) or not isinstance(order, Sequence):
            raise InputError("order", order, "a list of sampler names or (name, enabled) pairs")
        items = _order_items(order, "order")
        _check_oa_order(items, self._data["model"], "order")
        self._data["parameters"]["order"] = items
        self._changed("order", self.order)
        return self

    def enable(self, sampler: str, enabled: bool = True) -> Preset:
        """Enable (or disable) ``sampler``, appending it to the order if absent; return self."""
        _check_sampler(sampler, "sampler")
        if not isinstance(enabled, bool):
            raise InputError("enabled", enabled, "True or False")
        if enabled:
            _check_oa_order([{"id": sampler, "enabled": True}], self._data["model"], "sampler")
        order = self._data["parameters"].setdefault("order", [])
        for o in order:
            if o["id"] == sampler:
                o["enabled"] = enabled
                break
        else:
            order.append({"id": sampler, "enabled": enabled})
        self._changed("order", self.order)
        return self

    def disable(self, sampler: str) -> Preset:
        """Disable ``sampler``; return self."""
        return self.enable(sampler, False)

    def move(self, sampler: str, index: int) -> Preset:
        """Move ``sampler`` to position ``index`` of the order (negative counts from the end); return self."""
        _check_sampler(sampler, "sampler")
        order = self._data["parameters"].setdefault("order", [])
        pos = next((i for i, o in enumerate(order) if o["id"] == sampler), None)
        if pos is None:
            raise InputError(
                "sampler", sampler, "a sampler in this preset's order: " + ", ".join(o["id"] for o in order)
            )
        if not isinstance(index, int) or isinstance(index, bool) or not -len(order) <= index < len(order):
            raise InputError("index", index, f"an int from {-len(order)} to {len(order) - 1}")
        item = order.pop(pos)
        order.insert(index % (len(order) + 1) if index >= 0 else len(order) + 1 + index, item)
        self._changed("order", self.order)
        return self

    def is_enabled(self, sampler: str) -> bool:
        """Return True when ``sampler`` is in the order and enabled."""
        return sampler in self.enabled_samplers

    # -- observers ---------------------------------------------------------------------------------
    def observe(self, callback: _Observer) -> Callable[[], None]:
        """Call ``callback(key, value)`` after every change; return a function that stops it."""
        self._observers.append(callback)

        def unobserve() -> None:
            if callback in self._observers:
                self._observers.remove(callback)

        return unobserve

    def _changed(self, key: str, value: Any) -> None:
        for cb in list(self._observers):
            cb(key, value)

    # -- files -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return the ``.preset`` JSON object (a deep copy)."""
        return copy.deepcopy(self._data)

    def to_json(self) -> str:
        """Return the ``.preset`` file text: NovelAI's layout (2-space JSON, trailing newline).

        A preset read from a file and not changed since gives back that file's exact text.
        """
        text = _dump(self._data)
        if self._source is not None and text == self._snapshot:
            return self._source
        return text

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = True) -> str:
        """Write the ``.preset`` file at ``path`` atomically (never half a file); return the path.

        ``overwrite=False`` refuses to replace an existing file.
        """
        path = os.fspath(path)
        if not overwrite and os.path.exists(path):
            raise InputError("path", path, "a path that does not exist yet (or overwrite=True)")
        text = self.to_json()
        tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return path

    # -- API parameters ----------------------------------------------------------------------------
    def to_parameters(self, model: str | TextModel | None = None) -> dict[str, Any]:
        """Return this preset's part of the request ``parameters``, as NovelAI expects them.

        Only enabled samplers go in ``order`` (as ids), parameters of disabled samplers are not sent,
        ``repetition_penalty_range`` and ``repetition_penalty_slope`` are dropped when 0, file-only keys
        are dropped. The Sigurd/Euterpe rep-pen rescale and the whitelist are applied by
        :func:`build_parameters`. Raises InputError if an enabled sampler does not exist for the model.
        """
        m = text_model(model) if model is not None else self.text_model
        if m.api == "oa":
            raise InputError(
                "model",
                m.value,
                "a native text model (Kayra, Erato...)",
                hint="GLM presets build their request with naikit.novelai.oa.oa_parameters.",
            )
        params = copy.deepcopy(self._data["parameters"])
        params.pop("textGenerationSettingsVersion", None)
        params.pop("repetition_penalty_default_whitelist", None)
        for k in [k for k in params if k not in PARAMS and k != "order"]:
            params.pop(k)  # unknown keys from newer files stay in the file, not in the request
        enabled = self.enabled_samplers
        for name in enabled:
            only = SAMPLER_MODELS.get(name)
            if only and m.value not in only:
                raise InputError(
                    "order",
                    name,
                    f"samplers {m.name} has: "
                    + ", ".join(s for s in SAMPLERS if m.value in SAMPLER_MODELS.get(s, (m.value,))),
                    hint=f"Disable {name} for {m.name}.",
                )
        for name in SAMPLERS:
            if name not in enabled:
                for key in SAMPLER_KEYS[name]:
                    params.pop(key, None)
        if "order" in params:
            params["order"] = [SAMPLER_IDS[n] for n in enabled]
        if params.get("repetition_penalty_range") == 0:
            del params["repetition_penalty_range"]
        if params.get("repetition_penalty_slope") == 0:
            del params["repetition_penalty_slope"]
        return params

    # -- display -----------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """Return a DataFrame of the parameters: key, value, group, sampler, enabled, allowed values.

        A GLM-family preset lists only the parameters its request carries (the website's file keeps the
        native keys too; they are never sent).
        """
        import pandas as pd

        owner = {k: s for s, keys in SAMPLER_KEYS.items() for k in keys}
        enabled = set(self.enabled_samplers)
        oa = is_oa_model(self.model)
        rows = []
        for k, v in self._data["parameters"].items():
            if k == "order" or (oa and k not in OA_PARAM_FIELDS):
                continue
            spec = PARAMS.get(k) or _OA_EXTRA.get(k)
            s = owner.get(k)
            rows.append(
                {
                    "key": k,
                    "value": v,
                    "group": spec.group if spec else "file",
                    "sampler": s or "",
                    "enabled": (s in enabled) if s else True,
                    "allowed": spec.allowed() if spec else "",
                }
            )
        return pd.DataFrame(rows, columns=["key", "value", "group", "sampler", "enabled", "allowed"])

    def __repr__(self) -> str:
        order = " > ".join(self.enabled_samplers) or "none"
        return f"Preset({self.name!r}, model={self.model!r}, samplers: {order})"

    def _repr_html_(self) -> str:
        from html import escape

        owner = {k: s for s, keys in SAMPLER_KEYS.items() for k in keys}
        enabled = set(self.enabled_samplers)
        rows = []
        for k, v in self._data["parameters"].items():
            if k == "order":
                continue
            s = owner.get(k)
            off = s is not None and s not in enabled
            style = ' style="color:#999"' if off else ""
            note = " (sampler off)" if off else ""
            rows.append(f"<tr{style}><td>{escape(k)}</td><td>{escape(json.dumps(v))}{note}</td></tr>")
        chain = " → ".join(
            f"<b>{escape(n)}</b>"
            if on
            else f'<span style="color:#999;text-decoration:line-through">{escape(n)}</span>'
            for n, on in self.order
        )
        return (
            f"<div><div><b>{escape(self.name)}</b> · {escape(self.text_model.name)} "
            f"({escape(self.model)})</div>"
            f"<div>order: {chain}</div><table>{''.join(rows)}</table></div>"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Preset) and _dump(self._data) == _dump(other._data)

    __hash__ = None  # type: ignore[assignment]


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
        return {
            "presetVersion": PRESET_VERSION,
            "name": name,
            "id": str(uuid.uuid4()),
            "remoteId": "",
            "parameters": oa,
            "model": model,
        }
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
    return {
        "presetVersion": PRESET_VERSION,
        "name": name,
        "id": str(uuid.uuid4()),
        "remoteId": "",
        "parameters": params,
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
        if not isinstance(on, bool):
            raise InputError(f"{where}[{i}].enabled", on, "True or False")
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
                if not isinstance(value, list):
                    raise InputError(where, value, '[{"id": <sampler>, "enabled": <bool>}, ...]')
                params["order"] = _order_items(value, where)
                _check_oa_order(params["order"], model.value, where)
            elif key in OA_PARAM_FIELDS:
                check_oa_parameter(key, value, model.value, where)
        return data
    for key, value in params.items():
        where = f"parameters.{key}"
        if key == "order":
            if not isinstance(value, list):
                raise InputError(where, value, '[{"id": <sampler>, "enabled": <bool>}, ...]')
            params["order"] = _order_items(value, where)
        elif key == "textGenerationSettingsVersion":
            if isinstance(value, bool) or not isinstance(value, int):
                raise InputError(where, value, "an integer")
        elif key in PARAMS:
            check_parameter(key, value, where)
        elif key in ("bad_words_ids", "logit_bias_exp", "logit_bias_groups"):
            pass  # kept in the file; send bans and biases as BanList / BiasGroup
        # other unknown keys (a newer NovelAI's) are kept in the file and not sent
    return data


# --------------------------------------------------------------------------------------------------
# Global settings, bias groups, bans, stop sequences


@lru_cache(maxsize=1)
def _global_data() -> dict[str, Any]:
    raw = resources.files("naikit").joinpath("data", "presets", "global_settings.json").read_text("utf-8")
    return json.loads(raw)


def _tokenizer(model: TextModel) -> str:
    return model.tokenizer


# How novelai.net prepares a text request (its January 2026 bundle), per model. The site groups models by
# tokenizer family for its token tables: Genji-JP has its own, Krake the Pile's, the Inline model none.
_SITE_FAMILY: dict[str, str] = {
    "6B-v4": "gpt2",
    "euterpe-v2": "gpt2",
    "genji-python-6b": "gpt2",
    "hypebot": "gpt2",
    "genji-jp-6b-v2": "genji",
    "krake-v2": "pile",
    "infillmodel": "inline",
    "clio-v1": "nerdstash",
    "kayra-v1": "nerdstash",
    "llama-3-erato-v1": "llama3",
}
#: Models whose repetition penalty the site rescales to the old scale (1 + (p - 1) * 0.525 / 7).
_RESCALED = frozenset({"6B-v4", "euterpe-v2", "genji-python-6b", "genji-jp-6b-v2"})
#: Models that take a module ``prefix``; every other model is sent "vanilla".
_PREFIX_MODELS = frozenset({"6B-v4", "euterpe-v2", "krake-v2", "clio-v1", "kayra-v1"})
#: Models whose preset may turn the default rep-pen whitelist on.
_WHITELIST_MODELS = frozenset({"clio-v1", "kayra-v1", "llama-3-erato-v1"})
#: Models the site sends phrase biases (and its default bias) for.
_NO_BIAS_MODELS = frozenset({"infillmodel"})
#: Samplers the site sends per model; the parameters of the others are dropped. CFG and Top-G are never
#: sent (the site's capability checks are off for them).
_SITE_SAMPLERS: dict[str, frozenset[str]] = {
    "cfg": frozenset(),
    "top_g": frozenset(),
    "mirostat": frozenset({"clio-v1", "kayra-v1", "llama-3-erato-v1"}),
    "math1": frozenset({"kayra-v1", "llama-3-erato-v1"}),
    "min_p": frozenset({"kayra-v1", "llama-3-erato-v1"}),
}
_JAPANESE = re.compile("[\u3000-\u303f\u3040-\u309f\u30a0-\u30ff\uff00-\uff9f\u4e00-\u9faf\u3400-\u4dbf]")


def _mostly_japanese(text: str) -> bool:
    """Return whether more than 30% of ``text``'s characters are Japanese (the site's test)."""
    n = len(_JAPANESE.findall(text))
    return bool(n) and n / len(text) > 0.3


@dataclass
class GlobalSettings:
    """Account-wide generation settings that NovelAI's site adds to every request (spec §5.4).

    Defaults are the website's: ``generate_until_sentence`` ("continue to sentence end") on,
    ``ban_brackets`` on, ``bias_dinkus_asterism`` ("default bias": slightly lowers "***" and "⁂") on,
    the rep-pen whitelist only when the preset asks for it. ``rep_pen_whitelist=True`` turns the
    whitelist on for every preset of a model that has one. ``num_logprobs`` asks for that many
    alternatives per token (-1: none); naikit asks for 10 by default where the site asks for none,
    because its comparisons and displays use them. ``ban_ambiguous_genji_tokens`` keeps Genji-JP's
    bracket list (the site sends it with the other bracket bans).
    """

    generate_until_sentence: bool = True
    num_logprobs: int = 10
    ban_brackets: bool = True
    bias_dinkus_asterism: bool = True
    ban_ambiguous_genji_tokens: bool = True
    rep_pen_whitelist: bool = False

    def __post_init__(self) -> None:
        for name in (
            "generate_until_sentence",
            "ban_brackets",
            "bias_dinkus_asterism",
            "ban_ambiguous_genji_tokens",
            "rep_pen_whitelist",
        ):
            if not isinstance(getattr(self, name), bool):
                raise InputError(name, getattr(self, name), "True or False")
        check_parameter("num_logprobs", self.num_logprobs)

    def bracket_bans(self, model: str | TextModel, context: str = "") -> list[list[int]]:
        """Return the bracket ban sequences the site sends for ``model`` (more for a Japanese ``context``)."""
        fam = _SITE_FAMILY.get(text_model(model).value, "")
        data = _global_data()
        if fam == "genji" and not self.ban_ambiguous_genji_tokens:
            return []
        out = [list(x) for x in data["bracket_bans"].get(fam, [])]
        if context and _mostly_japanese(context):
            out += [list(x) for x in data["japanese_bracket_bans"].get(fam, [])]
        return out

    def always_bans(self, model: str | TextModel) -> list[list[int]]:
        """Return the bans the site sends for ``model`` whatever the settings (Erato: one token)."""
        fam = _SITE_FAMILY.get(text_model(model).value, "")
        return [list(x) for x in _global_data()["always_bans"].get(fam, [])]

    def whitelist(self, model: str | TextModel) -> list[int]:
        """Return the default rep-pen whitelist of ``model`` as the site sends it.

        The site encodes each of its strings (no BOS) and keeps those that are one token, in its order.
        Models without a whitelist give [].
        """
        from ..tokenizers import encode

        m = text_model(model)
        if m.value not in _WHITELIST_MODELS:
            return []
        ids: list[int] = []
        for word in _global_data()["rep_pen_whitelist_strings"][_tokenizer(m)]:
            toks = encode(word, m.value)
            if len(toks) == 1:
                ids.append(toks[0])
        return ids

    def default_biases(self, model: str | TextModel) -> list[dict[str, Any]]:
        """Return the site's default ("***", "⁂") bias entries for ``model`` ([] when switched off)."""
        m = text_model(model)
        found = _global_data()["default_bias"].get(_SITE_FAMILY.get(m.value, ""))
        if not self.bias_dinkus_asterism or found is None or m.value in _NO_BIAS_MODELS:
            return []
        return [
            {
                "sequence": list(seq),
                "bias": found["bias"],
                "ensure_sequence_finish": False,
                "generate_once": False,
            }
            for seq in found["sequences"]
        ]

    def to_parameters(self, model: str | TextModel, *, default_whitelist: bool = False) -> dict[str, Any]:
        """Return the parameters these settings add for ``model`` (before bans and biases of the call).

        ``default_whitelist`` (a preset's ``repetition_penalty_default_whitelist``) turns the whitelist
        on as ``rep_pen_whitelist`` does.
        """
        m = text_model(model)
        out: dict[str, Any] = {
            "generate_until_sentence": self.generate_until_sentence,
            "use_cache": False,
            "use_string": False,
            "return_full_text": False,
            "bracket_ban": self.ban_brackets,
        }
        if self.num_logprobs != -1:
            out["num_logprobs"] = self.num_logprobs
        bans = self.always_bans(m) + (self.bracket_bans(m) if self.ban_brackets else [])
        if bans:
            out["bad_words_ids"] = bans
        biases = self.default_biases(m)
        if biases:
            out["logit_bias_exp"] = biases
        if (self.rep_pen_whitelist or default_whitelist) and m.value in _WHITELIST_MODELS:
            out["repetition_penalty_whitelist"] = self.whitelist(m)
        return out


def _sequence(value: Any, model: TextModel, where: str) -> list[int]:
    """Return the token ids of a phrase (str, tokenized without BOS) or a token list (checked)."""
    from ..tokenizers import encode

    if isinstance(value, str):
        if not value:
            raise InputError(where, value, "a non-empty string or a list of token ids")
        return encode(value, model.value)
    if isinstance(value, dict):
        if "sequence" in value:
            return _sequence(value["sequence"], model, where)
        if "sequences" in value and value["sequences"]:
            return _sequence(value["sequences"][0], model, where)
    if isinstance(value, (list, tuple)) and value and all(_is_token(t) for t in value):
        return list(value)
    raise InputError(where, value, "a non-empty string or a non-empty list of token ids (int >= 0)")


def _check_phrase(value: Any, where: str) -> Any:
    ok = (
        (isinstance(value, str) and value)
        or (isinstance(value, (list, tuple)) and value and all(_is_token(t) for t in value))
        or (isinstance(value, dict) and ("sequence" in value or "sequences" in value))
    )
    if not ok:
        raise InputError(where, value, "a non-empty string or a non-empty list of token ids (int >= 0)")
    return list(value) if isinstance(value, tuple) else value


@dataclass
class BiasGroup:
    """Phrases whose probability is raised (bias > 0) or lowered (< 0), as NovelAI's logit_bias_exp.

    Phrases are strings (tokenized for the model at send time, no BOS) or token-id lists.
    ``ensure_sequence_finish`` forces the rest of a phrase once its first token was generated;
    ``generate_once`` stops biasing a phrase after it appeared once.
    """

    bias: float
    phrases: list[str | list[int]] = field(default_factory=list)
    ensure_sequence_finish: bool = False
    generate_once: bool = False
    enabled: bool = True

    def __init__(
        self,
        bias: float,
        *phrases: str | Sequence[int],
        ensure_sequence_finish: bool = False,
        generate_once: bool = False,
        enabled: bool = True,
    ):
        if isinstance(bias, bool) or not isinstance(bias, (int, float)) or not math.isfinite(bias):
            raise InputError("bias", bias, "a finite number (negative lowers, positive raises)")
        for name, v in (
            ("ensure_sequence_finish", ensure_sequence_finish),
            ("generate_once", generate_once),
            ("enabled", enabled),
        ):
            if not isinstance(v, bool):
                raise InputError(name, v, "True or False")
        self.bias = bias
        self.phrases = [_check_phrase(p, f"phrases[{i}]") for i, p in enumerate(phrases)]
        self.ensure_sequence_finish = ensure_sequence_finish
        self.generate_once = generate_once
        self.enabled = enabled

    def add(self, *phrases: str | Sequence[int]) -> BiasGroup:
        """Add phrases (strings or token lists); return self."""
        n = len(self.phrases)
        self.phrases += [_check_phrase(p, f"phrases[{n + i}]") for i, p in enumerate(phrases)]
        return self

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> BiasGroup:
        """Return a group from NovelAI's stored form (``bias``, ``phrases``, camelCase or snake_case)."""
        if not isinstance(data, dict) or "bias" not in data:
            raise InputError("bias_group", data, "a dict with bias, phrases and flags")
        return cls(
            data["bias"],
            *data.get("phrases", []),
            ensure_sequence_finish=data.get(
                "ensureSequenceFinish", data.get("ensure_sequence_finish", False)
            ),
            generate_once=data.get("generateOnce", data.get("generate_once", False)),
            enabled=data.get("enabled", True),
        )

    def entries(self, model: str | TextModel) -> list[dict[str, Any]]:
        """Return the ``logit_bias_exp`` entries for ``model`` (empty when the group is disabled)."""
        m = text_model(model)
        if not self.enabled:
            return []
        return [
            {
                "bias": self.bias,
                "ensure_sequence_finish": self.ensure_sequence_finish,
                "generate_once": self.generate_once,
                "sequence": _sequence(p, m, f"phrases[{i}]"),
            }
            for i, p in enumerate(self.phrases)
        ]


class BanList:
    """Phrases that may never be generated (NovelAI's ``bad_words_ids``): strings or token-id lists."""

    def __init__(self, *sequences: str | Sequence[int], enabled: bool = True):
        if not isinstance(enabled, bool):
            raise InputError("enabled", enabled, "True or False")
        self.enabled = enabled
        self.sequences: list[Any] = [_check_phrase(s, f"sequences[{i}]") for i, s in enumerate(sequences)]

    def add(self, *sequences: str | Sequence[int]) -> BanList:
        """Add phrases; return self."""
        n = len(self.sequences)
        self.sequences += [_check_phrase(s, f"sequences[{n + i}]") for i, s in enumerate(sequences)]
        return self

    def __iter__(self) -> Iterator[Any]:
        return iter(self.sequences)

    def __len__(self) -> int:
        return len(self.sequences)

    def __repr__(self) -> str:
        off = ", enabled=False" if not self.enabled else ""
        return f"BanList({', '.join(repr(s) for s in self.sequences)}{off})"

    def entries(self, model: str | TextModel) -> list[list[int]]:
        """Return the token sequences for ``model`` (empty when disabled)."""
        m = text_model(model)
        if not self.enabled:
            return []
        return [_sequence(s, m, f"sequences[{i}]") for i, s in enumerate(self.sequences)]


def _as_list(value: Any, cls: type, where: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, cls):
        return [value]
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            if not isinstance(v, cls):
                raise InputError(f"{where}[{i}]", v, f"a {cls.__name__}")
        return list(value)
    raise InputError(where, value, f"a {cls.__name__} or a list of them")


def _merge_biases(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return ``entries`` with equal sequences merged as the site does: mean bias, flags or-ed."""
    merged: list[dict[str, Any]] = []
    counts: list[int] = []
    for e in entries:
        for k, m in enumerate(merged):
            if m["sequence"] == e["sequence"]:
                m["bias"] += e["bias"]
                m["ensure_sequence_finish"] = m["ensure_sequence_finish"] or e["ensure_sequence_finish"]
                m["generate_once"] = m["generate_once"] or e["generate_once"]
                counts[k] += 1
                break
        else:
            merged.append(dict(e))
            counts.append(1)
    for m, n in zip(merged, counts, strict=True):
        if n > 1:
            m["bias"] = m["bias"] / n
    return merged


def build_parameters(
    preset: Preset,
    model: str | TextModel | None = None,
    *,
    global_settings: GlobalSettings | None = None,
    bans: BanList | Sequence[BanList] | None = None,
    biases: BiasGroup | Sequence[BiasGroup] | None = None,
    stop_sequences: Sequence[str | Sequence[int]] | None = None,
    module: str | None = None,
    use_string: bool = False,
    context: str = "",
    **overrides: Any,
) -> dict[str, Any]:
    """Return the request ``parameters`` for ``preset`` on ``model`` (the preset's model when None).

    Built as novelai.net builds them: the preset's parameters (disabled samplers and the samplers the
    site does not send for the model dropped), then ``overrides`` (any parameter, checked); bans in the
    site's order (always-on, yours, bracket bans, Erato's extra bracket bans for a mostly Japanese
    ``context``); biases (yours, equal sequences merged, then the default "***"/"⁂" bias; negated for
    Genji-JP); the rep-pen whitelist when the preset asks for it; the old rep-pen scale for Sigurd,
    Euterpe and Genji; ``prefix`` "vanilla" for models without modules. Raises InputError for a preset
    of another model, a module the model lacks, or any bad value.
    """
    if not isinstance(preset, Preset):
        raise InputError("preset", preset, "a Preset (Preset.official(model, name) or Preset.load(path))")
    m = text_model(model) if model is not None else preset.text_model
    if preset.model != m.value:
        raise InputError(
            "preset", preset.name, f"a preset for {m.value}", hint=f"This preset is for {preset.model}."
        )
    gs = global_settings if global_settings is not None else GlobalSettings()
    if not isinstance(gs, GlobalSettings):
        raise InputError("global_settings", gs, "a GlobalSettings")
    if not isinstance(use_string, bool):
        raise InputError("use_string", use_string, "True or False")
    if not isinstance(context, str):
        raise InputError("context", context, "the prompt text (str)")
    checked = {k: check_parameter(k, v) for k, v in overrides.items() if k != "order"}
    if "order" in overrides:
        preset = preset.copy()
        preset.set_order(overrides.pop("order"))
    prefix = check_module(module, m)

    params = preset.to_parameters(m)
    params.pop("eos_token_id", None)  # the site never sends a preset's eos_token_id (Inline's preset has one)
    default_wl = bool(preset.get("repetition_penalty_default_whitelist", False))
    ids = {n: SAMPLER_IDS[n] for n in SAMPLERS}
    for name, models in _SITE_SAMPLERS.items():
        if m.value not in models:
            for key in SAMPLER_KEYS[name]:
                params.pop(key, None)
            if "order" in params:
                params["order"] = [i for i in params["order"] if i != ids[name]]
    global_params = gs.to_parameters(m, default_whitelist=default_wl)
    site_bans = global_params.pop("bad_words_ids", [])
    default_bias = global_params.pop("logit_bias_exp", [])
    params.update(global_params)
    params.update(checked)  # the call's own values last, as the site's parameter overrides
    if use_string:
        params["use_string"] = True
    if m.value in _RESCALED and "repetition_penalty" in params:
        # Sigurd, Euterpe and Genji take the penalty on the old scale: NovelAI's site rescales the value.
        params["repetition_penalty"] = 1 + 0.525 * (params["repetition_penalty"] - 1) / 7
    params["prefix"] = prefix if m.value in _PREFIX_MODELS else "vanilla"
    always = gs.always_bans(m)
    user_bans = [seq for b in _as_list(bans, BanList, "bans") for seq in b.entries(m)]
    bad = always + user_bans + site_bans[len(always) :]
    if gs.ban_brackets and context:
        bad += [s for s in gs.bracket_bans(m, context) if s not in gs.bracket_bans(m)]
    if bad:
        params["bad_words_ids"] = bad
    entries = [e for g in _as_list(biases, BiasGroup, "biases") for e in g.entries(m)]
    entries = _merge_biases(entries) if m.value not in _NO_BIAS_MODELS else []
    fam = _SITE_FAMILY.get(m.value, "")
    entries += [dict(e) for e in _global_data()["always_biases"].get(fam, [])]
    entries += [e for e in default_bias if all(x["sequence"] != e["sequence"] for x in entries)]
    if m.value == "genji-jp-6b-v2":
        for e in entries:
            e["bias"] = -e["bias"]
    if entries:
        params["logit_bias_exp"] = entries
    if stop_sequences is not None:
        if isinstance(stop_sequences, (str, bytes)) or not isinstance(stop_sequences, (list, tuple)):
            raise InputError("stop_sequences", stop_sequences, "a list of strings or token-id lists")
        stops = [_sequence(s, m, f"stop_sequences[{i}]") for i, s in enumerate(stop_sequences)]
        if stops:
            params["stop_sequences"] = stops
    # What the site leaves out when a sampler's value switches it off.
    if params.get("top_k", 0) < 0:
        del params["top_k"]
    for key in ("top_p", "tail_free_sampling"):
        if key in params and not 0 < params[key] <= 1:
            del params[key]
    lo, hi = params.get("min_length", 0), params.get("max_length", 2048)
    if lo > hi:
        raise InputError("min_length", lo, f"at most max_length ({hi})")
    return params


def build_request(
    prompt: str | Sequence[int],
    preset: Preset,
    model: str | TextModel | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Return the whole request body ``{"input", "model", "parameters"}`` for ``/ai/generate``.

    ``prompt`` is text (tokenized for the model; Erato prompts start with BOS 128000) or token ids;
    with ``use_string=True`` the text is sent as is. ``kwargs`` go to :func:`build_parameters`.
    """
    from ..tokenizers import encode, tokens_to_b64

    m = text_model(model) if model is not None else preset.text_model
    if isinstance(prompt, str):
        kwargs.setdefault("context", prompt)
    params = build_parameters(preset, m, **kwargs)
    if params.get("use_string"):
        if not isinstance(prompt, str):
            raise InputError("prompt", prompt, "text (use_string=True sends the prompt as a string)")
        data = prompt
    else:
        if isinstance(prompt, str):
            ids = encode(prompt, m.value, bos=m.tokenizer == "llama3")
        elif isinstance(prompt, (list, tuple)) and all(_is_token(t) for t in prompt):
            ids = list(prompt)
        else:
            raise InputError("prompt", prompt, "a string or a list of token ids")
        data = tokens_to_b64(ids, m.value)
    # The site marks every text request for the shared free-trial pool; the API ignores it otherwise.
    return {"input": data, "model": m.value, "use_new_shared_trial": True, "parameters": params}
