"""Experiments: sweeps journaled on disk (SQLite), cached by request hash, bounded by a budget.

- :mod:`.journal` — the SQLite journal (WAL) and the request key (sha256 of the canonical body)
- :mod:`.plan` — the cells of a sweep (axes, key, the call that sends it)
- :mod:`.metrics` — text metrics and bootstrap intervals
- :mod:`.experiment` — :class:`Experiment`: run / resume / stop, frame, summary, export

``naikit.comparison`` and ``naikit.xyplot`` run on this engine.
"""

from __future__ import annotations

from .experiment import IMAGE_METRICS, TEXT_METRICS, Experiment, RunReport
from .journal import Journal, request_key
from .metrics import bootstrap_ci, distinct_n, perplexity, repetition_rate

__all__ = [
    "Experiment",
    "RunReport",
    "Journal",
    "request_key",
    "bootstrap_ci",
    "distinct_n",
    "perplexity",
    "repetition_rate",
    "TEXT_METRICS",
    "IMAGE_METRICS",
]
