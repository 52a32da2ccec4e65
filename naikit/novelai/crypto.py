"""Encryption and compression of NovelAI user content, byte-exact (spec §4.1–4.3).

::

    keystore (GET /user/keystore) = base64( JSON {"version", "nonce": [24 ints], "sdata": [ints]} )
        sdata = [compression marker?] + SecretBox(account key, nonce)(JSON {"keys": {meta: [32 ints]}})
    encrypted object data (stories, storycontent, aimodules)
        = base64( [compression marker?] + nonce(24) + SecretBox(key=keys[meta], nonce)(raw deflate?(JSON)) )
    compressed-only object data (presets, shelf) = base64( marker + raw deflate(JSON) ) or plain JSON text

The compression marker is 15 zero bytes and one 0x01. SecretBox is XSalsa20-Poly1305 (PyNaCl, imported on
first use). Raw deflate has no zlib header (wbits -15).

Rules this module keeps (where ``novelai-api`` did not): a fresh random nonce whenever the plaintext changes
(a nonce is never reused with different plaintext); unchanged plaintext keeps its original bytes, so
decrypt → encrypt is byte-identical; new keys are 32 random bytes; an empty or null keystore is never
silently replaced. Errors::

    NaikitError
    └── ContentError                   user content could not be read or written safely
        ├── WrongKey                   the keystore does not open with the key(s) tried; lists each attempt
        ├── CorruptObject              one object failed (base64, MAC, inflate, JSON): id, meta and stage
        ├── CorruptData (also ValueError)  a payload or the keystore is malformed: ``stage`` says where
        └── UnsafeWrite (also InputError)  an upload refused before sending (verification or safety rule)

Key material never appears in a repr, a str or an error message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

# The content errors live in naikit.errors (one tree); re-exported here for this module's users.
from .._decode import decoding, load_json
from ..errors import ContentError, CorruptData, CorruptObject, InputError, UnsafeWrite, WrongKey

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "COMPRESSION_MARKER",
    "NONCE_SIZE",
    "KEY_SIZE",
    "KEYSTORE_VERSION",
    "ContentError",
    "WrongKey",
    "CorruptObject",
    "CorruptData",
    "UnsafeWrite",
    "Payload",
    "Keystore",
    "new_key",
    "new_nonce",
    "seal",
    "open_box",
    "deflate_raw",
    "inflate_raw",
    "encrypt_payload",
    "decrypt_payload",
    "compress_payload",
    "decompress_payload",
    "dumps_compact",
    "key_fingerprint",
]

COMPRESSION_MARKER = bytes(15) + b"\x01"
NONCE_SIZE = 24
KEY_SIZE = 32
MAC_SIZE = 16
KEYSTORE_VERSION = 2


# ------------------------------------------------------------------------------------------------ errors


# ------------------------------------------------------------------------------------------------ primitives


def new_key() -> bytes:
    """Return a fresh 32-byte SecretBox key (os.urandom)."""
    return os.urandom(KEY_SIZE)


def new_nonce() -> bytes:
    """Return a fresh 24-byte random nonce."""
    return os.urandom(NONCE_SIZE)


def key_fingerprint(key: bytes) -> str:
    """Return a short one-way fingerprint (8 hex chars of BLAKE2b) to tell keys apart without showing them."""
    return hashlib.blake2b(bytes(key), digest_size=4, person=b"naikit-key").hexdigest()


def _box(key: bytes) -> Any:
    from nacl.secret import SecretBox  # heavy-ish: loaded on first use

    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_SIZE:
        n = len(key) if isinstance(key, (bytes, bytearray)) else type(key).__name__
        raise InputError("key", f"<{n} bytes>", "a 32-byte SecretBox key")
    return SecretBox(bytes(key))


def seal(key: bytes, nonce: bytes, plaintext: bytes) -> bytes:
    """Return the SecretBox ciphertext of ``plaintext`` (16-byte MAC + body, without the nonce)."""
    if len(nonce) != NONCE_SIZE:
        raise InputError("nonce", f"<{len(nonce)} bytes>", "24 bytes")
    return bytes(_box(key).encrypt(bytes(plaintext), bytes(nonce)).ciphertext)


def open_box(key: bytes, nonce: bytes, ciphertext: bytes) -> bytes:
    """Return the plaintext of a SecretBox ciphertext (MAC + body); raises nacl's CryptoError on a bad MAC."""
    return bytes(_box(key).decrypt(bytes(ciphertext), bytes(nonce)))


def deflate_raw(data: bytes, level: int = 9) -> bytes:
    """Return raw DEFLATE (no zlib header, wbits -15) of ``data``; level 9 like ``novelai-api``."""
    c = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


def inflate_raw(data: bytes) -> bytes:
    """Return the inflated bytes of a whole raw DEFLATE stream; raises zlib.error if truncated or invalid."""
    d = zlib.decompressobj(-zlib.MAX_WBITS)
    out = d.decompress(data) + d.flush()
    if not d.eof:
        raise zlib.error("the deflate stream is truncated")
    return out


def dumps_compact(obj: Any) -> bytes:
    """Return ``obj`` as UTF-8 JSON the way the web app writes it (compact separators, non-ASCII kept).

    A lone surrogate (which JSON read from outside can hold) is written as its ``\\udxxx`` escape, as
    JavaScript's JSON.stringify writes it, since UTF-8 cannot carry it.
    """
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _b64decode(text: str, stage: str = "base64") -> bytes:
    """Return the bytes of base64 ``text``; raise CorruptData(stage) when it is not base64 text."""
    if not isinstance(text, str):
        raise CorruptData(stage, f"expected base64 text, got {type(text).__name__}")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:  # ValueError: non-ASCII characters
        raise CorruptData(stage, f"not base64 ({exc})") from None


def _inflate(body: bytes, stage: str = "inflate") -> bytes:
    """Return the inflated ``body``; raise CorruptData(stage) when it is not a whole raw deflate stream."""
    with decoding(lambda reason: CorruptData(stage, reason)):
        return inflate_raw(body)


# ------------------------------------------------------------------------------------------------ payloads


@dataclass(frozen=True, repr=False)
class Payload:
    """A decoded object payload: the exact ``plaintext`` bytes and how they were wrapped.

    ``nonce`` is None for compressed-only or plain payloads; ``encrypted``/``compressed`` say which layers
    were present. ``data`` is the base64 text it came from (kept to re-upload unchanged bytes as they were).
    """

    plaintext: bytes
    nonce: bytes | None
    compressed: bool
    encrypted: bool
    data: str

    def __repr__(self) -> str:
        layers = "+".join(
            n for n, on in (("encrypted", self.encrypted), ("compressed", self.compressed)) if on
        )
        return f"Payload({layers or 'plain'}, {len(self.plaintext)} bytes)"


def encrypt_payload(
    plaintext: bytes, key: bytes, *, compressed: bool = True, nonce: bytes | None = None
) -> str:
    """Return the base64 ``data`` of an encrypted object: [marker] + nonce + SecretBox([deflate](plaintext)).

    ``nonce`` defaults to a fresh random one; pass one only to reproduce known bytes.
    """
    nonce = new_nonce() if nonce is None else bytes(nonce)
    body = deflate_raw(plaintext) if compressed else bytes(plaintext)
    raw = (COMPRESSION_MARKER if compressed else b"") + nonce + seal(key, nonce, body)
    return base64.b64encode(raw).decode("ascii")


def decrypt_payload(data: str, key: bytes) -> Payload:
    """Return the :class:`Payload` of an encrypted object's base64 ``data``.

    Raises CorruptData (a ValueError) whose ``stage`` names the layer that failed (base64, length, decrypt,
    inflate); InputError for a key that is not 32 bytes.
    """
    raw = _b64decode(data)
    compressed = raw.startswith(COMPRESSION_MARKER)
    if compressed:
        raw = raw[len(COMPRESSION_MARKER) :]
    if len(raw) < NONCE_SIZE + MAC_SIZE:
        raise CorruptData("length", f"{len(raw)} bytes is too short for a nonce and a MAC")
    nonce, box = raw[:NONCE_SIZE], raw[NONCE_SIZE:]
    try:
        body = open_box(key, nonce, box)
    except InputError:
        raise
    except Exception:  # nacl.exceptions.CryptoError: the MAC does not match
        raise CorruptData("decrypt", "the MAC check failed (wrong key, or the data was altered)") from None
    if compressed:
        body = _inflate(body)
    return Payload(body, nonce, compressed, True, data)


def compress_payload(plaintext: bytes, *, compressed: bool = True) -> str:
    """Return the base64 ``data`` of a compressed-only object (presets, shelf): marker + raw deflate.

    ``compressed=False`` gives base64 of the plain bytes (the other form the web app reads).
    """
    raw = COMPRESSION_MARKER + deflate_raw(plaintext) if compressed else bytes(plaintext)
    return base64.b64encode(raw).decode("ascii")


def decompress_payload(data: str) -> Payload:
    """Return the :class:`Payload` of a compressed-only object (base64 of marker + deflate, or of plain JSON).

    Plain JSON text that is not base64 (some old presets) is accepted as is. Raises CorruptData (a
    ValueError) naming the stage (base64, utf-8, inflate) otherwise.
    """
    try:
        raw = _b64decode(data)
    except CorruptData:
        stripped = data.lstrip() if isinstance(data, str) else ""
        if stripped[:1] in ("{", "["):
            try:
                return Payload(data.encode("utf-8"), None, False, False, data)
            except UnicodeEncodeError:
                raise CorruptData("utf-8", "the text holds a lone surrogate") from None
        raise CorruptData("base64", "neither base64 nor JSON text") from None
    if raw.startswith(COMPRESSION_MARKER):
        return Payload(_inflate(raw[len(COMPRESSION_MARKER) :]), None, True, False, data)
    return Payload(raw, None, False, False, data)


# ------------------------------------------------------------------------------------------------ keystore


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_bytes(values: list[Any]) -> bool:
    return all(_is_int(b) and 0 <= b < 256 for b in values)


class Keystore:
    """The account's decrypted keystore: one 32-byte key per ``meta``.

    Build it with :meth:`decrypt` (from the server's base64 text) or :meth:`new`. ``state`` is ``"ok"``
    (decrypted), ``"missing"`` (the server holds null: a fresh account) or ``"empty"`` (``sdata`` empty,
    as ``novelai-api`` writes an empty store). :meth:`encrypt` returns the original text, byte for byte,
    while nothing changed; after a change it encrypts with a fresh nonce. Any fields of the decrypted
    JSON besides ``keys`` are kept. Keys never show in repr/str; :meth:`to_frame` shows fingerprints.
    """

    def __init__(
        self,
        keys: dict[str, bytes] | None = None,
        *,
        version: int = KEYSTORE_VERSION,
        nonce: bytes | None = None,
        compressed: bool = False,
        extra: dict[str, Any] | None = None,
        source: str | None = None,
        state: str = "ok",
    ):
        if keys is not None and (
            not isinstance(keys, dict)
            or not all(isinstance(k, str) and isinstance(v, (bytes, bytearray)) for k, v in keys.items())
        ):
            raise InputError(
                "keys", "<not a dict of str -> bytes>" if keys else keys, "a dict of meta -> 32-byte key"
            )
        self._keys: dict[str, bytes] = dict(keys or {})
        self.version = version
        self.nonce = nonce
        self.compressed = compressed
        if extra is not None and not isinstance(extra, dict):
            raise InputError("extra", extra, "a dict of the keystore's other fields (or None)")
        self.extra = dict(extra or {})
        self.source = source
        self.state = state
        self._original = dict(self._keys) if source is not None else None

    # -- construction --------------------------------------------------------------------------------
    @classmethod
    def new(cls) -> Keystore:
        """Return an empty keystore (version 2) that has never been on a server."""
        return cls(state="new")

    @classmethod
    def parse(cls, raw: str) -> dict[str, Any]:
        """Return the outer JSON ``{version, nonce, sdata}`` of a keystore's base64 text (no decryption).

        Raises CorruptData (a ValueError, stage "keystore") naming what is malformed.
        """

        def bad(reason: str) -> CorruptData:
            return CorruptData("keystore", reason)

        doc = load_json(_b64decode(raw, "keystore"), lambda r: bad(f"it is not base64 of JSON: {r}"))
        if not isinstance(doc, dict):
            raise bad("the keystore JSON is not an object")
        nonce, sdata = doc.get("nonce"), doc.get("sdata")
        if not _is_int(doc.get("version")):
            raise bad("the keystore has no integer 'version'")
        if isinstance(nonce, str):  # novelai-api writes an empty store's nonce as the text of a list
            nonce = load_json(nonce, lambda r: bad("the keystore 'nonce' is not a list of 24 bytes"))
        if not isinstance(nonce, list) or len(nonce) != NONCE_SIZE or not _is_bytes(nonce):
            raise bad("the keystore 'nonce' is not a list of 24 bytes")
        if not (sdata == "" or (isinstance(sdata, list) and _is_bytes(sdata))):
            raise bad("the keystore 'sdata' is not a list of bytes")
        return {
            "version": doc["version"],
            "nonce": bytes(nonce),
            "sdata": b"" if sdata == "" else bytes(sdata),
        }

    @classmethod
    def decrypt(cls, raw: str | None, key: bytes | list[tuple[str, bytes]]) -> Keystore:
        """Return the decrypted keystore of the server's text ``raw`` (None → a ``"missing"`` keystore).

        ``key`` is the 32-byte account encryption key, or a list of ``(label, key)`` to try in order (e.g.
        the key from the email lower-cased, then as typed). Raises :class:`WrongKey` listing every attempt
        when none opens it, and CorruptData (a ValueError) when ``raw`` is malformed.
        """
        if raw is None:
            return cls(state="missing")
        outer = cls.parse(raw)
        if not outer["sdata"]:
            return cls(version=outer["version"], nonce=outer["nonce"], source=raw, state="empty")
        sdata = outer["sdata"]
        compressed = sdata.startswith(COMPRESSION_MARKER)
        if compressed:
            sdata = sdata[len(COMPRESSION_MARKER) :]
        attempts = key if isinstance(key, list) else [("the account encryption key", key)]
        failures: list[str] = []
        for label, k in attempts:
            try:
                body = open_box(k, outer["nonce"], sdata)
            except InputError as exc:
                failures.append(f"{label}: {exc}")
                continue
            except Exception:
                failures.append(f"{label}: the MAC check failed")
                continue
            inner = load_json(
                _inflate(body, "keystore") if compressed else body,
                lambda r: CorruptData("keystore", f"the keystore decrypted but its content is not JSON: {r}"),
            )
            keys = inner.get("keys") if isinstance(inner, dict) else None
            if not isinstance(keys, dict) or not all(
                isinstance(v, list) and _is_bytes(v) for v in keys.values()
            ):
                raise CorruptData("keystore", "the decrypted keystore has no 'keys' object of byte lists")
            extra = {k2: v for k2, v in inner.items() if k2 != "keys"}
            return cls(
                {m: bytes(v) for m, v in keys.items()},
                version=outer["version"],
                nonce=outer["nonce"],
                compressed=compressed,
                extra=extra,
                source=raw,
            )
        raise WrongKey(
            "the keystore",
            failures,
            "Check the email and password (the keystore key is derived from both; try email_case="
            "'verbatim' if the account was made by a tool that kept the email's case)",
        )

    # -- mapping -------------------------------------------------------------------------------------
    def __contains__(self, meta: object) -> bool:
        return meta in self._keys

    def __getitem__(self, meta: str) -> bytes:
        try:
            return self._keys[meta]
        except KeyError:
            raise KeyError(f"no key for meta {meta!r} in the keystore") from None

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    @property
    def metas(self) -> list[str]:
        """Return the metas (key names) in the keystore, in stored order."""
        return list(self._keys)

    def keys_copy(self) -> dict[str, bytes]:
        """Return a copy of the meta → key mapping (handle with care: these are secrets)."""
        return dict(self._keys)

    def add(self, meta: str | None = None, key: bytes | None = None) -> str:
        """Add a key (default: 32 fresh random bytes) under ``meta`` (default: a new UUID4); return the meta.

        Refuses to replace an existing meta's key (that would make its objects unreadable).
        """
        meta = str(uuid.uuid4()) if meta is None else meta
        if not isinstance(meta, str) or not meta or len(meta) > 128:
            raise InputError("meta", meta, "a non-empty string of at most 128 characters")
        if meta in self._keys:
            if key is not None and bytes(key) == self._keys[meta]:
                return meta
            raise InputError(
                "meta", meta, "a meta not yet in the keystore", "Its objects use the existing key."
            )
        key = new_key() if key is None else bytes(key)
        if len(key) != KEY_SIZE:
            raise InputError("key", f"<{len(key)} bytes>", "32 bytes")
        self._keys[meta] = key
        return meta

    def remove(self, meta: str) -> None:
        """Remove the key of ``meta``; returns None. (Uploading is refused while objects still use it.)"""
        if not isinstance(meta, str) or meta not in self._keys:
            raise InputError("meta", meta, "a meta in the keystore")
        del self._keys[meta]

    @property
    def changed(self) -> bool:
        """Return True if keys were added, removed or replaced since decryption (or it was never stored)."""
        return self._original is None or self._original != self._keys

    def plaintext(self) -> bytes:
        """Return the JSON the keystore encrypts (secret: the keys themselves)."""
        inner = dict(self.extra)
        inner["keys"] = {m: list(k) for m, k in self._keys.items()}
        return dumps_compact(inner)

    def encrypt(self, key: bytes) -> str:
        """Return the base64 text to upload.

        Unchanged since :meth:`decrypt` → the original text, byte-identical. Changed or new → encrypted with
        ``key`` under a fresh nonce (never the old one: the plaintext differs), version kept (2 if new).
        """
        if not self.changed and self.source is not None:
            return self.source
        nonce = new_nonce()
        body = self.plaintext()
        sealed = seal(key, nonce, deflate_raw(body) if self.compressed else body)
        sdata = (COMPRESSION_MARKER if self.compressed else b"") + sealed
        outer = {"version": self.version, "nonce": list(nonce), "sdata": list(sdata)}
        return base64.b64encode(dumps_compact(outer)).decode("ascii")

    def to_frame(self) -> pd.DataFrame:
        """Return a DataFrame with one row per key: meta, key length and a fingerprint (never the key)."""
        import pandas as pd

        rows = [(m, len(k), key_fingerprint(k)) for m, k in self._keys.items()]
        return pd.DataFrame(rows, columns=["meta", "key_bytes", "fingerprint"])

    def _repr_html_(self) -> str:
        return f"<p><b>{self!r}</b></p>" + self.to_frame().to_html(index=False)

    def __repr__(self) -> str:
        flag = ", changed" if self.changed and self.state == "ok" and self.source is not None else ""
        return f"Keystore({self.state}, {len(self._keys)} keys, version={self.version}{flag})"

    __str__ = __repr__
