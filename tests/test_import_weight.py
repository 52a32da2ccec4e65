"""What the client classes load, asserted on ``sys.modules`` in fresh interpreters (never on time; the
figures are in benchmarks/bench_core.py --only import).

``naikit.NovelAI`` / ``naikit.Novita`` are light classes whose methods are made from the async client on
first use: naming the class imports neither asyncio nor the client; a constructed client imports the
client's areas but not the modules only some calls need (image request builders and results, the
preset tables, content and crypto). Introspection still sees every method.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "pst-" + "0" * 64


def _loaded(stmt: str, modules: list[str]) -> list[str]:
    """Return which of ``modules`` are imported after ``stmt`` runs in a fresh interpreter."""
    code = f"import sys\n{stmt}\nprint(' '.join(m for m in {modules!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_naming_the_blocking_classes_imports_neither_asyncio_nor_the_clients():
    watched = ["asyncio", "inspect", "naikit.novelai.async_client", "naikit.novita.async_client",
               "naikit._transport", "aiohttp"]  # fmt: skip
    assert _loaded("import naikit; naikit.NovelAI; naikit.Novita", watched) == []
    assert _loaded("from naikit.novelai import NovelAI; from naikit.novita import Novita", watched) == []


def test_a_constructed_client_leaves_the_call_specific_modules_unloaded():
    later = [
        "naikit.novelai.image_models",
        "naikit.novelai._image_request",
        "naikit.novelai.images_result",
        "naikit.novelai.image_stream",
        "naikit.novelai.presets",
        "naikit.novelai.content",
        "naikit.novelai.crypto",
        "zipfile",
        "aiohttp",
    ]
    stmt = f"import naikit; naikit.NovelAI(token={TOKEN!r}, sandbox=False)"
    assert _loaded(stmt, later + ["naikit.novelai.async_client"]) == ["naikit.novelai.async_client"]
    assert _loaded("import naikit; naikit.AsyncNovelAI", later) == []


def test_the_lazy_methods_are_there_for_introspection_before_any_instance():
    code = (
        "import inspect, pydoc, naikit\n"
        "from naikit.novelai.client import NovelAI\n"
        "# help() first, on a class nothing has touched yet\n"
        "text = pydoc.render_doc(NovelAI, renderer=pydoc.plaintext)\n"
        "assert ' |  subscription(self)' in text and ' |  generate_image(self, prompt' in text\n"
        "assert 'generate' in dir(NovelAI) and 'txt2img' in dir(naikit.Novita)\n"
        "sig = inspect.signature(naikit.Novita.txt2img)\n"
        "assert list(sig.parameters)[:2] == ['self', 'prompt'], sig\n"
        "assert NovelAI.subscription.__doc__ == naikit.AsyncNovelAI.subscription.__doc__\n"
        "try:\n"
        "    NovelAI.no_such_method\n"
        "except AttributeError as e:\n"
        "    assert 'no_such_method' in str(e)\n"
        "else:\n"
        "    raise AssertionError('no AttributeError')\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ok"]


def test_a_subclass_of_the_blocking_client_gets_the_methods_too():
    code = (
        "from naikit.novelai.client import NovelAI\n"
        "class Mine(NovelAI):\n"
        "    pass\n"
        "print(callable(Mine.subscription), 'subscription' in dir(Mine), Mine.close is NovelAI.close)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "True"]
