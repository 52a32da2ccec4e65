"""The sampler explainer: for one step of a generation, which candidates survive each sampler of the chain.

:func:`explain_step` takes either a :class:`~naikit.novelai.generation.Generation` (its logprobs give the
candidates of each step and its ``parameters`` the chain that was used) or a raw distribution (a dict of
token id -> logit, log-probability or probability) with a :class:`~naikit.novelai.presets.Preset`, runs
:func:`naikit.sampling.run_chain` on the candidates and returns a :class:`SamplerExplanation` (its
frames, chart and HTML view are described in :mod:`naikit.explanation`).

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

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard

from . import sampling
from .errors import InputError
from .explanation import SamplerExplanation, explanation_html, explanation_svg, stage_setting

if TYPE_CHECKING:  # pragma: no cover
    from .novelai.models import TextModel
    from .novelai.presets import Preset
    from .tokenizers import LogprobStep

__all__ = ["SamplerExplanation", "explain_step", "explanation_svg", "explanation_html", "stage_setting"]

_KINDS = ("auto", "logits", "logprobs", "probs")
# most stand-in tokens for the probability the candidates do not hold
_MAX_TAIL = 20_000


class GenerationLike(Protocol):
    """What :func:`explain_step` reads of a generation: a :class:`~naikit.novelai.generation.Generation`
    is one. (A Protocol, not the class: ``Generation.explain`` calls this module, so this module does not
    import ``naikit.novelai.generation`` back.)"""

    @property
    def logprobs(self) -> Sequence[LogprobStep]: ...

    @property
    def model(self) -> str: ...

    @property
    def parameters(self) -> Mapping[str, Any]: ...


def _is_generation(source: object) -> TypeGuard[GenerationLike]:
    # ``logprobs`` is looked up on the class: reading it on the instance would parse every step
    return hasattr(type(source), "logprobs") and hasattr(source, "model") and hasattr(source, "parameters")


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
    source: GenerationLike | Mapping[Any, float],
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
    if _is_generation(source):
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
        logs: dict[Any, float] = {keys[t]: c.before for t, c in usable if c.before is not None}
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
