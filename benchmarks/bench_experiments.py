"""Experiments: generation-slot utilisation at 100 ms sandbox latency, and a 100k-result journal.

1. Slot utilisation. The sandbox runs as a separate ``naikit serve`` process with ``--faults latency=0.1``
   on ``/ai/`` (every generation takes at least 100 ms, as a real model's round trip would). An account
   has one generation slot; utilisation = time with a generation in flight / wall time, measured on the
   client (the union of the intervals of ``generate`` calls). Runs, same server, same requests:

   * ``Experiment.run`` (journal on disk, one request at a time) — goal >= 95 %,
     over the run's send window (first request sent to last result journaled) and over all of ``run()``
     (planning, pricing and the journal included);
   * the reference: the same requests with ``NovelAI.generate`` in a plain loop, no journal.

2. Journal scale: a journal of 100,000 text results (written directly, the way runs write them) is opened
   (``Experiment.open``) and filtered (``frame(where=...)`` on one preset, then the full frame).

Prints figures and ratios; asserts nothing.

    .venv/bin/python benchmarks/bench_experiments.py [--requests 40] [--latency 0.1] [--results 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from served import start_serve, stop_serve  # noqa: E402

import naikit  # noqa: E402
from naikit.sandbox import DEMO_EMAIL, DEMO_PASSWORD  # noqa: E402

PROMPT = "The old lighthouse keeper climbed the stairs"
PRESETS = ["Carefree", "Asper", "Stelenes", "Fresh Coffee"]


def busy_fraction(intervals: list[tuple[float, float]], start: float, end: float) -> float:
    """Return the share of [start, end] covered by the union of ``intervals``."""
    covered, cur_s, cur_e = 0.0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                covered += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        covered += cur_e - cur_s
    return covered / (end - start)


def instrument(nai: naikit.NovelAI) -> list[tuple[float, float]]:
    """Record (start, end) of every generate call of ``nai``'s async client; return the list."""
    intervals: list[tuple[float, float]] = []
    aclient = nai._async
    real = aclient.generate

    async def timed(*a, **kw):
        t = time.perf_counter()
        try:
            return await real(*a, **kw)
        finally:
            intervals.append((t, time.perf_counter()))

    aclient.generate = timed  # instance attribute: this client only
    return intervals


def slot_utilisation(url: str, n: int) -> None:
    seeds = list(range(n // len(PRESETS)))
    creds = dict(base_url=url, email=DEMO_EMAIL, password=DEMO_PASSWORD)
    with naikit.NovelAI(**creds) as nai:
        nai.generate(PROMPT, "Carefree", model="kayra", max_length=4)  # log in, warm up
        intervals = instrument(nai)
        with tempfile.TemporaryDirectory() as d:
            exp = naikit.Experiment(d, prompts=[PROMPT], presets=PRESETS, seeds=seeds, models=["kayra"],
                                    fixed={"max_length": 8})  # fmt: skip
            t0 = time.perf_counter()
            exp.run(nai, progress=False)
            t1 = time.perf_counter()
        window = busy_fraction(intervals, intervals[0][0], intervals[-1][1])
        whole = busy_fraction(intervals, t0, t1)
        print(
            f"Experiment.run: {len(intervals)} requests in {t1 - t0:.2f} s; slot busy {window:.1%} of the "
            f"send window, {whole:.1%} of run() including planning"
        )
        intervals.clear()
        t0 = time.perf_counter()
        for p in PRESETS:
            for s in seeds:
                nai.generate(PROMPT, p, model="kayra", seed=s, max_length=8)
        t1 = time.perf_counter()
        ref = busy_fraction(intervals, t0, t1)
        print(f"plain loop (reference): slot busy {ref:.1%}; Experiment/reference = {whole / ref:.3f}")


def journal_scale(n: int) -> None:
    from naikit.experiments.journal import Journal, canonical_json, request_key

    with tempfile.TemporaryDirectory() as d:
        j = Journal(d)
        cells = []
        for i in range(n):
            axes = {"model": "kayra-v1", "preset": PRESETS[i % 4], "prompt": PROMPT, "seed": i // 4}
            body = {"i": i}
            cells.append((request_key(body), "text", body, axes))
        t = time.perf_counter()
        j.register("default", cells)
        result = canonical_json({
            "text": " a quiet night" * 3, "token_ids": list(range(24)), "logprobs": [-1.5] * 24,
            "finish_reason": None, "model": "kayra-v1",
            "metrics": {"tokens": 24, "characters": 42, "mean_logprob": -1.5, "perplexity": 4.48,
                        "distinct_1": 0.9, "distinct_2": 0.95, "repetition_rate": 0.0},
        })  # fmt: skip
        with j._lock:
            row = json.loads(result)
            row = canonical_json({"text": row["text"], **row["metrics"], "finish_reason": None})
            j._db.execute(
                "UPDATE requests SET state='done', result=?, row=?, spent_by='default', elapsed=0.1",
                (result, row),
            )
        j.close()
        build = time.perf_counter() - t
        size = os.path.getsize(os.path.join(d, "journal.sqlite3")) / 1e6
        import pandas  # noqa: F401  # loaded in any notebook already; its import is not the journal's time

        t = time.perf_counter()
        exp = naikit.Experiment.open(d)
        opened = time.perf_counter() - t
        t = time.perf_counter()
        f1 = exp.frame(where="json_extract(p.axes, '$.preset') = ?", args=["Asper"])
        filtered = time.perf_counter() - t
        t = time.perf_counter()
        st = exp.status()
        status = time.perf_counter() - t
        t = time.perf_counter()
        f = exp.frame()
        full = time.perf_counter() - t
        t = time.perf_counter()
        sub = f[f.preset == "Asper"]
        pandas_filter = time.perf_counter() - t
        assert len(f1) == len(sub) == n // 4 and st["done"] == n
        print(
            f"journal of {n} results ({size:.0f} MB, written in {build:.1f} s): open {opened * 1000:.1f} ms; "
            f"SQL-filtered frame (one preset, {len(f1)} rows) {filtered:.2f} s; "
            f"status {status * 1000:.0f} ms; full frame {full:.2f} s; "
            f"pandas filter on it {pandas_filter * 1000:.1f} ms; "
            f"open + SQL filter = {opened + filtered:.2f} s"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--results", type=int, default=100_000)
    args = ap.parse_args()
    server, url = start_serve("--faults", f"latency={args.latency},paths=/ai/")
    try:
        slot_utilisation(url, args.requests)
    finally:
        stop_serve(server)
    journal_scale(args.results)


if __name__ == "__main__":
    main()
