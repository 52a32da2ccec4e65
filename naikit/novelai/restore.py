"""Restore a backup folder (a full backup or a before-overwrite copy) into a NovelAI account.

:func:`restore_account` reads the folder with :func:`~naikit.novelai.backup.read_backup` (every file's
SHA-256 checked), verifies that every object decrypts with the account's keys before anything is written,
merges the keystore, then creates, keeps, relinks or (with ``overwrite=True``) replaces each object; a
:class:`RestoreReport` says what happened to each. Running it again changes nothing more.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NaikitError
from .account import UserObject
from .backup import read_backup, write_safety_backup
from .content import ENCRYPTED_TYPES, _encode, decode_object
from .crypto import Keystore, UnsafeWrite, WrongKey, dumps_compact

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["RestoreReport", "restore_account"]


@dataclass(repr=False)
class RestoreReport:
    """What a restore did: one row per object (type, id, action, new_id, detail) plus the keystore."""

    path: Path
    keystore: str
    rows: list[dict] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
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
