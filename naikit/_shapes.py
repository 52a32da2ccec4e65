"""Checking a JSON answer against a declared shape: the one checker every client's responses go through.

A shape is a dict of field name → expected type. ``"name?"`` marks an optional field, a tuple lists
alternatives (``(str, None)`` is a nullable string), a nested dict is a nested object and a one-item
list is "a list of". ``Number`` accepts int and float but not bool. Extra fields are always allowed:
only missing or mistyped documented fields are drift (:class:`~naikit.errors.ResponseShapeError`).

Every response is checked, so a shape is compiled on its second check: an object or list shape into one
generated function (one ``get`` per field, no call per nested object), anything else into closures. The
compiled check only answers "has the shape"; a value it refuses goes to the field-by-field interpreter,
which decides and words the error, so verdicts and messages are the interpreter's.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
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
    hit = _CHECKERS.get(id(shape))
    if hit is None or hit[0] is not shape:
        _first_sight(shape)
        hit = _CHECKERS.get(id(shape))  # compiled now, on its second check
        if hit is not None and hit[0] is shape and hit[1](value):
            return value
    elif hit[1](value):
        return value
    # refused by the compiled check (or a shape seen for the first time): the interpreter decides,
    # and words the error
    return _interpret(value, shape, what, path)


def _interpret(value: Any, shape: Any, what: str, path: str) -> Any:
    """Return ``value`` if it has ``shape``, else raise ResponseShapeError: the reference reading of the
    shape language, walked field by field (it spells out the error of a value the compiled check refused)."""
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
                    _interpret(item, sub, what, _join(path, name))
                elif not _matches(item, sub):  # a leaf: the path is only spelled out for the error
                    sub_path = _join(path, name)
                    raise ResponseShapeError(
                        what, sub_path, f"should be {_type_name(sub)} but is {_describe(item)}"
                    )
        elif isinstance(alt, list) and isinstance(value, list):
            for i, item in enumerate(value):
                _interpret(item, alt[0], what, f"{path}[{i}]")
    return value


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'…' if len(text) > 40 else ''}"


# ------------------------------------------------------------------------------------------ compiled checks
# Every response is checked against one of a few module-level shapes, so each shape is turned once into a
# predicate: True means the interpreter above would accept the value (then nothing else runs); False means
# "let the interpreter decide", which also words the error. A False is therefore always safe, and any
# value or shape the predicates do not reason about exactly (a dict or list subclass, an unknown leaf, a
# shape that contains itself) gets False. A node compiles to (types, pred): a value whose exact type is in
# ``types`` has the node's shape with nothing more to look at; any other value has it iff ``pred(value)``.

Pred = Callable[[Any], bool]
_NONE_TYPE = type(None)


class _Uncompiled(Exception):
    """A shape the compiler leaves to the interpreter."""


def _never(value: Any) -> bool:
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _instance_of(t: Any) -> Pred:
    return lambda value: isinstance(value, t)


def _any_of(preds: list[Pred]) -> Pred:
    preds = [p for p in preds if p is not _never]
    if not preds:
        return _never
    if len(preds) == 1:
        return preds[0]
    return lambda value: any(p(value) for p in preds)


def _compile_match(t: Any) -> tuple[frozenset[type], Pred]:
    """Compile :func:`_matches` (the type of the value itself, nothing inside it) for ``t``."""
    if t is None:
        return frozenset({_NONE_TYPE}), _never
    if t is Number:
        return frozenset({int, float}), _is_number
    if t is int:
        return frozenset({int}), _is_int
    if isinstance(t, tuple):
        parts = [_compile_match(x) for x in t]
        return frozenset().union(*(f for f, _ in parts)), _any_of([p for _, p in parts])
    if isinstance(t, dict):
        return frozenset({dict}), _instance_of(dict)
    if isinstance(t, list):
        return frozenset({list}), _instance_of(list)
    if isinstance(t, type):
        return frozenset({t}), _instance_of(t)
    raise _Uncompiled  # not a type: isinstance would raise, as the interpreter will


def _compile(shape: Any, active: set[int]) -> tuple[frozenset[type], Pred]:
    """Compile the whole check of ``shape`` (the value's type and, for objects and lists, what they hold);
    ``active`` holds the ids of the shapes being compiled on the way here (a shape inside itself)."""
    if isinstance(shape, dict):
        return frozenset(), _compile_object(shape, active)
    if isinstance(shape, list):
        return frozenset(), _compile_list(shape, active)
    if not isinstance(shape, tuple):
        return _compile_match(shape)
    types, match = _compile_match(shape)
    # every alternative that is an object (a list) shape is checked in full on an object (a list) value
    objects = [_compile_object(alt, active) for alt in shape if isinstance(alt, dict)]
    lists = [_compile_list(alt, active) for alt in shape if isinstance(alt, list)]
    if not objects and not lists:
        return types, match
    fast = types - ({dict} if objects else set()) - ({list} if lists else set())

    def alternatives(value: Any) -> bool:
        if type(value) not in types and not match(value):
            return False
        # (no value is both a dict and a list: the two layouts cannot be combined in one class)
        for p in objects if isinstance(value, dict) else lists if isinstance(value, list) else ():
            if not p(value):
                return False
        return True

    return frozenset(fast), alternatives


def _compile_object(shape: dict[str, Any], active: set[int]) -> Pred:
    if id(shape) in active:
        raise _Uncompiled
    active.add(id(shape))
    items = []
    for name, optional, sub in _items(shape):
        types, pred = _compile(sub, active)
        # "optional newer fields may come back null": a null passes an optional field of any type
        items.append((name, optional, types | {_NONE_TYPE} if optional else types, pred))
    active.discard(id(shape))
    missing = object()

    def obj(value: Any) -> bool:
        if type(value) is not dict:  # a dict subclass may answer `in` and [] its own way
            return False
        for name, optional, types, pred in items:
            item = value.get(name, missing)
            if item is missing:
                if not optional:
                    return False
            elif type(item) not in types and not pred(item):
                return False
        return True

    return obj


def _compile_list(shape: list[Any], active: set[int]) -> Pred:
    if not shape:
        raise _Uncompiled  # the interpreter fails on its first item
    if id(shape) in active:
        raise _Uncompiled
    active.add(id(shape))
    types, pred = _compile(shape[0], active)
    active.discard(id(shape))

    def seq(value: Any) -> bool:
        if type(value) is not list:
            return False
        return all(type(item) in types or pred(item) for item in value)

    return seq


class _Source:
    """The source of one generated check function, and the objects its code refers to by name."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {"_missing": object(), "dict": dict, "list": list, "type": type}
        self.count = 0

    def const(self, obj: Any) -> str:
        name = f"_c{len(self.names)}"
        self.names[name] = obj
        return name

    def var(self) -> str:
        self.count += 1
        return f"x{self.count}"


def _emit(src: _Source, shape: Any, x: str, depth: int, active: set[int]) -> None:
    """Add the lines that return False unless the value in variable ``x`` has ``shape``: objects and lists
    inline, one ``get`` per field; leaves and alternatives as a type test, then their compiled predicate."""
    pad = "    " * depth
    if isinstance(shape, (dict, list)):
        if id(shape) in active or not shape and isinstance(shape, list):
            raise _Uncompiled  # a shape inside itself, or ``[]`` (the interpreter fails on a first item)
        active.add(id(shape))
    if isinstance(shape, dict):
        src.lines.append(f"{pad}if type({x}) is not dict: return False")  # a subclass: the interpreter
        for name, optional, sub in _items(shape):
            y = src.var()
            # (``name`` comes from str.rstrip, so it is a plain str, whose repr is its literal)
            src.lines.append(f"{pad}{y} = {x}.get({name!r}, _missing)")
            if optional:  # may be missing, and "optional newer fields may come back null"
                src.lines.append(f"{pad}if {y} is not _missing and {y} is not None:")
                _emit(src, sub, y, depth + 1, active)
            else:
                src.lines.append(f"{pad}if {y} is _missing: return False")
                _emit(src, sub, y, depth, active)
    elif isinstance(shape, list):
        y = src.var()
        src.lines += [f"{pad}if type({x}) is not list: return False", f"{pad}for {y} in {x}:"]
        _emit(src, shape[0], y, depth + 1, active)
    elif shape is object:
        src.lines.append(f"{pad}pass")
    elif isinstance(shape, tuple) and any(isinstance(alt, (dict, list)) for alt in shape):
        # alternatives: an object (a list) value must pass every object (list) alternative in full
        kinds = [k for k in (dict, list) if any(isinstance(alt, k) for alt in shape)]
        for i, kind in enumerate(kinds):
            src.lines.append(f"{pad}{'el' if i else ''}if type({x}) is {kind.__name__}:")
            for alt in shape:
                if isinstance(alt, kind):
                    _emit(src, alt, x, depth + 1, active)
        # a subclass of those goes to the interpreter; any other value needs only the right type
        src.lines.append(f"{pad}elif isinstance({x}, {src.const(tuple(kinds))}): return False")
        src.lines.append(f"{pad}else:")
        _emit_match(src, shape, x, depth + 1)
    else:
        _emit_match(src, shape, x, depth)
    active.discard(id(shape))


def _emit_match(src: _Source, shape: Any, x: str, depth: int) -> None:
    """Add the line that returns False unless the value in ``x`` has the type ``shape`` names."""
    pad = "    " * depth
    types, pred = _compile_match(shape)
    tests = (
        [f"type({x}) is not {src.const(t)}" for t in types]
        if len(types) <= 2
        else [f"type({x}) not in {src.const(types)}"]
    )
    if pred is not _never:
        tests.append(f"not {src.const(pred)}({x})")
    src.lines.append(f"{pad}if {' and '.join(tests) or 'True'}: return False")


_GENERATED = itertools.count(1)


def _generate(shape: dict[str, Any] | list[Any]) -> Pred:
    """Return one generated function checking ``shape`` (an object or a list shape) in full; raise
    _Uncompiled, SyntaxError or RecursionError for what it does not handle (nesting beyond Python's)."""
    src = _Source()
    _emit(src, shape, "x0", 1, set())
    code = "\n".join(["def check(x0):", *src.lines, "    return True"])
    # each function its own file name, so that profiles tell the checks of different shapes apart
    where = f"<naikit shape check {next(_GENERATED)}>"
    exec(compile(code, where, "exec"), src.names)  # noqa: S102 - our own source text
    return src.names["check"]


# Compiled on a shape's second check: one-off shapes (a literal dict in a function, a fresh ``[SHAPE]``)
# are only interpreted, as compiling costs more than one check. Keyed by id, each entry keeping its shape
# alive so the id is not reused. First sightings wait in ``_SEEN``, apart: shapes made on every call fill
# and empty that one, never the compiled checks of the module-level shapes. Both are emptied when full.
# A shape is never changed once in use (none in naikit is; the compiled check would not see the change).
_CHECKERS: dict[int, tuple[Any, Pred]] = {}
_SEEN: dict[int, Any] = {}
_LIMIT = 4096


def _closure(shape: Any) -> Pred:
    types, node = _compile(shape, set())
    return node if not types else lambda v: type(v) in types or node(v)


def _first_sight(shape: Any) -> None:
    """Note a check against ``shape``; on its second check compile it into ``_CHECKERS``."""
    key = id(shape)
    if key not in _SEEN or _SEEN[key] is not shape:  # (a shape may be None itself)
        if len(_SEEN) >= _LIMIT:
            _SEEN.clear()
        _SEEN[key] = shape
        return
    del _SEEN[key]
    pred: Pred
    # anything the compilers do not handle (nesting deeper than Python's blocks, a key that is not a
    # string, a leaf that is not a type) is left to the interpreter, which meets it only if the value
    # reaches it
    try:
        pred = _generate(shape) if isinstance(shape, (dict, list)) else _closure(shape)
    except Exception:
        try:
            pred = _closure(shape)
        except Exception:
            pred = _never
    if len(_CHECKERS) >= _LIMIT:
        _CHECKERS.clear()
    _CHECKERS[key] = (shape, pred)
