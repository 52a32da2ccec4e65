"""NovelAI endpoints for the account's encrypted content: keystore, stories, presets, modules, shelves.

``ContentAPI`` is a mixin of :class:`naikit.novelai.client.AsyncNovelAI`: its public coroutine methods use the
client's raw account calls (``keystore_raw``, ``list_objects``, ``update_object``, …) and appear on the sync
``NovelAI`` automatically.

Reading: :meth:`ContentAPI.keystore` decrypts the keystore with the key derived from the account's email and
password (spec §1.3; both email cases are tried, and a wrong password raises :class:`~.crypto.WrongKey`
listing every attempt). :meth:`ContentAPI.content` decrypts every object of a type; an object that fails
carries its own :class:`~.crypto.CorruptObject` in ``.error`` while all the others are still returned.
:meth:`ContentAPI.stories`, :meth:`story_contents`, :meth:`user_presets`, :meth:`aimodules` and
:meth:`shelves` give tables (``.to_frame()``); :meth:`story_text` the full text of a story (the datablock
history replayed, or the msgpack ``document`` of newer stories decoded).

Writing is guarded: every upload is decrypted again and compared with what was meant before it is sent;
an object changed on the server since it was read is not overwritten; the keystore is refused when it does
not decrypt with the account key, replaces a key, or drops a key that objects use or that another client
added; and the server's current version is written to a timestamped local backup first (see
:mod:`naikit.novelai.backup`). Unchanged content is re-uploaded byte for byte; changed content gets a
fresh nonce.

Concurrent saves (another kernel, the website): like the website (its ``_saveStory`` and ``saveKeyStore``),
object PATCHes and keystore PUTs carry the ``changeIndex`` last read, and a 409 means another client saved
first. naikit also checks each answer (the index must move by exactly one; the object read back must hold
what was sent), which catches a lost race on a server that ignores the index. The loser gets
:class:`~naikit.errors.EditConflict`, and both versions are kept in local backup folders.
"""

from __future__ import annotations

import base64
import copy
import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._decode import load_json
from .._validate import check_bool, check_path, check_text, check_wire_json
from ..errors import Conflict, CredentialsError, EditConflict, InputError, NotFound
from .account import check_object_id
from .crypto import (
    COMPRESSION_MARKER,
    NONCE_SIZE,
    CorruptData,
    CorruptObject,
    Keystore,
    Payload,
    UnsafeWrite,
    WrongKey,
    compress_payload,
    decompress_payload,
    decrypt_payload,
    dumps_compact,
    encrypt_payload,
)
from .document import Document, decode_document

if TYPE_CHECKING:
    from .account import UserObject
    from .backup import BackupInfo, RestoreReport
    from .sanity import SanityReport
    from .story import Story

__all__ = [
    "ContentAPI",
    "ContentObject",
    "ContentList",
    "ENCRYPTED_TYPES",
    "COMPRESSED_TYPES",
    "story_text_of",
    "lorebook_rows",
    "decode_object",
]

ENCRYPTED_TYPES = ("stories", "storycontent", "aimodules")
COMPRESSED_TYPES = ("presets", "shelf")
_ALL_TYPES = ENCRYPTED_TYPES + COMPRESSED_TYPES
_WORD = re.compile(r"\S+")


# --------------------------------------------------------------------------------------------- objects


@dataclass(repr=False, eq=False)
class ContentObject:
    """One decrypted (or decompressed) user object.

    ``data`` is the parsed JSON: edit it and pass the object to ``save_content``. ``payload`` keeps the
    exact bytes it came from, so unchanged data is re-uploaded as it was. ``error`` is set (and ``data`` is
    None) when this object could not be read; the list it came in still holds every other object.
    """

    type: str
    id: str
    meta: str
    data: Any
    payload: Payload | None = None
    change_index: int | None = None
    last_updated_at: Any = None
    error: CorruptObject | None = None
    raw: UserObject | None = None
    _snapshot: bytes | None = field(default=None)

    @property
    def ok(self) -> bool:
        """Return True when the object was read without error."""
        return self.error is None

    @property
    def changed(self) -> bool:
        """Return True if ``data`` differs from what was downloaded (or the object is new)."""
        return self._snapshot is None or dumps_compact(self.data) != self._snapshot

    @property
    def document(self) -> Document | None:
        """Return the decoded msgpack ``document`` of a newer storycontent, or None if it has none."""
        doc = self.data.get("document") if isinstance(self.data, dict) else None
        return decode_document(doc) if isinstance(doc, str) and doc else None

    @property
    def text(self) -> str | None:
        """Return the story text of a storycontent (None for other types or unreadable objects)."""
        if self.type != "storycontent" or not isinstance(self.data, dict):
            return None
        return story_text_of(self.data)

    def raise_for_error(self) -> ContentObject:
        """Return self, or raise its :class:`CorruptObject` if it could not be read."""
        if self.error is not None:
            raise self.error
        return self

    def __repr__(self) -> str:
        state = f"error at {self.error.stage}" if self.error else ("changed" if self.changed else "ok")
        return f"ContentObject(type={self.type!r}, id={self.id!r}, meta={self.meta!r}, {state})"


def decode_object(obj: UserObject, keystore: Keystore | None) -> ContentObject:
    """Return the :class:`ContentObject` of a raw object: decrypted with ``keystore`` (encrypted types) or
    decompressed (presets, shelf). Failures are recorded in ``.error``, never raised."""
    out = ContentObject(
        obj.type, obj.id, obj.meta, None, None, obj.change_index, obj.last_updated_at, None, obj
    )

    def fail(stage: str, reason: str) -> ContentObject:
        out.error = CorruptObject(obj.type, obj.id, obj.meta, stage, reason)
        return out

    try:
        if obj.type in ENCRYPTED_TYPES:
            if keystore is None or obj.meta not in keystore:
                return fail("key", "its meta has no key in the keystore")
            payload = decrypt_payload(obj.data, keystore[obj.meta])
        else:
            payload = decompress_payload(obj.data)
    except InputError as exc:  # a key of the wrong size
        return fail("key", str(exc))
    except CorruptData as exc:
        return fail(exc.stage, exc.reason)
    out.payload = payload
    try:
        text = payload.plaintext.decode("utf-8")
    except UnicodeDecodeError as exc:
        return fail("utf-8", str(exc))
    try:
        out.data = load_json(text, lambda reason: CorruptData("json", reason))
    except CorruptData as exc:
        return fail("json", exc.reason)
    out._snapshot = dumps_compact(out.data)
    return out


def _encode(item: ContentObject, key: bytes | None) -> tuple[str, bytes]:
    """Return (base64 data to upload, the plaintext it must decode to)."""
    if not item.changed and item.payload is not None:
        return item.payload.data, item.payload.plaintext
    plaintext = dumps_compact(item.data)
    p = item.payload
    if item.type in ENCRYPTED_TYPES:
        assert key is not None
        # a fresh nonce: the plaintext changed (or is new), so the old nonce must not be reused
        return encrypt_payload(plaintext, key, compressed=True if p is None else p.compressed), plaintext
    if p is not None and not p.compressed and not p.data.lstrip().startswith(("{", "[")):
        return compress_payload(plaintext, compressed=False), plaintext
    if p is not None and not p.compressed:
        return plaintext.decode("utf-8"), plaintext
    return compress_payload(plaintext), plaintext


def _verify(object_type: str, data: str, key: bytes | None, expected: bytes) -> None:
    """Decrypt what is about to be sent and compare; raise UnsafeWrite if it does not give ``expected``."""
    try:
        got = decrypt_payload(data, key) if object_type in ENCRYPTED_TYPES else decompress_payload(data)
    except (ValueError, InputError) as exc:
        raise UnsafeWrite("data", data, "data that decodes to the object", f"Refused: {exc}") from None
    if got.plaintext != expected:
        raise UnsafeWrite("data", data, "data that decodes to the object", "Refused: it decodes differently")


# ------------------------------------------------------------------------------------------------ text


def _datablock_text(story: dict) -> str:
    """Replay the datablock chain from the root to ``currentBlock``; return the resulting text.

    Raises CorruptData (stage "storycontent") when a block on the chain is not an object, its indices are
    not integers or its fragment's data is not text.
    """
    blocks = story.get("datablocks") or []
    fragments = story.get("fragments") or []
    blocks = blocks if isinstance(blocks, list) else []
    fragments = fragments if isinstance(fragments, list) else []
    cur = story.get("currentBlock")
    if not blocks or not _is_index(cur, blocks):
        return "".join(f["data"] for f in fragments if isinstance(f, dict) and isinstance(f.get("data"), str))
    path, seen, i = [], set(), cur
    while _is_index(i, blocks) and i not in seen:
        seen.add(i)
        if not isinstance(blocks[i], dict):
            raise CorruptData("storycontent", f"datablocks[{i}] is not an object")
        path.append((i, blocks[i]))
        i = blocks[i].get("prevBlock", -1)
    text = ""
    for i, block in reversed(path):
        frag = block.get("dataFragment")
        if not isinstance(frag, dict):
            idx = block.get("fragmentIndex")
            frag = fragments[idx] if _is_index(idx, fragments) else {}
        data = frag.get("data", "") if isinstance(frag, dict) else ""
        start = block.get("startIndex", len(text))
        end = block.get("endIndex", start)
        if not isinstance(data, str) or not _is_int(start) or not _is_int(end):
            raise CorruptData("storycontent", f"datablocks[{i}] has non-text data or non-integer indices")
        start = min(max(start, 0), len(text))
        end = min(max(end, start), len(text))
        text = text[:start] + data + text[end:]
    return text


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_index(value: Any, items: list) -> bool:
    return _is_int(value) and 0 <= value < len(items)


def story_text_of(content: dict) -> str:
    """Return the full text of a storycontent's data: its ``document`` decoded (newer stories) or its
    datablocks replayed up to the current block (older ones).

    Raises CorruptData (DocumentError for the document) when the data cannot give a text.
    """
    if not isinstance(content, dict):
        raise CorruptData("storycontent", f"the storycontent is {type(content).__name__}, not an object")
    doc = content.get("document")
    if isinstance(doc, str) and doc:
        return decode_document(doc).text
    story = content.get("story")
    return _datablock_text(story) if isinstance(story, dict) else ""


def lorebook_rows(content: dict) -> list[dict[str, Any]]:
    """Return one row (name, keys, enabled, category, text) per lorebook entry of a storycontent's data;
    entries that are not objects are skipped, keys that are not text left out."""
    lore = content.get("lorebook") if isinstance(content, dict) else None
    entries = lore.get("entries") if isinstance(lore, dict) else None
    rows = []
    for e in entries if isinstance(entries, list) else []:
        if not isinstance(e, dict):
            continue
        keys = e.get("keys")
        rows.append(
            {
                "name": e.get("displayName"),
                "keys": [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else [],
                "enabled": e.get("enabled", True),
                "category": e.get("category"),
                "text": e.get("text"),
            }
        )
    return rows


def _counts(text: str | None, model: str | None, tokens: bool) -> tuple[int | None, int | None]:
    if text is None:
        return None, None
    n_tokens = None
    if tokens and model:
        try:
            from .. import tokenizers

            n_tokens = len(tokenizers.encode(text, model)) if text else 0
        except Exception:  # unknown model or no tokenizer for it: no count rather than a wrong one
            n_tokens = None
    return len(_WORD.findall(text)), n_tokens


def _ts_ms(value: Any) -> Any:
    from .account import _ts

    return _ts(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# ------------------------------------------------------------------------------------------------ lists


@dataclass(repr=False)
class ContentList:
    """The decrypted objects of one type, in the server's order; ``.to_frame()`` gives one row each.

    ``errors`` lists the objects that could not be read (their rows say why).
    """

    type: str
    items: list[ContentObject]
    rows: list[dict] = field(default_factory=list)

    def __iter__(self) -> Iterator[ContentObject]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int | str) -> ContentObject:
        if isinstance(i, str):
            for item in self.items:
                if i in (item.id, item.meta):
                    return item
            raise KeyError(f"no {self.type} with id or meta {i!r}")
        return self.items[i]

    @property
    def errors(self) -> list[CorruptObject]:
        """Return the error of every object that could not be read."""
        return [i.error for i in self.items if i.error is not None]

    def raise_errors(self) -> ContentList:
        """Return self, or raise the first object's error if any object could not be read."""
        if self.errors:
            raise self.errors[0]
        return self

    def to_frame(self):
        """Return a DataFrame with one row per object (columns depend on the type; ``error`` is last)."""
        import pandas as pd

        rows = self.rows or [_basic_row(i) for i in self.items]
        frame = pd.DataFrame(rows)
        if "error" in frame.columns:
            frame = frame[[c for c in frame.columns if c != "error"] + ["error"]]
        return frame

    def _repr_html_(self) -> str:
        head = f"<p><b>{html.escape(repr(self))}</b></p>"
        return head + self.to_frame().to_html(index=False)

    def __repr__(self) -> str:
        bad = f", {len(self.errors)} unreadable" if self.errors else ""
        return f"ContentList(type={self.type!r}, {len(self.items)} objects{bad})"


def _basic_row(item: ContentObject) -> dict:
    return {
        "id": item.id,
        "meta": item.meta,
        "change_index": item.change_index,
        "last_updated_at": item.last_updated_at,
        "keys": ", ".join(sorted(item.data)) if isinstance(item.data, dict) else None,
        "error": str(item.error) if item.error else None,
    }


def _content_row(item: ContentObject, tokens: bool) -> dict:
    d = item.data if isinstance(item.data, dict) else {}
    text = err = None
    fmt = "document" if isinstance(d.get("document"), str) else "datablocks" if "story" in d else None
    if item.ok:
        try:
            text = story_text_of(d)
        except CorruptData as exc:  # a DocumentError too
            err = str(exc)
    settings = d.get("settings") if isinstance(d.get("settings"), dict) else {}
    model = settings.get("model") or None
    words, n_tokens = _counts(text, model or "kayra-v1", tokens)
    return {
        "id": item.id,
        "meta": item.meta,
        "format": fmt,
        "model": model,
        "characters": None if text is None else len(text),
        "words": words,
        "tokens": n_tokens,
        "lorebook_entries": len(lorebook_rows(d)),
        "change_index": item.change_index,
        "error": str(item.error) if item.error else err,
    }


def _preset_row(item: ContentObject) -> dict:
    d = item.data if isinstance(item.data, dict) else {}
    params = d.get("parameters") if isinstance(d.get("parameters"), dict) else {}
    return {
        "id": item.id,
        "name": d.get("name"),
        "model": d.get("model"),
        "temperature": params.get("temperature"),
        "max_length": params.get("max_length"),
        "top_p": params.get("top_p"),
        "parameters": len(params),
        "change_index": item.change_index,
        "error": str(item.error) if item.error else None,
    }


def _module_row(item: ContentObject) -> dict:
    d = item.data if isinstance(item.data, dict) else {}
    return {
        "id": item.id,
        "meta": item.meta,
        "name": d.get("name"),
        "description": d.get("description"),
        "model": d.get("model"),
        "change_index": item.change_index,
        "error": str(item.error) if item.error else None,
    }


def _shelf_row(item: ContentObject) -> dict:
    d = item.data if isinstance(item.data, dict) else {}
    children = d.get("children")
    return {
        "id": item.id,
        "meta": item.meta,
        "title": d.get("title"),
        "description": d.get("description"),
        "children": len(children) if isinstance(children, list) else None,
        "change_index": item.change_index,
        "error": str(item.error) if item.error else None,
    }


def _preview(text: str | None, n: int = 80) -> str | None:
    if text is None:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 1] + "…"


# --------------------------------------------------------------------------------------------- the mixin


class ContentAPI:
    """Mixin: the account's encrypted content (keystore, stories, presets, modules, shelves)."""

    # -- keys ---------------------------------------------------------------------------------------
    def _content_state(self) -> dict[str, Any]:
        # the mixin has no __init__ of its own: keep its state in one lazily created dict
        state = self.__dict__.get("_content")
        if state is None:
            state = self.__dict__["_content"] = {
                "explicit": None,
                "derived": {},
                "creds": None,
                "backup": None,
            }
        return state

    async def set_encryption_key(self, key: bytes) -> None:
        """Use this 32-byte key to open the keystore (instead of deriving it from email and password)."""
        if not isinstance(key, (bytes, bytearray)) or len(key) != 32:
            n = len(key) if isinstance(key, (bytes, bytearray)) else type(key).__name__
            raise CredentialsError("key", f"<{n} bytes>", "the 32-byte encryption key")
        self._content_state()["explicit"] = [("the encryption key given", bytes(key))]

    async def unlock(self, email: str, password: str) -> Keystore:
        """Derive the encryption key from ``email`` and ``password``; return the keystore it opens.

        Needed when the client logged in with a token only (a token cannot decrypt anything).
        """
        from .._secret import Secret
        from .auth import _check_password, _norm_email

        _norm_email(email, "verbatim")
        _check_password(password)
        password = Secret(password)  # kept masked (see README, Security)
        self._secrets.append(password)  # type: ignore[attr-defined]
        state = self._content_state()
        state["explicit"] = None
        state["creds"] = (email, password)
        return await self.keystore()

    def _credentials(self) -> tuple[str, str] | None:
        state = self._content_state()
        if state["creds"] is not None:
            return state["creds"]
        pending = getattr(self, "_pending", None)
        if pending and pending[0] == "password":
            return pending[1]
        if getattr(self, "_sandbox", None) is not None and pending is None:
            from .. import sandbox as sb

            return (sb.DEMO_EMAIL, sb.DEMO_PASSWORD)
        if pending is None and getattr(self, "sandbox_mode", None) is not True:
            from .client import _credentials_from_env

            env = _credentials_from_env()
            if env and env[0] == "password":
                return env[1]
        return None

    def _key_candidates(self) -> list[tuple[str, bytes]]:
        state = self._content_state()
        if state["explicit"]:
            return state["explicit"]
        creds = self._credentials()
        if creds is None:
            raise CredentialsError(
                "password",
                None,
                "the account's email and password",
                "The keystore is encrypted with a key derived from email and password; a token alone "
                "cannot open it. Call unlock(email, password) or set NAI_USERNAME and NAI_PASSWORD.",
            )
        from .auth import encryption_key

        email, password = creds
        first = getattr(self, "email_case", "lower")
        out: list[tuple[str, bytes]] = []
        for case in dict.fromkeys((first, "verbatim" if first == "lower" else "lower")):
            cache_key = (email, case)
            if cache_key not in state["derived"]:
                state["derived"][cache_key] = encryption_key(email, password, email_case=case)
            k = state["derived"][cache_key]
            label = (
                "the key from the email lower-cased" if case == "lower" else "the key from the email as typed"
            )
            if all(k != k2 for _, k2 in out):
                out.append((label, k))
        return out

    def _account_key(self, keystore: Keystore) -> bytes:
        """Return the key that opened (or will encrypt) the keystore."""
        opened = self._content_state().get("opened")
        return opened if opened is not None else self._key_candidates()[0][1]

    def _fingerprint(self) -> str:
        from .backup import account_fingerprint

        creds = self._credentials()
        token = getattr(self, "_token", None)
        return account_fingerprint(creds[0] if creds else None, token.value if token else None)

    # -- keystore -----------------------------------------------------------------------------------
    async def keystore(self) -> Keystore:
        """Return the account's decrypted keystore.

        A fresh account (the server holds null) gives a keystore in state ``"missing"``; nothing is created
        on the server until you call :meth:`set_keystore`. Raises :class:`WrongKey` (listing each key tried)
        when the password or key is wrong.
        """
        raw = await self.keystore_raw()  # type: ignore[attr-defined]
        candidates = self._key_candidates()
        try:
            ks = Keystore.decrypt(raw, candidates)
        except ValueError as exc:
            raise WrongKey("the keystore", [f"it is malformed: {exc}"]) from None
        if ks.state == "ok":
            for _label, k in candidates:
                try:
                    Keystore.decrypt(raw, k)
                except WrongKey:
                    continue
                self._content_state()["opened"] = k
                break
        else:
            self._content_state()["opened"] = candidates[0][1]
        return ks

    async def set_keystore(self, keystore: Keystore, *, force: bool = False, backup: bool = True) -> Keystore:
        """Upload ``keystore`` after the safety checks; return it as read back from the server.

        Refused (:class:`UnsafeWrite`, nothing sent) when: what would be sent does not decrypt back to the
        same keys with the account key; a key of an existing meta would change; or a key on the server
        would be dropped that objects still use, that you did not remove yourself, or that was added since
        you read it. ``force=True`` skips only the drop checks. The server's current keystore is backed up
        locally first (``backup=False`` skips that).
        """
        check_bool(force, "force")
        check_bool(backup, "backup")
        if not isinstance(keystore, Keystore):
            raise InputError("keystore", keystore, "a Keystore (from nai.keystore())")
        key = self._account_key(keystore)
        new_raw = keystore.encrypt(key)
        try:
            check = Keystore.decrypt(new_raw, key)
        except (WrongKey, ValueError) as exc:
            raise UnsafeWrite(
                "keystore", "<keystore>", "a keystore that opens with the account key", str(exc)
            ) from None
        if check.keys_copy() != keystore.keys_copy():
            raise UnsafeWrite("keystore", "<keystore>", "a keystore that decrypts to its own keys")
        current_raw, index = await self._keystore_indexed()  # type: ignore[attr-defined]
        if current_raw == new_raw:
            return check
        if current_raw is not None:
            try:
                current = Keystore.decrypt(current_raw, self._key_candidates())
            except (WrongKey, ValueError) as exc:
                if not force:
                    raise UnsafeWrite(
                        "keystore",
                        "<keystore>",
                        "a keystore replacing one that opens with the account key",
                        f"The keystore on the server does not open ({exc}); replacing it could lose every "
                        "story. Pass force=True only if you are sure.",
                    ) from None
                current = Keystore()
            await self._check_keystore_drop(keystore, current, force)
        if backup:
            from .backup import write_safety_backup

            await write_safety_backup(self, "keystore", keystore_raw=current_raw)
        try:
            # changeIndex: the server refuses (409) if another client wrote the keystore since the read above
            await self.set_keystore_raw(new_raw, check=False, backup=False, change_index=index)  # type: ignore[attr-defined]
        except Conflict:
            raise EditConflict(
                "keystore",
                "<keystore>",
                "a keystore nobody else changed while it was being saved",
                "Another client saved the keystore at the same moment; nothing was written. Read it again "
                "(nai.keystore()), redo the change and save.",
            ) from None
        back = await self.keystore_raw()  # type: ignore[attr-defined]
        if back != new_raw:
            raise WrongKey("the keystore read back", ["the server holds different bytes than were sent"])
        self._content_state()["opened"] = key
        return check

    async def _check_keystore_drop(self, new: Keystore, current: Keystore, force: bool) -> None:
        new_keys, cur_keys = new.keys_copy(), current.keys_copy()
        replaced = sorted(m for m in cur_keys if m in new_keys and new_keys[m] != cur_keys[m])
        if replaced:
            raise UnsafeWrite(
                "keystore",
                "<keystore>",
                "the same key for every meta already on the server",
                f"The key of {', '.join(replaced)} would change; its objects would become unreadable.",
            )
        dropped = sorted(m for m in cur_keys if m not in new_keys)
        if not dropped or force:
            return
        removed_here = set(new._original or {}) - set(new_keys)
        unknown = [m for m in dropped if m not in removed_here]
        if unknown:
            raise EditConflict(
                "keystore",
                "<keystore>",
                "a keystore holding every key on the server",
                f"{len(unknown)} key(s) on the server are not in this keystore ({', '.join(unknown[:5])}): "
                "another client added them after you read it. Read the keystore again and redo the change.",
            )
        used = await self._metas_in_use()
        in_use = [m for m in dropped if m in used]
        if in_use:
            raise UnsafeWrite(
                "keystore",
                "<keystore>",
                "a keystore that keeps every key objects use",
                f"Objects still use {', '.join(in_use[:5])}: delete them first, or they become unreadable.",
            )

    async def _metas_in_use(self) -> dict[str, list[str]]:
        used: dict[str, list[str]] = {}
        for t in ENCRYPTED_TYPES:
            for o in await self.list_objects(t):  # type: ignore[attr-defined]
                used.setdefault(o.meta, []).append(f"{t}/{o.id}")
        return used

    # -- objects ------------------------------------------------------------------------------------
    def _check_type(self, object_type: str) -> str:
        if not isinstance(object_type, str) or object_type not in _ALL_TYPES:
            raise InputError("object_type", object_type, "one of " + ", ".join(_ALL_TYPES))
        return object_type

    async def content(self, object_type: str, *, keystore: Keystore | None = None) -> ContentList:
        """Return every object of ``object_type`` decrypted (stories, storycontent, aimodules) or
        decompressed (presets, shelf). An object that fails has ``.error`` set; the others are returned."""
        self._check_type(object_type)
        if keystore is not None and not isinstance(keystore, Keystore):
            raise InputError("keystore", keystore, "a Keystore from keystore() or None")
        if object_type in ENCRYPTED_TYPES and keystore is None:
            keystore = await self.keystore()
        objs = await self.list_objects(object_type)  # type: ignore[attr-defined]
        return ContentList(object_type, [decode_object(o, keystore) for o in objs])

    async def content_item(self, object_type: str, object_id: str) -> ContentObject:
        """Return one object decrypted or decompressed (check ``.error``, or call ``.raise_for_error()``)."""
        self._check_type(object_type)
        check_object_id(object_id)
        ks = await self.keystore() if object_type in ENCRYPTED_TYPES else None
        return decode_object(await self.get_object(object_type, object_id), ks)  # type: ignore[attr-defined]

    async def create_content(
        self, object_type: str, data: Any, *, meta: str | None = None, create_keystore: bool = False
    ) -> ContentObject:
        """Encrypt (or compress) ``data`` and store it as a new object; return it as stored.

        For encrypted types a ``meta`` with no key gets a new 32-byte key, added to the keystore (uploaded
        with :meth:`set_keystore`'s checks) before the object. A ``"missing"`` keystore (a fresh account) is
        only created with ``create_keystore=True``. The upload is verified before it is sent.
        """
        self._check_type(object_type)
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
            for attempt in range(5):
                if meta is not None and meta in ks:
                    break
                meta = ks.add(meta)
                try:
                    ks = await self.set_keystore(ks)
                    break
                except EditConflict:
                    # another client saved the keystore meanwhile (the website adding a story's key):
                    # read theirs and add ours to it, as the website does on its own 409
                    if attempt == 4:
                        raise
                    ks = await self.keystore()
            key = ks[meta]
        elif meta is None:
            meta = ""
        item = ContentObject(object_type, "", meta, copy.deepcopy(data))
        payload, plaintext = _encode(item, key)
        _verify(object_type, payload, key, plaintext)
        stored = await self.create_object(object_type, meta, payload)  # type: ignore[attr-defined]
        if stored.data != payload:
            raise UnsafeWrite(
                "data", "<sent>", "the server to store what was sent", "It stored something else."
            )
        return _reloaded(stored, payload, plaintext, key is not None)

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
        current = await self.get_object(item.type, item.id)  # type: ignore[attr-defined]
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
            stored = await self.update_object(  # type: ignore[attr-defined]
                item.type, item.id, item.meta, payload, change_index=sent, backup=False
            )
        except Conflict:
            theirs = await self.get_object(item.type, item.id)  # type: ignore[attr-defined]
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
        back = await self.get_object(item.type, item.id)  # type: ignore[attr-defined]
        if back.change_index == stored.change_index and (back.data != payload or back.meta != item.meta):
            raise UnsafeWrite(
                "data", "<sent>", "the server to keep what was sent", "Reading it back gave something else."
            )
        return _reloaded(stored, payload, plaintext, key is not None)

    async def _conflict(
        self, item: ContentObject, payload: str, theirs: UserObject | None, what: str
    ) -> EditConflict:
        """Keep both versions of a lost race in local backup folders; return the error that names them."""
        from .account import UserObject as _UserObject
        from .backup import write_safety_backup

        raw = dict(item.raw.raw) if item.raw is not None else {"id": item.id, "type": item.type}
        raw.update(meta=item.meta, data=payload)
        yours = await write_safety_backup(
            self, f"yours-{item.type}-{item.id}", objects=[_UserObject.from_json(raw)]
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
        check_bool(backup, "backup")
        if not isinstance(item, ContentObject):
            raise InputError("item", item, "a ContentObject from content() or content_item()")
        return await self.delete_object(item.type, item.id, backup=backup)  # type: ignore[attr-defined]

    # -- tables -------------------------------------------------------------------------------------
    async def stories(self, *, tokens: bool = True) -> ContentList:
        """Return the stories with their content joined: title, dates, tags, preview, words, tokens
        (with the story's model, Kayra's tokenizer if none is set), lorebook entries, format and errors."""
        check_bool(tokens, "tokens")
        ks = await self.keystore()
        stories = await self.content("stories", keystore=ks)
        contents = await self.content("storycontent", keystore=ks)
        by_id = {c.id: c for c in contents}
        rows = []
        for s in stories:
            d = s.data if isinstance(s.data, dict) else {}
            c = by_id.get(d.get("remoteStoryId"))
            crow = _content_row(c, tokens) if c is not None else {}
            text = None
            if c is not None and c.ok and not crow.get("error"):
                text = story_text_of(c.data)
            error = str(s.error) if s.error else crow.get("error")
            if s.ok and c is None:
                error = f"its storycontent {d.get('remoteStoryId')!r} is missing"
            rows.append(
                {
                    "id": s.id,
                    "meta": s.meta,
                    "title": d.get("title"),
                    "description": d.get("description"),
                    "tags": list(d["tags"]) if isinstance(d.get("tags"), list) else [],
                    "favorite": d.get("favorite"),
                    "created_at": _ts_ms(d.get("createdAt")),
                    "last_updated_at": _ts_ms(d.get("lastUpdatedAt")),
                    "preview": _preview(text) if text is not None else d.get("textPreview"),
                    "content_id": d.get("remoteStoryId"),
                    "format": crow.get("format"),
                    "model": crow.get("model"),
                    "words": crow.get("words"),
                    "tokens": crow.get("tokens"),
                    "lorebook_entries": crow.get("lorebook_entries"),
                    "error": error,
                }
            )
        out = ContentList("stories", stories.items, rows)
        out.contents = contents  # type: ignore[attr-defined]
        return out

    async def story_contents(self, *, tokens: bool = False) -> ContentList:
        """Return the storycontent objects with format, model, characters, words, tokens, lorebook entries."""
        check_bool(tokens, "tokens")
        contents = await self.content("storycontent")
        contents.rows = [_content_row(c, tokens) for c in contents]
        return contents

    async def user_presets(self) -> ContentList:
        """Return the presets saved in the account (name, model, main parameters)."""
        presets = await self.content("presets")
        presets.rows = [_preset_row(p) for p in presets]
        return presets

    async def aimodules(self) -> ContentList:
        """Return the account's custom AI modules (name, description, model)."""
        mods = await self.content("aimodules")
        mods.rows = [_module_row(m) for m in mods]
        return mods

    async def shelves(self) -> ContentList:
        """Return the account's shelves (title, description, number of children)."""
        shelves = await self.content("shelf")
        shelves.rows = [_shelf_row(s) for s in shelves]
        return shelves

    async def story_text(self, story: str | ContentObject) -> str:
        """Return the full text of a story, given its id, meta, title, or its story/storycontent object."""
        _check_story(story)
        if isinstance(story, ContentObject) and story.type == "storycontent":
            return story_text_of(story.raise_for_error().data)
        ks = await self.keystore()
        contents = await self.content("storycontent", keystore=ks)
        if isinstance(story, ContentObject):
            target = story.raise_for_error().data.get("remoteStoryId")
        else:
            stories = await self.content("stories", keystore=ks)
            match = [
                s
                for s in stories
                if story in (s.id, s.meta) or (isinstance(s.data, dict) and s.data.get("title") == story)
            ]
            if not match:
                match_c = [c for c in contents if story in (c.id, c.meta)]
                if match_c:
                    return story_text_of(match_c[0].raise_for_error().data)
                raise _no_story(story)
            target = match[0].raise_for_error().data.get("remoteStoryId")
        for c in contents:
            if c.id == target:
                return story_text_of(c.raise_for_error().data)
        raise NotFound(404, f"story {story!r} has no storycontent {target!r}", hint="the story is incomplete")

    async def story(self, story: str | ContentObject) -> Story:
        """Return a story of the account (id, meta or title, or its story/storycontent object) as a
        :class:`~naikit.novelai.story.Story`: text, memory, author's note, lorebook and context settings.
        :meth:`save_story` writes it back."""
        from .story import Story

        _check_story(story)
        ks = await self.keystore()
        contents = await self.content("storycontent", keystore=ks)
        title = ""
        target: Any = None
        if isinstance(story, ContentObject) and story.type == "storycontent":
            item = story.raise_for_error()
        else:
            stories = await self.content("stories", keystore=ks)
            for s in stories:
                d = s.data if isinstance(s.data, dict) else {}
                if (isinstance(story, ContentObject) and story.id == s.id) or story in (
                    s.id,
                    s.meta,
                    d.get("title"),
                ):
                    target, title = d.get("remoteStoryId"), str(d.get("title", ""))
                    break
            item = next(
                (
                    c
                    for c in contents
                    if c.id == target or (isinstance(story, str) and story in (c.id, c.meta))
                ),
                None,
            )
            if item is None:
                raise _no_story(story if isinstance(story, str) else story.id)
            item.raise_for_error()
        out = Story.from_content(item.data, title=title)
        out._item = item  # type: ignore[attr-defined]
        out._read_text = out.text  # type: ignore[attr-defined]
        return out

    async def save_story(self, story: Story, *, backup: bool = True, force: bool = False) -> Story:
        """Write an edited story back to the account through :meth:`save_content` (the server's version is
        backed up locally first, the upload is checked to decrypt back, and a story changed elsewhere
        since it was read is refused unless ``force``); return the story as now stored.

        Memory, author's note, lorebook and context settings are written as they are; the story text may
        only have grown at the end (what ``continue_story`` adds), anything else raises UnsafeWrite.
        """
        from .story import Story, append_story_text

        if not isinstance(story, Story) or getattr(story, "_item", None) is None:
            raise InputError("story", story, "a Story read from the account with nai.story(...)")
        item: ContentObject = story._item  # type: ignore[attr-defined]
        before: str = story._read_text  # type: ignore[attr-defined]
        data = story.content_dict()
        if story.text != before:
            if not story.text.startswith(before):
                raise UnsafeWrite(
                    "story.text", story.text[:40], "the text read plus text added at its end",
                    "naikit writes story text back only by appending",
                )  # fmt: skip
            data = append_story_text(data, story.text[len(before) :])
        edited = copy.copy(item)
        edited.data = data
        stored = await self.save_content(edited, backup=backup, force=force)
        out = Story.from_content(stored.data, title=story.title)
        out._item = stored  # type: ignore[attr-defined]
        out._read_text = out.text  # type: ignore[attr-defined]
        return out

    async def lorebook(self, story: str | ContentObject):
        """Return the lorebook entries of a story (id, meta or title) as a DataFrame."""
        import pandas as pd

        _check_story(story)
        ks = await self.keystore()
        contents = await self.content("storycontent", keystore=ks)
        stories = await self.content("stories", keystore=ks)
        target = None
        for s in stories:
            d = s.data if isinstance(s.data, dict) else {}
            if (isinstance(story, ContentObject) and story.id == s.id) or story in (
                s.id,
                s.meta,
                d.get("title"),
            ):
                target = d.get("remoteStoryId")
        content = next(
            (c for c in contents if c.id == target or (isinstance(story, str) and story == c.id)), None
        )
        if content is None:
            raise _no_story(story)
        rows = lorebook_rows(content.raise_for_error().data)
        return pd.DataFrame(rows, columns=["name", "keys", "enabled", "category", "text"])

    # -- backups and checks -------------------------------------------------------------------------
    @property
    def backup_dir(self) -> Path:
        """Return the folder that holds this account's backups (``~/.naikit/backups/<fingerprint>``)."""
        from .backup import backup_root

        base = self._content_state()["backup"] or backup_root()
        return Path(base) / self._fingerprint()

    async def set_backup_dir(self, path: str | Path) -> Path:
        """Keep backups (full and before-overwrite) under ``path`` instead of ``~/.naikit/backups``;
        return the account's folder there."""
        self._content_state()["backup"] = Path(check_path(path)).expanduser()
        return self.backup_dir

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
        from .backup import restore_account

        check_path(directory, "directory")
        check_bool(overwrite, "overwrite")
        check_bool(skip_corrupt, "skip_corrupt")
        return await restore_account(self, directory, overwrite=overwrite, skip_corrupt=skip_corrupt)

    async def sanity_check(self) -> SanityReport:
        """Return the §4.5 sanity check: what decrypts, orphaned storycontent, duplicate metas, keys."""
        from .sanity import sanity_check

        return await sanity_check(self)


def _check_story(story: Any) -> None:
    """Refuse, before any request, what cannot name a story (the lookup by id, meta or title needs a list)."""
    if isinstance(story, ContentObject):
        if story.type not in ("stories", "storycontent"):
            raise InputError("story", story, "a story or storycontent object (or its id, meta or title)")
        return
    check_text(story, "story", allowed="the id, meta or title of a story", empty=False)


def _no_story(story: str) -> NotFound:
    """Return the error for a story name that matches nothing in the account (found after listing)."""
    return NotFound(
        404,
        f"no story with id, meta or title {story!r} in this account",
        hint="list them with stories()",
    )


def _reloaded(stored: UserObject, payload: str, plaintext: bytes, encrypted: bool) -> ContentObject:
    """Return the ContentObject for what was just stored (its payload re-read from what was verified)."""
    raw = payload
    if encrypted:
        b = base64.b64decode(raw)
        compressed = b.startswith(COMPRESSION_MARKER)
        nonce = b[len(COMPRESSION_MARKER) :][:NONCE_SIZE] if compressed else b[:NONCE_SIZE]
        p = Payload(plaintext, nonce, compressed, True, raw)
    else:
        p = decompress_payload(raw)
    data = json.loads(plaintext.decode("utf-8"))
    return ContentObject(
        stored.type,
        stored.id,
        stored.meta,
        data,
        p,
        stored.change_index,
        stored.last_updated_at,
        None,
        stored,
        dumps_compact(data),
    )
