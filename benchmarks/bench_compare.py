"""``compare()`` of 5 presets x 4 seeds against the same 20 calls made one by one, same run, same sandbox.

The sandbox runs as a separate `naikit serve` process and takes ``token_delay`` seconds per generated
token (``PUT /_sandbox/text``), so a generation costs what a model would rather than what the n-gram
model does. NovelAI lets an account run one generation at a time; ``compare()`` keeps within the
client's ``max_concurrent_generations``. Measured:

* one by one: ``NovelAI.generate`` in a loop (the reference);
* ``compare()`` at the account's limit of 1 (the sandbox's default, as NovelAI);
* ``compare()`` with the limit raised to 4 on both sides (``PUT /_sandbox/text {"concurrency": 4}`` and
  ``max_concurrent_generations=4``), for an account or a server that allows it.

Every run produces the same 20 texts (checked). Prints medians and ratios; asserts nothing.

    .venv/bin/python benchmarks/bench_compare.py [--rounds 3] [--delay 0.005] [--tokens 40]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from served import start_serve, stop_serve  # noqa: E402

import naikit  # noqa: E402
from naikit.comparison import compare  # noqa: E402
from naikit.sandbox import DEMO_EMAIL, DEMO_PASSWORD  # noqa: E402

PROMPT = "The old lighthouse keeper climbed the stairs"
PRESETS = ["Carefree", "Asper", "Stelenes", "Fresh Coffee", "Writer's Daemon"]
SEEDS = [0, 1, 2, 3]


def put_settings(url: str, admin: dict[str, str], **values: float) -> None:
    req = urllib.request.Request(
        url + "/_sandbox/text",
        data=json.dumps(values).encode(),
        method="PUT",
        headers={"Content-Type": "application/json", **admin},
    )
    urllib.request.urlopen(req).read()


def one_by_one(nai: naikit.NovelAI, n: int) -> tuple[float, list[str]]:
    t0 = time.perf_counter()
    texts = [
        nai.generate(PROMPT, p, model="kayra", seed=s, max_length=n, min_length=n).text
        for p in PRESETS
        for s in SEEDS
    ]
    return time.perf_counter() - t0, texts


def with_compare(nai: naikit.NovelAI, n: int) -> tuple[float, list[str]]:
    t0 = time.perf_counter()
    c = compare(PROMPT, PRESETS, SEEDS, client=nai, model="kayra", max_length=n, min_length=n)
    wall = time.perf_counter() - t0
    return wall, [c.generations[(p, s)].text for p in PRESETS for s in SEEDS]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--delay", type=float, default=0.005, help="seconds the sandbox takes per token")
    ap.add_argument("--tokens", type=int, default=40)
    args = ap.parse_args()
    server, url = start_serve("--test-hooks")
    times: dict[str, list[float]] = {"one by one": [], "compare(), limit 1": [], "compare(), limit 4": []}
    texts: dict[str, list[str]] = {}
    retries = {}
    try:
        put_settings(url, server.admin_headers, token_delay=args.delay, concurrency=1)
        creds = dict(base_url=url, email=DEMO_EMAIL, password=DEMO_PASSWORD)
        with naikit.NovelAI(**creds) as one, naikit.NovelAI(max_concurrent_generations=4, **creds) as four:
            one.generate(PROMPT, model="kayra", max_length=2)  # login, and the server builds its model
            four.generate(PROMPT, model="kayra", max_length=2)
            for _ in range(args.rounds):
                put_settings(url, server.admin_headers, concurrency=1)
                wall, texts["one by one"] = one_by_one(one, args.tokens)
                times["one by one"].append(wall)
                wall, texts["compare(), limit 1"] = with_compare(one, args.tokens)
                times["compare(), limit 1"].append(wall)
                put_settings(url, server.admin_headers, concurrency=4)
                wall, texts["compare(), limit 4"] = with_compare(four, args.tokens)
                times["compare(), limit 4"].append(wall)
            retries = {"limit 1": one.stats.get("retry_429", 0), "limit 4": four.stats.get("retry_429", 0)}
    finally:
        stop_serve(server)
    n_calls = len(PRESETS) * len(SEEDS)
    print(
        f"{len(PRESETS)} Kayra presets x {len(SEEDS)} seeds = {n_calls} generations of {args.tokens} tokens, "
        f"sandbox token_delay {args.delay * 1e3:.1f} ms (>= {args.tokens * args.delay:.2f} s each), "
        f"median of {args.rounds} rounds"
    )
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"  {k:20} {v:6.2f} s  ({v / n_calls * 1e3:6.1f} ms per generation)")
    same = texts["one by one"] == texts["compare(), limit 1"] == texts["compare(), limit 4"]
    print(f"same 20 texts in every run: {same}; 429 retries: {retries}")
    for k in ("compare(), limit 1", "compare(), limit 4"):
        print(f"{k} / one by one = {med[k] / med['one by one']:.2f}x the time")


if __name__ == "__main__":
    main()
