"""The code stays ruff-clean (lint and format), so CI catches what a reviewer would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["naikit", "tests", "benchmarks"]
# The notebooks are linted too (unused or unsorted imports, long lines), but not reformatted: their cells
# are laid out for reading next to their outputs, which ruff format would not keep.
LINTED = [*PATHS, "notebooks"]


def test_ruff_check():
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *LINTED], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format():
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", *PATHS], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
