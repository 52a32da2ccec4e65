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


def test_readme_two_commands():
    text = README.read_text()
    assert "bash .ci/run" in text
    assert re.search(
        r"python3 -m venv \.venv && \.venv/bin/pip install -e '\.\[lab\]' && \.venv/bin/naikit lab", text
    )
