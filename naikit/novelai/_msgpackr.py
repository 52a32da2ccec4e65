"""A MessagePack codec with msgpackr's extensions as NovelAI's web app uses them (records, tag
extensions, bundled strings, undefined, timestamps...): :func:`unpack` and :func:`pack`. What each
extension looks like on the wire is told in :mod:`naikit.novelai.document`."""

from __future__ import annotations

import datetime as _dt
import struct
from dataclasses import dataclass
from typing import Any

from ..errors import CorruptData

# Extension types NovelAI registers for its document classes (spec §4.4).
NOVELAI_TAGS = (20, 30, 31, 40, 41, 42)
# msgpackr's own extensions whose payload is the next value ("read" style, filler byte 0).
_TAG_EXTS = set(NOVELAI_TAGS) | {0x73, 0x65, 0x78}


#: Deepest nesting of arrays, maps and tags read (the web app's documents nest under 20 levels).
MAX_DEPTH = 100


class DocumentError(CorruptData):
    """The document is not a msgpackr buffer this decoder understands (says where and why).

    A :class:`naikit.errors.CorruptData` (so a ContentError and a ValueError) with ``stage`` "document".
    """

    def __init__(self, reason: str):
        super().__init__("document", reason)


class _Undefined:
    """JavaScript ``undefined`` (msgpackr ext 0): kept distinct from None (``null``)."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED = _Undefined()


@dataclass(frozen=True)
class Tagged:
    """A value wrapped by a tag extension (``tag`` = the ext type, e.g. 20 for NovelAI's document class)."""

    tag: int
    value: Any


class MsgSet(list):
    """A JavaScript ``Set`` (msgpackr ext 0x73): its items in insertion order."""

    def __repr__(self) -> str:
        return f"MsgSet({list.__repr__(self)})"


# ------------------------------------------------------------------------------------------------ decoding


class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0
        # record id -> (keys, two_byte): two-byte records carry a second byte after their reference byte
        self.records: dict[int, tuple[list[str], bool]] = {}
        self.bundle: list[bytes] | None = None  # [two-byte (utf-16-le), latin] strings of a bundle
        self.bundle_pos = [0, 0]
        self.post_bundle: int | None = None
        self.refs: dict[int, Any] = {}
        self.depth = 0

    def fail(self, what: str) -> DocumentError:
        return DocumentError(f"{what} at byte {self.pos} of {len(self.data)}")

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise self.fail("unexpected end of data")
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def u8(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("unexpected end of data")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def read(self) -> Any:
        t = self.u8()
        if t < 0x40:
            return t
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nesting deeper than {MAX_DEPTH} levels")
        try:
            return self.read_value(t)
        finally:
            self.depth -= 1

    def read_value(self, t: int) -> Any:
        if t < 0x80:
            rec = self.records.get(t & 0x3F)
            if rec is None:
                return t  # not a record: an ordinary fixint, as msgpackr reads it
            if rec[1]:
                high = self.u8()
                if high:
                    slot = t & 0x3F
                    rec = self.records.get(-(slot + (high << 5)) if slot < 32 else slot + (high << 5))
                    if rec is None:
                        raise self.fail("a reference to an undefined record")
            return self.read_record(rec[0])
        if t < 0x90:
            return self.read_map(t - 0x80)
        if t < 0xA0:
            return [self.read() for _ in range(t - 0x90)]
        if t < 0xC0:
            return self.read_str(t - 0xA0)
        if t >= 0xE0:
            return t - 0x100
        return self.read_token(t)

    def read_token(self, t: int) -> Any:  # noqa: C901 - one branch per MessagePack token
        unpack_from = struct.unpack_from
        if t == 0xC0:
            return None
        if t == 0xC1:
            return self.read_bundled()
        if t == 0xC2:
            return False
        if t == 0xC3:
            return True
        if t in (0xC4, 0xC5, 0xC6):
            n = self.read_len({0xC4: 1, 0xC5: 2, 0xC6: 4}[t])
            return bytes(self.take(n))
        if t in (0xC7, 0xC8, 0xC9):
            n = self.read_len({0xC7: 1, 0xC8: 2, 0xC9: 4}[t])
            return self.read_ext(n)
        if t == 0xCA:
            return _num(unpack_from(">f", self.take(4))[0])
        if t == 0xCB:
            return _num(unpack_from(">d", self.take(8))[0])
        if t == 0xCC:
            return self.u8()
        if t == 0xCD:
            return unpack_from(">H", self.take(2))[0]
        if t == 0xCE:
            return unpack_from(">I", self.take(4))[0]
        if t == 0xCF:
            return unpack_from(">Q", self.take(8))[0]
        if t == 0xD0:
            return unpack_from(">b", self.take(1))[0]
        if t == 0xD1:
            return unpack_from(">h", self.take(2))[0]
        if t == 0xD2:
            return unpack_from(">i", self.take(4))[0]
        if t == 0xD3:
            return unpack_from(">q", self.take(8))[0]
        if t == 0xD4:
            return self.read_fixext1()
        if t == 0xD5:
            if self.pos < len(self.data) and self.data[self.pos] == 0x72:
                self.pos += 1
                slot, high = self.u8() & 0x3F, self.u8()
                rid = slot if high == 0 else (-(slot + (high << 5)) if slot < 32 else slot + (high << 5))
                return self.define_record(rid, two_byte=True)
            return self.read_ext(2)
        if t in (0xD6, 0xD7, 0xD8):
            return self.read_ext({0xD6: 4, 0xD7: 8, 0xD8: 16}[t])
        if t in (0xD9, 0xDA, 0xDB):
            return self.read_str(self.read_len({0xD9: 1, 0xDA: 2, 0xDB: 4}[t]))
        if t in (0xDC, 0xDD):
            n = self.read_len(2 if t == 0xDC else 4)
            return [self.read() for _ in range(n)]
        if t in (0xDE, 0xDF):
            return self.read_map(self.read_len(2 if t == 0xDE else 4))
        raise self.fail(f"unknown MessagePack token 0x{t:02x}")  # pragma: no cover - every byte is handled

    def read_len(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def read_str(self, n: int) -> str:
        raw = self.take(n)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            # JavaScript's TextDecoder replaces invalid sequences; so do we, rather than lose the document
            return raw.decode("utf-8", "replace")

    def read_map(self, n: int) -> dict:
        out: dict = {}
        for _ in range(n):
            k = self.read()
            out[_key(k)] = self.read()
        return out

    def read_record(self, keys: list[str]) -> dict:
        return {k: self.read() for k in keys}

    def define_record(self, rid: int, two_byte: bool = False) -> dict:
        keys = self.read()
        if not isinstance(keys, list):
            raise self.fail("a record definition without a key array")
        keys = [k if isinstance(k, str) else str(k) for k in keys]
        self.records[rid] = (keys, two_byte)
        return self.read_record(keys)

    def read_fixext1(self) -> Any:
        typ = struct.unpack_from(">b", self.take(1))[0]
        if typ == 0x72:
            return self.define_record(self.u8() & 0x3F)
        if typ == 0:
            self.u8()  # filler
            return UNDEFINED
        if typ in _TAG_EXTS:
            self.u8()  # filler byte; the wrapped value follows as an ordinary value
            return self.wrap(typ, self.read())
        return self.ext_value(typ, self.take(1))

    def read_ext(self, n: int) -> Any:
        typ = struct.unpack_from(">b", self.take(1))[0]
        if typ == 0x62:  # bundled strings: data = u32 offset of the two strings from the data start
            start = self.pos
            data = self.take(n)
            size = int.from_bytes(data[:4], "big")
            after = self.pos
            self.pos = start + size
            two_byte = self.read_plain_str()
            latin = self.read_plain_str()
            self.bundle = [
                two_byte.encode("utf-16-le", "surrogatepass"),
                latin.encode("utf-16-le", "surrogatepass"),
            ]
            self.bundle_pos = [0, 0]
            self.post_bundle = self.pos
            self.pos = after
            return self.read()
        if typ in (0x69, 0x70) and n == 4:
            ref = int.from_bytes(self.take(4), "big")
            if typ == 0x70:
                if ref not in self.refs:
                    raise self.fail(f"pointer to unknown structured-clone id {ref}")
                return self.refs[ref]
            value = self.read()
            self.refs[ref] = value
            return value
        if typ in _TAG_EXTS:
            self.take(n)
            return self.wrap(typ, self.read())
        return self.ext_value(typ, self.take(n))

    def read_plain_str(self) -> str:
        t = self.u8()
        if 0xA0 <= t < 0xC0:
            return self.read_str(t - 0xA0)
        if t in (0xD9, 0xDA, 0xDB):
            return self.read_str(self.read_len({0xD9: 1, 0xDA: 2, 0xDB: 4}[t]))
        raise self.fail("bundled strings without a string")

    def read_bundled(self) -> str:
        n = self.read()
        if self.bundle is None or not isinstance(n, int):
            raise self.fail("a bundled-string reference outside a bundle")
        side = 1 if n > 0 else 0
        start = self.bundle_pos[side]
        end = start + 2 * abs(n)  # lengths count UTF-16 code units, as JavaScript strings do
        self.bundle_pos[side] = end
        return self.bundle[side][start:end].decode("utf-16-le", "surrogatepass")

    def wrap(self, typ: int, value: Any) -> Any:
        if typ == 0x73:
            return MsgSet(value if isinstance(value, list) else [value])
        return Tagged(typ, value)

    def ext_value(self, typ: int, data: bytes) -> Any:
        if typ == -1:
            return _timestamp(data)
        if typ == 0x42:
            return int.from_bytes(data, "big", signed=True)
        if typ == 0x74:
            return bytes(data[1:])
        return Tagged(typ, bytes(data))


def _num(x: float) -> int | float:
    # JavaScript numbers: an integral float64 is the integer JavaScript code sees
    if x.is_integer() and abs(x) < 2**63:
        return int(x)
    return x


def _key(k: Any) -> Any:
    if isinstance(k, MsgSet):
        k = tuple(k)
    try:
        hash(k)
    except TypeError:
        return repr(k)  # unhashable keys (lists, maps, tags holding them): msgpackr would stringify them too
    return k


def _timestamp(data: bytes) -> _dt.datetime:
    if len(data) == 4:
        seconds, nanos = int.from_bytes(data, "big"), 0
    elif len(data) == 8:
        v = int.from_bytes(data, "big")
        seconds, nanos = v & 0x3FFFFFFFF, v >> 34
    elif len(data) == 12:
        nanos = int.from_bytes(data[:4], "big")
        seconds = int.from_bytes(data[4:], "big", signed=True)
    else:
        raise DocumentError(f"a timestamp of {len(data)} bytes")
    try:
        return _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(
            seconds=seconds, microseconds=nanos // 1000
        )
    except OverflowError:
        raise DocumentError(f"a timestamp {seconds} s from 1970, beyond the dates Python holds") from None


def unpack(data: bytes, *, tags: bool = True) -> Any:
    """Return the value in a msgpackr buffer (records, tags, bundled strings, Set, Date, undefined decoded).

    ``tags=False`` replaces every :class:`Tagged` by its value (what msgpackr does with pass-through
    extensions). Raises :class:`DocumentError` saying where the data stopped making sense.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DocumentError(f"expected the document's bytes, got {type(data).__name__}")
    reader = _Reader(bytes(data))
    value = reader.read()
    if reader.post_bundle is not None:
        reader.pos = max(reader.pos, reader.post_bundle)
    if reader.pos != len(reader.data):
        raise reader.fail(f"{len(reader.data) - reader.pos} bytes left over after the value")
    return value if tags else strip_tags(value)


def strip_tags(value: Any) -> Any:
    """Return ``value`` with every :class:`Tagged` replaced by its inner value, recursively."""
    while isinstance(value, Tagged):
        value = value.value
    if isinstance(value, MsgSet):
        return MsgSet(strip_tags(v) for v in value)
    if isinstance(value, list):
        return [strip_tags(v) for v in value]
    if isinstance(value, dict):
        return {k: strip_tags(v) for k, v in value.items()}
    return value


# ------------------------------------------------------------------------------------------------ encoding


class _Writer:
    """msgpackr's encoding with records on: objects with str keys become records, others Maps."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.records: dict[tuple[str, ...], int] = {}

    def write(self, v: Any) -> None:  # noqa: C901 - one branch per type
        out = self.out
        if v is None:
            out.append(0xC0)
        elif v is UNDEFINED:
            out += b"\xd4\x00\x00"
        elif v is True:
            out.append(0xC3)
        elif v is False:
            out.append(0xC2)
        elif isinstance(v, int):
            self.write_int(v)
        elif isinstance(v, float):
            if v.is_integer() and -(2**31) <= v < 2**32:
                self.write_int(int(v))
            else:
                out += b"\xcb" + struct.pack(">d", v)
        elif isinstance(v, str):
            self.write_str(v)
        elif isinstance(v, (bytes, bytearray)):
            n = len(v)
            out += (
                (b"\xc4" + n.to_bytes(1, "big"))
                if n < 256
                else (b"\xc5" + n.to_bytes(2, "big"))
                if n < 65536
                else (b"\xc6" + n.to_bytes(4, "big"))
            )
            out += v
        elif isinstance(v, Tagged):
            out += bytes((0xD4, v.tag & 0xFF, 0))
            self.write(v.value)
        elif isinstance(v, MsgSet):
            out += b"\xd4\x73\x00"
            self.write(list(v))
        elif isinstance(v, (list, tuple)):
            self.write_array_header(len(v))
            for item in v:
                self.write(item)
        elif isinstance(v, dict):
            if v and all(isinstance(k, str) for k in v):
                self.write_record(v)
            else:
                self.write_map(v)
        elif isinstance(v, _dt.datetime):
            self.write_date(v)
        else:
            raise TypeError(f"cannot pack {type(v).__name__}")

    def write_int(self, v: int) -> None:
        out = self.out
        if 0 <= v < 0x40:
            out.append(v)  # 0x40-0x7f are record references
        elif 0 <= v < 0x100:
            out += bytes((0xCC, v))
        elif 0 <= v < 0x10000:
            out += b"\xcd" + v.to_bytes(2, "big")
        elif 0 <= v < 2**32:
            out += b"\xce" + v.to_bytes(4, "big")
        elif -32 <= v < 0:
            out.append(v & 0xFF)
        elif -128 <= v < 0:
            out += b"\xd0" + v.to_bytes(1, "big", signed=True)
        elif -32768 <= v < 0:
            out += b"\xd1" + v.to_bytes(2, "big", signed=True)
        elif -(2**31) <= v < 0:
            out += b"\xd2" + v.to_bytes(4, "big", signed=True)
        elif abs(v) < 2**53:
            out += b"\xcb" + struct.pack(">d", float(v))  # JavaScript numbers beyond 32 bits are doubles
        else:
            raise OverflowError(f"{v} is not a JavaScript safe integer")

    def write_str(self, s: str) -> None:
        raw = s.encode("utf-8", "surrogatepass")
        n = len(raw)
        if n < 32:
            self.out.append(0xA0 | n)
        elif n < 256:
            self.out += bytes((0xD9, n))
        elif n < 65536:
            self.out += b"\xda" + n.to_bytes(2, "big")
        else:
            self.out += b"\xdb" + n.to_bytes(4, "big")
        self.out += raw

    def write_array_header(self, n: int) -> None:
        if n < 16:
            self.out.append(0x90 | n)
        elif n < 65536:
            self.out += b"\xdc" + n.to_bytes(2, "big")
        else:
            self.out += b"\xdd" + n.to_bytes(4, "big")

    def write_map(self, v: dict) -> None:
        n = len(v)
        if n < 16:
            self.out.append(0x80 | n)
        elif n < 65536:
            self.out += b"\xde" + n.to_bytes(2, "big")
        else:
            self.out += b"\xdf" + n.to_bytes(4, "big")
        for k, item in v.items():
            self.write(k)
            self.write(item)

    def write_record(self, v: dict) -> None:
        keys = tuple(v)
        rid = self.records.get(keys)
        if rid is None:
            if len(self.records) >= 64:
                self.write_map(v)  # out of one-byte record ids; a plain map reads the same
                return
            rid = 0x40 + len(self.records)
            self.records[keys] = rid
            self.out += bytes((0xD4, 0x72, rid))
            self.write(list(keys))
        else:
            self.out.append(rid)
        for item in v.values():
            self.write(item)

    def write_date(self, d: _dt.datetime) -> None:
        if d.tzinfo is None:
            d = d.replace(tzinfo=_dt.timezone.utc)
        delta = d - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
        seconds = delta.days * 86400 + delta.seconds
        nanos = delta.microseconds * 1000
        if nanos == 0 and 0 <= seconds < 2**32:
            self.out += b"\xd6\xff" + seconds.to_bytes(4, "big")
        elif 0 <= seconds < 2**34:
            self.out += b"\xd7\xff" + ((nanos << 34) | seconds).to_bytes(8, "big")
        else:
            self.out += b"\xc7\x0c\xff" + nanos.to_bytes(4, "big") + seconds.to_bytes(8, "big", signed=True)


def pack(value: Any) -> bytes:
    """Return ``value`` packed the way msgpackr packs it with records (dicts with str keys → records,
    other dicts → Maps, :class:`Tagged` → tag extension, :class:`MsgSet` → Set, datetime → timestamp)."""
    w = _Writer()
    w.write(value)
    return bytes(w.out)
