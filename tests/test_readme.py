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


def _map_section() -> str:
    text = README.read_text()
    start = text.index("### The map: what each result offers")
    return text[start : text.index("\n### ", start + 10)]


def test_readme_three_tasks_run_as_a_user_script(tmp_path):
    """The README's script for three everyday tasks (compare three Erato presets; tokenize mixed English,
    Japanese and emoji for two models; a 2x3 X/Y image grid with its metadata read back) runs as written."""
    block = next(
        b for b in re.findall(r"```python\n(.*?)```", _map_section(), flags=re.S) if "three tasks" in b
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NAI_", "NOVITA_"))}
    env["PYTHONPATH"] = str(README.parent)
    out = subprocess.run(
        [sys.executable, "-c", block], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert sum(line.startswith(("kayra ", "erato ")) for line in lines) == 2
    assert "(['scale=4.0', 'scale=6.0', 'scale=8.0'], ['steps=12', 'steps=20']) 6" in lines
    saved = [line for line in lines if line.startswith("cell") and ".png " in line]
    assert len(saved) == 6 and all(line.split()[1] != "None" for line in saved)  # metadata read back
    assert list(tmp_path.iterdir()) == []  # nothing written where the script ran


def test_readme_map_table_examples_run(tmp_path):
    """Every call written in the map's table runs, with a few names a reader would have defined."""
    import naikit
    from naikit import sandbox

    rows = [ln for ln in _map_section().splitlines() if ln.startswith("| `")]
    spans = [s for ln in rows for s in re.findall(r"`([^`]+)`", ln)]
    calls = [s for s in spans if "(" in s and "..." not in s and not s.startswith(".")]
    with sandbox.start() as sb:
        nai = naikit.NovelAI(base_url=sb.url, email=sandbox.DEMO_EMAIL, password=sandbox.DEMO_PASSWORD)
        res = nai.generate_image(
            "a lighthouse", naikit.ImagePreset.default("v4.5").replace(width=512, height=512)
        )
        ns = {
            "naikit": naikit,
            "nai": nai,
            "prompt": "The lighthouse keeper",
            "presets": ["Golden Arrow", "Wilder"],
            "seeds": [1],
            "text": "The dragon said 「まだだ」 🐉",
            "res": res,
            "png": res[0].png,
            "folder": tmp_path / "out",
            "path": tmp_path / "one.png",
            "preset": naikit.Preset.official("erato"),
            "model": "erato",
            "name": "Wilder",
        }
        ns["comparison"] = naikit.compare(
            ns["prompt"], ns["presets"], ns["seeds"], client=nai, model="erato", max_length=8
        )
        ran = []
        for code in calls:
            try:
                compiled = compile(code, "<README>", "exec")
            except SyntaxError:
                continue  # prose in code marks, e.g. `(ImagePreset field or "prompt", values)`
            if code.startswith("preset.save"):
                ns["path"] = tmp_path / "p.preset"
            exec(compiled, ns)
            ran.append(code)
        nai.close()
    assert len(ran) >= 12, ran
    assert ns["t"].labels and len(ns["t"]) == len(ns["t"].to_frame())


def test_every_name_the_notebooks_use_is_in_the_readme():
    import ast
    import json

    readme = README.read_text()
    used: set[str] = set()
    for nb in sorted((README.parent / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            try:
                tree = ast.parse("".join(cell["source"]))
            except SyntaxError:
                continue  # top-level await
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("naikit"):
                    used.update(a.name for a in node.names)
                elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                    if node.value.id == "naikit":
                        used.add(node.attr)
    assert used, "the notebooks import naikit"
    missing = sorted(n for n in used if n not in readme)
    assert missing == [], f"public names the notebooks use but the README never mentions: {missing}"
