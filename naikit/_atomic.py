"""One way to write a file a user owns: whole or not at all, durable once the call returns.

Presets, images, vibes, experiment images and backups all go through :func:`write_atomic`. The data goes to
a temporary file in the same folder (so the final rename never crosses a file system), is flushed and
fsynced, then renamed over the target; the folder is fsynced too, so after a crash the directory entry
points either at the old file or at the complete new one, never at a half-written one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic", "fsync_dir"]


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a folder's entries to disk (a no-op where folders cannot be opened, as on Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; its renames are durable on their own
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems (e.g. certain network mounts) refuse fsync on a folder
        pass
    finally:
        os.close(fd)


def write_atomic(
    path: str | os.PathLike[str],
    data: bytes | str,
    *,
    overwrite: bool = True,
    fsync: bool = True,
) -> Path:
    """Write ``data`` (text is written as UTF-8, newlines untouched) to ``path``; return the path written.

    ``overwrite=False`` raises ``FileExistsError`` when the target exists, checked at the rename itself
    (no window in which another writer's file could be replaced). ``fsync=False`` skips the flushes for
    scratch files whose loss after a power cut does not matter. Missing parent folders are created. If
    anything fails, the temporary file is removed and the target is left as it was.
    """
    target = Path(path)
    blob = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            # link() fails if the target exists, atomically; the temporary name is then unlinked
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links: check, then rename (a small window)
                if target.exists():
                    raise FileExistsError(str(target)) from None
                os.replace(tmp, target)
            else:
                os.unlink(tmp)
        if fsync:
            fsync_dir(target.parent)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target
