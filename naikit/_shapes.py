"""Checking a JSON answer against a declared shape: the one checker every client's responses go through.

A shape is a dict of field name → expected type. ``"name?"`` marks an optional field, a tuple lists
alternatives (``(str, None)`` is a nullable string), a nested dict is a nested object and a one-item
list is "a list of". ``Number`` accepts int and float but not bool. Extra fields are always allowed:
only missing or mistyped documented fields are drift (:class:`~naikit.errors.ResponseShapeError`).
"""

from __future__ import annotations

from typing import Any

from .errors import ResponseShapeError

__all__ = ["Number", "check"]


class Number:
    """Marker type: an int or a float, never a bool."""


def _type_name(t: Any) -> str:
    if t is None:
        return "null"
    if t is Number:
        return "number"
    if isinstance(t, dict):
        return "object"
    if isinstance(t, list):
        return f"list of {_type_name(t[0])}"
    if isinstance(t, tuple):
        return " or ".join(_type_name(x) for x in t)
    return {bool: "boolean", int: "integer", float: "number", str: "string"}.get(t, t.__name__)


def _matches(value: Any, t: Any) -> bool:
    if t is None:
        return value is None
    if t is Number:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(t, tuple):
        return any(_matches(value, x) for x in t)
    if isinstance(t, dict):
        return isinstance(value, dict)
    if isinstance(t, list):
        return isinstance(value, list)
    return isinstance(value, t)


# A dict shape's keys split into (name, optional, sub-shape) once per shape object: responses are checked
# on every call against the same module-level shapes. Bounded, so shapes built on the fly cannot grow it.
_ITEMS: dict[int, tuple[dict[str, Any], list[tuple[str, bool, Any]]]] = {}


def _items(shape: dict[str, Any]) -> list[tuple[str, bool, Any]]:
    hit = _ITEMS.get(id(shape))
    if hit is not None and hit[0] is shape:
        return hit[1]
    items = [(key.rstrip("?"), key.endswith("?"), sub) for key, sub in shape.items()]
    if len(_ITEMS) < 4096:
        _ITEMS[id(shape)] = (shape, items)  # the shape itself is kept, so its id is not reused
    return items


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def check(value: Any, shape: Any, what: str, path: str = "") -> Any:
    """Return ``value`` unchanged if it has ``shape``; otherwise raise ResponseShapeError naming the field."""
    if not _matches(value, shape):
        where = path or "(body)"
        raise ResponseShapeError(what, where, f"should be {_type_name(shape)} but is {_describe(value)}")
    alternatives = shape if isinstance(shape, tuple) else (shape,)
    for alt in alternatives:
        if isinstance(alt, dict) and isinstance(value, dict):
            for name, optional, sub in _items(alt):
                if name not in value:
                    if optional:
                        continue
                    raise ResponseShapeError(what, _join(path, name), "is missing")
                item = value[name]
                if optional and item is None and not _matches(None, sub):
                    continue  # optional newer fields may come back null
                if type(item) is sub:  # the common case, and always a match (an exact type is an instance)
                    continue
                if isinstance(sub, (dict, list, tuple)):
                    check(item, sub, what, _join(path, name))
                elif not _matches(item, sub):  # a leaf: the path is only spelled out for the error
                    sub_path = _join(path, name)
                    raise ResponseShapeError(
                        what, sub_path, f"should be {_type_name(sub)} but is {_describe(item)}"
                    )
        elif isinstance(alt, list) and isinstance(value, list):
            for i, item in enumerate(value):
                check(item, alt[0], what, f"{path}[{i}]")
    return value


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'…' if len(text) > 40 else ''}"
