"""The guards every parser of outside data shares, so a bad file or answer ends in a naikit error.

* :func:`load_json` parses JSON text or bytes and refuses what is not JSON, what nests deeper than
  :data:`MAX_DEPTH` (deeper input would make later recursive code raise RecursionError) and numbers too long
  to convert.
* :func:`json_or` is the same for optional JSON (a PNG's ``Comment``): a default instead of an error.
* :func:`finite` reads a JSON number as a finite float (None for NaN, infinities, bools, 10**400, text).
* :func:`open_image` opens picture bytes with PIL, fully decoded, or raises the parser's error.
* :func:`decoding` is a ``with`` block around a third-party decoder (PIL, zipfile, zlib, lzma, msgpack,
  nacl): on bad bytes those raise anything from ``SyntaxError`` to ``zlib.error``; the block turns it into
  the parser's own naikit error, keeping the library's words as the reason.

Each takes ``fail``: a function of the reason (a short sentence) returning the naikit error to raise, so a
response parser raises ResponseShapeError, a file reader InputError and a content decoder ContentError.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .errors import NaikitError

if TYPE_CHECKING:  # pragma: no cover
    import PIL.Image

__all__ = ["Fail", "MAX_DEPTH", "load_json", "json_or", "decoding", "open_image", "depth_exceeds", "finite"]

Fail = Callable[[str], NaikitError]

#: Deepest nesting of lists and objects accepted (NovelAI's deepest, a storycontent, is under 20 levels).
MAX_DEPTH = 100


def reason_of(exc: BaseException) -> str:
    """Return ``"<ExceptionType>: <message>"`` cut to 200 characters (a library's words, for a reason)."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Return True if lists/dicts in ``value`` nest more than ``limit`` levels (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list, tuple)))
    return False


def load_json(data: str | bytes | bytearray, fail: Fail) -> Any:
    """Return the JSON value in ``data``; raise ``fail(reason)`` if it is not JSON text, not UTF-8, nests
    deeper than :data:`MAX_DEPTH` or holds a number with too many digits."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise fail(f"it nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError, the int-digits limit
        raise fail(f"it is not JSON ({reason_of(exc)})") from None
    if depth_exceeds(value):
        raise fail(f"it nests deeper than {MAX_DEPTH} levels")
    return value


def finite(value: Any) -> float | None:
    """Return ``value`` as a finite float if it is a JSON number (not a bool) fitting a double, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        f = float(value)
    except OverflowError:  # an integer beyond a double
        return None
    return f if math.isfinite(f) else None


def json_or(data: str | bytes | bytearray, default: Any = None) -> Any:
    """Return the JSON value in ``data``, or ``default`` when :func:`load_json` would refuse it."""
    try:
        return load_json(data, lambda reason: NaikitError(reason))
    except NaikitError:
        return default


def open_image(raw: bytes, fail: Fail) -> PIL.Image.Image:
    """Return the PIL image of picture bytes, decoded (so a truncated file fails here, not later);
    raise ``fail(reason)`` when PIL cannot read them (bad chunks, truncated data, a decompression bomb)."""
    from PIL import Image

    with decoding(fail):
        pil = Image.open(io.BytesIO(bytes(raw)))
        pil.load()
    return pil


@contextmanager
def decoding(fail: Fail) -> Iterator[None]:
    """Run the block; an exception a decoder raised on bad bytes becomes ``fail(reason)``.

    NaikitErrors pass through unchanged. Use it around calls into third-party decoders only: naikit's own
    checks should name the field themselves.
    """
    try:
        yield
    except NaikitError:
        raise
    except RecursionError:
        raise fail("it nests too deeply to decode") from None
    except Exception as exc:  # noqa: BLE001 - decoders raise SyntaxError, zlib.error, struct.error, ... on bad bytes
        raise fail(reason_of(exc)) from None
