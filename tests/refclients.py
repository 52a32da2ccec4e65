"""Throwaway virtual environments holding other NovelAI / Novita clients from PyPI.

Tests and benchmarks use them to check naikit against an independent implementation (round trips,
same token ids, same wire format). They are never a runtime dependency of naikit: each lives in its
own venv under the cache folder and is driven through a subprocess running a small script.

``python_for("novelai-api")`` returns the venv's interpreter, creating it once (guarded by a lock
file, so parallel test processes share it). The cache folder is ``$NAIKIT_REF_CACHE`` or
``~/.cache/naikit-ref``.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

# Pinned so that a new release upstream cannot change what "the reference" means under a test.
PINS: dict[str, list[str]] = {
    "novelai-api": ["novelai-api==0.34.1"],
    # novita-client leaves dataclass-wizard unpinned and cannot serialise its own requests with 1.0
    "novita-client": ["novita-client==0.7.1", "dataclass-wizard==0.22.3"],
    # images only; requires Python >= 3.10 (naikit's venv is 3.11)
    "novelai-sdk": ["novelai-sdk==0.14.1"],
    # OpenAI's official SDK, pointed at the sandbox's /oa/v1 (GLM-4.6 / Xialong)
    "openai": ["openai==3.51.0"],
}


def cache_dir() -> Path:
    """Return the folder that holds the reference venvs (created if missing)."""
    root = Path(os.environ.get("NAIKIT_REF_CACHE", Path.home() / ".cache" / "naikit-ref"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def python_for(name: str) -> Path:
    """Return the interpreter of a venv that has the pinned ``name`` installed (built on first use)."""
    reqs = PINS[name]
    root = cache_dir()
    target = root / (name + "-" + "-".join(r.split("==")[-1] for r in reqs))
    py = target / "bin" / "python"
    stamp = target / ".complete"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists():
            if target.exists():
                import shutil

                shutil.rmtree(target)
            venv.EnvBuilder(with_pip=True, clear=True).create(target)
            subprocess.run(
                [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *reqs],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            stamp.write_text(json.dumps(reqs))
    return py


def run_script(name: str, script: str, *args: str, timeout: float = 600, env: dict | None = None) -> str:
    """Run ``script`` (Python source) in the reference venv of ``name``; return its stdout.

    Raises CalledProcessError with the script's stderr attached when it fails.
    """
    py = python_for(name)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("NAI_", "NOVITA_"))}
    full_env.update(env or {})
    proc = subprocess.run(
        [str(py), "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise subprocess.CalledProcessError(proc.returncode, proc.args, proc.stdout, proc.stderr)
    return proc.stdout


if __name__ == "__main__":  # `python tests/refclients.py novelai-api` pre-builds a venv
    for n in sys.argv[1:] or list(PINS):
        print(n, python_for(n))
