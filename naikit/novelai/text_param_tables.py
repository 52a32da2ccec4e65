"""NovelAI's text-generation parameters (spec §5.2): each one's type and allowed range
(:class:`ParamSpec`), the preset settings (:data:`PARAMS`) and the request-only ones
(:data:`REQUEST_PARAMS`). Pure data: the client checks presets and requests against it and the preset editor
draws its sliders from it; the sandbox checks requests against the same ranges, in its own words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
#: Request-only parameters (not preset settings) a request may carry, with their types and ranges.
REQUEST_PARAMS: dict[str, ParamSpec] = {
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
