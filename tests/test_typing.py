"""Type checkers see the blocking clients' methods: the generated stubs are current, and mypy types a user
script written from the README's examples with naikit's own return types."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

USER_SCRIPT = """\
import naikit

nai = naikit.NovelAI()
sub = nai.subscription()
reveal_type(sub)
reveal_type(sub.anlas)
g = nai.generate("prompt", naikit.Preset.official("erato", "Golden Arrow"), seed=1)
reveal_type(g)
for tok in nai.generate_stream("prompt", "Carefree", model="kayra"):
    reveal_type(tok)
reveal_type(nai.stories())
reveal_type(nai.generate_image("1girl, lanterns", naikit.ImagePreset.default("v4.5"), max_anlas=20))
nv = naikit.Novita()
reveal_type(nv.task_ids)
nai.no_such_method()
nai.subscription(42)
"""

EXPECTED = {
    5: "naikit.novelai.account.Subscription",
    6: "int",
    8: "naikit.novelai.generation.Generation",
    10: "naikit.novelai.generation.StreamToken",
    11: "naikit.novelai.content.ContentList",
    12: "naikit.novelai.images_result.ImageResult",
    14: "list[str]",
}


def test_blocking_stubs_are_current():
    out = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "gen_blocking_stubs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_sees_the_blocking_clients(tmp_path):
    script = tmp_path / "user.py"
    script.write_text(USER_SCRIPT)
    # as for an installed package: naikit's own files are read for types but not reported on
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "mypy", "--follow-imports=silent", "--no-error-summary"]
    out = subprocess.run(
        [*cmd, "--cache-dir", str(tmp_path / "cache"), str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=900,
    )
    revealed = {
        int(m.group(1)): m.group(2)
        for m in re.finditer(r"user\.py:(\d+): note: Revealed type is \"(.*)\"", out.stdout)
    }
    assert revealed == EXPECTED, out.stdout + out.stderr
    errors = re.findall(r"user\.py:(\d+): error: (.*)", out.stdout)
    # exactly the two mistakes the script makes on purpose: a method that does not exist, a wrong argument
    assert [int(line) for line, _ in errors] == [15, 16], out.stdout
    assert "no_such_method" in errors[0][1] and "subscription" in errors[1][1]
