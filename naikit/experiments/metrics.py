"""Metrics of one result and bootstrap confidence intervals over many.

Text: tokens, characters, mean logprob (of the chosen tokens, before sampling), perplexity
(``exp(-mean logprob)``), distinct-1/2 (distinct n-grams / all n-grams), repetition rate (share of the
output's 3-grams already seen in the prompt or earlier in the output).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["distinct_n", "repetition_rate", "perplexity", "bootstrap_ci"]


def distinct_n(tokens: Sequence[int], n: int = 2) -> float:
    """Return distinct n-grams / all n-grams of ``tokens`` (NaN when there are none)."""
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else math.nan


def repetition_rate(tokens: Sequence[int], prompt: Sequence[int] = (), n: int = 3) -> float:
    """Return the share of the output's n-grams already seen earlier (in the prompt or the output)."""
    seen = {tuple(prompt[i : i + n]) for i in range(len(prompt) - n + 1)}
    full = list(prompt[-(n - 1) :]) + list(tokens) if n > 1 and prompt else list(tokens)
    total = repeated = 0
    for i in range(len(full) - n + 1):
        g = tuple(full[i : i + n])
        total += 1
        repeated += g in seen
        seen.add(g)
    return repeated / total if total else math.nan


def perplexity(mean_logprob: float | None) -> float:
    """Return ``exp(-mean_logprob)`` (NaN when there is no logprob)."""
    if mean_logprob is None or math.isnan(mean_logprob):
        return math.nan
    return math.exp(-mean_logprob)


def bootstrap_ci(
    values: Sequence[float], *, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Return ``(mean, low, high)``: the mean of ``values`` (NaNs dropped) and its percentile-bootstrap
    interval at ``level``, drawn from a generator seeded with ``seed`` (the same inputs give the same
    interval). With fewer than two values the interval is the mean itself (NaN when empty)."""
    import numpy as np

    arr = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if arr.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(arr.mean())
    if arr.size < 2:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, arr.size, size=(n_boot, arr.size))].mean(axis=1)
    alpha = (1 - level) / 2
    return mean, float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))
