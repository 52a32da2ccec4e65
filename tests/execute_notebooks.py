"""Re-execute notebooks in place so their stored outputs (what nbval compares against) are current.

    .venv/bin/python tests/execute_notebooks.py notebooks/01_quickstart.ipynb [...]

Runs each notebook top to bottom in a fresh kernel with no NAI_/NOVITA_ variables (the offline
sandbox), from the notebooks folder, exactly as nbval will.
"""

from __future__ import annotations

import os
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
    nbformat.write(nb, path)
    print("executed", path)


if __name__ == "__main__":
    for p in sys.argv[1:]:
        execute(p)
