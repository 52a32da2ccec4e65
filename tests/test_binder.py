"""binder/: what mybinder runs must install naikit and start the notebooks against one sandbox."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

BINDER = Path(__file__).resolve().parents[1] / "binder"


def test_requirements_install_the_package_and_pin_what_ci_ran():
    lines = [ln.strip() for ln in (BINDER / "requirements.txt").read_text().splitlines()]
    reqs = [ln for ln in lines if ln and not ln.startswith("#")]
    assert "-e ." in reqs
    pins = dict(ln.split("==") for ln in reqs if "==" in ln)
    assert {"jupyterlab", "ipywidgets", "aiohttp", "pandas"} <= set(pins)
    for name, pinned in pins.items():
        # .ci/run installs with these pins as constraints, so CI tests exactly what Binder runs
        assert version(name) == pinned, f"binder pins {name}=={pinned} but the tests ran with {version(name)}"


def test_start_script_serves_sandbox_and_execs_command(tmp_path):
    start = BINDER / "start"
    assert os.access(start, os.X_OK)
    text = start.read_text()
    assert text.rstrip().endswith('exec "$@"')
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Run the real script with a probe command in place of Jupyter; use this venv's naikit.
    env = dict(
        os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", NAIKIT_BINDER_PORT=str(port)
    )
    probe = (
        "import os, time, urllib.request\n"
        "for _ in range(100):\n"
        "    try:\n"
        "        urllib.request.urlopen(os.environ['NAI_BASE_URL'] + '/', timeout=1); break\n"
        "    except OSError: time.sleep(0.1)\n"
        "import naikit\n"
        "with naikit.NovelAI() as nai:\n"
        "    print('tier', nai.subscription().tier, 'sandbox-embedded', nai.is_sandbox)\n"
    )
    out = subprocess.run(
        ["bash", str(start), sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "tier 3 sandbox-embedded False" in out.stdout  # the shared server, not one per kernel
    subprocess.run(["pkill", "-f", f"naikit serve --port {port}"], check=False)
    time.sleep(0.2)
    assert re.search(r"NAI_BASE_URL=http://127\.0\.0\.1:", text)
