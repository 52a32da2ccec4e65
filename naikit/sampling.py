"""NovelAI's sampler chain and logit processing, in plain Python on sparse distributions.

A distribution is a ``dict`` of token id -> logit (any additive constant; a token that is absent has
been removed). Every sampler returns a new dict and never changes its input, so the chain can be traced
step by step (:func:`run_chain`, used by the sampler explainer).

Samplers (ids as in the request's ``order``, spec §5.3), with the value at which each does nothing:

====  ============  ====================================================================  ================
id    name          what it does                                                          off at
====  ============  ====================================================================  ================
0     temperature   logits / T                                                            1
1     top_k         keep the K most likely tokens                                         0
2     top_p         keep the smallest head whose probability reaches p                    0 or 1
3     tfs           tail-free: cut where the normalised |2nd difference| CDF exceeds z    0 or 1
4     top_a         drop tokens with p < a * p_max^2                                      0
5     typical_p     keep tokens whose surprise is closest to the entropy, up to mass p    0 or 1
6     cfg           uc + scale * (cond - uc) on log-probabilities                         1
7     top_g         keep the G highest distinct probability values (ties kept together)   0
8     mirostat      (v2) drop tokens whose surprise in bits exceeds mu; mu adapts          tau 0
9     math1         "Unified": logp * (linear + H * conf) - quad * logp^2                 linear 1, 0, 0
10    min_p         drop tokens with p < min_p * p_max                                    0
====  ============  ====================================================================  ================

Before the chain (:func:`process_logits`): repetition penalty with range, slope and whitelist
(finetuneanon's form: positive logits divided, negative multiplied), frequency and presence penalties
(OpenAI's form, over the same range), phrase repetition penalty, bias groups
(``ensure_sequence_finish``, ``generate_once``), bans (``bad_words_ids``) and the end-of-text ban below
``min_length``. After a token is chosen, :func:`should_stop` applies stop sequences and the lengths.
(That processing is written in ``naikit/_penalties.py`` and exported here.)

Where NovelAI publishes no formula, naikit documents its own reading: Top-G groups tokens of equal
probability; the phrase repetition penalty lowers tokens that would continue a phrase already present in
the context, more for longer matches (see :data:`PHRASE_REP_PEN_LEVELS`). The sandbox uses this module to
generate, so its behaviour is this module's.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._penalties import (
    PHRASE_REP_PEN_LEVELS,
    apply_bans,
    apply_biases,
    frequency_presence_penalty,
    phrase_repetition_penalty,
    process_logits,
    repetition_penalty,
    should_stop,
)
from .errors import InputError

__all__ = [
    "SAMPLER_NAMES",
    "PHRASE_REP_PEN_LEVELS",
    "softmax",
    "log_softmax",
    "temperature",
    "top_k",
    "top_p",
    "tfs",
    "top_a",
    "typical_p",
    "cfg",
    "top_g",
    "mirostat",
    "unified",
    "min_p",
    "repetition_penalty",
    "frequency_presence_penalty",
    "phrase_repetition_penalty",
    "apply_biases",
    "apply_bans",
    "process_logits",
    "MirostatState",
    "ChainStep",
    "run_chain",
    "sample",
    "should_stop",
    "sampler_name",
]

SAMPLER_NAMES: tuple[str, ...] = (
    "temperature",
    "top_k",
    "top_p",
    "tfs",
    "top_a",
    "typical_p",
    "cfg",
    "top_g",
    "mirostat",
    "math1",
    "min_p",
)

Logits = dict[int, float]


# --------------------------------------------------------------------------------------------------
# basics


def softmax(logits: Mapping[int, float]) -> dict[int, float]:
    """Return the probabilities of ``logits`` (same keys, summing to 1)."""
    if not logits:
        return {}
    top = max(logits.values())
    exps = {t: math.exp(v - top) for t, v in logits.items()}
    total = sum(exps.values())
    return {t: e / total for t, e in exps.items()}


def log_softmax(logits: Mapping[int, float]) -> dict[int, float]:
    """Return the log-probabilities of ``logits``."""
    if not logits:
        return {}
    top = max(logits.values())
    lse = top + math.log(sum(math.exp(v - top) for v in logits.values()))
    return {t: v - lse for t, v in logits.items()}


def _ranked(logits: Mapping[int, float]) -> list[tuple[int, float]]:
    """Return (token, prob) sorted by probability, highest first (ties by token id, for determinism)."""
    return sorted(softmax(logits).items(), key=lambda kv: (-kv[1], kv[0]))


def _keep(logits: Mapping[int, float], keep: Iterable[int]) -> Logits:
    keep = set(keep)
    return {t: v for t, v in logits.items() if t in keep}


# --------------------------------------------------------------------------------------------------
# samplers


def temperature(logits: Mapping[int, float], t: float) -> Logits:
    """Return ``logits`` divided by ``t`` (t > 0)."""
    if not t > 0:
        raise InputError("temperature", t, "a number > 0")
    return {k: v / t for k, v in logits.items()}


def top_k(logits: Mapping[int, float], k: int) -> Logits:
    """Return the ``k`` most likely tokens (all when k <= 0)."""
    if k <= 0 or k >= len(logits):
        return dict(logits)
    return _keep(logits, (t for t, _ in _ranked(logits)[:k]))


def top_p(logits: Mapping[int, float], p: float) -> Logits:
    """Return the smallest set of most likely tokens whose probabilities sum to at least ``p``."""
    if p <= 0 or p >= 1:
        return dict(logits)
    kept, mass = [], 0.0
    for t, pr in _ranked(logits):
        kept.append(t)
        mass += pr
        if mass >= p:
            break
    return _keep(logits, kept)


def tfs(logits: Mapping[int, float], z: float) -> Logits:
    """Return the tokens kept by tail-free sampling with threshold ``z``.

    Sorted probabilities -> absolute second differences -> normalised -> cumulative sum; tokens past the
    point where it exceeds ``z`` go. The first token always stays and the last always goes (the second
    difference of n values has n-2 entries, centred).
    """
    if z <= 0 or z >= 1 or len(logits) < 3:
        return dict(logits)
    ranked = _ranked(logits)
    probs = [p for _, p in ranked]
    d1 = [probs[i + 1] - probs[i] for i in range(len(probs) - 1)]
    d2 = [abs(d1[i + 1] - d1[i]) for i in range(len(d1) - 1)]
    total = sum(d2)
    if total <= 0:
        return dict(logits)
    keep = [ranked[0][0]]
    cdf = 0.0
    for i, d in enumerate(d2):
        cdf += d / total
        if cdf > z:
            break
        keep.append(ranked[i + 1][0])
    return _keep(logits, keep)


def top_a(logits: Mapping[int, float], a: float) -> Logits:
    """Return the tokens with probability >= ``a`` * (highest probability)^2."""
    if a <= 0:
        return dict(logits)
    probs = softmax(logits)
    limit = a * max(probs.values()) ** 2
    return {t: v for t, v in logits.items() if probs[t] >= limit}


def typical_p(logits: Mapping[int, float], p: float) -> Logits:
    """Return the locally typical set: tokens sorted by |surprise - entropy|, kept up to mass ``p``."""
    if p <= 0 or p >= 1:
        return dict(logits)
    lp = log_softmax(logits)
    probs = {t: math.exp(v) for t, v in lp.items()}
    entropy = -sum(probs[t] * lp[t] for t in lp)
    ranked = sorted(lp, key=lambda t: (abs(-lp[t] - entropy), t))
    kept, mass = [], 0.0
    for t in ranked:
        kept.append(t)
        mass += probs[t]
        if mass >= p:
            break
    return _keep(logits, kept)


def cfg(logits: Mapping[int, float], uc_logits: Mapping[int, float] | None, scale: float) -> Logits:
    """Return classifier-free guidance: ``uc + scale * (cond - uc)`` on log-probabilities.

    Tokens the unconditional distribution lacks get its lowest log-probability. No-op at scale 1 or
    without ``uc_logits``.
    """
    if scale == 1 or not uc_logits:
        return dict(logits)
    cond = log_softmax(logits)
    uc = log_softmax(uc_logits)
    floor = min(uc.values())
    return {t: uc.get(t, floor) + scale * (v - uc.get(t, floor)) for t, v in cond.items()}


def top_g(logits: Mapping[int, float], g: int) -> Logits:
    """Return the tokens whose probability is among the ``g`` highest distinct values (ties together)."""
    if g <= 0:
        return dict(logits)
    keep: list[int] = []
    groups = 0
    last: float | None = None
    for t, p in _ranked(logits):
        if last is None or not math.isclose(p, last, rel_tol=1e-9, abs_tol=1e-15):
            groups += 1
            if groups > g:
                break
            last = p
        keep.append(t)
    return _keep(logits, keep)


@dataclass
class MirostatState:
    """Mirostat v2's running threshold ``mu`` (bits), starting at 2 * tau."""

    tau: float
    lr: float
    mu: float | None = None

    def update(self, chosen_prob: float) -> None:
        """Move ``mu`` towards the target after a token of probability ``chosen_prob`` was chosen."""
        if self.tau <= 0:
            return
        if self.mu is None:
            self.mu = 2 * self.tau
        surprise = -math.log2(max(chosen_prob, 1e-300))
        self.mu -= self.lr * (surprise - self.tau)


def mirostat(logits: Mapping[int, float], state: MirostatState | None) -> Logits:
    """Return the tokens whose surprise (-log2 p) is at most ``state.mu``; the most likely always stays."""
    if state is None or state.tau <= 0:
        return dict(logits)
    if state.mu is None:
        state.mu = 2 * state.tau
    ranked = _ranked(logits)
    keep = [ranked[0][0]] + [t for t, p in ranked[1:] if -math.log2(max(p, 1e-300)) <= state.mu]
    return _keep(logits, keep)


def unified(logits: Mapping[int, float], linear: float, quad: float, conf: float) -> Logits:
    """Return NovelAI's Unified sampler: ``logp * (linear + entropy * conf) - quad * logp^2``.

    ``linear`` is ``math1_temp``, ``quad`` ``math1_quad`` and ``conf`` ``math1_quad_entropy_scale``;
    the entropy is in nats. Linear 1 with quad and conf 0 leaves the distribution unchanged.
    """
    lp = log_softmax(logits)
    entropy = -sum(math.exp(v) * v for v in lp.values())
    scale = linear + entropy * conf
    return {t: v * scale - quad * v * v for t, v in lp.items()}


def min_p(logits: Mapping[int, float], p: float) -> Logits:
    """Return the tokens with probability >= ``p`` * (highest probability)."""
    if p <= 0:
        return dict(logits)
    probs = softmax(logits)
    limit = p * max(probs.values())
    return {t: v for t, v in logits.items() if probs[t] >= limit}


def sampler_name(s: int | str) -> str:
    """Return the sampler name for an ``order`` id or a name; InputError for anything else."""
    if isinstance(s, str) and s in SAMPLER_NAMES:
        return s
    if isinstance(s, int) and not isinstance(s, bool) and 0 <= s < len(SAMPLER_NAMES):
        return SAMPLER_NAMES[s]
    raise InputError(
        "order", s, "sampler ids 0-10 or names: " + ", ".join(f"{i} {n}" for i, n in enumerate(SAMPLER_NAMES))
    )


def _apply(
    name: str,
    logits: Logits,
    params: Mapping[str, Any],
    uc_logits: Mapping[int, float] | None,
    miro: MirostatState | None,
) -> Logits:
    get = params.get
    if name == "temperature":
        t = get("temperature", 1.0)
        return logits if t == 1 else temperature(logits, t)
    if name == "top_k":
        return top_k(logits, int(get("top_k", 0)))
    if name == "top_p":
        return top_p(logits, get("top_p", 1.0))
    if name == "tfs":
        return tfs(logits, get("tail_free_sampling", 1.0))
    if name == "top_a":
        return top_a(logits, get("top_a", 0.0))
    if name == "typical_p":
        return typical_p(logits, get("typical_p", 1.0))
    if name == "cfg":
        return cfg(logits, uc_logits, get("cfg_scale", 1.0))
    if name == "top_g":
        return top_g(logits, int(get("top_g", 0)))
    if name == "mirostat":
        return mirostat(logits, miro)
    if name == "math1":
        return unified(
            logits, get("math1_temp", 1.0), get("math1_quad", 0.0), get("math1_quad_entropy_scale", 0.0)
        )
    return min_p(logits, get("min_p", 0.0))


@dataclass(frozen=True)
class ChainStep:
    """One sampler of a chain: its name and the distribution it left (token -> logit)."""

    name: str
    logits: dict[int, float]

    @property
    def survivors(self) -> int:
        """Return how many tokens are left after this sampler."""
        return len(self.logits)


def run_chain(
    logits: Mapping[int, float],
    order: Sequence[int | str],
    params: Mapping[str, Any],
    *,
    uc_logits: Mapping[int, float] | None = None,
    mirostat_state: MirostatState | None = None,
) -> list[ChainStep]:
    """Return the distribution after each sampler of ``order`` applied in turn to ``logits``.

    ``order`` holds ids or names of the enabled samplers; ``params`` the request parameters. With no
    samplers the list is empty (the distribution is sampled as it is).
    """
    names = [sampler_name(s) for s in order]
    if "mirostat" in names and mirostat_state is None:
        mirostat_state = MirostatState(params.get("mirostat_tau", 0.0), params.get("mirostat_lr", 1.0))
    current = dict(logits)
    steps = []
    for name in names:
        current = _apply(name, current, params, uc_logits, mirostat_state)
        steps.append(ChainStep(name, current))
    return steps


def sample(logits: Mapping[int, float], rng: random.Random) -> int:
    """Return one token drawn from ``logits`` with ``rng`` (deterministic for a seeded rng)."""
    ranked = _ranked(logits)
    if not ranked:
        raise InputError("logits", logits, "at least one token left to sample from")
    x = rng.random()
    acc = 0.0
    for t, p in ranked:
        acc += p
        if x < acc:
            return t
    return ranked[-1][0]
