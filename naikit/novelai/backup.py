"""Backups of a whole NovelAI account to a folder, restore from one, and the safety copies made before writes.

Layout of one backup folder (``<root>/<account fingerprint>/<UTC timestamp>[-<reason>]/``)::

    manifest.json            what, when, counts, and the SHA-256 of every file below
    keystore.json            {"keystore": <the server's base64 text, still encrypted> | null}
    objects/<type>/<id>.json one UserData each, exactly as the server answered (data still encrypted)

Nothing else is written: no token, no password, no decrypted key; the keystore only as the server holds it
(encrypted with the account key). ``root`` is ``$NAIKIT_BACKUP_DIR`` or ``~/.naikit/backups`` unless the
client was given another (``set_backup_dir``). The fingerprint is a one-way hash of the account's hashed
email (or of the token's account id), so folders of different accounts never mix.

Before every keystore or object overwrite (and delete) the client writes the server's current version to a
``<timestamp>-before-<what>`` folder of the same layout; ``restore`` reads both kinds.

CLI (registered by :func:`register_cli`): ``naikit backup``, ``naikit restore DIR``, ``naikit sanity-check``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import html
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._decode import load_json
from ..errors import InputError, NaikitError
from .account import OBJECT_TYPES, UserObject
from .crypto import Keystore, UnsafeWrite, WrongKey

__all__ = [
    "BackupInfo",
    "RestoreReport",
    "account_fingerprint",
    "backup_root",
    "backup_account",
    "restore_account",
    "write_safety_backup",
    "read_backup",
    "register_cli",
]

MANIFEST = "manifest.json"
FORMAT = "naikit-backup-1"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


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


def _new_folder(parent: Path, name: str) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    for i in range(1000):
        path = parent / (name if i == 0 else f"{name}-{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise OSError(f"cannot create a new backup folder under {parent}")


def _write_json(path: Path, obj: Any) -> str:
    data = json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=False).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)  # never a half-written file under the final name
    return hashlib.sha256(data).hexdigest()


def _write_folder(
    folder: Path, reason: str, keystore_raw: Any, objects: list[UserObject], full: bool
) -> dict:
    files: dict[str, str] = {}
    if keystore_raw is not ...:
        files["keystore.json"] = _write_json(folder / "keystore.json", {"keystore": keystore_raw})
    counts: dict[str, int] = {}
    for o in objects:
        name = f"objects/{o.type}/{_SAFE.sub('_', o.id)}.json"
        files[name] = _write_json(folder / name, dict(o.raw))
        counts[o.type] = counts.get(o.type, 0) + 1
    manifest = {
        "format": FORMAT,
        "reason": reason,
        "full": full,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(),
        "counts": counts,
        "files": files,
    }
    _write_json(folder / MANIFEST, manifest)
    return manifest


@dataclass(frozen=True, repr=False)
class BackupInfo:
    """A backup folder: where it is, whether it holds the whole account, and how many objects of each type."""

    path: Path
    full: bool
    reason: str
    counts: dict[str, int]
    has_keystore: bool

    def to_frame(self):
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
    client: Any, what: str, *, keystore_raw: Any = ..., objects: list[UserObject] = ()
) -> Path:
    """Write the server's current version of what is about to be overwritten; return the folder."""
    folder = _new_folder(client.backup_dir, f"{_stamp()}-before-{_SAFE.sub('_', what)[:80]}")
    _write_folder(folder, f"before {what}", keystore_raw, list(objects), full=False)
    return folder


async def backup_account(client: Any, directory: str | Path | None = None) -> BackupInfo:
    """Download the keystore and every object of every type into ``directory`` (default: a new
    ``<backup_dir>/<UTC timestamp>/``); return a :class:`BackupInfo`. Only encrypted data is written."""
    keystore_raw = await client.keystore_raw()
    objects: list[UserObject] = []
    for t in OBJECT_TYPES:
        objects += list(await client.list_objects(t))
    if directory is None:
        folder = _new_folder(client.backup_dir, _stamp())
    else:
        folder = Path(directory).expanduser()
        if folder.exists() and any(folder.iterdir()):
            raise InputError(
                "directory", str(folder), "a new or empty folder", "A backup never overwrites files."
            )
        folder.mkdir(parents=True, exist_ok=True)
    manifest = _write_folder(folder, "full backup", keystore_raw, objects, full=True)
    return BackupInfo(folder, True, "full backup", manifest["counts"], True)


def read_backup(directory: str | Path) -> tuple[dict, Any, list[UserObject]]:
    """Return (manifest, keystore text or ``...`` if absent, objects) of a backup folder, after checking
    every file's SHA-256 against the manifest. Raises InputError for a folder that is not a backup."""
    folder = Path(directory).expanduser()
    allowed = "a naikit backup folder (with manifest.json)"

    def bad(reason: str) -> InputError:
        return InputError("directory", str(folder), allowed, reason)

    try:
        manifest = load_json(
            (folder / MANIFEST).read_bytes(), lambda r: bad(f"Its manifest is not JSON: {r}.")
        )
    except OSError as exc:
        raise bad(f"Its manifest cannot be read ({type(exc).__name__}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError("directory", str(folder), f"a backup in format {FORMAT}")
    files = manifest.get("files", {})
    if not isinstance(files, dict) or not all(isinstance(d, str) for d in files.values()):
        raise bad("Its manifest's 'files' is not an object of file name -> SHA-256.")
    keystore_raw: Any = ...
    objects: list[UserObject] = []
    for name, digest in files.items():
        if Path(name).is_absolute() or ".." in Path(name).parts:  # never read outside the folder
            raise bad(f"Its manifest names {name!r}, not a file of the folder.")
        path = folder / name
        try:
            data = path.read_bytes()
        except OSError:
            raise InputError("directory", str(folder), "a complete backup", f"{name} is missing.") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise InputError("directory", str(folder), "an intact backup", f"{name} was altered or damaged.")
        body = load_json(data, lambda r, name=name: bad(f"{name} is not JSON: {r}."))
        if not isinstance(body, dict):
            raise bad(f"{name} is not a JSON object.")
        if name == "keystore.json":
            keystore_raw = body.get("keystore")
        else:
            objects.append(UserObject.from_json(body))
    return manifest, keystore_raw, objects


@dataclass(repr=False)
class RestoreReport:
    """What a restore did: one row per object (type, id, action, new_id, detail) plus the keystore."""

    path: Path
    keystore: str
    rows: list[dict] = field(default_factory=list)

    def to_frame(self):
        """Return the report as a DataFrame (type, id, action, new_id, detail)."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=["type", "id", "action", "new_id", "detail"])

    @property
    def actions(self) -> dict[str, int]:
        """Return how many objects got each action (created, overwritten, unchanged, kept, failed)."""
        out: dict[str, int] = {}
        for r in self.rows:
            out[r["action"]] = out.get(r["action"], 0) + 1
        return out

    def _repr_html_(self) -> str:
        return f"<p><b>{html.escape(repr(self))}</b></p>" + self.to_frame().to_html(index=False)

    def __repr__(self) -> str:
        acts = ", ".join(f"{k}={v}" for k, v in sorted(self.actions.items())) or "nothing"
        return f"RestoreReport(keystore {self.keystore}; {acts})"


async def restore_account(client: Any, directory: str | Path, *, overwrite: bool = False) -> RestoreReport:
    """Restore a backup folder into the client's account; return a :class:`RestoreReport`.

    Keystore: keys are merged into the server's keystore (a meta whose key differs is refused); a server
    with no keystore gets the backup's text as it was. Objects: missing ones are created (storycontent
    first, so a story's ``remoteStoryId`` can follow the new id), identical ones are left, differing ones
    are kept unless ``overwrite=True`` (then backed up and replaced).
    """
    from .content import ENCRYPTED_TYPES, _encode, decode_object

    _manifest, ks_raw, objects = read_backup(directory)
    report = RestoreReport(Path(directory), "untouched")
    server_raw = await client.keystore_raw()
    keystore: Keystore | None = None
    if ks_raw is not ... and ks_raw is not None and ks_raw != server_raw:
        candidates = client._key_candidates()
        try:
            backup_ks = Keystore.decrypt(ks_raw, candidates)
        except (WrongKey, ValueError) as exc:
            raise UnsafeWrite(
                "directory", str(directory), "a backup whose keystore opens with this account's key", str(exc)
            ) from None
        if server_raw is None:
            await write_safety_backup(client, "restore-keystore", keystore_raw=None)
            await client.set_keystore_raw(ks_raw)
            report.keystore = "restored as it was"
        else:
            merged = await client.keystore()
            added = 0
            for meta in backup_ks:
                if meta not in merged:
                    merged.add(meta, backup_ks[meta])
                    added += 1
                elif merged[meta] != backup_ks[meta]:
                    raise UnsafeWrite(
                        "directory",
                        str(directory),
                        "a backup whose keys agree with the account's",
                        f"The key of meta {meta!r} differs between the backup and the server.",
                    )
            if added:
                await client.set_keystore(merged)
            report.keystore = f"merged ({added} keys added)"
    if any(o.type in ENCRYPTED_TYPES for o in objects):
        keystore = await client.keystore()

    new_ids: dict[str, str] = {}
    order = {"storycontent": 0, "stories": 1}
    for obj in sorted(objects, key=lambda o: order.get(o.type, 2)):
        row = {"type": obj.type, "id": obj.id, "action": "", "new_id": None, "detail": ""}
        report.rows.append(row)
        try:
            current = None
            if obj.type in OBJECT_TYPES:
                current = next((o for o in await client.list_objects(obj.type) if o.id == obj.id), None)
            data = obj.data
            if obj.type == "stories" and new_ids and keystore is not None:
                item = decode_object(obj, keystore)
                link = item.data.get("remoteStoryId") if item.ok and isinstance(item.data, dict) else None
                if link in new_ids:
                    item.data["remoteStoryId"] = new_ids[link]
                    data, _ = _encode(item, keystore[obj.meta])
                    row["detail"] = "remoteStoryId follows the restored storycontent"
            if current is None:
                if obj.type in ENCRYPTED_TYPES and keystore is not None and obj.meta not in keystore:
                    row.update(action="failed", detail="its meta has no key in the keystore")
                    continue
                stored = await client.create_object(obj.type, obj.meta, data)
                new_ids[obj.id] = stored.id
                row.update(action="created", new_id=stored.id)
            elif current.data == data and current.meta == obj.meta:
                row.update(action="unchanged")
            elif not overwrite:
                row.update(
                    action="kept", detail="the server's copy differs; pass overwrite=True to replace it"
                )
            else:
                await write_safety_backup(client, f"restore-{obj.type}-{obj.id}", objects=[current])
                stored = await client.update_object(obj.type, obj.id, obj.meta, data)
                row.update(action="overwritten", new_id=stored.id)
        except NaikitError as exc:
            row.update(action="failed", detail=str(exc))
    return report


# ------------------------------------------------------------------------------------------------ CLI


def _client(args: argparse.Namespace) -> Any:
    from .client import NovelAI

    kw: dict[str, Any] = {"email_case": args.email_case}
    if args.sandbox:
        kw["sandbox"] = True
    elif args.base_url:
        kw["base_url"] = args.base_url
    if args.email:
        from ..cli import _password

        kw.update(email=args.email, password=_password(args.password))
    return NovelAI(**kw)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--email", default=None, help="account email (else NAI_USERNAME / NAI_TOKEN, else the sandbox)"
    )
    p.add_argument("--password", default=None, help="omit or '-' to type it (or read it from stdin)")
    p.add_argument("--email-case", choices=["lower", "verbatim"], default="lower")
    p.add_argument("--base-url", default=None, help="one URL for all hosts (e.g. a `naikit serve` sandbox)")
    p.add_argument("--sandbox", action="store_true", help="use the embedded offline sandbox (demo account)")
    p.add_argument(
        "--backup-root", default=None, help="backups folder (default $NAIKIT_BACKUP_DIR or ~/.naikit/backups)"
    )


def _cmd_backup(args: argparse.Namespace) -> int:
    with _client(args) as nai:
        if args.backup_root:
            nai.set_backup_dir(args.backup_root)
        info = nai.backup(args.dir)
        print(f"{info!r}\n{info.path}")
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    with _client(args) as nai:
        if args.backup_root:
            nai.set_backup_dir(args.backup_root)
        report = nai.restore(args.dir, overwrite=args.overwrite)
        print(repr(report))
        print(report.to_frame().to_string(index=False))
    return 0 if "failed" not in report.actions else 1


def _cmd_sanity(args: argparse.Namespace) -> int:
    with _client(args) as nai:
        report = nai.sanity_check()
        print(report.summary())
    return 0 if report.ok else 1


def register_cli(subparsers: Any) -> None:
    """Add ``backup``, ``restore`` and ``sanity-check`` to the ``naikit`` command; returns None."""
    p = subparsers.add_parser("backup", help="download the keystore and every object into a folder")
    p.add_argument("dir", nargs="?", default=None, help="target folder (default: a new timestamped one)")
    _add_common(p)
    p.set_defaults(func=_cmd_backup)

    p = subparsers.add_parser("restore", help="put a backup folder back into the account")
    p.add_argument("dir", help="a folder written by `naikit backup` (or a before-overwrite copy)")
    p.add_argument("--overwrite", action="store_true", help="replace objects whose server copy differs")
    _add_common(p)
    p.set_defaults(func=_cmd_restore)

    p = subparsers.add_parser("sanity-check", help="report what decrypts and what is inconsistent")
    _add_common(p)
    p.set_defaults(func=_cmd_sanity)
