"""Where the widgets' Save buttons write: a folder outside any repository by default.

A notebook's working directory is usually the folder the notebook sits in (``notebooks/`` of a
checkout), so a bare file name typed into a widget would leave untracked files there. Relative names are
therefore taken inside :func:`output_folder` (``$NAIKIT_OUTPUT_DIR`` or ``~/naikit-output``); an absolute
path or one starting with ``~`` is used as given.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError

__all__ = ["output_folder", "output_path", "shown_path"]


def output_folder(kind: str = "") -> Path:
    """Return the folder the widgets save ``kind`` files into by default (``images``, ``presets``):
    ``$NAIKIT_OUTPUT_DIR/kind`` or ``~/naikit-output/kind``. Nothing is created until a file is saved."""
    env = os.environ.get("NAIKIT_OUTPUT_DIR")
    root = Path(env).expanduser() if env else Path.home() / "naikit-output"
    return root / kind if kind else root


def output_path(path: str | os.PathLike[str] | None, kind: str) -> Path:
    """Return where a widget saves ``path``: absolute (or ``~``) paths as given, relative ones inside
    :func:`output_folder` (``kind``), an empty one as that folder itself."""
    if path is None:
        return output_folder(kind)
    text = os.fspath(path)
    if not isinstance(text, str) or "\x00" in text:
        raise InputError("path", path, "a file or folder name")
    if not text.strip():
        return output_folder(kind)
    p = Path(text).expanduser()
    return p if p.is_absolute() else output_folder(kind) / p


def shown_path(path: Path) -> str:
    """Return ``path`` for display, with the home folder as ``~`` (a notebook that stores it does not
    carry the user's name)."""
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except ValueError:
        return str(path)
