"""Token log-probabilities of a generation: the ``logprobs`` list of a response, parsed (spec §5.7).

Each entry is ``{"chosen": [E], "before": [E...], "after": [E...]}`` with
``E = [[token_id, ...], [logprob_before, logprob_after_or_null]]``; the candidates' text comes from
their token bytes, so a candidate that is part of a character shows its bytes escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._decode import finite
from ..errors import InputError
from .encoding import token_bytes

__all__ = ["Candidate", "LogprobStep", "parse_logprobs"]


@dataclass(frozen=True)
class Candidate:
    """One candidate token of a logprobs entry: its ids, text and log-probabilities."""

    ids: tuple[int, ...]
    text: str
    before: float | None
    after: float | None

    @property
    def p_before(self) -> float | None:
        """Return the probability before sampling (None when not given)."""
        return None if self.before is None else math.exp(self.before)

    @property
    def p_after(self) -> float | None:
        """Return the probability after the sampler chain (None: removed by sampling, or not given)."""
        return None if self.after is None else math.exp(self.after)


@dataclass(frozen=True)
class LogprobStep:
    """One generated token: the chosen candidate and the top alternatives before and after sampling."""

    index: int
    chosen: Candidate
    before: tuple[Candidate, ...]
    after: tuple[Candidate, ...]


def _candidate(e: Any, model: str, where: str) -> Candidate:
    shape = "[[token_id, ...], [logprob_before, logprob_after_or_null]]"
    if not (isinstance(e, (list, tuple)) and len(e) == 2 and isinstance(e[0], (list, tuple)) and e[0]):
        raise InputError(where, e, shape)
    ids = e[0]
    probs = e[1] if isinstance(e[1], (list, tuple)) else None
    if (
        probs is None
        or len(probs) != 2
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    ):
        raise InputError(where, e, shape)
    vals = []
    for v in probs:
        if v is not None and not _is_logprob(v):
            raise InputError(where, e, shape, hint="log-probabilities are numbers <= 0 or null")
        vals.append(None if v is None else float(v))
    text = token_bytes(list(ids), model).decode("utf-8", "backslashreplace")
    return Candidate(tuple(ids), text, vals[0], vals[1])


def _is_logprob(v: Any) -> bool:
    # a natural log of a probability: <= 0 (a hair above allows float rounding; -inf is probability 0)
    f = finite(v)
    return (f is not None and f <= 1e-3) or (isinstance(v, float) and v == -math.inf)


def parse_logprobs(logprobs: Sequence[Any] | Mapping[str, Any], model: str) -> list[LogprobStep]:
    """Return one :class:`LogprobStep` per generated token from a response's ``logprobs`` list.

    ``logprobs`` may also be the response dict that holds the list under "logprobs". Each entry is
    ``{"chosen": [E], "before": [E...], "after": [E...]}`` with
    ``E = [[token_id, ...], [logprob_before, logprob_after_or_null]]`` (spec §5.7). Raises InputError
    naming the entry that does not have this shape.
    """
    if isinstance(logprobs, dict) and "logprobs" in logprobs:
        logprobs = logprobs["logprobs"]
    if not isinstance(logprobs, (list, tuple)):
        raise InputError("logprobs", logprobs, 'a list of {"chosen": [...], "before": [...], "after": [...]}')
    steps = []
    for k, entry in enumerate(logprobs):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("chosen"), (list, tuple))
            or not entry["chosen"]
        ):
            raise InputError(
                f"logprobs[{k}]", entry, 'a dict with "chosen": [E], "before": [E...], "after": [E...]'
            )
        chosen = _candidate(entry["chosen"][0], model, f"logprobs[{k}].chosen")
        lists = []
        for name in ("before", "after"):
            items = entry.get(name) or []
            if not isinstance(items, (list, tuple)):
                raise InputError(f"logprobs[{k}].{name}", items, "a list of [[token_id, ...], [lp, lp]]")
            lists.append(tuple(_candidate(e, model, f"logprobs[{k}].{name}") for e in items))
        before, after = lists
        steps.append(LogprobStep(k, chosen, before, after))
    return steps
