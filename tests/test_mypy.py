"""Type checking in the suite: mypy over naikit/ at the strictness pyproject.toml names finds 0 errors, and a
user script made from the README's examples type-checks with no ``Any`` coming out of naikit.

The strictness (``[tool.mypy]`` in pyproject.toml): mypy's defaults, bodies of unannotated functions checked
(``check_untyped_defs``), ignores that hide nothing reported (``warn_unused_ignores``), ``strict_equality``,
no implicit Optional. pandas is checked through ``pandas-stubs`` (test extra); packages that publish no types
(ipywidgets, sentencepiece, ...) are named in the config.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _mypy(args: list[str], cwd: Path, cache: Path, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(cache), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=1200,
    )


def test_mypy_over_naikit_finds_no_errors(tmp_path):
    out = _mypy([], ROOT, tmp_path / "cache")  # files and strictness from pyproject.toml
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert re.search(r"^Success: no issues found in \d+ source files", out.stdout, flags=re.M), out.stdout


def _map_calls() -> list[str]:
    text = README.read_text()
    start = text.index("### The map: what each result offers")
    section = text[start : text.index("\n### ", start + 10)]
    rows = [ln for ln in section.splitlines() if ln.startswith("| `")]
    spans = [s for ln in rows for s in re.findall(r"`([^`]+)`", ln)]
    calls = []
    for s in spans:
        if "(" not in s or "..." in s or s.startswith("."):
            continue
        try:
            ast.parse(s)
        except SyntaxError:
            continue  # prose in code marks
        calls.append(s)
    return calls


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


class _Reveal(ast.NodeTransformer):
    """After every statement that binds a plain name, reveal that name's type; a bare expression
    statement is revealed itself."""

    def _names(self, target: ast.expr) -> list[str]:
        return [n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]

    def _reveals(self, names: list[str]) -> list[ast.stmt]:
        return [ast.parse(f"reveal_type({n})").body[0] for n in names]

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for field in ("body", "orelse"):
            stmts = getattr(node, field, None)
            if not isinstance(stmts, list) or not all(isinstance(s, ast.stmt) for s in stmts):
                continue
            new: list[ast.stmt] = []
            for s in stmts:
                self.visit(s)
                if isinstance(s, ast.Expr) and not (
                    isinstance(s.value, ast.Call)
                    and isinstance(s.value.func, ast.Name)
                    and s.value.func.id in ("print", "reveal_type")
                ):
                    new.append(ast.parse(f"reveal_type({ast.unparse(s.value)})").body[0])
                    continue
                new.append(s)
                if isinstance(s, (ast.Assign, ast.AnnAssign)):
                    targets = s.targets if isinstance(s, ast.Assign) else [s.target]
                    new += self._reveals([n for t in targets for n in self._names(t)])
                elif isinstance(s, (ast.For, ast.AsyncFor)):
                    s.body[:0] = self._reveals(self._names(s.target))
                elif isinstance(s, (ast.With, ast.AsyncWith)):
                    names = [n for it in s.items if it.optional_vars for n in self._names(it.optional_vars)]
                    s.body[:0] = self._reveals(names)
            setattr(node, field, new)
        return node


def _user_script() -> str:
    """The README's blocks and its map table's calls, as one script a user could have written."""
    blocks = _python_blocks()
    first = blocks[0]
    experiment = next(b for b in blocks if "naikit.Experiment(" in b)
    three = next(b for b in blocks if "three tasks" in b)
    async_block = next(b for b in blocks if b.startswith("async with"))
    setup = """\
import tempfile
from pathlib import Path

import naikit
import naikit.widgets

nai = naikit.NovelAI()
prompt = "The lighthouse keeper"
presets = ["Golden Arrow", "Wilder"]
seeds = [1]
text = "The dragon said 「まだだ」 🐉"
model = "erato"
name = "Wilder"
res = nai.generate_image("a lighthouse", naikit.ImagePreset.default("v4.5").replace(width=512, height=512))
png = res[0].png
folder = Path(tempfile.mkdtemp())
path = folder / "one.png"
preset = naikit.Preset.official("erato")
comparison = naikit.compare(prompt, presets, seeds, client=nai, model="erato", max_length=8)
"""
    # one function per README block, as separate cells or scripts would be: names do not leak between them
    parts = [("setup_and_map", setup + "\n".join(_map_calls()))]
    parts += [("first_steps", first), ("experiment", experiment), ("three_tasks", three)]
    source = ""
    for fn, body in parts:
        source += f"\n\ndef {fn}() -> None:\n" + "".join(f"    {ln}\n" for ln in body.splitlines())
    source += "\n\nasync def asynchronous() -> None:\n" + "".join(
        f"    {ln}\n" for ln in ["import naikit", *async_block.splitlines()]
    )
    tree = _Reveal().visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def test_the_readme_as_a_user_script_has_no_any_from_naikit(tmp_path):
    script = tmp_path / "user.py"
    script.write_text(_user_script())
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    # as for an installed package: naikit's own files are read for types but not reported on here
    out = _mypy(
        ["--follow-imports=silent", "--no-error-summary", "--python-version", "3.10", str(script)],
        tmp_path,
        tmp_path / "cache",
        env,
    )
    errors = re.findall(r"user\.py:(\d+): error: (.*)", out.stdout)
    assert errors == [], out.stdout + out.stderr
    revealed = re.findall(r"user\.py:(\d+): note: Revealed type is \"(.*)\"", out.stdout)
    lines = script.read_text().splitlines()
    assert len(revealed) >= 25, out.stdout  # every binding and bare expression was revealed
    anys = [(lines[int(n) - 1], t) for n, t in revealed if t == "Any" or t.startswith("Any ")]
    assert anys == [], "\n".join(f"{code}  ->  {t}" for code, t in anys)


def test_the_reveal_transform_reveals_what_it_should():
    """The check above can fail: the transform reveals bindings, loop targets and bare expressions."""
    src = "x = f()\nfor a, b in g():\n    h(a)\nprint(x)\n"
    out = ast.unparse(_Reveal().visit(ast.parse(src)))
    assert out.splitlines() == [
        "x = f()",
        "reveal_type(x)",
        "for a, b in g():",
        "    reveal_type(a)",
        "    reveal_type(b)",
        "    reveal_type(h(a))",
        "print(x)",
    ]
