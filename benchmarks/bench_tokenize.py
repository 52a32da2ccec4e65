"""Token counting, measured against novelai-api in the same run, and CLIP's first use before/after.

1. Batch counting: N texts (a DataFrame column's worth, with some CJK and emoji; "prose" draws words
   with Zipf frequencies from 50,000 forms, "unique" never repeats a word) counted for Kayra
   (sentencepiece), Erato (llama3) and Euterpe (gpt2) by
     - novelai-api 0.34.1 (its throwaway venv, see tests/refclients.py; ``Tokenizer.encode`` per text,
       it has no batch form; the reference times itself inside its own process),
     - naikit one by one (``count`` per text),
     - naikit batch (``count_many``: each distinct word of the batch encoded once, by HF
       ``encode_batch`` / sentencepiece's threaded list encoding).
   Tokenizers are loaded before timing. Other processes share the cores, so the reference stays up
   in its own process and each round times it, naikit one by one and naikit's batch back to back;
   the table shows the medians and the per-round ratios as median [min-max], by wall time and by CPU
   time (all threads; what the work costs whatever the load). naikit's batch keeps nothing between
   calls. Goal: batch >= 2x novelai-api on 2 cores.
2. CLIP first use (a fresh process each time): the first ``encode(prompt, "v3")`` with the code before
   the change (naikit/tokenizers.py at the base commit, read from git, which spelled the letter and
   number classes out by scanning every code point) and with the current package.

    .venv/bin/python benchmarks/bench_tokenize.py [--texts N] [--runs R] [--kinds prose,unique]
        [--models kayra-v1,llama-3-erato-v1,euterpe-v2] [--no-clip]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from refclients import python_for  # noqa: E402

import naikit.tokenizers as nt  # noqa: E402

#: The commit before the tokenizers package (its naikit/tokenizers.py builds CLIP's classes by a scan).
BASE_COMMIT = "621565d"
MODELS = {"kayra-v1": "Kayra", "llama-3-erato-v1": "Erato", "euterpe-v2": "Euterpe"}
WORDS = (
    "the lamp sea ship keeper stairs harbour salt road wells caravan night morning window river stone "
    "bread honey orchard clock mara tomas ines elias north light wind rope tide map compass"
).split()
EXTRA = ["漢字", "かな", "한국어", "😀", "👍🏽", "café", "naïve", "—", "“quoted”"]

# The reference serves timings: it loads the texts once, then for each model name read from stdin it
# counts every text with Tokenizer.encode and prints the wall and CPU seconds of that pass, so that its
# rounds interleave with naikit's in the same minutes of a shared machine.
REF = r"""
import json, sys, time
from novelai_api.Tokenizer import Tokenizer
from novelai_api.Preset import Model

texts = json.load(open(sys.argv[1], encoding="utf-8"))
for line in sys.stdin:
    model = getattr(Model, line.strip())
    Tokenizer.encode(model, "warm up")
    c, t = time.process_time(), time.perf_counter()
    counts = [len(Tokenizer.encode(model, s)) for s in texts]
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    print(json.dumps({"wall": wall, "cpu": cpu, "tokens": sum(counts)}), flush=True)
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


def timed(fn) -> tuple[float, float]:
    """Return the wall and CPU seconds (all threads of this process) of one call of ``fn()``."""
    c, t = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def spread(xs: list[float]) -> str:
    """Return ``xs`` as "median [min-max]" with two decimals."""
    return f"{statistics.median(xs):.2f} [{min(xs):.2f}-{max(xs):.2f}]"


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


class RefServer:
    """novelai-api's counting pass, run on demand in its own venv (see :data:`REF`)."""

    def __init__(self, texts_file: str):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NAI_", "NOVITA_"))}
        self.proc = subprocess.Popen(
            [str(python_for("novelai-api")), "-c", REF, texts_file],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip

    def time(self, model: str) -> dict[str, float]:
        """Return novelai-api's wall and CPU seconds and token total for one pass over the texts."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(model + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the novelai-api reference stopped (exit {self.proc.wait()})")
        return json.loads(line)

    def close(self) -> None:
        """Stop the reference process."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def bench_counting(n: int, runs: int, kind: str, models: list[str]) -> None:
    texts = corpus(n, kind)
    chars = sum(map(len, texts))
    words = sum(t.count(" ") + 1 for t in texts)
    print(
        f"\nbatch counting, {kind}: {n:,} texts, {words:,} words, {chars:,} characters, {runs} interleaved "
        f"rounds, {os.cpu_count()} cores; median [min-max]"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(texts, f, ensure_ascii=False)
    ref = RefServer(f.name)
    try:
        print(
            f"{'model':<18} {'novelai-api':>12} {'one by one':>11} {'batch':>7}   {'batch vs ref (wall)':<20}"
            f" {'(CPU)':<18} batch vs 1-by-1"
        )
        for model in models:
            ref_name = MODELS[model]
            nt.encode("warm up", model)
            got = nt.count_many(texts, model)
            assert got == [nt.count(t, model) for t in texts]
            rows: dict[str, list[float]] = {k: [] for k in ("ref", "one", "many", "wall", "cpu", "vs_one")}
            for k in range(runs):
                # one round: the reference and naikit's batch back to back (which goes first alternates, so
                # that neither always meets the load the other leaves), then naikit one by one
                if k % 2:
                    many = timed(lambda: nt.count_many(texts, model))  # noqa: B023
                    r = ref.time(ref_name)
                else:
                    r = ref.time(ref_name)
                    many = timed(lambda: nt.count_many(texts, model))  # noqa: B023
                one = timed(lambda: [nt.count(t, model) for t in texts])  # noqa: B023
                if ref_name != "Erato":  # novelai-api's llama3 adds <|begin_of_text|> to every text
                    assert r["tokens"] == sum(got), (model, r["tokens"], sum(got))
                rows["ref"].append(r["wall"])
                rows["one"].append(one[0])
                rows["many"].append(many[0])
                rows["wall"].append(r["wall"] / many[0])
                rows["cpu"].append(r["cpu"] / many[1])
                rows["vs_one"].append(one[0] / many[0])
            med = {k: statistics.median(v) for k, v in rows.items()}
            print(
                f"{model:<18} {med['ref']:>11.3f}s {med['one']:>10.3f}s {med['many']:>6.3f}s   "
                f"{spread(rows['wall']) + 'x':<20} {spread(rows['cpu']) + 'x':<18} {spread(rows['vs_one'])}x"
            )
    finally:
        ref.close()
        os.unlink(f.name)


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
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kinds", default="prose,unique")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--no-clip", action="store_true")
    args = parser.parse_args()
    print(f"load average before the run: {os.getloadavg()[0]:.1f} (other processes share the cores)")
    for kind in args.kinds.split(","):
        bench_counting(args.texts, args.runs, kind, args.models.split(","))
    if not args.no_clip:
        bench_clip_first_use(args.runs)


if __name__ == "__main__":
    main()
