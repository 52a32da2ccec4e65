"""Logit processing before NovelAI's sampler chain and the stop rule after it (public in naikit.sampling).

Repetition penalty with range, slope and whitelist (finetuneanon's form: positive logits divided, negative
multiplied), frequency and presence penalties (OpenAI's form, over the same range), phrase repetition
penalty (naikit's reading, see :data:`PHRASE_REP_PEN_LEVELS`), bias groups (``ensure_sequence_finish``,
``generate_once``), bans (``bad_words_ids``) and the end-of-text ban below ``min_length``, put together by
:func:`process_logits`; :func:`should_stop` applies stop sequences and the lengths after a token is chosen.
A distribution is a ``dict`` of token id -> logit; every function returns a new dict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import InputError

__all__ = [
    "PHRASE_REP_PEN_LEVELS",
    "repetition_penalty",
    "frequency_presence_penalty",
    "phrase_repetition_penalty",
    "apply_biases",
    "apply_bans",
    "process_logits",
    "should_stop",
]

#: phrase_rep_pen level -> (shortest repeated phrase in tokens that counts, logit penalty).
PHRASE_REP_PEN_LEVELS: dict[str, tuple[int, float]] = {
    "off": (0, 0.0),
    "very_light": (4, 0.25),
    "light": (3, 0.5),
    "medium": (3, 1.0),
    "aggressive": (2, 1.5),
    "very_aggressive": (2, 2.5),
}


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
) -> dict[int, float]:
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
) -> dict[int, float]:
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
) -> dict[int, float]:
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
) -> dict[int, float]:
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


def apply_bans(
    logits: Mapping[int, float], tokens: Sequence[int], bans: Iterable[Sequence[int]]
) -> dict[int, float]:
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
) -> dict[int, float]:
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
