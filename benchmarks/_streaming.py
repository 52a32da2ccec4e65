"""What the streaming benchmarks share: a record per streamed round, medians, the sandbox's delay hook."""

from __future__ import annotations

import json
import statistics
import time
import urllib.request
from collections.abc import AsyncIterable, Callable, Iterable
from typing import Any


def record(t0: float, first: float, last: float, count: int) -> dict[str, float]:
    """Return one round's times relative to its start: first and last token, and the tokens counted."""
    return {"first": first - t0, "last": last - t0, "count": count}


def _every(_event: Any) -> bool:
    return True


def timed_rounds(
    stream: Callable[[], Iterable[Any]], rounds: int, counts: Callable[[Any], bool] = _every
) -> list[dict[str, float]]:
    """Return the :func:`record` of ``rounds`` streams made by ``stream()`` (one more first, to warm up),
    counting the events for which ``counts`` is true."""
    out = []
    for r in range(rounds + 1):
        t0 = time.perf_counter()
        first = last = 0.0
        count = 0
        for ev in stream():
            if counts(ev):
                last = time.perf_counter()
                first = first or last
                count += 1
        if r:
            out.append(record(t0, first, last, count))
    return out


async def atimed_rounds(
    stream: Callable[[], AsyncIterable[Any]], rounds: int, counts: Callable[[Any], bool] = _every
) -> list[dict[str, float]]:
    """:func:`timed_rounds` for async streams."""
    out = []
    for r in range(rounds + 1):
        t0 = time.perf_counter()
        first = last = 0.0
        count = 0
        async for ev in stream():
            if counts(ev):
                last = time.perf_counter()
                first = first or last
                count += 1
        if r:
            out.append(record(t0, first, last, count))
    return out


def summarise(runs: list[dict[str, float]]) -> tuple[float, float, float]:
    """Return the medians of (time to first token s, tokens/s after the first, tokens per stream)."""
    ttft = statistics.median(r["first"] for r in runs)
    rate = statistics.median(
        (r["count"] - 1) / (r["last"] - r["first"]) for r in runs if r["last"] > r["first"]
    )
    return ttft, rate, statistics.median(r["count"] for r in runs)


def set_token_delay(server: Any, url: str, area: str, delay: float) -> None:
    """Make the sandbox (started with ``--test-hooks``) wait ``delay`` s per streamed token in ``area``."""
    req = urllib.request.Request(
        f"{url}/_sandbox/{area}",
        data=json.dumps({"token_delay": delay}).encode(),
        method="PUT",
        headers={"Content-Type": "application/json", **server.admin_headers},
    )
    urllib.request.urlopen(req).read()
