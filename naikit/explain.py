"""The sampler explainer: for one step of a generation, which candidates survive each sampler of the chain.

:func:`explain_step` takes either a :class:`~naikit.novelai.generation.Generation` (its logprobs give the
candidates of each step and its ``parameters`` the chain that was used) or a raw distribution (a dict of
token id -> logit, log-probability or probability) with a :class:`~naikit.novelai.presets.Preset`, runs
:func:`naikit.sampling.run_chain` on the candidates and returns a :class:`SamplerExplanation`:

* ``.to_frame()`` — one row per candidate: ``token_id``, ``piece``, ``p_given`` (the probability as
  given), ``p_start`` (what the chain starts from), one ``p_<sampler>`` column per sampler of the chain
  (the probability after it; 0 once removed), ``survived``, ``removed_by`` (the sampler that removed it,
  "" if none), ``chosen``, and for a Generation ``server_kept`` (whether the server's ``after`` value
  was non-null);
* ``.stages_frame()`` — one row per sampler: its setting, how many candidates it kept, which it removed;
* ``.chart_svg()`` — a small, pure, deterministic SVG bar chart (one row per candidate, one column per
  stage), and ``_repr_html_`` showing the chart, the stage table and the notes.

What it cannot see, it says (``.notes``). A Generation's logprobs list at most 30 candidates: the
probability they do not hold (``1 - coverage``) is stood in for by many tokens each less likely than the
last candidate, so that every candidate keeps its absolute probability. Top-k, top-p, top-a, min-p,
top-g and Mirostat then judge the candidates exactly as on the full distribution; typical-p, tail-free
and the Unified sampler's entropy term depend on the shape of the unseen tail and come out close, not
exact (the ``server_kept`` column shows where they differ). CFG needs the unconditional distribution
(``uc_logits=``), which a response does not carry; Mirostat's running threshold is replayed from the
chosen tokens of the earlier steps. Logits (no absolute scale) are taken as the whole distribution.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

from . import sampling
from .errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .novelai.generation import Generation
    from .novelai.models import TextModel
    from .novelai.presets import Preset

__all__ = ["SamplerExplanation", "explain_step", "explanation_svg", "explanation_html", "stage_setting"]

_KINDS = ("auto", "logits", "logprobs", "probs")
# most stand-in tokens for the probability the candidates do not hold
_MAX_TAIL = 20_000
# the parameters each sampler reads (as in the request), to label the stages
_SETTINGS: dict[str, tuple[str, ...]] = {
    "temperature": ("temperature",),
    "top_k": ("top_k",),
    "top_p": ("top_p",),
    "tfs": ("tail_free_sampling",),
    "top_a": ("top_a",),
    "typical_p": ("typical_p",),
    "cfg": ("cfg_scale",),
    "top_g": ("top_g",),
    "mirostat": ("mirostat_tau", "mirostat_lr"),
    "math1": ("math1_temp", "math1_quad", "math1_quad_entropy_scale"),
    "min_p": ("min_p",),
}
_NEUTRAL: dict[str, Any] = {
    "temperature": 1.0,
    "top_k": 0,
    "top_p": 1.0,
    "tail_free_sampling": 1.0,
    "top_a": 0.0,
    "typical_p": 1.0,
    "cfg_scale": 1.0,
    "top_g": 0,
    "mirostat_tau": 0.0,
    "mirostat_lr": 1.0,
    "math1_temp": 1.0,
    "math1_quad": 0.0,
    "math1_quad_entropy_scale": 0.0,
    "min_p": 0.0,
}


def stage_setting(name: str, params: Mapping[str, Any]) -> str:
    """Return a short text of the values sampler ``name`` reads from ``params`` ("0.9", "tau 4, lr 0.5")."""
    keys = _SETTINGS[sampling.sampler_name(name)]
    vals = [params.get(k, _NEUTRAL[k]) for k in keys]
    if len(keys) == 1:
        return _fmt(vals[0])
    short = {"mirostat_tau": "tau", "mirostat_lr": "lr", "math1_temp": "linear", "math1_quad": "quad",
             "math1_quad_entropy_scale": "conf"}  # fmt: skip
    return ", ".join(f"{short[k]} {_fmt(v)}" for k, v in zip(keys, vals, strict=True))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


@dataclass
class SamplerExplanation:
    """One step of the sampler chain traced candidate by candidate (see the module docstring).

    ``candidates`` are the keys the chain ran on, highest starting probability first; ``token_ids`` and
    ``pieces`` map them to token ids (an int, or a tuple for a multi-token candidate) and their text.
    ``stages`` are the sampler names in chain order and ``probs[i]`` the distribution after stage ``i``
    (``probs[0]`` is the start; probabilities are over the whole distribution). ``rest`` is the
    probability of the tokens beyond the candidates after each stage (None when the candidates are the
    whole distribution). ``server_kept`` (Generation only) maps a candidate to whether the server's
    ``after`` value was non-null.
    """

    candidates: list[int]
    token_ids: dict[int, Any]
    pieces: dict[int, str]
    given: dict[int, float]
    stages: list[str]
    settings: list[str]
    probs: list[dict[int, float]]
    chosen: int | None = None
    position: int | None = None
    model: str | None = None
    source: str = "distribution"
    coverage: float | None = None
    rest: list[float] | None = None
    server_kept: dict[int, bool] | None = None
    notes: list[str] = field(default_factory=list)

    # -- questions -----------------------------------------------------------------------------------
    @property
    def survivors(self) -> list[int]:
        """Return the candidates left after the whole chain (token ids), most likely first."""
        final = self.probs[-1]
        return [self.token_ids[c] for c in self.candidates if c in final]

    def removed_by(self, key: int) -> str:
        """Return the sampler that removed candidate ``key`` ("" when it survived the chain)."""
        for name, dist in zip(self.stages, self.probs[1:], strict=True):
            if key not in dist:
                return name
        return ""

    def kept_after(self, stage: str) -> list[int]:
        """Return the token ids left after sampler ``stage`` (``"start"`` for the candidates)."""
        if stage == "start":
            return [self.token_ids[c] for c in self.candidates]
        if stage not in self.stages:
            raise InputError("stage", stage, "'start' or a sampler of this chain: " + ", ".join(self.stages))
        dist = self.probs[1 + self.stages.index(stage)]
        return [self.token_ids[c] for c in self.candidates if c in dist]

    @property
    def agrees_with_server(self) -> bool | None:
        """Return whether every candidate survived here exactly when the server kept it (None without a
        server answer to compare with)."""
        if self.server_kept is None:
            return None
        final = self.probs[-1]
        return all((c in final) == self.server_kept.get(c, False) for c in self.candidates)

    # -- conversion ----------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """Return one row per candidate with the columns described in the module docstring."""
        import pandas as pd

        cols = ["token_id", "piece", "p_given", "p_start", *(f"p_{s}" for s in self.stages)]
        cols += ["survived", "removed_by", "chosen"]
        if self.server_kept is not None:
            cols.append("server_kept")
        final = self.probs[-1]
        rows = []
        for c in self.candidates:
            row: dict[str, Any] = {
                "token_id": self.token_ids[c],
                "piece": self.pieces[c],
                "p_given": self.given[c],
                "p_start": self.probs[0].get(c, 0.0),
            }
            for s, dist in zip(self.stages, self.probs[1:], strict=True):
                row[f"p_{s}"] = dist.get(c, 0.0)
            row["survived"] = c in final
            row["removed_by"] = self.removed_by(c)
            row["chosen"] = c == self.chosen
            if self.server_kept is not None:
                row["server_kept"] = self.server_kept.get(c, False)
            rows.append(row)
        return pd.DataFrame(rows, columns=cols)

    @property
    def frame(self) -> pd.DataFrame:
        """Return :meth:`to_frame`."""
        return self.to_frame()

    def stages_frame(self) -> pd.DataFrame:
        """Return one row per stage (``start`` first): stage, setting, kept (candidates left), removed
        (their pieces), top (the likeliest piece), top_p (its probability) and rest (the probability of
        the tokens beyond the candidates; NaN when the candidates are the whole distribution)."""
        import pandas as pd

        rows = [self._stage_row("start", "", self.probs[0], set())]
        prev = set(self.probs[0])
        for s, setting, dist in zip(self.stages, self.settings, self.probs[1:], strict=True):
            rows.append(self._stage_row(s, setting, dist, prev))
            prev = set(dist)
        for i, row in enumerate(rows):
            row["rest"] = self.rest[i] if self.rest is not None else math.nan
        return pd.DataFrame(rows, columns=["stage", "setting", "kept", "removed", "top", "top_p", "rest"])

    def _stage_row(self, name: str, setting: str, dist: dict[int, float], prev: set[int]) -> dict[str, Any]:
        top = max(dist, key=lambda c: (dist[c], -self.candidates.index(c))) if dist else None
        return {
            "stage": name,
            "setting": setting,
            "kept": len(dist),
            "removed": [self.pieces[c] for c in self.candidates if c in prev and c not in dist],
            "top": self.pieces[top] if top is not None else "",
            "top_p": dist[top] if top is not None else math.nan,
        }

    # -- display -------------------------------------------------------------------------------------
    def chart_svg(self, *, limit: int = 12) -> str:
        """Return the bar chart as an SVG string (see :func:`explanation_svg`)."""
        return explanation_svg(self, limit=limit)

    def _repr_html_(self) -> str:
        return explanation_html(self)

    def __repr__(self) -> str:
        chain = (
            " > ".join(f"{s}({t})" for s, t in zip(self.stages, self.settings, strict=True)) or "no samplers"
        )
        at = f" at position {self.position}" if self.position is not None else ""
        return (
            f"SamplerExplanation({len(self.candidates)} candidates{at}; {chain}; "
            f"{len(self.probs[-1])} survive)"
        )


# --------------------------------------------------------------------------------------------------
# building


def _piece(token: Any, model: str | None) -> str:
    if model is None:
        return f"#{token}"
    from .tokenizers import TokenizerUnavailable, token_bytes

    ids = list(token) if isinstance(token, tuple) else [token]
    try:
        return token_bytes(ids, model).decode("utf-8", "backslashreplace")
    except TokenizerUnavailable:
        return f"#{token}"  # GLM: no local tokenizer to spell the id with


def _check_number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise InputError(where, value, "a number (a logit, a log-probability or a probability)")
    return float(value)


def _as_logprobs(dist: Mapping[Any, Any], kind: str) -> tuple[dict[Any, float], dict[Any, float], str]:
    """Return (log-values for the chain, probabilities as given, the kind decided) for a raw distribution."""
    if kind not in _KINDS:
        raise InputError("kind", kind, "one of " + ", ".join(repr(k) for k in _KINDS))
    vals = {k: _check_number(v, f"distribution[{k!r}]") for k, v in dist.items()}
    if kind == "auto":
        finite = all(math.isfinite(v) for v in vals.values())
        if finite and all(v >= 0 for v in vals.values()) and sum(vals.values()) <= 1 + 1e-6:
            kind = "probs"
        elif all(v <= 1e-9 for v in vals.values()):
            kind = "logprobs"
        else:
            kind = "logits"
    if kind == "probs":
        bad = [k for k, v in vals.items() if not 0 <= v <= 1 + 1e-9]
        if bad:
            raise InputError(f"distribution[{bad[0]!r}]", vals[bad[0]], "a probability in [0, 1]")
        total = sum(vals.values())
        if total > 1 + 1e-6:
            raise InputError("distribution", f"<probabilities summing to {total:.6g}>", "a sum of at most 1")
        logs = {k: math.log(v) for k, v in vals.items() if v > 0}
        return logs, {k: v for k, v in vals.items() if v > 0}, kind
    if any(math.isnan(v) or v == math.inf for v in vals.values()):
        raise InputError("distribution", "<nan or +inf>", "finite numbers (-inf for a removed token)")
    logs = {k: v for k, v in vals.items() if v != -math.inf}
    if kind == "logprobs":
        bad = [k for k, v in logs.items() if v > 1e-6]
        if bad:
            raise InputError(f"distribution[{bad[0]!r}]", logs[bad[0]], "a log-probability <= 0")
        given = {k: math.exp(v) for k, v in logs.items()}
        total = sum(given.values())
        if total > 1 + 1e-3:  # logprobs rounded to 4 decimals may add up to a little over 1
            raise InputError(
                "distribution",
                f"<log-probabilities whose probabilities sum to {total:.6g}>",
                "a sum of at most 1",
            )
        return logs, given, kind
    return logs, sampling.softmax(logs), kind


def _keys_for(tokens: Sequence[Any]) -> dict[Any, int]:
    """Return the chain key of every candidate: its token id, or its rank when a candidate is a sequence."""
    if all(isinstance(t, int) and not isinstance(t, bool) for t in tokens):
        return {t: t for t in tokens}
    return {t: i for i, t in enumerate(tokens)}


def _oa_chain_params(preset: Preset) -> dict[str, Any]:
    """Return a GLM preset as chain parameters: its enabled samplers in GLM's fixed order (temperature,
    top-k, top-p, min-p; the website sends no order) and the OpenAI-style penalties."""
    from .novelai.presets import OA_SAMPLERS

    enabled = set(preset.enabled_samplers)
    params: dict[str, Any] = {
        k: preset.get(k)
        for k in (
            "temperature",
            "top_k",
            "top_p",
            "min_p",
            "repetition_penalty_frequency",
            "repetition_penalty_presence",
        )
        if preset.get(k) is not None
    }
    params["order"] = [sampling.SAMPLER_NAMES.index(s) for s in OA_SAMPLERS if s in enabled]
    return params


def _resolve_params(
    preset: Preset | None, base: Mapping[str, Any] | None, overrides: dict[str, Any]
) -> tuple[dict[str, Any], list[str], list[str]]:
    """Return (parameters, sampler names in order, notes) from a preset or a request's parameters."""
    from .novelai.presets import Preset, check_parameter

    notes: list[str] = []
    if preset is not None:
        if not isinstance(preset, Preset):
            raise InputError("preset", preset, "a Preset (Preset.official(model, name) or Preset.load(path))")
        if preset.text_model.api == "oa":
            params = _oa_chain_params(preset)
        else:
            params = preset.to_parameters()
    elif base is not None:
        params = dict(base)
    else:
        params = {}
    order_override = overrides.pop("order", None)
    for k, v in overrides.items():
        params[k] = check_parameter(k, v)
    if order_override is not None:
        if isinstance(order_override, (str, bytes)) or not isinstance(order_override, Sequence):
            raise InputError("order", order_override, "a list of sampler names or ids")
        names = [sampling.sampler_name(s) for s in order_override]
        if len(set(names)) != len(names):
            raise InputError("order", order_override, "each sampler at most once")
    elif "order" in params:
        names = [sampling.sampler_name(s) for s in params["order"]]
    elif preset is None and base is None:
        raise InputError(
            "preset", None, "a Preset (or order=[...]) saying which samplers to apply to the distribution"
        )
    else:
        names = list(sampling.SAMPLER_NAMES)
        notes.append(
            "No sampler order was given; shown with every sampler in id order, as naikit's sandbox does "
            "(NovelAI does not document its default)."
        )
    return params, names, notes


def explain_step(
    source: Generation | Mapping[Any, float],
    preset: Preset | None = None,
    *,
    position: int = 0,
    model: str | TextModel | None = None,
    kind: str = "auto",
    chosen: int | None = None,
    uc_logits: Mapping[int, float] | None = None,
    mirostat_mu: float | None = None,
    tail: bool = True,
    **params: Any,
) -> SamplerExplanation:
    """Return a :class:`SamplerExplanation` of one step of the sampler chain.

    ``source`` is a Generation (made with ``num_logprobs`` > 0; ``position`` picks the generated token,
    negative counts from the end) or a dict of candidate -> value, where a candidate is a token id (or a
    token's text, tokenized with ``model``) and ``kind`` says whether the values are ``"logits"``,
    ``"logprobs"`` or ``"probs"`` (``"auto"``: probabilities if all are in [0, 1] and sum to at most 1,
    log-probabilities if none is positive, else logits). The chain is ``preset``'s (by default the
    Generation's own parameters); ``params`` override single values (``temperature=1.5``,
    ``order=["top_k", "temperature"]``) to ask "what if". ``chosen`` marks a token of a raw distribution;
    ``uc_logits`` feeds CFG; ``mirostat_mu`` sets Mirostat's threshold (default: replayed from the
    Generation, else 2 * tau). ``tail=False`` runs the chain on the candidates alone (renormalised)
    instead of standing in for the probability they do not hold. Raises InputError for anything it
    cannot use, before any work.
    """
    from .novelai.generation import Generation

    if isinstance(position, bool) or not isinstance(position, int):
        raise InputError("position", position, "an int (the index of a generated token)")
    if mirostat_mu is not None:
        _check_number(mirostat_mu, "mirostat_mu")
    if not isinstance(tail, bool):
        raise InputError("tail", tail, "True or False")
    notes: list[str] = []
    server_kept: dict[int, bool] | None = None
    chosen_key: int | None = None
    history: list[float] = []
    if kind not in _KINDS:
        raise InputError("kind", kind, "one of " + ", ".join(repr(k) for k in _KINDS))
    if isinstance(source, Generation):
        steps = source.logprobs
        if not steps:
            raise InputError(
                "source",
                repr(source),
                "a Generation made with logprobs (num_logprobs > 0, e.g. GlobalSettings(num_logprobs=30))",
            )
        if not -len(steps) <= position < len(steps):
            raise InputError("position", position, f"a generated token index from 0 to {len(steps) - 1}")
        position %= len(steps)
        step = steps[position]
        model_value: str | None = source.model
        cands = list(step.before)
        if all(c.ids != step.chosen.ids for c in cands):
            cands.append(step.chosen)
        tokens = [c.ids[0] if len(c.ids) == 1 else c.ids for c in cands]
        keys = _keys_for(tokens)
        usable = [(t, c) for t, c in zip(tokens, cands, strict=True) if c.before is not None]
        if not usable:
            raise InputError(
                f"logprobs[{position}]", "<no before values>", "candidates with log-probabilities"
            )
        logs = {keys[t]: c.before for t, c in usable}
        given = {k: math.exp(v) for k, v in logs.items()}
        token_ids = {keys[t]: t for t, _ in usable}
        pieces = {keys[t]: c.text for t, c in usable}
        server_kept = {keys[t]: c.after is not None for t, c in usable}
        ch = step.chosen.ids[0] if len(step.chosen.ids) == 1 else step.chosen.ids
        chosen_key = keys.get(ch)
        history = [math.exp(s.chosen.after) for s in steps[:position] if s.chosen.after is not None]
        base: Mapping[str, Any] | None = source.parameters
        src, resolved_kind = "generation", "logprobs"
    elif isinstance(source, Mapping):
        if not source:
            raise InputError(
                "source", source, "a non-empty dict of candidate -> logit / logprob / probability"
            )
        if preset is not None and model is None:
            model_value = getattr(preset, "model", None)
        else:
            model_value = None
        if model is not None:
            from .novelai.models import text_model

            model_value = text_model(model).value
        raw: dict[Any, float] = {}
        for k, v in source.items():
            if isinstance(k, str):
                if model_value is None:
                    raise InputError("source", k, "token ids as keys, or give model= to tokenize text keys")
                from .tokenizers import encode

                ids = encode(k, model_value)
                if len(ids) != 1:
                    raise InputError(
                        f"source[{k!r}]", k, "text of exactly one token", hint=f"it is {len(ids)}"
                    )
                k = ids[0]
            elif isinstance(k, bool) or not isinstance(k, int) or k < 0:
                raise InputError("source", k, "token ids (int >= 0) or one-token texts as keys")
            if k in raw:
                raise InputError("source", k, "each token once")
            raw[k] = v
        logs, given, resolved_kind = _as_logprobs(raw, kind)
        if not logs:
            raise InputError("source", source, "at least one candidate with a probability above 0")
        token_ids = {k: k for k in logs}
        pieces = {k: _piece(k, model_value) for k in logs}
        if chosen is not None:
            if chosen not in logs:
                raise InputError("chosen", chosen, "one of the candidates' token ids")
            chosen_key = chosen
        base = None
        src = "distribution"
    else:
        raise InputError(
            "source", source, "a Generation or a dict of token id -> logit / logprob / probability"
        )
    if chosen is not None and src == "generation":
        raise InputError("chosen", chosen, "None for a Generation (its chosen token is known)")

    chain_params, names, more = _resolve_params(preset, base, dict(params))
    notes += more
    # logits carry no absolute scale: their coverage is unknown, not 100%
    cov: float | None = sum(given.values()) if resolved_kind != "logits" else None
    chain_in = dict(logs)
    tail_keys: list[int] = []
    if cov is not None and cov < 0.999:
        if tail:
            # The probability the candidates do not hold stands in as many tokens, each less likely than
            # the last candidate: the candidates keep their absolute probabilities, so top-k, top-p, top-a,
            # min-p, top-g and Mirostat judge them as on the full distribution.
            rest = 1.0 - cov
            floor = min(given.values())
            n_tail = min(int(rest / floor) + 1, _MAX_TAIL)
            lp = math.log(rest / n_tail)
            tail_keys = [-1 - i for i in range(n_tail)]
            chain_in.update(dict.fromkeys(tail_keys, lp))
            notes.append(
                f"The candidates hold {cov:.1%} of the probability; the other {rest:.1%} is modelled as "
                f"{n_tail} tokens each less likely than the last candidate, so typical-p, tail-free and the "
                "Unified sampler's entropy are close but not exact."
            )
        else:
            notes.append(
                f"The candidates hold {cov:.1%} of the probability; the chain ran on them renormalised, so "
                "top-p, typical-p, tail-free and top-a may cut earlier than on the full distribution."
            )
    miro = None
    if "mirostat" in names:
        tau = float(chain_params.get("mirostat_tau", 0.0))
        miro = sampling.MirostatState(tau, float(chain_params.get("mirostat_lr", 1.0)))
        if mirostat_mu is not None:
            miro.mu = float(mirostat_mu)
        elif history and tau > 0:
            for p in history:
                miro.update(p)
            notes.append(f"Mirostat's threshold was replayed over the {len(history)} earlier tokens.")
        if tau > 0 and miro.mu is not None:
            notes.append(f"Mirostat keeps tokens with surprise <= {miro.mu:.3g} bits.")
        elif tau > 0:
            notes.append(f"Mirostat starts at its initial threshold 2 x tau = {2 * tau:.3g} bits.")
    if "cfg" in names and chain_params.get("cfg_scale", 1.0) != 1 and uc_logits is None:
        notes.append(
            "CFG needs the unconditional distribution (uc_logits=); shown as leaving the step unchanged."
        )
    trace = sampling.run_chain(chain_in, names, chain_params, uc_logits=uc_logits, mirostat_state=miro)
    full = [sampling.softmax(chain_in)] + [sampling.softmax(s.logits) for s in trace]
    probs = [{k: v for k, v in d.items() if k in logs} for d in full]
    rest_mass = [sum(d.get(k, 0.0) for k in tail_keys) for d in full] if tail_keys else None
    ordered = sorted(logs, key=lambda k: (-probs[0][k], k))
    return SamplerExplanation(
        candidates=ordered,
        token_ids=token_ids,
        pieces=pieces,
        given=given,
        stages=[s.name for s in trace],
        settings=[stage_setting(n, chain_params) for n in names],
        probs=probs,
        chosen=chosen_key,
        position=position if src == "generation" else None,
        model=model_value,
        source=src,
        coverage=cov,
        rest=rest_mass,
        server_kept=server_kept,
        notes=notes,
    )


# --------------------------------------------------------------------------------------------------
# display


def _label(piece: str, width: int = 14) -> str:
    shown = piece.replace(" ", "·").replace("\n", "↵").replace("\t", "⇥")
    return shown if len(shown) <= width else shown[: width - 1] + "…"


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%" if p >= 0.001 else f"{100 * p:.2g}%"


def explanation_svg(e: SamplerExplanation, *, limit: int = 12) -> str:
    """Return a pure, deterministic SVG chart of ``e``: one row per candidate (the ``limit`` most likely
    at the start), one column per stage; each cell a bar as long as the probability after that stage,
    a cross where a sampler removed the candidate. The chosen token's row is drawn in orange (and always
    shown); a grey last row holds the tokens beyond the candidates, when there are any."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError("limit", limit, "an int >= 1")
    rows = e.candidates[:limit]
    if e.chosen is not None and e.chosen not in rows:
        rows.append(e.chosen)
    hidden = len(e.candidates) - len(rows)
    columns = [("start", "")] + list(zip(e.stages, e.settings, strict=True))
    lw, cw, rh, hh = 128, 92, 18, 34
    width = lw + cw * len(columns) + 4
    height = hh + rh * (len(rows) + (e.rest is not None)) + (16 if hidden else 4)
    did = (
        "nk-expl-"
        + hashlib.sha1(
            repr(
                (
                    e.model,
                    e.position,
                    e.candidates,
                    e.stages,
                    e.settings,
                    [sorted(d.items()) for d in e.probs],
                )
            ).encode("utf-8", "surrogatepass")
        ).hexdigest()[:10]
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{did}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="system-ui,sans-serif" font-size="11">'
    ]
    for j, (name, setting) in enumerate(columns):
        x = lw + j * cw
        out.append(f'<text x="{x + 2}" y="13" font-weight="bold">{escape(name)}</text>')
        if setting:
            out.append(
                f'<text x="{x + 2}" y="27" fill="#666"><title>{escape(setting)}</title>'
                f"{escape(setting if len(setting) <= 15 else setting[:14] + '…')}</text>"
            )
    for i, c in enumerate(rows):
        y = hh + i * rh
        is_chosen = c == e.chosen
        weight = ' font-weight="bold"' if is_chosen else ""
        mark = "▶ " if is_chosen else ""
        out.append(
            f'<text x="4" y="{y + 13}"{weight}><title>{escape(repr(e.pieces[c]))} '
            f"(id {escape(str(e.token_ids[c]))})</title>{escape(mark + _label(e.pieces[c]))}</text>"
        )
        gone = False
        for j, dist in enumerate(e.probs):
            x = lw + j * cw
            if gone:
                out.append(
                    f'<rect x="{x + 2}" y="{y + 3}" width="{cw - 8}" height="{rh - 6}" fill="#f3f3f3"/>'
                )
                continue
            if c not in dist:
                gone = True
                out.append(
                    f'<rect x="{x + 2}" y="{y + 3}" width="{cw - 8}" height="{rh - 6}" fill="#fbe3e0"/>'
                )
                out.append(f'<text x="{x + 6}" y="{y + 13}" fill="#c0392b">✕ removed</text>')
                continue
            p = dist[c]
            fill = "#e67e22" if is_chosen else "#5b8def"
            bar = max(1.0, p * (cw - 8))
            out.append(
                f'<rect x="{x + 2}" y="{y + 3}" width="{bar:.1f}" height="{rh - 6}" fill="{fill}" '
                'opacity="0.75"/>'
            )
            out.append(f'<text x="{x + cw - 8}" y="{y + 13}" text-anchor="end">{_pct(p)}</text>')
    if e.rest is not None:
        y = hh + len(rows) * rh
        out.append(f'<text x="4" y="{y + 13}" fill="#666">(other tokens)</text>')
        for j, mass in enumerate(e.rest):
            x = lw + j * cw
            bar = max(1.0, mass * (cw - 8)) if mass > 0 else 0.0
            out.append(
                f'<rect x="{x + 2}" y="{y + 3}" width="{bar:.1f}" height="{rh - 6}" '
                'fill="#999" opacity="0.5"/>'
            )
            out.append(
                f'<text x="{x + cw - 8}" y="{y + 13}" text-anchor="end" fill="#666">{_pct(mass)}</text>'
            )
    if hidden:
        out.append(
            f'<text x="4" y="{height - 4}" fill="#666">… {hidden} more '
            f"candidate{'s' if hidden > 1 else ''} in the table</text>"
        )
    out.append("</svg>")
    return "".join(out)


def explanation_html(e: SamplerExplanation, *, limit: int = 12) -> str:
    """Return the HTML view of ``e``: a header line, the chart, the stage table and the notes (pure and
    deterministic: the same explanation gives the same string)."""
    head = []
    if e.model:
        head.append(escape(e.model))
    if e.position is not None:
        head.append(f"token {e.position}")
    if e.chosen is not None:
        head.append(f"chosen <b>{escape(_label(e.pieces[e.chosen], 30))}</b>")
    head.append(f"{len(e.candidates)} candidates")
    if e.coverage is not None:
        head.append(f"{e.coverage:.1%} of the probability")
    head.append(f"{len(e.probs[-1])} survive")
    agree = e.agrees_with_server
    if agree is not None:
        head.append(
            "matches the server's after-list" if agree else "<b>differs</b> from the server's after-list"
        )
    rows = []
    prev = set(e.probs[0])
    for s, setting, dist in zip(e.stages, e.settings, e.probs[1:], strict=True):
        removed = [e.pieces[c] for c in e.candidates if c in prev and c not in dist]
        shown = ", ".join(escape(repr(p)) for p in removed[:8]) + (
            f" … (+{len(removed) - 8})" if len(removed) > 8 else ""
        )
        rows.append(
            f"<tr><td>{escape(s)}</td><td>{escape(setting)}</td><td>{len(dist)}</td><td>{shown}</td></tr>"
        )
        prev = set(dist)
    table = (
        "<style>.nk-xs{border-collapse:collapse;font:12px system-ui;margin-top:6px}"
        ".nk-xs td,.nk-xs th{padding:1px 8px;text-align:left}</style>"
        '<table class="nk-xs"><tr><th>sampler</th><th>setting</th><th>kept</th><th>removed here</th></tr>'
        + "".join(rows)
        + "</table>"
        if rows
        else '<div style="font:12px system-ui">No samplers: the distribution is sampled as it is.</div>'
    )
    notes = "".join(f"<li>{escape(n)}</li>" for n in e.notes)
    return (
        '<div class="nk-explain">'
        f'<div style="font:12px system-ui;color:#444;margin-bottom:4px">{" · ".join(head)}</div>'
        f"{explanation_svg(e, limit=limit)}{table}"
        + (f'<ul style="font:12px system-ui;color:#666">{notes}</ul>' if notes else "")
        + "</div>"
    )
