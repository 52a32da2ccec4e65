"""The public surface: exactly these names, each one resolving and documented, and nothing else leaking.

The package faces (``naikit``, ``naikit.novelai``, ``naikit.novita``, ``naikit.widgets``, ``naikit.sandbox``)
load their names on first use through one exporter (``naikit._lazy``); for type checkers they import the same
names under ``TYPE_CHECKING``. A name added to or removed from a face is a change of the public API: edit the
expected list here in the same commit.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

EXPECTED: dict[str, list[str]] = {
    "naikit": [
        "AsyncNovelAI", "AsyncNovita", "BanList", "BiasGroup", "Category", "Character", "CharacterReference",
        "Context", "ContextConfig", "EphemeralEntry", "Experiment", "GlobalSettings", "Hosts", "ImagePreset",
        "Keystore", "LoreEntry", "NovelAI", "Novita", "Preset", "RetryPolicy", "Secret", "Story", "Timeouts",
        "Token", "Vibe", "__version__", "access_key", "compare", "encryption_key", "errors", "explain_step",
        "read_metadata", "sandbox", "tokenize", "xy_plot",
    ],
    "naikit.novelai": [
        "AsyncNovelAI", "BanList", "BiasGroup", "Category", "Character", "CharacterReference", "Context",
        "ContextConfig", "EphemeralEntry", "GlobalSettings", "ImagePreset", "Keystore", "LoreEntry",
        "NovelAI", "Preset", "Story", "Token", "Vibe", "access_key", "encryption_key",
    ],
    "naikit.novita": [
        "AsyncNovita", "ControlNetUnit", "EditedImage", "LoRA", "ModelCatalogue", "Novita", "ProgressBar",
        "S3Storage", "Task", "TaskFailed", "TaskResult", "TaskTimeout", "TrainingList", "TrainingStatus",
        "UserInfo", "build_extra",
    ],
    "naikit.widgets": [
        "CompareWidget", "ContextViewer", "ExperimentDashboard", "ExplainWidget", "ImageGrid", "LogprobView",
        "PresetEditor", "StreamPreview", "TokenInspector", "TrainingDashboard", "compare_widget",
        "context_viewer", "experiment_dashboard", "explain_widget", "image_grid", "logprob_view",
        "preset_editor", "stream_preview", "token_inspector", "training_dashboard",
    ],
    "naikit.sandbox": [
        "Clock", "DEMO_EMAIL", "DEMO_PASSWORD", "FakeClock", "FaultPlan", "Sandbox", "Store", "SystemClock",
        "build_app", "demo_access_key", "embedded", "serve", "start",
    ],
    "naikit.errors": [
        "APIError", "AccessKeyRejected", "AuthError", "Conflict", "ConnectionDropped", "ContentError",
        "CorruptData", "CorruptObject", "CredentialsError", "EditConflict", "GateTimeout", "InputError",
        "NaikitError", "NotFound", "OutcomeUnknown", "PaymentRequired", "RateLimited", "RequestTimeout",
        "ResponseShapeError", "ServerError", "StreamIncomplete", "TaskFailed", "TaskTimeout", "TokenExpired",
        "TokenRejected", "TransportError", "UnsafeWrite", "WrongKey", "api_error",
    ],
}  # fmt: skip

#: Subpackages and modules ``naikit`` also offers as attributes (``naikit.tokenizers.encode``).
NAIKIT_SUBMODULES = ["cli", "errors", "experiments", "explain", "metadata", "novelai", "novita", "sampling",
                     "sandbox", "tokenizers", "widgets"]  # fmt: skip
#: The faces built with naikit._lazy, and whether their table names modules relative to the package.
LAZY_FACES = ["naikit", "naikit.novelai", "naikit.novita", "naikit.widgets", "naikit.sandbox"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_exported_members_are_exactly_the_expected_ones(name):
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(EXPECTED[name])
    assert len(set(module.__all__)) == len(module.__all__)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_exported_name_resolves_and_is_documented(name):
    module = importlib.import_module(name)
    undocumented = []
    for attr in module.__all__:
        value = getattr(module, attr)  # AttributeError here: the table names a module that lacks it
        if attr == "__version__":
            assert isinstance(value, str) and value.count(".") == 2
            continue
        if callable(value) or inspect.ismodule(value):
            # a class's own docstring (not inherited), a function's, a module's
            if not (value.__dict__.get("__doc__") if isinstance(value, type) else value.__doc__):
                undocumented.append(attr)
    assert not undocumented, f"{name}: exported without a docstring: {undocumented}"


def _face_tables(name: str) -> tuple[dict[str, str], dict[str, str]]:
    """Return (the lazy table, the TYPE_CHECKING imports) of a face, each as {name: absolute module}."""
    module = importlib.import_module(name)
    table = {k: importlib.util.resolve_name(v, name) for k, v in module._EXPORTS.items()}
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    typed: dict[str, str] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.If)
            and getattr(node.test, "attr", getattr(node.test, "id", None)) == "TYPE_CHECKING"
        ):
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and (
                    stmt.level or (stmt.module or "").startswith("naikit")
                ):
                    base = importlib.util.resolve_name("." * stmt.level + (stmt.module or ""), name)
                    for alias in stmt.names:
                        typed[alias.asname or alias.name] = base
    return table, typed


@pytest.mark.parametrize("name", LAZY_FACES)
def test_the_type_checking_imports_match_the_lazy_table(name):
    # what mypy/pyright/IDEs see is what the face gives at run time, from the same module
    table, typed = _face_tables(name)
    if name == "naikit":  # the submodules it imports for the type checkers
        typed = {k: v for k, v in typed.items() if v != "naikit"}
    assert typed == table
    module = importlib.import_module(name)
    for attr, where in table.items():
        assert getattr(module, attr) is getattr(importlib.import_module(where), attr), attr


@pytest.mark.parametrize("name", LAZY_FACES)
def test_no_export_is_spelled_like_a_submodule(name):
    # importing the submodule would set the package attribute of that name to the module
    exported = set(EXPECTED[name]) - set(NAIKIT_SUBMODULES if name == "naikit" else [])
    assert not _submodules(name) & exported


def _submodules(name: str) -> set[str]:
    """Return the names of the modules and subpackages of the package ``name``."""
    folder = Path(importlib.import_module(name).__file__).parent
    return {p.stem for p in folder.glob("*.py")} | {
        p.name for p in folder.iterdir() if (p / "__init__.py").exists()
    }


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_dir_shows_only_public_names():
    code = (
        "import naikit, naikit.novelai, naikit.novita, naikit.widgets, naikit.sandbox\n"
        "for m in (naikit, naikit.novelai, naikit.novita, naikit.widgets, naikit.sandbox):\n"
        "    print(m.__name__, ' '.join(dir(m)))\n"
        "    print(m.__name__, ' '.join(k for k in vars(m) if not k.startswith('_')))\n"
    )
    lines = _run(code).splitlines()
    for dir_line, vars_line in zip(lines[::2], lines[1::2], strict=True):
        name, *shown = dir_line.split()
        _, *defined = vars_line.split()
        extra = NAIKIT_SUBMODULES if name == "naikit" else []
        assert sorted(shown) == sorted({*EXPECTED[name], *extra}), name
        # nothing the face imported for itself (Any, TYPE_CHECKING, annotations, importlib) is left in it;
        # submodules imported so far are attributes, as in any package
        left = set(defined) - set(EXPECTED[name]) - _submodules(name)
        assert not left, (name, left)


def test_import_naikit_stays_light():
    code = (
        "import sys, naikit, naikit.novelai, naikit.novita, naikit.widgets, naikit.sandbox\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('naikit'))))\n"
        "heavy = ('aiohttp', 'pandas', 'PIL', 'ipywidgets', 'tokenizers', 'sentencepiece', 'numpy')\n"
        "print(' '.join(m for m in heavy if m in sys.modules))\n"
    )
    loaded, heavy = _run(code).splitlines()
    assert loaded.split() == [
        "naikit", "naikit._lazy", "naikit._version", "naikit.novelai", "naikit.novita", "naikit.sandbox",
        "naikit.sandbox.demo_account", "naikit.widgets",
    ]  # fmt: skip
    assert heavy == ""


def test_a_missing_name_is_an_attribute_error_naming_it():
    import naikit
    import naikit.widgets

    for module in (naikit, naikit.widgets):
        with pytest.raises(AttributeError, match="no attribute 'nosuchname'"):
            module.nosuchname  # noqa: B018
    assert naikit.compare is importlib.import_module("naikit.comparison").compare


def test_the_exporter_refuses_a_name_that_is_also_a_submodule():
    from naikit._lazy import lazy_exports

    with pytest.raises(ValueError, match="both submodules and exported names"):
        lazy_exports("pkg", {"compare": ".comparison"}, submodules=["compare"])
    getattr_, dir_ = lazy_exports("naikit", {"read_metadata": "naikit.metadata"}, public=["__version__"])
    assert dir_() == ["__version__", "read_metadata"]
    value: Any = getattr_("read_metadata")
    assert value.__module__ == "naikit.metadata"


def test_type_checkers_see_the_lazy_names(tmp_path):
    # the faces' TYPE_CHECKING imports give mypy the real objects; a name that is not exported is an error
    script = tmp_path / "user.py"
    script.write_text(
        "import naikit\n"
        "from naikit.widgets import token_inspector\n"
        "from naikit.novita import LoRA\n"
        "reveal_type(token_inspector)\n"
        "reveal_type(naikit.compare)\n"
        "reveal_type(LoRA)\n"
        "naikit.no_such_name\n"
    )
    env = {"PATH": "/usr/bin:/bin", "MYPYPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--follow-imports=silent", "--no-error-summary",
         "--config-file=", str(script)],
        capture_output=True, text=True, cwd=ROOT, timeout=600, env=env,
    )  # fmt: skip
    lines = out.stdout.splitlines()
    assert "-> naikit.widgets.tokens.TokenInspector" in lines[0], out.stdout + out.stderr
    assert "-> naikit.comparison.Comparison" in lines[1]
    assert "-> naikit.novita._parts.LoRA" in lines[2]
    assert 'Module has no attribute "no_such_name"' in lines[3]
    assert len(lines) == 4
