"""The README's Python examples run as written (offline, against the embedded sandbox)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    sync_block, async_block = blocks[0], blocks[1]
    script = (
        sync_block
        + "\nimport asyncio\n\nasync def _main():\n"
        + "".join("    " + line + "\n" for line in async_block.splitlines())
        + "    return info\n\ninfo = asyncio.run(_main())\nprint('OK', type(info).__name__)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NAI_", "NOVITA_"))}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert "offline sandbox" in out.stdout and "OK AccountInformation" in out.stdout


def _bash_blocks() -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)]


def test_readme_test_command_is_what_ci_runs():
    blocks = _bash_blocks()
    assert "bash .ci/run" in blocks
    ci = (README.parent / ".ci" / "run").read_text()
    # .ci/run ends by running pytest in the venv it made, so the README's command is the whole suite
    assert re.search(r"^exec \.venv/bin/python -m pytest", ci, flags=re.M)


def test_readme_main_command_names_things_that_exist():
    import tomllib

    main = next(b for b in _bash_blocks() if "naikit lab" in b)
    steps = [s.strip() for s in main.split("&&")]
    assert steps[0] == "python3 -m venv .venv"
    install = re.fullmatch(r"\.venv/bin/pip install -e '\.\[(\w+)\]'", steps[1])
    assert install, steps[1]
    project = tomllib.loads((README.parent / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert install.group(1) in extras and any(d.startswith("jupyterlab") for d in extras[install.group(1)])
    script, *args = steps[2].split()
    assert script == ".venv/bin/naikit" and project["scripts"]["naikit"].startswith("naikit")
    # the subcommand and the flag the README mentions are accepted by the real CLI
    readme_flags = re.findall(r"add `(--[\w-]+)`", README.read_text())
    out = subprocess.run(
        [sys.executable, "-m", "naikit", *args, "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert readme_flags and all(f in out.stdout for f in readme_flags), (readme_flags, out.stdout)
