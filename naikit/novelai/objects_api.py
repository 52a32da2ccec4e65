"""The account's raw storage: the keystore as stored, user objects, and the website's settings blob.

``ObjectsAPI`` is an area of :class:`naikit.novelai.async_client.AsyncNovelAI` (spec §3.1, ``/user/keystore``,
``/user/objects``, ``/user/clientsettings``). These calls move the server's bytes as they are; the content
methods (:mod:`naikit.novelai.content_api`) decrypt and check them. Every overwrite or delete first keeps
the server's current copy in a local backup; a create whose answer was lost is never sent twice.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .._decode import json_or
from .._validate import check_bool, check_text, check_wire_json, check_wire_text
from ..errors import InputError, OutcomeUnknown, UnsafeWrite, WrongKey
from . import shapes
from ._base import ClientCore
from .account import OBJECT_TYPES, ObjectList, UserObject, check_object_id

__all__ = ["ObjectsAPI", "check_object_type"]


def check_object_type(object_type: str) -> str:
    """Return ``object_type`` if it names a type of user object, else raise InputError."""
    if not isinstance(object_type, str) or object_type not in OBJECT_TYPES:
        raise InputError("object_type", object_type, "one of " + ", ".join(OBJECT_TYPES))
    return object_type


def _check_meta(meta: str) -> str:
    if not isinstance(meta, str):
        raise InputError("meta", meta, "a string of at most 128 characters")
    if len(meta) > 128:
        raise InputError("meta", meta, f"a string of at most 128 characters (this one has {len(meta)})")
    check_wire_text(meta, "meta")  # before any request (a safety backup reads first)
    return meta


def _check_data(data: str) -> str:
    if not isinstance(data, str) or not data:
        raise InputError(
            "data",
            data if not isinstance(data, str) else "''",
            "a non-empty string (base64 of the encrypted or compressed object, or JSON text)",
        )
    check_wire_text(data, "data")  # before any request (a safety backup reads first)
    return data


def _check_keystore_b64(keystore: str) -> str:
    allowed = "base64 of the keystore JSON {version, nonce[24], sdata}"
    if not isinstance(keystore, str) or not keystore:
        raise InputError(
            "keystore",
            keystore,
            allowed,
            "Uploading an empty keystore would make every encrypted story unreadable; refused.",
        )
    try:
        raw = base64.b64decode(keystore, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    doc = json_or(raw) if raw else None
    if doc is None:
        raise InputError("keystore", keystore, allowed, "It does not decode as base64 JSON.")
    nonce = doc.get("nonce") if isinstance(doc, dict) else None
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("version"), int)
        or not isinstance(nonce, list)
        or len(nonce) != 24
        or not all(isinstance(b, int) and 0 <= b < 256 for b in nonce)
        or not isinstance(doc.get("sdata"), (list, str))
    ):
        raise InputError("keystore", keystore, allowed, "The decoded JSON lacks one of those fields.")
    return keystore


class ObjectsAPI(ClientCore):
    """Area: the raw keystore, the user objects and the client settings."""

    async def keystore_raw(self) -> str | None:
        """Return the keystore as the server stores it (base64 text), or None for a fresh account."""
        return (await self._keystore_indexed())[0]

    async def _keystore_indexed(self) -> tuple[str | None, int | None]:
        """Return (keystore text, its changeIndex or None when the server sends none)."""
        data = self._check(await self._call("GET", "/user/keystore"), shapes.KEYSTORE, "GET /user/keystore")
        index = data.get("changeIndex")
        ok = isinstance(index, int) and not isinstance(index, bool)
        return data["keystore"], index if ok else None

    async def set_keystore_raw(
        self, keystore: str, *, check: bool = True, change_index: int | None = None, backup: bool = True
    ) -> Any:
        """RAW keystore upload (base64 text); return the server's answer. Prefer :meth:`set_keystore`.

        Unlike :meth:`set_keystore` it does not compare keys with the server's (a key dropped or changed
        here makes stories unreadable). It does refuse an empty value or one that is not base64 of
        ``{version, nonce[24], sdata}``; with ``check=True`` (default) one that does not decrypt with this
        account's key (another account's keystore, garbage); it writes the server's current keystore to a
        local backup first (``backup=False`` skips that); ``change_index`` is sent as ``changeIndex`` so
        the server refuses (409) if the keystore changed since that index.
        """
        check_bool(check, "check")
        check_bool(backup, "backup")
        _check_keystore_b64(keystore)
        if check:
            from .crypto import Keystore

            try:
                Keystore.decrypt(keystore, self._key_candidates())
            except (WrongKey, ValueError) as exc:
                raise UnsafeWrite(
                    "keystore",
                    "<keystore>",
                    "a keystore that decrypts with this account's key (check=False skips this check)",
                    f"Refused: {exc}",
                ) from None
        if backup:
            from .backup import write_safety_backup

            current = await self.keystore_raw()
            if current is not None and current != keystore:
                await write_safety_backup(self, "keystore", keystore_raw=current)
        body: dict[str, Any] = {"keystore": keystore}
        if change_index is not None:
            body["changeIndex"] = int(change_index)
        return await self._call("PUT", "/user/keystore", json=body)

    async def list_objects(self, object_type: str) -> ObjectList:
        """Return all objects of ``object_type`` (stories, storycontent, presets, aimodules, shelf)."""
        check_object_type(object_type)
        data = await self._call("GET", f"/user/objects/{object_type}")
        data = self._check(data, shapes.OBJECT_LIST, f"GET /user/objects/{object_type}")
        return ObjectList(object_type, tuple(UserObject.from_json(o) for o in data["objects"]))

    async def get_object(self, object_type: str, object_id: str) -> UserObject:
        """Return one stored object."""
        check_object_type(object_type)
        check_object_id(object_id)
        data = await self._call("GET", f"/user/objects/{object_type}/{object_id}")
        return UserObject.from_json(self._check(data, shapes.USER_DATA, "GET /user/objects/{type}/{id}"))

    async def create_object(self, object_type: str, meta: str, data: str) -> UserObject:
        """RAW: store a new object, ``data`` unchecked; return it as saved. Prefer ``create_content``.

        Never sent twice: when the answer is lost after sending (5xx, 52x, dropped), naikit lists the
        objects and returns the one with this meta and data if the server stored it, else raises
        OutcomeUnknown saying what to check.
        """
        check_object_type(object_type)
        _check_meta(meta)
        _check_data(data)
        try:
            body = await self._call("PUT", f"/user/objects/{object_type}", json={"meta": meta, "data": data})
        except OutcomeUnknown as exc:
            return await self._recover_created(exc, object_type, meta, data)
        return UserObject.from_json(self._check(body, shapes.USER_DATA, "PUT /user/objects/{type}"))

    async def _recover_created(
        self, exc: OutcomeUnknown, object_type: str, meta: str, data: str
    ) -> UserObject:
        """Return the object a create whose answer was lost stored (found by meta and data), or raise."""
        listing = await self.list_objects(object_type)
        found = [o for o in listing if o.meta == meta and o.data == data]
        if found:
            self.transport.stats["recovered"] += 1
            # the newest match is the one just stored (an older twin, if any, was there before)
            return max(found, key=_recency)
        raise exc.checked(
            f"list_objects({object_type!r}) shows no object with this meta and data yet; "
            "the server may still be storing it, so look again before repeating."
        ) from None

    async def update_object(
        self,
        object_type: str,
        object_id: str,
        meta: str,
        data: str,
        *,
        change_index: int | None = None,
        backup: bool = True,
    ) -> UserObject:
        """RAW overwrite of an object's meta and data; return the updated object. Prefer ``save_content``.

        ``data`` is sent as given, NOT checked: garbage makes the object unreadable. The server's current
        copy is written to a local backup first (``backup=False`` skips that). ``change_index`` (the index
        you last read) is sent as ``changeIndex``: the server then refuses (409 Conflict) if another client
        saved in between; without it, a concurrent edit is silently overwritten.
        """
        check_bool(backup, "backup")
        check_object_type(object_type)
        check_object_id(object_id)
        _check_meta(meta)
        _check_data(data)
        if change_index is not None and (isinstance(change_index, bool) or not isinstance(change_index, int)):
            raise InputError("change_index", change_index, "an integer (the object's changeIndex) or None")
        if backup:
            from .backup import write_safety_backup

            current = await self.get_object(object_type, object_id)
            await write_safety_backup(self, f"{object_type}-{object_id}", objects=[current])
        payload: dict[str, Any] = {"meta": meta, "data": data}
        if change_index is not None:
            payload["changeIndex"] = change_index
        body = await self._call("PATCH", f"/user/objects/{object_type}/{object_id}", json=payload)
        return UserObject.from_json(self._check(body, shapes.USER_DATA, "PATCH /user/objects/{type}/{id}"))

    async def delete_object(self, object_type: str, object_id: str, *, backup: bool = True) -> UserObject:
        """Delete an object; return it as it was. ``delete_content`` is the same with a ContentObject.

        The server's copy is first written to a local backup under :attr:`backup_dir` (``backup=False``
        skips that), so a deleted story can be put back with ``restore``.
        """
        check_bool(backup, "backup")
        check_object_type(object_type)
        check_object_id(object_id)
        if backup:
            from .backup import write_safety_backup

            current = await self.get_object(object_type, object_id)
            await write_safety_backup(self, f"delete-{object_type}-{object_id}", objects=[current])
        body = await self._call("DELETE", f"/user/objects/{object_type}/{object_id}")
        return UserObject.from_json(self._check(body, shapes.USER_DATA, "DELETE /user/objects/{type}/{id}"))

    async def client_settings(self) -> Any:
        """Return the web app's settings blob: parsed JSON when it is JSON, else the text."""
        data = await self._call("GET", "/user/clientsettings")
        if isinstance(data, str):
            return json_or(data, data)
        return data

    async def set_client_settings(self, settings: str | dict, *, backup: bool = True) -> bool:
        """Replace the website's settings blob (a dict is sent as compact JSON text); return True.

        The current blob is first kept in a local backup (``clientsettings.json``; ``backup=False`` skips
        that): the website keeps all its settings there.
        """
        check_bool(backup, "backup")
        if isinstance(settings, dict):
            check_wire_json(settings, "settings")
            settings = json.dumps(settings, separators=(",", ":"), ensure_ascii=False)
        check_text(settings, "settings", allowed="a string or a dict")
        if backup:
            from .backup import write_safety_backup

            current = await self.client_settings()
            if current not in ("", None):
                await write_safety_backup(
                    self, "clientsettings", extras={"clientsettings.json": {"settings": current}}
                )
        await self._call(
            "PUT", "/user/clientsettings", data=settings.encode(), headers={"Content-Type": "text/plain"}
        )
        return True


def _recency(o: UserObject) -> tuple[float, int]:
    return (o.last_updated_at.timestamp() if o.last_updated_at else 0.0, o.change_index)
