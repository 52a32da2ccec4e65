"""Argument checks shared by every entry point, in one dialect: each raises
:class:`~naikit.errors.InputError` naming the field, the value and what is allowed, before anything is sent.

:func:`check_wire_json` is the net under all of them: the transport runs it on every JSON body, so a NaN,
an Infinity, a lone surrogate or a Python object that JSON cannot carry is refused before a request leaves,
whichever method built the body (stories, presets, image and text parameters, Novita bodies).
"""

from __future__ import annotations

import math
import re
from typing import Any, TypeVar

from ._secret import Secret
from .errors import InputError

__all__ = [
    "has_lone_surrogate",
    "check_text",
    "check_number",
    "check_int",
    "check_bool",
    "check_callable",
    "check_path",
    "check_wire_json",
    "check_wire_text",
    "check_mapping",
    "check_wait_options",
    "check_choice",
    "check_string",
    "check_above",
]

T = TypeVar("T")  # the checks that pass a value through unchanged keep its type

_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Deeper than any request naikit builds; deeper input would hit Python's recursion limit when serialized.
_MAX_DEPTH = 200


def has_lone_surrogate(text: str) -> bool:
    """Return True when ``text`` holds a UTF-16 surrogate (U+D800-U+DFFF), which UTF-8 cannot encode."""
    return _SURROGATE_RE.search(text) is not None


def check_text(
    value: Any,
    field: str,
    *,
    allowed: str = "a string",
    empty: bool = True,
    max_length: int | None = None,
    none: bool = False,
) -> Any:
    """Return ``value`` if it is a string UTF-8 can carry (no lone surrogate), within the limits; else raise.

    ``empty=False`` refuses '' and whitespace-only strings; ``none=True`` lets None through.
    """
    if value is None and none:
        return None
    if not isinstance(value, str):
        raise InputError(field, value, allowed)
    if has_lone_surrogate(value):
        raise InputError(
            field, value, allowed + " without lone surrogates (U+D800-U+DFFF): UTF-8 cannot carry them"
        )
    if not empty and not value.strip():
        raise InputError(field, value, "a non-blank string" if allowed == "a string" else allowed)
    if max_length is not None and len(value) > max_length:
        raise InputError(
            field, value, f"{allowed} of at most {max_length} characters (this one has {len(value)})"
        )
    return value


def _range_text(lo: float | None, hi: float | None, spec: str) -> str:
    """Return the words for the bounds given (" from 1 to 8", " of at least 0", ...; "" for none),
    each bound formatted with the format ``spec``."""
    if lo is not None and hi is not None:
        return f" from {lo:{spec}} to {hi:{spec}}"
    if lo is not None:
        return f" of at least {lo:{spec}}"
    if hi is not None:
        return f" of at most {hi:{spec}}"
    return ""


def check_number(
    value: Any,
    field: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    none: bool = False,
    allowed: str | None = None,
) -> Any:
    """Return ``value`` if it is a finite int or float (not a bool) within [lo, hi]; else raise InputError."""
    if value is None and none:
        return None
    text = allowed or f"a finite number{_range_text(lo, hi, 'g')}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(field, value, text)
    try:
        if not math.isfinite(value):
            raise InputError(field, value, text)
    except OverflowError:  # an int too large for a float
        raise InputError(field, value, text) from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InputError(field, value, text)
    return value


def check_int(
    value: Any, field: str, *, lo: int | None = None, hi: int | None = None, none: bool = False
) -> Any:
    """Return ``value`` if it is an int (not a bool) within [lo, hi]; else raise InputError."""
    if value is None and none:
        return None
    rng = _range_text(lo, hi, "")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(field, value, f"an integer{rng}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InputError(field, value, f"an integer{rng}")
    return value


def check_bool(value: Any, field: str, *, none: bool = False) -> Any:
    """Return ``value`` if it is True or False (or None when ``none``); else raise InputError."""
    if value is None and none:
        return None
    if not isinstance(value, bool):
        raise InputError(field, value, "True or False" + (" (or None)" if none else ""))
    return value


def check_callable(value: T, field: str) -> T:
    """Return ``value`` if it is None or callable; else raise InputError."""
    if value is not None and not callable(value):
        raise InputError(field, value, "a function (or None)")
    return value


def check_mapping(value: Any, field: str, *, none: bool = True) -> dict[str, Any]:
    """Return ``value`` as a dict if it is a mapping with string keys (None gives {} when ``none``)."""
    from collections.abc import Mapping

    if value is None and none:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InputError(field, value, "a dict with string keys" + (" (or None)" if none else ""))
    return dict(value)


def check_path(value: Any, field: str = "path") -> Any:
    """Return ``value`` if it names a file (str or os.PathLike, not an int file descriptor); else raise.

    ``open(3)`` would take over (and close) descriptor 3: a number is never a path here.
    """
    import os

    if isinstance(value, os.PathLike):
        value_s = os.fspath(value)
    else:
        value_s = value
    if isinstance(value_s, bytes) or not isinstance(value_s, str) or not value_s.strip():
        raise InputError(field, value, "a file path (str or pathlib.Path)")
    if "\x00" in value_s or has_lone_surrogate(value_s):
        raise InputError(field, value, "a file path without NUL characters or lone surrogates")
    try:
        os.stat(os.path.expanduser(value_s))
    except (FileNotFoundError, NotADirectoryError):
        pass  # may be made by the caller; the caller says whether it must exist
    except OSError as exc:  # a name too long for the file system, a symlink loop
        raise InputError(field, value, "a usable file path", exc.strerror or str(exc)) from None
    return value


def check_wire_text(value: T, field: str) -> T:
    """Return ``value`` if it is bytes, or a string UTF-8 can carry; else raise InputError."""
    if isinstance(value, str) and has_lone_surrogate(value):
        raise InputError(
            field, value, "text without lone surrogates (U+D800-U+DFFF): UTF-8 cannot carry them"
        )
    return value


def check_wire_json(value: T, field: str = "request body") -> T:
    """Return ``value`` if it serializes to standard JSON that UTF-8 can carry; else raise InputError.

    Refused, naming the path inside the body: NaN and ±Infinity (not JSON; ``json.dumps`` would write them),
    lone surrogates in strings or keys, keys that are not strings, and types JSON has no form for.
    """
    _walk(value, field, 0)
    return value


def _walk(value: Any, where: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise InputError(where, "<nested too deep>", f"JSON nested at most {_MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(where, value, "a finite number (JSON has no NaN or Infinity)")
        return
    if isinstance(value, Secret):  # revealed only on the wire; checked without showing it
        if not isinstance(value.reveal(), str) or has_lone_surrogate(value.reveal()):
            raise InputError(where, value, "text without lone surrogates")
        return
    if isinstance(value, str):
        if has_lone_surrogate(value):
            raise InputError(
                where, value, "text without lone surrogates (U+D800-U+DFFF): UTF-8 cannot carry them"
            )
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise InputError(f"{where} key", k, "a string key")
            if has_lone_surrogate(k):
                raise InputError(f"{where} key", k, "a key without lone surrogates")
            _walk(v, f"{where}.{k}", depth + 1)
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _walk(v, f"{where}[{i}]", depth + 1)
        return
    raise InputError(where, value, "a JSON value (str, number, bool, None, list or dict)")


def check_wait_options(
    *,
    timeout: Any = 300.0,
    interval: Any = 0.5,
    max_interval: Any = 5.0,
    growth: Any = 1.5,
    callback: Any = None,
    raise_on_failure: Any = True,
    download: Any = True,
    progress: Any = None,
) -> None:
    """Refuse polling options no wait can use (checked before a task is submitted); returns None."""
    check_number(timeout, "timeout", allowed="a positive number of seconds")
    if timeout <= 0:
        raise InputError("timeout", timeout, "a positive number of seconds")
    check_number(interval, "interval", allowed="a positive number of seconds")
    check_number(max_interval, "max_interval", allowed="a number of seconds >= interval")
    check_number(growth, "growth", lo=1, allowed="a factor >= 1")
    if interval <= 0 or max_interval < interval:
        raise InputError("interval", interval, "0 < interval <= max_interval and growth >= 1")
    check_callable(callback, "callback")
    check_bool(raise_on_failure, "raise_on_failure")
    check_bool(download, "download")
    if progress is not None and not isinstance(progress, bool) and not hasattr(progress, "update"):
        raise InputError("progress", progress, "None, True, False or an object with update() and close()")


# --- checks the NovelAI data modules share (presets, image requests, stories) ----------------------------


def check_instance(value: T, cls: type | tuple[type, ...], field: str, allowed: str) -> T:
    """Return ``value`` if it is an instance of ``cls``; else raise InputError with ``allowed``."""
    if not isinstance(value, cls):
        raise InputError(field, value, allowed)
    return value


def check_choice(value: Any, field: str, choices: Any, hint: str = "", *, allowed: str | None = None) -> Any:
    """Return ``value`` if it is one of ``choices`` (a sequence, set or mapping); else raise InputError
    listing them (or saying ``allowed``), with ``hint`` added (what to do instead)."""
    try:
        ok = value in choices
    except TypeError:  # an unhashable value tested against a set or dict
        ok = False
    if not ok:
        raise InputError(field, value, allowed or "one of " + ", ".join(repr(c) for c in choices), hint)
    return value


def is_token_id(value: Any) -> bool:
    """Return True when ``value`` is a token id: an int >= 0 (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_token_ids(value: Any) -> bool:
    """Return True when ``value`` is a non-empty list or tuple of token ids (see :func:`is_token_id`)."""
    return isinstance(value, (list, tuple)) and bool(value) and all(is_token_id(t) for t in value)


def check_flags(**flags: Any) -> None:
    """Refuse any keyword whose value is not True or False (each named by its keyword); returns None."""
    for name, value in flags.items():
        check_bool(value, name)


# -- choices, bounded strings, open lower bounds (first used by the Novita request builders) ---------------


def check_string(value: Any, field: str, *, lo: int = 1, hi: int | None = None) -> str:
    """Return ``value`` if it is a string of ``lo`` to ``hi`` characters UTF-8 can carry; else raise.

    Unlike ``check_text(empty=False)``, a string of spaces counts its spaces: only the length is checked.
    """
    allowed = (
        f"a string of {lo} to {hi} characters" if hi is not None else f"a string of at least {lo} characters"
    )
    if not isinstance(value, str) or len(value) < lo or (hi is not None and len(value) > hi):
        raise InputError(field, value, allowed)
    return check_text(value, field, allowed=allowed)


def check_above(value: Any, field: str, lo: float, *, hi: float | None = None) -> Any:
    """Return ``value`` if it is a finite number more than ``lo`` (and at most ``hi``); else raise."""
    allowed = f"a number more than {lo:g}" + (f" and at most {hi:g}" if hi is not None else "")
    check_number(value, field, hi=hi, allowed=allowed)
    if value <= lo:
        raise InputError(field, value, allowed)
    return value
