"""Every text-generation parameter a preset or a request may carry: the sampler tables, each
parameter's type and range (:class:`ParamSpec`, :data:`PARAMS`) and the checks that refuse bad values."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .._validate import check_number, is_token_id
from ..errors import InputError
from ..sampling import SAMPLER_NAMES
from .models import TextModel, text_model

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
