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
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json(path: Path, obj: Any) -> str:
    data = json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=False).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as f:  # only ever inside a fresh .partial folder
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
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
    for sub in {(tmp / n).parent for n in files}:
        _fsync_dir(sub)
    manifest = {
        "format": FORMAT,
        "reason": reason,
        "full": full,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(),
        "counts": counts,
        "files": files,
        "complete": True,  # written last: a folder without it is not a backup
    }
    _write_json(tmp / MANIFEST, manifest)
    _fsync_dir(tmp)
    for i in range(1000):
        path = final if i == 0 else final.with_name(f"{final.name}-{i}")
        try:
            os.rename(tmp, path)  # one step: replaces nothing but an empty folder
        except OSError:
            if fresh and path.exists():
                continue
            raise
        _fsync_dir(final.parent)
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
    client: Any,
    what: str,
    *,
    keystore_raw: Any = ...,
    objects: list[UserObject] = (),
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
        """Return how many objects got each action (created, overwritten, relinked, unchanged,
        kept, refused, failed)."""
        out: dict[str, int] = {}
        for r in self.rows:
            out[r["action"]] = out.get(r["action"], 0) + 1
        return out

    def _repr_html_(self) -> str:
        return f"<p><b>{html.escape(repr(self))}</b></p>" + self.to_frame().to_html(index=False)

    def __repr__(self) -> str:
        acts = ", ".join(f"{k}={v}" for k, v in sorted(self.actions.items())) or "nothing"
        return f"RestoreReport(keystore {self.keystore}; {acts})"


async def restore_account(
    client: Any, directory: str | Path, *, overwrite: bool = False, skip_corrupt: bool = False
) -> RestoreReport:
    """Restore a backup folder into the client's account; return a :class:`RestoreReport`.

    Before anything is written, every object is decrypted (or decompressed) with the backup's keys merged
    into the server's: a backup holding an object that does not is refused with an error naming it
    (``skip_corrupt=True`` restores the others and reports it as ``refused``). Keystore: keys are merged
    into the server's keystore (a meta whose key differs is refused); a server with no keystore gets the
    backup's text as it was. Objects: missing ones are created (storycontent first, so a story's
    ``remoteStoryId`` can follow the new id), identical ones are left, differing ones are kept unless
    ``overwrite=True`` (then backed up and replaced). An object already restored by an earlier run (the
    same type, meta and decrypted content on the server under another id) is recognised, so running a
    restore twice, or again after it was interrupted, changes nothing more.
    """
    from .content import ENCRYPTED_TYPES, _encode, decode_object
    from .crypto import dumps_compact

    _manifest, ks_raw, objects = read_backup(directory)
    report = RestoreReport(Path(directory), "untouched")
    server_raw = await client.keystore_raw()
    backup_ks: Keystore | None = None
    if ks_raw is not ... and ks_raw is not None and ks_raw != server_raw:
        try:
            backup_ks = Keystore.decrypt(ks_raw, client._key_candidates())
        except (WrongKey, ValueError) as exc:
            raise UnsafeWrite(
                "directory", str(directory), "a backup whose keystore opens with this account's key", str(exc)
            ) from None
    needs_keys = any(o.type in ENCRYPTED_TYPES for o in objects)
    merged: Keystore | None = None
    added = 0
    if server_raw is not None and (needs_keys or backup_ks is not None):
        merged = await client.keystore()
        for meta in backup_ks or ():
            if meta not in merged:
                merged.add(meta, backup_ks[meta])  # type: ignore[index]
                added += 1
            elif merged[meta] != backup_ks[meta]:  # type: ignore[index]
                raise UnsafeWrite(
                    "directory",
                    str(directory),
                    "a backup whose keys agree with the account's",
                    f"The key of meta {meta!r} differs between the backup and the server.",
                )
    elif backup_ks is not None:
        merged = backup_ks  # a server with no keystore gets the backup's as it was

    # verify every object before anything is written
    decoded = {}
    refused = []
    for obj in objects:
        item = decode_object(obj, merged if obj.type in ENCRYPTED_TYPES else None)
        if item.error is not None:
            refused.append(item.error)
        decoded[(obj.type, obj.id)] = item
    if refused and not skip_corrupt:
        names = "; ".join(str(e) for e in refused[:5])
        raise UnsafeWrite(
            "directory",
            str(directory),
            "a backup whose every object decrypts with the account's keys",
            f"{len(refused)} object(s) would be uploaded unreadable: {names}. Nothing was written; pass "
            "skip_corrupt=True to restore the others.",
        )

    if backup_ks is not None and server_raw is None:
        await write_safety_backup(client, "restore-keystore", keystore_raw=None)
        await client.set_keystore_raw(ks_raw, backup=False)
        report.keystore = "restored as it was"
    elif added:
        await client.set_keystore(merged)
        report.keystore = f"merged ({added} keys added)"
    elif backup_ks is not None:
        report.keystore = "merged (0 keys added)"
    key_of = merged

    server: dict[str, list[UserObject]] = {}
    for t in sorted({o.type for o in objects}):
        server[t] = list(await client.list_objects(t))

    def content_of(o: UserObject) -> bytes | None:
        got = decode_object(o, key_of if o.type in ENCRYPTED_TYPES else None)
        return dumps_compact(got.data) if got.ok else None

    claimed: set[tuple[str, str]] = set()
    new_ids: dict[str, str] = {}
    order = {"storycontent": 0, "stories": 1}
    for obj in sorted(objects, key=lambda o: order.get(o.type, 2)):
        row = {"type": obj.type, "id": obj.id, "action": "", "new_id": None, "detail": ""}
        report.rows.append(row)
        item = decoded[(obj.type, obj.id)]
        if item.error is not None:
            row.update(action="refused", detail=f"it does not decrypt: {item.error}")
            continue
        try:
            data = obj.data
            original = dumps_compact(item.data)
            if obj.type == "stories" and isinstance(item.data, dict):
                link = item.data.get("remoteStoryId")
                if link in new_ids and new_ids[link] != link:
                    item.data["remoteStoryId"] = new_ids[link]
                    data, _ = _encode(item, key_of[obj.meta])  # type: ignore[index]
                    row["detail"] = "remoteStoryId follows the restored storycontent"
            want = dumps_compact(item.data)
            current = next((o for o in server.get(obj.type, []) if o.id == obj.id), None)
            if current is None:
                # restored by an earlier run (perhaps one that was interrupted)? same meta and content
                twin = next(
                    (
                        o
                        for o in server.get(obj.type, [])
                        if (o.type, o.id) not in claimed
                        and o.meta == obj.meta
                        and (o.data == data or content_of(o) == want)
                    ),
                    None,
                )
                if twin is not None:
                    claimed.add((twin.type, twin.id))
                    new_ids[obj.id] = twin.id
                    row.update(action="unchanged", new_id=twin.id, detail="restored earlier as " + twin.id)
                    continue
                stored = await client.create_object(obj.type, obj.meta, data)
                if stored.data != data:
                    raise UnsafeWrite("data", "<sent>", "the server to store what was sent", "It did not.")
                claimed.add((stored.type, stored.id))
                new_ids[obj.id] = stored.id
                row.update(action="created", new_id=stored.id)
                continue
            claimed.add((current.type, current.id))
            new_ids[obj.id] = obj.id
            same_meta = current.meta == obj.meta
            if same_meta and (current.data == data or content_of(current) == want):
                row.update(action="unchanged")
            elif (
                same_meta
                and data != obj.data
                and (current.data == obj.data or content_of(current) == original)
            ):
                # the server's story is the backup's, linked to a storycontent this restore re-created
                await write_safety_backup(client, f"restore-{obj.type}-{obj.id}", objects=[current])
                stored = await client.update_object(
                    obj.type, obj.id, obj.meta, data, change_index=current.change_index, backup=False
                )
                row.update(action="relinked", new_id=stored.id)
            elif not overwrite:
                row.update(
                    action="kept", detail="the server's copy differs; pass overwrite=True to replace it"
                )
            else:
                await write_safety_backup(client, f"restore-{obj.type}-{obj.id}", objects=[current])
                stored = await client.update_object(
                    obj.type, obj.id, obj.meta, data, change_index=current.change_index, backup=False
                )
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
        from .._prompt import read_password as _password

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
        report = nai.restore(args.dir, overwrite=args.overwrite, skip_corrupt=args.skip_corrupt)
        print(repr(report))
        print(report.to_frame().to_string(index=False))
    return 0 if not {"failed", "refused"} & set(report.actions) else 1


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
    p.add_argument(
        "--skip-corrupt", action="store_true", help="restore the others when an object does not decrypt"
    )
    _add_common(p)
    p.set_defaults(func=_cmd_restore)

    p = subparsers.add_parser("sanity-check", help="report what decrypts and what is inconsistent")
    _add_common(p)
    p.set_defaults(func=_cmd_sanity)
