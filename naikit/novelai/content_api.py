"""NovelAI's encrypted content as Python objects: list, read, create, save and delete; backup and restore.

``ContentAPI`` is an area of :class:`naikit.novelai.async_client.AsyncNovelAI`: its public coroutine methods
use the raw account calls (``list_objects``, ``update_object``, …) and appear on the sync ``NovelAI``.

:meth:`ContentAPI.content` decrypts every object of a type; an object that fails carries its own
:class:`~.crypto.CorruptObject` in ``.error`` while all the others are still returned.

Writing is guarded: every upload is decrypted again and compared with what was meant before it is sent;
an object changed on the server since it was read is not overwritten; and the server's current version is
written to a timestamped local backup first (see :mod:`naikit.novelai.backup`). Unchanged content is
re-uploaded byte for byte; changed content gets a fresh nonce.

Concurrent saves (another kernel, the website): like the website (its ``_saveStory``), object PATCHes carry
the ``changeIndex`` last read, and a 409 means another client saved first. naikit also checks each answer
(the index must move by exactly one; the object read back must hold what was sent), which catches a lost
race on a server that ignores the index. The loser gets :class:`~naikit.errors.EditConflict`, and both
versions are kept in local backup folders.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._validate import check_bool, check_path, check_text, check_wire_json
from ..errors import Conflict, EditConflict, InputError, UnsafeWrite
from .account import UserObject, check_object_id
from .keystore_api import KeystoreAPI
from .objects_api import check_object_type

# the content and crypto modules load with the first call that needs them, not with the client (import
# time): each method imports what it uses; annotations name them for type checkers only
if TYPE_CHECKING:
    from .backup import BackupInfo
    from .content import ContentList, ContentObject
    from .crypto import Keystore
    from .restore import RestoreReport
    from .sanity import SanityReport

__all__ = ["ContentAPI"]


class ContentAPI(KeystoreAPI):
    """Area: the account's decrypted objects (read, create, save, delete) and its backups."""

    async def content(self, object_type: str, *, keystore: Keystore | None = None) -> ContentList:
        """Return every object of ``object_type`` decrypted (stories, storycontent, aimodules) or
        decompressed (presets, shelf). An object that fails has ``.error`` set; the others are returned."""
        from .content import ENCRYPTED_TYPES, ContentList, decode_object
        from .crypto import Keystore

        check_object_type(object_type)
        if keystore is not None and not isinstance(keystore, Keystore):
            raise InputError("keystore", keystore, "a Keystore from keystore() or None")
        if object_type in ENCRYPTED_TYPES and keystore is None:
            keystore = await self.keystore()
        objs = await self.list_objects(object_type)
        return ContentList(object_type, [decode_object(o, keystore) for o in objs])

    async def content_item(self, object_type: str, object_id: str) -> ContentObject:
        """Return one object decrypted or decompressed (check ``.error``, or call ``.raise_for_error()``)."""
        from .content import ENCRYPTED_TYPES, decode_object

        check_object_type(object_type)
        check_object_id(object_id)
        ks = await self.keystore() if object_type in ENCRYPTED_TYPES else None
        return decode_object(await self.get_object(object_type, object_id), ks)

    async def create_content(
        self, object_type: str, data: Any, *, meta: str | None = None, create_keystore: bool = False
    ) -> ContentObject:
        """Encrypt (or compress) ``data`` and store it as a new object; return it as stored.

        For encrypted types a ``meta`` with no key gets a new 32-byte key, added to the keystore (uploaded
        with :meth:`set_keystore`'s checks) before the object. A ``"missing"`` keystore (a fresh account) is
        only created with ``create_keystore=True``. The upload is verified before it is sent.
        """
        from .content import ENCRYPTED_TYPES, ContentObject, _encode, _reloaded, _verify

        check_object_type(object_type)
        # refuses what JSON cannot carry (NaN, Infinity, lone surrogates, objects) before anything is sent
        check_wire_json(data, "data")
        if meta is not None:
            check_text(
                meta,
                "meta",
                allowed="a key name from the keystore (or None for a new key)",
                max_length=128,
                empty=object_type not in ENCRYPTED_TYPES,
            )
        check_bool(create_keystore, "create_keystore")
        key = None
        if object_type in ENCRYPTED_TYPES:
            ks = await self.keystore()
            if ks.state in ("missing", "empty") and not create_keystore:
                raise UnsafeWrite(
                    "create_keystore",
                    False,
                    "True to create the account's first keystore",
                    f"The account's keystore is {ks.state}; creating one is explicit.",
                )
            ks, meta = await self._with_key(ks, meta)
            key = ks[meta]
        elif meta is None:
            meta = ""
        item = ContentObject(object_type, "", meta, copy.deepcopy(data))
        payload, plaintext = _encode(item, key)
        _verify(object_type, payload, key, plaintext)
        stored = await self.create_object(object_type, meta, payload)
        if stored.data != payload:
            raise UnsafeWrite(
                "data", "<sent>", "the server to store what was sent", "It stored something else."
            )
        return _reloaded(stored, payload, plaintext, key is not None)

    async def _with_key(self, ks: Keystore, meta: str | None) -> tuple[Keystore, str]:
        """Return the keystore holding a key for ``meta`` (a new meta when None) and that meta; a missing
        key is added and the keystore saved first."""
        for attempt in range(5):
            if meta is not None and meta in ks:
                return ks, meta
            meta = ks.add(meta)
            try:
                return await self.set_keystore(ks), meta
            except EditConflict:
                # another client saved the keystore meanwhile (the website adding a story's key):
                # read theirs and add ours to it, as the website does on its own 409
                if attempt == 4:
                    raise
                ks = await self.keystore()
        raise AssertionError("unreachable")  # pragma: no cover - the last attempt returns or raises

    async def save_content(
        self, item: ContentObject, *, backup: bool = True, force: bool = False
    ) -> ContentObject:
        """Upload an edited object (unchanged data goes up byte-identical); return it as stored.

        Refused before sending when the object could not be read, its meta has no key, the upload does not
        decrypt back to the data, or the server's copy changed since it was read (``force=True`` overwrites
        anyway). The server's current version is backed up locally first.

        Two clients saving at once: the PATCH carries the ``changeIndex`` just read, so the server refuses
        the second write (409, as the website expects); and the answer is checked (the index must have moved
        by exactly one and the object read back must hold what was sent), which catches a lost race on a
        server that does not refuse. Either way :class:`~naikit.errors.EditConflict` is raised and both
        versions are kept in local backup folders (``.yours`` and ``.theirs``).
        """
        from .content import ENCRYPTED_TYPES, ContentObject, _encode, _reloaded, _verify

        check_bool(backup, "backup")
        check_bool(force, "force")
        if not isinstance(item, ContentObject):
            raise InputError("item", item, "a ContentObject from content() or content_item()")
        if item.error is not None:
            raise UnsafeWrite("item", item.id, "an object that was read without error", str(item.error))
        key = None
        if item.type in ENCRYPTED_TYPES:
            ks = await self.keystore()
            if item.meta not in ks:
                raise UnsafeWrite("meta", item.meta, "a meta with a key in the keystore")
            key = ks[item.meta]
        payload, plaintext = _encode(item, key)
        _verify(item.type, payload, key, plaintext)
        current = await self.get_object(item.type, item.id)
        if not force and item.change_index is not None and current.change_index != item.change_index:
            raise await self._conflict(
                item,
                payload,
                current,
                f"The server holds change index {current.change_index}, not {item.change_index}: it changed "
                "since you read it; nothing was written (force=True overwrites)",
            )
        if current.data == payload and current.meta == item.meta:
            return _reloaded(current, payload, plaintext, key is not None)
        if backup:
            from .backup import write_safety_backup

            await write_safety_backup(self, f"{item.type}-{item.id}", objects=[current])
        sent = current.change_index
        try:
            stored = await self.update_object(
                item.type, item.id, item.meta, payload, change_index=sent, backup=False
            )
        except Conflict:
            theirs = await self.get_object(item.type, item.id)
            if theirs.data == payload and theirs.meta == item.meta and theirs.change_index == sent + 1:
                # our own PATCH landed and a resend of it was refused: the save did happen
                return _reloaded(theirs, payload, plaintext, key is not None)
            raise await self._conflict(
                item,
                payload,
                theirs,
                f"Another client saved it first (the server now holds change index {theirs.change_index}); "
                "yours was refused and not written",
            ) from None
        if stored.data != payload:
            raise UnsafeWrite(
                "data", "<sent>", "the server to store what was sent", "It stored something else."
            )
        if stored.change_index != sent + 1:
            # a server that ignores changeIndex: another write landed between our read and ours, and ours
            # replaced it; its author has it, but the server no longer does
            raise await self._conflict(
                item,
                payload,
                None,
                f"Another client saved it at the same moment (change index went from {sent} to "
                f"{stored.change_index}, not {sent + 1}): your save replaced theirs on the server. "
                "Yours is on the server; compare with what the other client shows before going on",
            )
        back = await self.get_object(item.type, item.id)
        if back.change_index == stored.change_index and (back.data != payload or back.meta != item.meta):
            raise UnsafeWrite(
                "data", "<sent>", "the server to keep what was sent", "Reading it back gave something else."
            )
        return _reloaded(stored, payload, plaintext, key is not None)

    async def _conflict(
        self, item: ContentObject, payload: str, theirs: UserObject | None, what: str
    ) -> EditConflict:
        """Keep both versions of a lost race in local backup folders; return the error that names them."""
        from .backup import write_safety_backup

        raw = dict(item.raw.raw) if item.raw is not None else {"id": item.id, "type": item.type}
        raw.update(meta=item.meta, data=payload)
        yours = await write_safety_backup(
            self, f"yours-{item.type}-{item.id}", objects=[UserObject.from_json(raw)]
        )
        theirs_dir = None
        if theirs is not None:
            theirs_dir = await write_safety_backup(self, f"theirs-{item.type}-{item.id}", objects=[theirs])
        where = f"Yours is kept in {yours}" + (f", theirs in {theirs_dir}" if theirs_dir else "")
        return EditConflict(
            "item",
            item.id,
            "an object nobody else saved while you were saving it",
            f"{what}. {where} (nai.restore(folder, overwrite=True) puts one back). Read it again "
            "(content_item) and redo your change.",
            yours=yours,
            theirs=theirs_dir,
        )

    async def delete_content(self, item: ContentObject, *, backup: bool = True) -> UserObject:
        """Delete an object after backing up the server's copy locally; return the deleted object."""
        from .content import ContentObject

        check_bool(backup, "backup")
        if not isinstance(item, ContentObject):
            raise InputError("item", item, "a ContentObject from content() or content_item()")
        return await self.delete_object(item.type, item.id, backup=backup)

    async def backup(self, directory: str | Path | None = None) -> BackupInfo:
        """Download the keystore (as the server has it, encrypted) and every object into a new folder;
        return what was written. Default folder: ``<backup_dir>/<UTC timestamp>/``."""
        from .backup import backup_account

        if directory is not None:
            check_path(directory, "directory")
            folder = Path(directory).expanduser()
            if folder.exists() and not folder.is_dir():
                raise InputError("directory", str(folder), "a new or empty folder", "It is a file.")

        return await backup_account(self, directory)

    async def restore(
        self, directory: str | Path, *, overwrite: bool = False, skip_corrupt: bool = False
    ) -> RestoreReport:
        """Put a backup folder back into the account; return a report (one row per object).

        Every object is decrypted before anything is uploaded (a backup with one that does not is refused
        unless ``skip_corrupt=True``). Objects missing on the server are created (a story's link to its
        storycontent follows the new id); objects that differ are left alone unless ``overwrite=True``;
        objects an earlier run restored are recognised, so a second run changes nothing. Keystore keys are
        merged, never dropped. Every overwrite is backed up first.
        """
        from .restore import restore_account

        check_path(directory, "directory")
        check_bool(overwrite, "overwrite")
        check_bool(skip_corrupt, "skip_corrupt")
        return await restore_account(self, directory, overwrite=overwrite, skip_corrupt=skip_corrupt)

    async def sanity_check(self) -> SanityReport:
        """Return the §4.5 sanity check: what decrypts, orphaned storycontent, duplicate metas, keys."""
        from .sanity import sanity_check

        return await sanity_check(self)
