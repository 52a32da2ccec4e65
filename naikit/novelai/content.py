"""NovelAI's user objects decrypted: :class:`ContentObject`, :class:`ContentList` and what reads them.

:func:`decode_object` decrypts (stories, storycontent, aimodules) or decompresses (presets, shelf) a raw
object; a failure is recorded in the object's ``.error``, never raised. :func:`story_text_of` gives the full
text of a storycontent (the datablock history replayed, or the msgpack ``document`` of newer stories
decoded); :func:`lorebook_rows` its lorebook entries. The client's areas that fetch and write these objects
are :mod:`naikit.novelai.keystore_api`, :mod:`naikit.novelai.content_api` and
:mod:`naikit.novelai.stories_api`.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._decode import load_json
from ..errors import InputError
from ._story_text import story_text_of
from .crypto import (
    COMPRESSION_MARKER,
    NONCE_SIZE,
    CorruptData,
    CorruptObject,
    Keystore,
    Payload,
    UnsafeWrite,
    compress_payload,
    decompress_payload,
    decrypt_payload,
    dumps_compact,
    encrypt_payload,
)
from .document import Document, decode_document

if TYPE_CHECKING:
    import pandas as pd

    from .account import UserObject

__all__ = [
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
        if object_type not in ENCRYPTED_TYPES:
            got = decompress_payload(data)
        elif key is None:
            raise ValueError("there is no key to decrypt it with")
        else:
            got = decrypt_payload(data, key)
    except (ValueError, InputError) as exc:
        raise UnsafeWrite("data", data, "data that decodes to the object", f"Refused: {exc}") from None
    if got.plaintext != expected:
        raise UnsafeWrite("data", data, "data that decodes to the object", "Refused: it decodes differently")


# ------------------------------------------------------------------------------------------------ text


def _dict_in(data: dict[str, Any], key: str) -> dict[str, Any]:
    """Return ``data[key]`` when it is an object, else an empty dict (rows show what is there)."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


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
    from .._records import to_timestamp as _ts

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
    #: for ``stories()``: the storycontent objects its rows were joined with
    contents: ContentList | None = field(default=None, compare=False)

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

    def to_frame(self) -> pd.DataFrame:
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
    settings = _dict_in(d, "settings")
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
    params = _dict_in(d, "parameters")
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
