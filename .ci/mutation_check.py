"""Mutation check: change one constant in each request builder and show that a test fails.

Each mutation is applied to a copy of the repository in a temporary folder; the tests that guard that
builder run against the copy (PYTHONPATH), and the mutation counts as caught when pytest reports at least one
failure. Run by hand (it takes a few minutes): ``.venv/bin/python .ci/mutation_check.py``. Exit code 1 when a
mutation survives or no longer applies (the constant moved: update the table).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (builder, file, text as it stands, text after the mutation, tests that must catch it)
MUTATIONS = [
    (
        "text (native): repetition-penalty rescale of older models",
        "naikit/novelai/presets.py",
        '1 + 0.525 * (params["repetition_penalty"] - 1) / 7',
        '1 + 0.5 * (params["repetition_penalty"] - 1) / 7',
        ["tests/test_site_text.py", "tests/test_presets.py"],
    ),
    (
        "text (native): Erato's default-whitelist models",
        "naikit/novelai/_text_settings.py",
        '_WHITELIST_MODELS = frozenset({"clio-v1", "kayra-v1", "llama-3-erato-v1"})',
        '_WHITELIST_MODELS = frozenset({"clio-v1", "kayra-v1"})',
        ["tests/test_site_text.py", "tests/test_presets.py"],
    ),
    (
        "image: Variety+ sigma of V4.5/V5",
        "naikit/novelai/_image_request.py",
        'base = 58 if spec.generation in ("v4.5", "v5") else 19',
        'base = 57 if spec.generation in ("v4.5", "v5") else 19',
        ["tests/test_website_image.py"],
    ),
    (
        "Novita: txt2img sampler field name",
        "naikit/novita/_image_bodies.py",
        'body["sampler_name"] = check_choice(sampler_name, "sampler_name", SAMPLERS)',
        'body["sampler"] = check_choice(sampler_name, "sampler_name", SAMPLERS)',
        ["tests/test_novita_requests.py"],
    ),
]


def run_one(file: str, old: str, new: str, tests: list[str]) -> tuple[str, str]:
    """Return (verdict, pytest's last line) for one mutation."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.pyc"))
        target = copy / file
        text = target.read_text()
        if text.count(old) != 1:
            return "NOT APPLIED", f"{old!r} found {text.count(old)} times in {file}"
        target.write_text(text.replace(old, new))
        env = {**os.environ, "PYTHONPATH": str(copy)}
        cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-o", "addopts=", *tests]
        out = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=1800)
        last = (out.stdout.strip().splitlines() or [""])[-1]
        return ("CAUGHT" if re.search(r"\b\d+ failed\b", last) else "SURVIVED"), last


def main() -> int:
    """Apply every mutation, print a table, return 1 if any survived or did not apply."""
    bad = 0
    for name, file, old, new, tests in MUTATIONS:
        verdict, last = run_one(file, old, new, tests)
        bad += verdict != "CAUGHT"
        print(f"{verdict:11} {name}: {last}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
