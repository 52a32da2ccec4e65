"""Re-execute notebooks in place so their stored outputs (what nbval compares against) are current.

    .venv/bin/python tests/execute_notebooks.py notebooks/01_quickstart.ipynb [...]
    .venv/bin/python tests/execute_notebooks.py --tidy notebooks/*.ipynb  (ports stored as PORT)

Runs each notebook top to bottom in a fresh kernel with no NAI_/NOVITA_ variables (the offline
sandbox), from the notebooks folder, exactly as nbval will. The notebooks are then stored so that they read
well before anyone runs them: every widget output carries a static ``text/html`` snapshot next to its view
(naikit's widgets add it themselves, see ``naikit.widgets.snapshot``), the widget state is kept in the
notebook's metadata, and the sandbox's port of this run (meaningless later) is stored as ``PORT``, which is
also what tests/nbval_sanitize.cfg turns every run's port into.
"""

from __future__ import annotations

import os
import re
import sys

import nbclient
import nbformat


def execute(path: str) -> None:
    """Execute the notebook at ``path`` and write it back with its outputs; returns None."""
    for k in list(os.environ):
        if k.startswith(("NAI_", "NOVITA_", "NOVELAI_")):
            del os.environ[k]
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": os.path.dirname(path) or "."}}
    )
    client.execute()
    missing = tidy(nb)
    nbformat.write(nb, path)
    print("executed", path, f"({missing} widget view(s) without a snapshot)" if missing else "")


_LOOPBACK = re.compile(r"http://127\.0\.0\.1:\d+")


def tidy(nb: nbformat.NotebookNode) -> int:
    """Store ``nb`` run-independent: loopback ports as PORT in every text output; return how many widget
    views have no ``text/html`` snapshot (widgets of other packages)."""
    missing = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                out["text"] = _LOOPBACK.sub("http://127.0.0.1:PORT", out["text"])
            data = out.get("data", {})
            for key in ("text/plain", "text/html"):
                if isinstance(data.get(key), str):
                    data[key] = _LOOPBACK.sub("http://127.0.0.1:PORT", data[key])
            if "application/vnd.jupyter.widget-view+json" in data and "text/html" not in data:
                missing += 1
    return missing


def tidy_only(path: str) -> None:
    """Store the notebook at ``path`` run-independent (see :func:`tidy`) without running it; returns None."""
    nb = nbformat.read(path, as_version=4)
    tidy(nb)
    nbformat.write(nb, path)


if __name__ == "__main__":
    # --tidy: only rewrite the stored outputs (ports), for notebooks whose outputs are otherwise current
    only = "--tidy" in sys.argv[1:]
    for p in (a for a in sys.argv[1:] if a != "--tidy"):
        tidy_only(p) if only else execute(p)
