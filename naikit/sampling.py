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

Where NovelAI publishes no formula, naikit documents its own reading: Top-G groups tokens of equal
probability; the phrase repetition penalty lowers tokens that would continue a phrase already present in
the context, more for longer matches (see :data:`PHRASE_REP_PEN_LEVELS`). The sandbox uses this module to
generate, so its behaviour is this module's.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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

#: phrase_rep_pen level -> (shortest repeated phrase in tokens that counts, logit penalty).
PHRASE_REP_PEN_LEVELS: dict[str, tuple[int, float]] = {
    "off": (0, 0.0),
    "very_light": (4, 0.25),
    "light": (3, 0.5),
    "medium": (3, 1.0),
    "aggressive": (2, 1.5),
    "very_aggressive": (2, 2.5),
}

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


# --------------------------------------------------------------------------------------------------
# logit processing before the chain


def _slope_penalties(penalty: float, window: int, slope: float, full_range: int) -> list[float]:
    """Penalty per window position (oldest first) with finetuneanon's sigmoid-like slope."""
    if not slope or full_range <= 1:
        return [penalty] * window
    out = []
    for i in range(full_range):
        x = i / (full_range - 1) * 2 - 1
        x = slope * x / (1 + abs(x) * (slope - 1))
        out.append(1 + (x + 1) / 2 * (penalty - 1))
    return out[-window:] if window else []


def repetition_penalty(
    logits: Mapping[int, float],
    context: Sequence[int],
    penalty: float,
    *,
    range_: int = 0,
    slope: float = 0.0,
    whitelist: Iterable[int] = (),
) -> Logits:
    """Return ``logits`` with tokens of the last ``range_`` context tokens (all when 0) penalised.

    A positive logit is divided by the penalty, a negative one multiplied (finetuneanon's form). With a
    slope, older tokens get less penalty than recent ones; a repeated token gets its most recent
    position's penalty. Whitelisted tokens are never penalised.
    """
    if penalty == 1 or not context:
        return dict(logits)
    window = list(context[-range_:]) if range_ > 0 else list(context)
    pens = _slope_penalties(penalty, len(window), slope, range_ if range_ > 0 else len(window))
    white = set(whitelist)
    per_token: dict[int, float] = {}
    for tok, pen in zip(window, pens, strict=True):
        if tok not in white:
            per_token[tok] = pen  # later (more recent) positions overwrite earlier ones
    out = dict(logits)
    for tok, pen in per_token.items():
        if tok in out:
            v = out[tok]
            out[tok] = v * pen if v <= 0 else v / pen
    return out


def frequency_presence_penalty(
    logits: Mapping[int, float],
    context: Sequence[int],
    frequency: float,
    presence: float,
    *,
    range_: int = 0,
    whitelist: Iterable[int] = (),
) -> Logits:
    """Return ``logits`` minus ``frequency * count + presence * (count > 0)`` over the last ``range_``."""
    if not frequency and not presence:
        return dict(logits)
    window = context[-range_:] if range_ > 0 else context
    white = set(whitelist)
    counts: dict[int, int] = {}
    for t in window:
        if t not in white:
            counts[t] = counts.get(t, 0) + 1
    out = dict(logits)
    for t, c in counts.items():
        if t in out:
            out[t] -= frequency * c + presence
    return out


def phrase_repetition_penalty(
    logits: Mapping[int, float], context: Sequence[int], level: str, *, window: int = 1024
) -> Logits:
    """Return ``logits`` with tokens that would continue an already-seen phrase lowered (naikit's reading).

    For every earlier place in the last ``window`` tokens where the current suffix (at least the level's
    minimum length) occurred before, the token that followed it there is lowered by the level's penalty,
    growing by 10% per extra matched token (up to 16 tokens).
    """
    if level not in PHRASE_REP_PEN_LEVELS:
        raise InputError("phrase_rep_pen", level, "one of " + ", ".join(PHRASE_REP_PEN_LEVELS))
    min_len, strength = PHRASE_REP_PEN_LEVELS[level]
    if not strength or len(context) <= min_len:
        return dict(logits)
    ctx = list(context[-window:])
    n = len(ctx)
    best: dict[int, int] = {}
    last = ctx[-1]
    for j in range(n - 2, -1, -1):
        if ctx[j] != last:
            continue
        k = 0
        while k < 16 and j - k >= 0 and ctx[j - k] == ctx[n - 1 - k]:
            k += 1
        if k >= min_len:
            nxt = ctx[j + 1]
            best[nxt] = max(best.get(nxt, 0), k)
    out = dict(logits)
    for t, k in best.items():
        if t in out:
            out[t] -= strength * (1 + 0.1 * (k - min_len))
    return out


def _progress(output: Sequence[int], seq: Sequence[int]) -> int:
    """Return how many leading tokens of ``seq`` the end of ``output`` already holds (< len(seq))."""
    for k in range(min(len(seq) - 1, len(output)), 0, -1):
        if list(output[-k:]) == list(seq[:k]):
            return k
    return 0


def _contains(output: Sequence[int], seq: Sequence[int]) -> bool:
    n = len(seq)
    return any(list(output[i : i + n]) == list(seq) for i in range(len(output) - n + 1))


def apply_biases(
    logits: Mapping[int, float], output: Sequence[int], biases: Iterable[Mapping[str, Any]]
) -> Logits:
    """Return ``logits`` with ``logit_bias_exp`` entries applied for the next token of ``output``.

    Each entry biases the next token of its ``sequence`` (the first, or the one after the part the output
    already ends with). ``ensure_sequence_finish`` forces that token once a sequence has started;
    ``generate_once`` drops the entry after the whole sequence appeared in the output.
    """
    out = dict(logits)
    forced: int | None = None
    for e in biases:
        seq = list(e.get("sequence") or [])
        if not seq:
            continue
        if e.get("generate_once") and _contains(output, seq):
            continue
        k = _progress(output, seq)
        nxt = seq[k]
        if k > 0 and e.get("ensure_sequence_finish"):
            forced = nxt
        if nxt in out:
            out[nxt] += float(e.get("bias", 0.0))
        elif e.get("bias", 0.0) > 0:
            # a token the model gave no mass can still be raised into the distribution
            out[nxt] = min(out.values(), default=0.0) + float(e["bias"])
    if forced is not None:
        return {forced: out.get(forced, 0.0)}
    return out


def apply_bans(logits: Mapping[int, float], tokens: Sequence[int], bans: Iterable[Sequence[int]]) -> Logits:
    """Return ``logits`` without every token that would complete a banned sequence after ``tokens``."""
    out = dict(logits)
    for seq in bans:
        if not seq:
            continue
        if len(seq) == 1 or list(tokens[-(len(seq) - 1) :]) == list(seq[:-1]):
            out.pop(seq[-1], None)
    return out


def process_logits(
    logits: Mapping[int, float],
    context: Sequence[int],
    output: Sequence[int],
    params: Mapping[str, Any],
    *,
    eos: int | None = None,
) -> Logits:
    """Return the logits after penalties, biases, bans and the min-length end ban, ready for the chain.

    ``context`` is the prompt plus the output so far; ``output`` the generated tokens only; ``params``
    the request parameters (missing keys mean "off").
    """
    get = params.get
    white = get("repetition_penalty_whitelist") or ()
    rng = int(get("repetition_penalty_range", 0) or 0)
    out = repetition_penalty(
        logits,
        context,
        float(get("repetition_penalty", 1.0)),
        range_=rng,
        slope=float(get("repetition_penalty_slope", 0.0) or 0.0),
        whitelist=white,
    )
    out = frequency_presence_penalty(
        out,
        context,
        float(get("repetition_penalty_frequency", 0.0) or 0.0),
        float(get("repetition_penalty_presence", 0.0) or 0.0),
        range_=rng,
        whitelist=white,
    )
    level = get("phrase_rep_pen") or "off"
    if level != "off":
        out = phrase_repetition_penalty(out, context, level)
    out = apply_biases(out, output, get("logit_bias_exp") or ())
    out = apply_bans(out, context, get("bad_words_ids") or ())
    if eos is not None and len(output) < int(get("min_length", 0) or 0):
        out.pop(eos, None)
    if not out:
        # everything banned: fall back to the unbanned logits rather than fail mid-generation
        out = dict(logits)
    return out


def should_stop(output: Sequence[int], params: Mapping[str, Any], *, eos: int | None = None) -> str | None:
    """Return why generation stops after ``output`` ("max_length", "stop_sequence", "eos") or None."""
    n = len(output)
    if n >= int(params.get("max_length", 40)):
        return "max_length"
    if n < int(params.get("min_length", 0) or 0):
        return None
    if eos is not None and output and output[-1] == eos:
        return "eos"
    for seq in params.get("stop_sequences") or ():
        if seq and n >= len(seq) and list(output[-len(seq) :]) == list(seq):
            return "stop_sequence"
    return None


@dataclass
class StepResult:
    """One generated token: the processed distribution, the chain trace and the choice."""

    token: int
    before: dict[int, float]
    after: dict[int, float]
    trace: list[ChainStep] = field(default_factory=list)
