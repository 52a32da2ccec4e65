"""Token counting, measured against novelai-api in the same run, and CLIP's first use before/after.

1. Batch counting: N texts (a DataFrame column's worth, with some CJK and emoji; "prose" draws words
   with Zipf frequencies from 50,000 forms, "unique" never repeats a word) counted for Kayra
   (sentencepiece), Erato (llama3) and Euterpe (gpt2) by
     - novelai-api 0.34.1 (its throwaway venv, see tests/refclients.py; ``Tokenizer.encode`` per text,
       it has no batch form; the reference times itself inside its own process),
     - naikit one by one (``count`` per text),
     - naikit batch (``count_many``: HF ``encode_batch`` / sentencepiece's threaded list encoding).
   Tokenizers are loaded before timing; each figure is the best of ``--runs``; naikit's batch keeps
   nothing between calls. Goal: batch >= 2x novelai-api on 2 cores.
2. CLIP first use (a fresh process each time): the first ``encode(prompt, "v3")`` with the code before
   the change (naikit/tokenizers.py at the base commit, read from git, which spelled the letter and
   number classes out by scanning every code point) and with the current package.

    .venv/bin/python benchmarks/bench_tokenize.py [--texts N] [--runs R]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from refclients import run_script  # noqa: E402

import naikit.tokenizers as nt  # noqa: E402

#: The commit before the tokenizers package (its naikit/tokenizers.py builds CLIP's classes by a scan).
BASE_COMMIT = "621565d"
MODELS = {"kayra-v1": "Kayra", "llama-3-erato-v1": "Erato", "euterpe-v2": "Euterpe"}
WORDS = (
    "the lamp sea ship keeper stairs harbour salt road wells caravan night morning window river stone "
    "bread honey orchard clock mara tomas ines elias north light wind rope tide map compass"
).split()
EXTRA = ["漢字", "かな", "한국어", "😀", "👍🏽", "café", "naïve", "—", "“quoted”"]

REF = r"""
import json, sys, time
from novelai_api.Tokenizer import Tokenizer
from novelai_api.ImagePreset import ImageModel
from novelai_api.Preset import Model

texts = json.load(open(sys.argv[1], encoding="utf-8"))
runs = int(sys.argv[2])
out = {}
for name in json.loads(sys.argv[3]):
    model = getattr(Model, name)
    Tokenizer.encode(model, "warm up")
    best = None
    for _ in range(runs):
        t = time.perf_counter()
        counts = [len(Tokenizer.encode(model, s)) for s in texts]
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    out[name] = {"seconds": best, "tokens": sum(counts)}
print(json.dumps(out))
"""

CLIP_PROMPT = "masterpiece, best quality, 1girl, solo, long hair, looking at viewer, smile, {{blue eyes}}"

NEW_FIRST_USE = r"""
import sys, time
import naikit.tokenizers as nt
t = time.perf_counter()
nt.encode(sys.argv[1], "v3")
print(time.perf_counter() - t)
"""

OLD_FIRST_USE = r"""
import importlib.util, sys, time
import naikit.errors, naikit.novelai.models
# the pre-split module, loaded as a sibling of naikit's modules so that its relative imports resolve
spec = importlib.util.spec_from_file_location("naikit._tokenizers_before", sys.argv[2])
old = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = old
spec.loader.exec_module(old)
t = time.perf_counter()
old.encode(sys.argv[1], "v3")
print(time.perf_counter() - t)
"""


def _word(rnd: random.Random) -> str:
    syllables = [
        "ka",
        "ri",
        "mo",
        "sen",
        "tal",
        "or",
        "vi",
        "na",
        "eth",
        "lu",
        "dra",
        "quo",
        "pe",
        "sh",
        "ym",
    ]
    return "".join(rnd.choice(syllables) for _ in range(rnd.randint(1, 4)))


def corpus(n: int, kind: str, seed: int = 7) -> list[str]:
    """Return ``n`` texts of 5 to 120 words, one in five with CJK, emoji or accents mixed in.

    ``kind`` "prose": words drawn with Zipf frequencies (weight 1/rank) from 50,000 word forms, as
    words repeat in a column of real text; "unique": every word is new (no repetition to profit from).
    """
    rnd = random.Random(seed)
    if kind == "prose":
        forms = list(dict.fromkeys(_word(rnd) for _ in range(80_000)))[:50_000] + WORDS
        weights = [1 / (r + 1) for r in range(len(forms))]
        draw = lambda k: rnd.choices(forms, weights, k=k)  # noqa: E731
    else:
        counter = iter(range(10**9))
        draw = lambda k: [f"{_word(rnd)}{next(counter)}" for _ in range(k)]  # noqa: E731
    texts = []
    for _ in range(n):
        words = draw(rnd.randint(5, 120))
        if rnd.random() < 0.2:
            words.insert(rnd.randrange(len(words)), rnd.choice(EXTRA))
        texts.append(" ".join(words).capitalize() + ".")
    return texts


def best_of(fn, runs: int) -> float:
    """Return the fastest of ``runs`` timings of ``fn()`` in seconds."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def fresh_process(code: str, *args: str, runs: int) -> float:
    """Return the best of ``runs`` figures printed by ``code`` run in a new interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    got = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=env, cwd=ROOT
        )
        got.append(float(out.stdout.strip()))
    return min(got)


def bench_counting(n: int, runs: int, kind: str) -> None:
    texts = corpus(n, kind)
    chars = sum(map(len, texts))
    words = sum(t.count(" ") + 1 for t in texts)
    print(
        f"\nbatch counting, {kind}: {n:,} texts, {words:,} words, {chars:,} characters, best of {runs}, "
        f"{os.cpu_count()} cores"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(texts, f, ensure_ascii=False)
    try:
        ref = json.loads(run_script("novelai-api", REF, f.name, str(runs), json.dumps(list(MODELS.values()))))
    finally:
        os.unlink(f.name)
    print(
        f"{'model':<18} {'novelai-api':>12} {'one by one':>12} {'batch':>10}  batch vs ref  batch vs 1-by-1"
    )
    for model, ref_name in MODELS.items():
        nt.encode("warm up", model)
        one = best_of(lambda: [nt.count(t, model) for t in texts], runs)  # noqa: B023
        many = best_of(lambda: nt.count_many(texts, model), runs)  # noqa: B023
        assert nt.count_many(texts, model) == [nt.count(t, model) for t in texts]
        r = ref[ref_name]["seconds"]
        print(
            f"{model:<18} {r:>11.3f}s {one:>11.3f}s {many:>9.3f}s  {r / many:>10.2f}x  {one / many:>13.2f}x"
        )


def bench_clip_first_use(runs: int) -> None:
    try:
        before = subprocess.run(
            ["git", "show", f"{BASE_COMMIT}:naikit/tokenizers.py"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        print("CLIP first use: skipped (no git history with the base commit)")
        return
    with tempfile.NamedTemporaryFile("wb", suffix=".py", delete=False) as f:
        f.write(before)
    try:
        old = fresh_process(OLD_FIRST_USE, CLIP_PROMPT, f.name, runs=runs)
    finally:
        os.unlink(f.name)
    new = fresh_process(NEW_FIRST_USE, CLIP_PROMPT, runs=runs)
    print(f"CLIP first encode in a fresh process (vocabulary load included), best of {runs}:")
    print(f"  before (classes from a scan of every code point): {old:.3f}s")
    print(f"  now (stand-in characters, no scan):                {new:.3f}s   {old / new:.2f}x faster")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before the run: {os.getloadavg()[0]:.1f} (other processes share the cores)")
    for kind in ("prose", "unique"):
        bench_counting(args.texts, args.runs, kind)
    bench_clip_first_use(args.runs)


if __name__ == "__main__":
    main()
