"""Generate the typed view of the blocking clients from their async twins.

``naikit.NovelAI`` and ``naikit.Novita`` get their methods from their async twins on first use
(``SyncClient`` in ``naikit._runner``: every public coroutine of the async class becomes a blocking method,
every async generator an iterator, every property a read-only forward). Type checkers cannot see methods
made that way, so this script writes, for each blocking client, a stub ``_blocking.pyi`` whose
``BlockingMethods`` class declares them with the async method's own parameters and return type
(``Iterator[T]`` for an ``AsyncIterator[T]``). The blocking class lists ``BlockingMethods`` (empty at run
time) first among its bases.

Usage: ``python .ci/gen_blocking_stubs.py`` rewrites the stubs; ``--check`` exits 1 when a stub is stale
(tests/test_typing.py runs that in CI).
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    # stub path -> (the async class, the blocking class), each as "module:name"
    "naikit/novelai/_blocking.pyi": (
        "naikit.novelai.async_client:AsyncNovelAI",
        "naikit.novelai.client:NovelAI",
    ),
    "naikit/novita/_blocking.pyi": ("naikit.novita.async_client:AsyncNovita", "naikit.novita.client:Novita"),
}
HEADER = "# Generated from {cls} by .ci/gen_blocking_stubs.py; do not edit.\n"


def _imports_of(tree: ast.Module, module: str) -> dict[str, str]:
    """Map every name a module binds by import or definition to an absolute import line for it."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")[: -node.level]
                base = ".".join(parts + ([base] if base else []))
            for a in node.names:
                name = a.asname or a.name
                alias = f" as {a.asname}" if a.asname and a.asname != a.name else ""
                found[name] = f"from {base} import {a.name}{alias}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                name = a.asname or a.name.split(".")[0]
                found[name] = f"import {a.name}" + (f" as {a.asname}" if a.asname else "")
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            found[node.name] = f"from {module} import {node.name}"
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    found[t.id] = f"from {module} import {t.id}"
    return found


def _names(node: ast.AST | None) -> set[str]:
    if node is None:
        return set()
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a quoted annotation
        return _names(ast.parse(node.value, mode="eval"))
    # strings inside (Literal["a"]) are values, not names
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _default(node: ast.expr) -> str:
    """A default as written when it is a plain literal, else ``...`` (stubs may elide defaults)."""
    try:
        ast.literal_eval(node)
    except ValueError:
        return "..."
    return ast.unparse(node)


def _signature(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[str, set[str]]:
    """The parameter list of ``fn`` with annotations and literal defaults, and the names it uses."""
    a = fn.args
    used: set[str] = set()
    parts: list[str] = []

    def one(arg: ast.arg, default: ast.expr | None) -> str:
        text = arg.arg
        if arg.annotation is not None:
            text += f": {ast.unparse(arg.annotation)}"
            used.update(_names(arg.annotation))
        if default is not None:
            text += (" = " if arg.annotation is not None else "=") + _default(default)
        return text

    positional = a.posonlyargs + a.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    for i, (arg, d) in enumerate(zip(positional, defaults, strict=True)):
        parts.append(one(arg, d))
        if a.posonlyargs and i == len(a.posonlyargs) - 1:
            parts.append("/")
    if a.vararg:
        parts.append("*" + one(a.vararg, None))
    elif a.kwonlyargs:
        parts.append("*")
    for arg, d in zip(a.kwonlyargs, a.kw_defaults, strict=True):
        parts.append(one(arg, d))
    if a.kwarg:
        parts.append("**" + one(a.kwarg, None))
    return ", ".join(parts), used


def _blocking_return(fn: ast.AsyncFunctionDef, is_gen: bool) -> str:
    if fn.returns is None:
        return "Any"
    text = ast.unparse(fn.returns)
    if is_gen:
        node = fn.returns
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node = ast.parse(node.value, mode="eval").body
        if isinstance(node, ast.Subscript):
            inner = node.slice.elts[0] if isinstance(node.slice, ast.Tuple) else node.slice
            return f"Iterator[{ast.unparse(inner)}]"
        return "Iterator[Any]"
    return text


def _find(cls: type, name: str) -> tuple[type, ast.FunctionDef | ast.AsyncFunctionDef, ast.Module, str]:
    for klass in cls.__mro__:
        if name in klass.__dict__:
            mod = sys.modules[klass.__module__]
            tree = ast.parse(Path(inspect.getfile(mod)).read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name == klass.__name__:
                    for item in node.body:
                        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == name:
                            return klass, item, tree, klass.__module__
    raise LookupError(f"{cls.__name__}.{name}: no source definition found")


def _source_members(klass: type) -> set[str]:
    tree = ast.parse(Path(inspect.getfile(sys.modules[klass.__module__])).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == klass.__name__:
            return {
                item.name for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
            } | {
                sub.name
                for item in node.body
                if isinstance(item, ast.If)
                for sub in item.body
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef))
            }
    return set()


def render(async_path: str, blocking_path: str) -> str:
    """Return the text of the stub for one blocking client (each class given as ``"module:name"``)."""
    module, async_name = async_path.split(":")
    blocking_module, blocking_name = blocking_path.split(":")
    acls = getattr(importlib.import_module(module), async_name)
    bcls = getattr(importlib.import_module(blocking_module), blocking_name)
    # what the blocking class (or its base) writes itself; the twin's methods fill in the rest
    own = {
        n
        for k in bcls.__mro__
        if k.__module__.startswith("naikit") and k.__name__ != "BlockingMethods"
        for n in _source_members(k)
    }
    lines: list[str] = []
    imports: set[str] = {"from typing import Any", "from collections.abc import Iterator"}
    # the constructor: the blocking client takes exactly the async client's arguments
    members = ["__init__"] + sorted(n for n in dir(acls) if not n.startswith("_"))
    for name in members:
        if name != "__init__" and name in own:
            continue
        raw = inspect.getattr_static(acls, name)
        attr = getattr(acls, name)
        is_prop = isinstance(raw, property)
        is_coro = inspect.iscoroutinefunction(attr)
        is_gen = inspect.isasyncgenfunction(attr)
        if name != "__init__" and not (is_prop or is_coro or is_gen):
            continue
        _, fn, tree, fmod = _find(acls, name)
        table = _imports_of(tree, fmod)
        params, used = _signature(fn)
        if name == "__init__":
            ret = "None"
        elif isinstance(fn, ast.AsyncFunctionDef):
            ret = _blocking_return(fn, is_gen)
            used |= _names(fn.returns)
        else:
            ret = ast.unparse(fn.returns) if fn.returns is not None else "Any"
            used |= _names(fn.returns)
        for n in sorted(used):
            if n in table:
                imports.add(table[n])
            elif n not in {"Any", "Iterator", "None", "self"} and not hasattr(builtins, n):
                imports.add(f"from {fmod} import {n}")
        doc = ast.get_docstring(fn, clean=False)
        body = "..."
        if is_prop:
            lines.append("    @property")
        lines.append(f"    def {name}({params}) -> {ret}:")
        if doc:
            lines.append("        " + repr_doc(doc))
        lines.append(f"        {body}")
        lines.append("")
    out = [HEADER.format(cls=f"{module}.{async_name}"), "from __future__ import annotations", ""]
    out += sorted(imports, key=lambda s: (not s.startswith(("import", "from __")), s))
    doc = f'    """Typed view of {blocking_name}\'s generated methods."""'
    out += ["", "", "class BlockingMethods:", doc, ""]
    out += lines
    return _ruff("\n".join(out).rstrip() + "\n", ROOT / "naikit" / "x.pyi")


def _ruff(text: str, name: Path) -> str:
    """The stub as the project's ruff sorts and formats it, so the lint test sees a clean file."""
    ruff = [sys.executable, "-m", "ruff"]
    fix = [*ruff, "check", "--fix-only", "--select", "I,F401", "--stdin-filename", str(name), "-"]
    text = subprocess.run(fix, input=text, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    fmt = [*ruff, "format", "--stdin-filename", str(name), "-"]
    return subprocess.run(fmt, input=text, capture_output=True, text=True, check=True, cwd=ROOT).stdout


def repr_doc(doc: str) -> str:
    """A docstring literal for the stub: the first paragraph, enough for an IDE's hover."""
    first = doc.strip().split("\n\n")[0]
    first = " ".join(line.strip() for line in first.splitlines())
    if len(first) > 96:  # the stub keeps within the line length; the full text is on the async method
        first = first[:93].rsplit(" ", 1)[0] + " ..."
    return '"""' + first.replace("\\", "\\\\").replace('"""', '\\"\\"\\"') + '"""'


def main(argv: list[str]) -> int:
    """Write (or with ``--check`` compare) every stub; return the exit code."""
    sys.path.insert(0, str(ROOT))
    stale = []
    for path, (acls, bcls) in TARGETS.items():
        text = render(acls, bcls)
        target = ROOT / path
        if "--check" in argv:
            if not target.exists() or target.read_text() != text:
                stale.append(path)
        else:
            target.write_text(text)
    if stale:
        print("stale (run python .ci/gen_blocking_stubs.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
