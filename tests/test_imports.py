"""Imports run one way, at every depth: the import graph of ``naikit/`` read with ``ast``.

Every ``import``/``from ... import`` in every module counts, at the top of the file, inside functions and
methods, and under ``if TYPE_CHECKING:``; relative imports are resolved, and ``from pkg import name`` is an
edge to ``pkg.name`` when that is a module, else to ``pkg``; ``importlib.import_module("literal")`` counts
too.
(The lazy exporters' tables are checked against their ``TYPE_CHECKING`` imports in test_public_surface.py, so
those imports stand for the tables here.) Stub files (``.pyi``) are left out: they describe ``.py`` files.

The rules, each a function below that a self-test runs on a synthetic graph:

(a) no cycle between modules. Imports under ``TYPE_CHECKING`` never execute, so a cycle needs runtime edges
    only (a type-only edge closing a loop is fine: ``Sandbox`` annotating a handler's state, say);
(b) an import goes to the same or a lower layer (:data:`LAYERS`), type-only imports included: they say what a
    module knows about. The format modules (``naikit.metadata``, ``naikit.tokenizers`` and
    :data:`FORMAT_MODULES`: NovelAI's and Novita's wire formats and tables, pure code with no client, no
    transport and no I/O beyond reading shipped data) form the layer above core: the format modules import
    only core and formats;
(c) only ``naikit/_embedded.py``, the CLI and the package face import ``naikit.sandbox``; the sandbox imports
    only core modules, format modules and itself (it speaks the services' formats, never through a client);
(d) ``naikit.novelai`` and ``naikit.novita`` do not import each other (shared helpers live in core);
(e) no module imports the package face ``naikit`` nor the ``naikit.widgets`` face, and no module imports the
    ``__init__`` of a package it belongs to (that is how a package imports itself in a circle).

:data:`KNOWN` lists the edges that break a rule today, each with the module that has to change; it only
shrinks: an entry that no longer matches an edge, or whose edge breaks no rule any more, fails too.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------------------------------------ layer table

CORE, FORMATS, RENDER, CLIENTS, WIDGETS, CLI, FACE = 0, 1, 2, 3, 4, 5, 6
BESIDE = -1  # the sandbox: a server next to the clients, see rule (c)
LAYER_NAMES = {CORE: "core", FORMATS: "formats", RENDER: "render", CLIENTS: "clients/results",
               WIDGETS: "widgets", CLI: "cli", FACE: "package face", BESIDE: "sandbox (beside)"}  # fmt: skip

#: naikit's top-level names (module or package) and their layer. Private top-level modules (``naikit._x``) are
#: core, except ``_embedded``, the client-side door to the sandbox.
LAYERS: dict[str, int] = {
    "errors": CORE,
    "sampling": CORE,
    "data": CORE,
    "metadata": FORMATS,  # PNG text chunks of generated images
    "tokenizers": FORMATS,  # token ids <-> text, per model (module or package)
    "render": RENDER,
    "_embedded": CLIENTS,
    "novelai": CLIENTS,
    "novita": CLIENTS,
    "experiments": CLIENTS,
    "comparison": CLIENTS,
    "explain": CLIENTS,
    "explanation": CLIENTS,
    "xyplot": CLIENTS,
    "widgets": WIDGETS,
    "cli": CLI,
    "__main__": CLI,
    "sandbox": BESIDE,
}

#: The format modules (layer 1) inside the client packages, each named exactly (besides the top-level names
#: :data:`LAYERS` places in formats): the services' wire formats and tables, which the clients and the
#: sandbox both speak.
FORMAT_MODULES: frozenset[str] = frozenset({
    "naikit.novelai.auth",  # access keys and encryption keys
    "naikit.novelai.crypto",  # object encryption and compression
    "naikit.novelai.document",  # story documents
    "naikit.novelai._msgpackr",  # the msgpackr encoding documents use
    "naikit.novelai.models",  # the text and image model tables
    "naikit.novelai.modules_catalog",  # the prefix modules of each text model
    "naikit.novelai.image_tables",  # image actions, sizes, samplers, director tools
    "naikit.novelai.image_cost",  # the website's Anlas prices of an image request
    "naikit.novelai.text_param_tables",  # text generation parameters: types and ranges
})  # fmt: skip

#: Modules that may import ``naikit.sandbox`` (besides the sandbox itself).
SANDBOX_DOORS = ("naikit._embedded", "naikit.cli", "naikit")
#: Package faces no module imports.
FACES = ("naikit", "naikit.widgets")


def layer_of(module: str) -> int:
    """Return the layer of a naikit module; raise KeyError for a top-level name the table does not place."""
    if module == "naikit":
        return FACE
    if module in FORMAT_MODULES:
        return FORMATS
    top = module.split(".")[1]
    if top in LAYERS:
        return LAYERS[top]
    if top.startswith("_"):
        return CORE
    raise KeyError(f"naikit.{top} has no layer: add it to LAYERS in tests/test_imports.py")


# --------------------------------------------------------------------------------------------- known edges

#: (importer, imported) pairs breaking a rule today, to be removed by the change named in the comment.
#: Entries that no longer match an edge fail the test: empty this list, do not add to it.
KNOWN: set[tuple[str, str]] = set()  # empty: every rule holds; a new exception needs a reason here


# -------------------------------------------------------------------------------------------------- the graph


@dataclass(frozen=True)
class Edge:
    """One import: ``src`` imports ``dst`` at ``line``; ``typing`` when under ``if TYPE_CHECKING:``,
    ``nested`` when inside a function or method."""

    src: str
    dst: str
    line: int
    typing: bool = False
    nested: bool = field(default=False, compare=False)

    def where(self) -> str:
        """Return ``src:line -> dst``, saying whether the import is type-only or inside a function."""
        how = " (typing)" if self.typing else " (in a function)" if self.nested else ""
        return f"{self.src}:{self.line} -> {self.dst}{how}"


def module_files(package_dir: Path) -> dict[str, tuple[Path, bool]]:
    """Return {module name: (file, is package __init__)} for every ``.py`` file under ``package_dir``."""
    out = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts.pop()
        out[".".join(parts)] = (path, is_pkg)
    return out


def _function_nodes(tree: ast.AST) -> set[int]:
    """Return the ids of the nodes inside function and method bodies."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            ids.update(id(n) for n in ast.walk(node) if n is not node)
    return ids


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """Return the ids of the nodes inside ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``) bodies."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                ids.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return ids


def _resolve(name: str, modules: dict[str, tuple[Path, bool]]) -> str:
    # an import of naikit.a.b.name (a function, a class) is an import of the module naikit.a.b
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def edges_of(
    module: str, source: str, modules: dict[str, tuple[Path, bool]], root: str = "naikit"
) -> list[Edge]:
    """Return the imports of ``module`` (its ``source``) that land inside the ``root`` package."""
    tree = ast.parse(source)
    typing_only = _type_checking_nodes(tree)
    nested = _function_nodes(tree)
    is_pkg = modules[module][1]
    package = module if is_pkg else module.rpartition(".")[0]
    found: dict[Edge, None] = {}  # ordered, one edge per line and target
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: 1 - node.level]
                base_name = ".".join(base + ([node.module] if node.module else []))
            else:
                base_name = node.module or ""
            for alias in node.names:
                sub = f"{base_name}.{alias.name}"
                targets.append(sub if sub in modules else base_name)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and not node.args[0].value.startswith(".")
        ):
            targets = [node.args[0].value]
        for target in targets:
            if target.split(".")[0] != root:
                continue
            dst = _resolve(target, modules)
            if dst != module:
                found[Edge(module, dst, node.lineno, id(node) in typing_only, id(node) in nested)] = None
    return list(found)


def import_graph(package_dir: Path) -> tuple[list[str], list[Edge]]:
    """Return (every module, every edge) of the package at ``package_dir``."""
    modules = module_files(package_dir)
    edges = []
    for name, (path, _) in modules.items():
        edges += edges_of(name, path.read_text(encoding="utf-8"), modules, package_dir.name)
    return sorted(modules), edges


# -------------------------------------------------------------------------------------------------- the rules


def find_cycles(edges: Iterable[Edge]) -> list[list[Edge]]:
    """Return one cycle (its edges, in order) for each group of modules that import each other at run time
    (a strongly connected component of the runtime edges)."""
    graph: dict[str, dict[str, Edge]] = defaultdict(dict)
    for e in edges:
        if not e.typing:
            graph[e.src].setdefault(e.dst, e)
    # Tarjan's strongly connected components, iteratively (a long chain must not hit the recursion limit).
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, {})))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    group = set()
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        group.add(w)
                        if w == v:
                            break
                    if len(group) > 1:
                        groups.append(group)
    cycles = []
    for group in groups:
        # the shortest way from the group's first module back to itself, inside the group
        first = min(group)
        came: dict[str, Edge] = {}
        frontier = [first]
        while frontier and first not in came:
            nxt = []
            for v in frontier:
                for w, e in sorted(graph[v].items()):
                    if w in group and w not in came:
                        came[w] = e
                        nxt.append(w)
            frontier = nxt
        path, v = [], first
        while True:
            e = came[v]
            path.append(e)
            v = e.src
            if v == first:
                break
        cycles.append(path[::-1])
    return cycles


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def rule_violations(edges: Iterable[Edge]) -> list[str]:
    """Return one line per edge that breaks rule (b), (c), (d) or (e)."""
    out = []
    for e in edges:
        try:
            src_layer, dst_layer = layer_of(e.src), layer_of(e.dst)
        except KeyError:
            continue  # _check reports the module the table does not place
        src_sandbox, dst_sandbox = _inside(e.src, "naikit.sandbox"), _inside(e.dst, "naikit.sandbox")
        if dst_sandbox and not src_sandbox and e.src not in SANDBOX_DOORS:
            out.append(f"{e.where()}: only naikit/_embedded.py and the CLI import the sandbox (c)")
        elif src_sandbox and not dst_sandbox and dst_layer not in (CORE, FORMATS):
            out.append(f"{e.where()}: the sandbox imports only core and format modules and itself (c)")
        elif (_inside(e.src, "naikit.novelai") and _inside(e.dst, "naikit.novita")) or (
            _inside(e.src, "naikit.novita") and _inside(e.dst, "naikit.novelai")
        ):
            out.append(f"{e.where()}: novelai and novita do not import each other; share through core (d)")
        elif e.dst in FACES and e.src != "naikit":
            out.append(f"{e.where()}: library code imports defining modules, never the {e.dst} face (e)")
        elif _inside(e.src, e.dst) and not e.src.endswith(".__main__"):
            # (``python -m pkg`` has initialised the package before its __main__ runs; nothing imports it)
            out.append(f"{e.where()}: a module imports siblings, not its own package's __init__ (e)")
        elif not src_sandbox and not dst_sandbox and dst_layer > src_layer:
            out.append(f"{e.where()}: upward, from {LAYER_NAMES[src_layer]} to {LAYER_NAMES[dst_layer]} (b)")
    return out


def _closes_a_loop(pair: tuple[str, str], runtime: dict[str, set[str]]) -> bool:
    """Return whether the runtime import ``pair`` lies on a cycle (its target leads back to its source)."""
    src, dst = pair
    if dst not in runtime[src]:
        return False
    seen, todo = {dst}, [dst]
    while todo:
        for nxt in runtime[todo.pop()]:
            if nxt == src:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def _check(modules: list[str], edges: list[Edge], known: set[tuple[str, str]]) -> list[str]:
    """Return every problem of a graph: unplaced modules, cycles, rule violations, stale KNOWN entries."""
    problems = []
    for m in modules:
        try:
            layer_of(m)
        except KeyError as exc:
            problems.append(str(exc.args[0]))
    pairs = {(e.src, e.dst) for e in edges}
    problems += [f"KNOWN entry {k} matches no import any more: remove it" for k in sorted(known - pairs)]
    runtime: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        if not e.typing:
            runtime[e.src].add(e.dst)
    for k in sorted(known & pairs):
        if not rule_violations(e for e in edges if (e.src, e.dst) == k) and not _closes_a_loop(k, runtime):
            problems.append(f"KNOWN entry {k} breaks no rule any more: remove it")
    live = [e for e in edges if (e.src, e.dst) not in known]
    for cycle in find_cycles(live):
        problems.append("import cycle (a):\n    " + "\n    ".join(e.where() for e in cycle))
    problems += rule_violations(live)
    return problems


# -------------------------------------------------------------------------------------------------- the tests


def test_naikit_imports_run_one_way():
    modules, edges = import_graph(ROOT / "naikit")
    assert len(modules) > 50 and len(edges) > 200  # the scan found the package
    problems = _check(modules, edges, KNOWN)
    problems += [f"FORMAT_MODULES names {m}, which is no module: remove it" for m in sorted(FORMAT_MODULES)
                 if m not in modules]  # fmt: skip
    assert not problems, f"{len(problems)} import problem(s):\n" + "\n".join(problems)


def _edge(src: str, dst: str, typing: bool = False) -> Edge:
    return Edge(f"naikit.{src}" if src else "naikit", f"naikit.{dst}" if dst else "naikit", 1, typing)


def test_the_checks_can_fail():
    # a synthetic graph with one of each mistake; a clean graph next to it passes
    clean = [_edge("widgets.images", "novelai.images_result"), _edge("novelai.client", "_transport"),
             _edge("_transport", "errors"), _edge("cli", "sandbox"), _edge("_embedded", "sandbox.server"),
             _edge("sandbox.app", "errors"), _edge("", "widgets", typing=True),
             _edge("sandbox.http", "sandbox.tokens", typing=True),
             _edge("sandbox.tokens", "sandbox.http"), _edge("sandbox.text", "novelai.models"),
             _edge("novelai.modules_catalog", "novelai.models"), _edge("metadata", "_decode")]  # fmt: skip
    modules = sorted({m for e in clean for m in (e.src, e.dst)})
    assert _check(modules, clean, set()) == []

    cycle = [_edge("novelai.client", "novelai.content"), _edge("novelai.content", "novelai.backup"),
             _edge("novelai.backup", "novelai.client")]  # fmt: skip
    (found,) = find_cycles(clean + cycle)
    assert len(found) == 3 and {(e.src, e.dst) for e in found} == {(e.src, e.dst) for e in cycle}
    assert all(a.dst == b.src for a, b in zip(found, found[1:] + found[:1], strict=True))  # a closed path
    assert find_cycles([_edge("a.x", "a.y"), _edge("a.y", "a.x", typing=True)]) == []

    bad = {
        "(b)": _edge("novelai.images_result", "widgets.images"),
        "from formats to clients": _edge("metadata", "novelai.image_models"),
        "(c)": _edge("novelai.client", "sandbox"),
        "sandbox imports only": _edge("sandbox.text", "novelai.presets"),
        "(d)": _edge("novita.tasks", "novelai.shapes", typing=True),
        "never the naikit face": _edge("cli", ""),
        "never the naikit.widgets face": _edge("widgets.images", "widgets"),
        "its own package": _edge("sandbox.app", "sandbox"),
    }
    for what, e in bad.items():
        problems = rule_violations([e])
        assert len(problems) == 1 and what in problems[0], (what, problems)
    # a KNOWN entry hides its edge; a stale one is reported
    assert _check(modules, [*clean, bad["(b)"]], {(bad["(b)"].src, bad["(b)"].dst)}) == []
    assert "matches no import" in _check(modules, clean, {("naikit.x", "naikit.y")})[0]
    # an entry whose import is legal now (the sandbox reading a format module) is reported too
    assert "breaks no rule" in _check(modules, clean, {("naikit.sandbox.text", "naikit.novelai.models")})[0]
    loop = [*clean, *cycle]
    assert _check(sorted({*modules, *(m for e in cycle for m in (e.src, e.dst))}), loop,
                  {(cycle[0].src, cycle[0].dst)}) == []  # fmt: skip
    with pytest.raises(KeyError, match="no layer"):
        layer_of("naikit.newthing")


def test_the_parser_resolves_imports(tmp_path):
    pkg = tmp_path / "naikit"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from . import a\n")
    (pkg / "sub" / "a.py").write_text(
        "from __future__ import annotations\n"
        "import importlib\n"
        "from typing import TYPE_CHECKING\n"
        "from ..errors import X\n"
        "from . import b\n"
        "import naikit.sub.b as bb\n"
        "if TYPE_CHECKING:\n"
        "    from naikit import errors\n"
        "def f():\n"
        "    from .. import sub\n"
        "    importlib.import_module('naikit.errors')\n"
    )
    (pkg / "sub" / "b.py").write_text("import os\n")
    modules, edges = import_graph(pkg)
    assert modules == ["naikit", "naikit.errors", "naikit.sub", "naikit.sub.a", "naikit.sub.b"]
    got = sorted((e.src, e.dst, e.line, e.typing) for e in edges)
    assert got == [
        ("naikit.sub", "naikit.sub.a", 1, False),
        ("naikit.sub.a", "naikit.errors", 4, False),
        ("naikit.sub.a", "naikit.errors", 8, True),
        ("naikit.sub.a", "naikit.errors", 11, False),
        ("naikit.sub.a", "naikit.sub", 10, False),
        ("naikit.sub.a", "naikit.sub.b", 5, False),
        ("naikit.sub.a", "naikit.sub.b", 6, False),
    ]
