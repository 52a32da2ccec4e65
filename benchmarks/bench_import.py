"""`import naikit` wall time and peak RSS against `import novelai_api`, measured in the same run.

Each import runs in a fresh interpreter (the venv of each package), several times; the child reports
its own wall time for the import and its peak RSS (ru_maxrss). A bare `python -c pass` is measured the
same way, so the figures for the package itself are also shown with the interpreter's baseline
subtracted. Prints ratios; asserts nothing (timing is never a pass/fail test).

    .venv/bin/python benchmarks/bench_import.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from refclients import python_for  # noqa: E402

CHILD = r"""
import json, resource, sys, time
t = time.perf_counter()
exec(sys.argv[1])
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def measure(python: str, stmt: str, repeat: int) -> tuple[float, float]:
    """Return (median import seconds, median peak RSS in MiB) of ``stmt`` in fresh interpreters."""
    secs, rss = [], []
    for _ in range(repeat):
        out = subprocess.run([python, "-c", CHILD, stmt], capture_output=True, text=True, check=True)
        d = json.loads(out.stdout.strip().splitlines()[-1])
        secs.append(d["seconds"])
        rss.append(d["maxrss_kb"] / 1024)
    return statistics.median(secs), statistics.median(rss)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    ref = str(python_for("novelai-api"))
    ours = sys.executable
    rows = {
        "python (baseline)": measure(ours, "pass", args.repeat),
        "import naikit": measure(ours, "import naikit", args.repeat),
        "naikit.NovelAI (client loaded)": measure(ours, "import naikit; naikit.NovelAI", args.repeat),
        "ref python (baseline)": measure(ref, "pass", args.repeat),
        "import novelai_api": measure(ref, "import novelai_api", args.repeat),
        "novelai_api.NovelAIAPI": measure(ref, "from novelai_api import NovelAIAPI", args.repeat),
    }
    print(f"{'what':34} {'seconds':>9} {'peak RSS MiB':>13}")
    for k, (s, m) in rows.items():
        print(f"{k:34} {s:9.4f} {m:13.1f}")
    ref_s, ref_m = rows["import novelai_api"]
    base_ref = rows["ref python (baseline)"][1]
    base_ours = rows["python (baseline)"][1]
    for name in ("import naikit", "naikit.NovelAI (client loaded)"):
        s, m = rows[name]
        print(
            f"{name}: {ref_s / s:.1f}x faster than import novelai_api; "
            f"peak RSS {m / ref_m:.2f} of it "
            f"({(m - base_ours) / max(ref_m - base_ref, 1e-9):.3f} above baseline)"
        )


if __name__ == "__main__":
    main()
