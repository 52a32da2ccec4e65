"""Backups of a whole NovelAI account to a folder, restore from one, and the safety copies made before writes.

Layout of one backup folder (``<root>/<account fingerprint>/<UTC timestamp>[-<reason>]/``)::

    manifest.json            what, when, counts, and the SHA-256 of every file below; written last
    keystore.json            {"keystore": <the server's base64 text, still encrypted> | null}
    objects/<type>/<id>.json one UserData each, exactly as the server answered (data still encrypted)
    clientsettings.json      (before set_client_settings) {"settings": <the website's settings>}
    modules/<id>.json        (before delete_module) the trained module as the server described it

A backup is written into a hidden ``.<name>.*.partial`` folder beside its final place, every file synced,
the manifest last, then renamed into place in one step: a folder under its final name is always complete,
and a crash leaves only a ``.partial`` folder that :func:`read_backup` never accepts (no manifest, or not
the name it claims). Reading checks every file's SHA-256, refuses a manifest entry that is not a plain
file inside the folder (``..``, an absolute path, a symlink), and compares the counts.

Nothing else is written: no token, no password, no decrypted key; the keystore only as the server holds it
(encrypted with the account key). ``root`` is ``$NAIKIT_BACKUP_DIR`` or ``~/.naikit/backups`` unless the
client was given another (``set_backup_dir``). The fingerprint is a one-way hash of the account's hashed
email (or of the token's account id), so folders of different accounts never mix.

Before every keystore or object overwrite (and delete) the client writes the server's current version to a
``<timestamp>-before-<what>`` folder of the same layout; :mod:`naikit.novelai.restore` reads both kinds.
The commands ``naikit backup`` / ``restore`` / ``sanity-check`` live in :mod:`naikit.cli.backup`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import html
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._atomic import fsync_dir, write_atomic
from ..errors import InputError
from .account import OBJECT_TYPES, UserObject

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "BackupInfo",
    "account_fingerprint",
    "backup_root",
    "backup_account",
    "write_safety_backup",
    "read_backup",
]

MANIFEST = "manifest.json"
FORMAT = "naikit-backup-1"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
# the only names a manifest may list: no "/" inside a part, so no "..", no absolute path
_ENTRY = re.compile(
    r"^(?:keystore\.json|clientsettings\.json|modules/[A-Za-z0-9._-]+\.json"
    r"|objects/(?:" + "|".join(OBJECT_TYPES) + r")/[A-Za-z0-9._-]+\.json)$"
)


def backup_root() -> Path:
    """Return the default backups folder: ``$NAIKIT_BACKUP_DIR`` or ``~/.naikit/backups``."""
    env = os.environ.get("NAIKIT_BACKUP_DIR")
    return Path(env).expanduser() if env else Path.home() / ".naikit" / "backups"


def account_fingerprint(email: str | None, token: str | None = None) -> str:
    """Return a 16-hex-digit folder name for an account: a one-way hash of its hashed email, else of the
    account id in a login token, else of the token itself (never reversible to any of them)."""
    if email:
        from .auth import hashed_email

        basis = "email:" + hashed_email(email)
    elif token:
        from .auth import Token

        claims = Token(token)._claims() if token.startswith("ey") else None
        account_id = (claims or {}).get("id") or (claims or {}).get("sub")
        basis = f"id:{account_id}" if account_id else "token:" + hashlib.sha256(token.encode()).hexdigest()
    else:
        basis = "anonymous"
    return hashlib.sha256(("naikit-backup\0" + basis).encode()).hexdigest()[:16]


def _stamp() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


def _write_json(path: Path, obj: Any) -> str:
    """Write ``obj`` as JSON to a new file (never over one: only ever inside a fresh .partial folder),
    synced with its folder; return the SHA-256 of the bytes written."""
    data = json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=False).encode("utf-8")
    write_atomic(path, data, overwrite=False)
    return hashlib.sha256(data).hexdigest()


def _write_folder(
    final: Path,
    reason: str,
    keystore_raw: Any,
    objects: list[UserObject],
    full: bool,
    *,
    fresh_name: bool,
    extras: dict[str, Any] | None = None,
) -> tuple[Path, dict]:
    """Write a backup atomically under ``final`` (or ``final-N`` when ``fresh_name`` and it is taken);
    return (the folder, its manifest). ``extras``: other JSON files by name (client settings, modules)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name[:100]}.", suffix=".partial", dir=final.parent))
    try:
        return _fill_and_place(tmp, final, reason, keystore_raw, objects, full, fresh_name, extras or {})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a crash (kill -9) leaves it; read_backup refuses it
        raise


def _fill_and_place(
    tmp: Path,
    final: Path,
    reason: str,
    keystore_raw: Any,
    objects: list[UserObject],
    full: bool,
    fresh: bool,
    extras: dict[str, Any],
) -> tuple[Path, dict]:
    files: dict[str, str] = {}
    for name, body in extras.items():
        assert _ENTRY.match(name) and not name.startswith(("objects/", "keystore")), name
        files[name] = _write_json(tmp / name, body)
    if keystore_raw is not ...:
        files["keystore.json"] = _write_json(tmp / "keystore.json", {"keystore": keystore_raw})
    counts: dict[str, int] = {}
    for o in objects:
        name = f"objects/{o.type}/{_SAFE.sub('_', o.id)}.json"
        if name in files:
            raise InputError("objects", o.id, "objects with distinct ids", f"{name} would be written twice.")
        files[name] = _write_json(tmp / name, dict(o.raw))
        counts[o.type] = counts.get(o.type, 0) + 1
    # each file's own folder was synced as it was written; the folders above them (objects/) hold the
    # entries of the per-type folders made on the way
    for sub in {p for n in files for p in (tmp / n).parents if tmp in p.parents}:
        fsync_dir(sub)
    manifest = {
        "format": FORMAT,
        "reason": reason,
        "full": full,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(),
        "counts": counts,
        "files": files,
        "complete": True,  # written last: a folder without it is not a backup
    }
    _write_json(tmp / MANIFEST, manifest)  # written last, and synced with the folder holding it
    for i in range(1000):
        path = final if i == 0 else final.with_name(f"{final.name}-{i}")
        try:
            os.rename(tmp, path)  # one step: replaces nothing but an empty folder
        except OSError:
            if fresh and path.exists():
                continue
            raise
        fsync_dir(final.parent)
        return path, manifest
    raise OSError(f"cannot create a new backup folder under {final.parent}")


@dataclass(frozen=True, repr=False)
class BackupInfo:
    """A backup folder: where it is, whether it holds the whole account, and how many objects of each type."""

    path: Path
    full: bool
    reason: str
    counts: dict[str, int]
    has_keystore: bool

    def to_frame(self) -> pd.DataFrame:
        """Return a DataFrame (type, objects) of what the backup holds."""
        import pandas as pd

        rows = [(t, self.counts.get(t, 0)) for t in OBJECT_TYPES]
        return pd.DataFrame(rows, columns=["type", "objects"])

    def _repr_html_(self) -> str:
        return f"<p><b>{html.escape(repr(self))}</b></p>" + self.to_frame().to_html(index=False)

    def __repr__(self) -> str:
        total = sum(self.counts.values())
        ks = "keystore + " if self.has_keystore else ""
        return f"BackupInfo({self.path.name}, {ks}{total} objects, {'full' if self.full else self.reason})"


async def write_safety_backup(
    client: Any,
    what: str,
    *,
    keystore_raw: Any = ...,
    objects: Sequence[UserObject] = (),
    extras: dict[str, Any] | None = None,
) -> Path:
    """Write the server's current version of what is about to be overwritten; return the folder.

    ``extras`` holds other JSON files by name: ``clientsettings.json`` (``{"settings": ...}``) or
    ``modules/<id>.json`` (a trained module as the server described it), kept for you to read; ``restore``
    puts back only the keystore and the objects."""
    final = client.backup_dir / f"{_stamp()}-before-{_SAFE.sub('_', what)[:80]}"
    folder, _ = _write_folder(
        final, f"before {what}", keystore_raw, list(objects), full=False, fresh_name=True, extras=extras
    )
    return folder


async def backup_account(
    client: Any, directory: str | Path | None = None, *, reason: str = "full backup"
) -> BackupInfo:
    """Download the keystore and every object of every type into ``directory`` (default: a new
    ``<backup_dir>/<UTC timestamp>/``); return a :class:`BackupInfo`. Only encrypted data is written, and
    the folder appears under its name only once complete."""
    if directory is not None:
        folder = Path(directory).expanduser()
        if folder.is_symlink() or (folder.exists() and (not folder.is_dir() or any(folder.iterdir()))):
            raise InputError(
                "directory", str(folder), "a new or empty folder", "A backup never overwrites files."
            )
    keystore_raw = await client.keystore_raw()
    objects: list[UserObject] = []
    for t in OBJECT_TYPES:
        objects += list(await client.list_objects(t))
    final = Path(directory).expanduser() if directory is not None else client.backup_dir / _stamp()
    folder, manifest = _write_folder(
        final, reason, keystore_raw, objects, full=True, fresh_name=directory is None
    )
    return BackupInfo(folder, True, reason, manifest["counts"], True)


def _plain_file(folder: Path, name: str) -> Path:
    """Return ``folder/name`` if every part of it is a real folder/file inside ``folder`` (no symlink)."""
    path = folder
    parts = name.split("/")
    for i, part in enumerate(parts):
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            raise InputError("directory", str(folder), "a complete backup", f"{name} is missing.") from None
        last = i == len(parts) - 1
        if stat.S_ISLNK(mode) or not (stat.S_ISREG(mode) if last else stat.S_ISDIR(mode)):
            raise InputError(
                "directory",
                str(folder),
                "a backup whose files are plain files inside it",
                f"{name} is a symlink or not a plain file; refused.",
            )
    return path


def read_backup(directory: str | Path) -> tuple[dict, Any, list[UserObject]]:
    """Return (manifest, keystore text or ``...`` if absent, objects) of a backup folder, after checking
    every file's SHA-256 against the manifest, that every entry is a plain file inside the folder, and that
    the counts agree. Raises InputError for a folder that is not a complete, intact backup."""
    folder = Path(directory).expanduser()
    not_backup = InputError("directory", str(folder), "a naikit backup folder (with manifest.json)")
    try:
        mpath = _plain_file(folder, MANIFEST)
        manifest = json.loads(mpath.read_text("utf-8"))
    except (InputError, OSError, ValueError, RecursionError):
        raise not_backup from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError("directory", str(folder), f"a backup in format {FORMAT}")
    files = manifest.get("files")
    counts = manifest.get("counts")
    if not isinstance(files, dict) or not isinstance(counts, dict) or manifest.get("complete") is False:
        raise InputError("directory", str(folder), "a complete backup", "Its manifest is incomplete.")
    keystore_raw: Any = ...
    objects: list[UserObject] = []
    for name, digest in files.items():
        if not isinstance(name, str) or not _ENTRY.match(name):
            raise InputError(
                "directory",
                str(folder),
                "a manifest listing only keystore.json, clientsettings.json, modules/<id>.json and "
                "objects/<type>/<id>.json",
                f"It lists {str(name)[:120]!r}, which points outside the backup; refused.",
            )
        data = _plain_file(folder, name).read_bytes()
        if not isinstance(digest, str) or hashlib.sha256(data).hexdigest() != digest:
            raise InputError("directory", str(folder), "an intact backup", f"{name} was altered or damaged.")
        try:
            body = json.loads(data)
        except (ValueError, RecursionError):
            raise InputError("directory", str(folder), "an intact backup", f"{name} is not JSON.") from None
        if not isinstance(body, dict):
            raise InputError("directory", str(folder), "an intact backup", f"{name} is not a JSON object.")
        if name == "keystore.json":
            keystore_raw = body.get("keystore")
            if not isinstance(keystore_raw, (str, type(None))):
                raise InputError(
                    "directory", str(folder), "an intact backup", "keystore.json holds no keystore."
                )
            continue
        if not name.startswith("objects/"):
            continue  # checked, kept for the user; nothing restore puts back
        try:
            obj = UserObject.from_json(body)
        except (TypeError, ValueError, OverflowError, OSError):
            raise InputError(
                "directory", str(folder), "an intact backup", f"{name} is not a stored object."
            ) from None
        _, type_, file = name.split("/")
        if obj.type != type_ or file != f"{_SAFE.sub('_', obj.id)}.json" or not isinstance(obj.data, str):
            raise InputError(
                "directory", str(folder), "an intact backup", f"{name} holds another object than it names."
            )
        objects.append(obj)
    found: dict[str, int] = {}
    for o in objects:
        found[o.type] = found.get(o.type, 0) + 1
    if found != {t: n for t, n in counts.items() if n}:
        raise InputError(
            "directory", str(folder), "a complete backup", f"It holds {found}, its manifest says {counts}."
        )
    return manifest, keystore_raw, objects
