"""What the website adds to every text request besides the preset: account-wide settings
(:class:`GlobalSettings`), ban lists (:class:`BanList`) and bias groups (:class:`BiasGroup`), with the
site's per-model tables (its January 2026 bundle)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from .._validate import check_bool, check_flags, check_number, is_token_ids
from ..errors import InputError
from ._preset_params import check_parameter
from .models import TextModel, text_model


@lru_cache(maxsize=1)
def _global_data() -> dict[str, Any]:
    raw = (resources.files("naikit") / "data" / "presets" / "global_settings.json").read_text("utf-8")
    return json.loads(raw)


def _tokenizer(model: TextModel) -> str:
    return model.tokenizer


@cache  # tokenizing some 70 strings per request cost about as much as sending it
def _whitelist_ids(model_value: str) -> tuple[int, ...]:
    """Return the site's rep-pen whitelist of a model: its strings that encode to one token, in order."""
    from ..tokenizers import encode

    m = text_model(model_value)
    ids: list[int] = []
    for word in _global_data()["rep_pen_whitelist_strings"][_tokenizer(m)]:
        toks = encode(word, m.value)
        if len(toks) == 1:
            ids.append(toks[0])
    return tuple(ids)


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
        check_flags(
            generate_until_sentence=self.generate_until_sentence,
            ban_brackets=self.ban_brackets,
            bias_dinkus_asterism=self.bias_dinkus_asterism,
            ban_ambiguous_genji_tokens=self.ban_ambiguous_genji_tokens,
            rep_pen_whitelist=self.rep_pen_whitelist,
        )
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
        m = text_model(model)
        if m.value not in _WHITELIST_MODELS:
            return []
        return list(_whitelist_ids(m.value))

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
    if is_token_ids(value):
        return list(value)
    raise InputError(where, value, "a non-empty string or a non-empty list of token ids (int >= 0)")


def _check_phrase(value: Any, where: str) -> Any:
    ok = (
        (isinstance(value, str) and value)
        or is_token_ids(value)
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
        check_number(bias, "bias", allowed="a finite number (negative lowers, positive raises)")
        check_flags(
            ensure_sequence_finish=ensure_sequence_finish, generate_once=generate_once, enabled=enabled
        )
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
        check_bool(enabled, "enabled")
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
