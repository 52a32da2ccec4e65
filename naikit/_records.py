"""One declaration per response type: a dataclass whose fields say where they come from on the wire.

A record is a dataclass deriving from :class:`Record`; each field read from the server is declared with
:func:`wire` (its wire name or dotted path, its wire type in the shape language below, the converter that
turns the JSON value into the field's value, and how it shows). From that one declaration come:

- ``Cls.shape()``: the shape the client checks responses against (``validate=True``), with the same
  :class:`~naikit.errors.ResponseShapeError` messages naming the field path as the checker always gave;
- ``Cls.from_json(body)``: the record, *total* on any JSON (converters never raise; a part that must be an
  object and is not raises ResponseShapeError naming it, whatever ``validate`` says);
- ``rec.rows()``: (field, value) pairs in declaration order (or the order of ``ROWS``), from which the
  :class:`Display` mixin builds ``to_frame()``, ``_repr_html_()``, ``to_text()`` and ``str()``.

Shape language: a dict of field name → expected type. ``"name?"`` marks an optional field, a tuple lists
alternatives (``(str, None)`` is a nullable string), a nested dict is a nested object and a one-item list
is "a list of". :class:`Number` accepts int and float but not bool; ``object`` accepts anything. Extra
fields are always allowed: only missing or mistyped documented fields are drift.

Why a small internal helper and not a library: the checks must keep naikit's own error (the field path,
what it should be, what it is, and the ``validate=False`` hint), records must stay plain dataclasses
(frozen where they were, positional construction unchanged, ``raw`` kept), and ``import naikit`` stays
light. pydantic (~0.3 s and a compiled core to import) and msgspec (not installed, its own error texts
and Struct types instead of dataclasses) would each need an adapter for errors and display anyway; attrs
brings nothing dataclasses' ``field(metadata=...)`` lacks here. This module is stdlib only and ~0 ms to
import beyond :mod:`dataclasses`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import html
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ._decode import finite
from ._shapes import Number, check

__all__ = [
    "Number",
    "check",
    "wire",
    "record",
    "Record",
    "Display",
    "Listing",
    "to_bool",
    "to_int",
    "to_float",
    "to_number",
    "to_str",
    "to_text",
    "to_dict",
    "to_timestamp",
    "html_table",
]

R = TypeVar("R", bound="Record")
T = TypeVar("T")

if TYPE_CHECKING:  # typing.dataclass_transform is 3.11+; type checkers read typing_extensions' on 3.10
    import pandas as pd
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_: Any) -> Callable[[T], T]:
        """Return the decorated object unchanged (the marker only matters to type checkers)."""
        return lambda f: f


# ------------------------------------------------------------------------------------------ converters
# Each takes any JSON value (None when the field is missing) and never raises: from_json stays total.


_DOUBLE_SAFE = 2**1023  # an int below this in size converts to a finite float (finite() accepts it)


def to_bool(v: Any) -> bool:
    """Return the truth of ``v`` (missing → False)."""
    return bool(v)


def to_number(v: Any) -> int | float:
    """Return ``v`` unchanged when it is a finite JSON number (an int stays an int), else 0."""
    return v if finite(v) is not None else 0


def to_int(v: Any) -> int:
    """Return ``v`` as an int when it is a finite JSON number, else 0."""
    if type(v) is int and -_DOUBLE_SAFE < v < _DOUBLE_SAFE:  # the common case: nothing to convert
        return v
    f = finite(v)
    return int(v) if f is not None and isinstance(v, int) else int(f) if f is not None else 0


def to_float(v: Any) -> float:
    """Return ``v`` as a float when it is a finite JSON number, else 0.0."""
    return finite(v) or 0.0


def to_str(v: Any) -> str:
    """Return ``v`` as text: a string as is, missing/null as "", anything else through ``str``."""
    return v if isinstance(v, str) else "" if v is None else str(v)


def to_text(v: Any) -> str:
    """Return ``v`` when it is a string, else "" (a URL or type field of the wrong type)."""
    return v if isinstance(v, str) else ""


def to_dict(v: Any) -> dict:
    """Return a copy of ``v`` when it is an object, else an empty dict."""
    return dict(v) if isinstance(v, dict) else {}


def to_timestamp(v: Any) -> _dt.datetime | None:
    """Return an aware UTC datetime for unix seconds (or milliseconds), None when ``v`` is not a date."""
    # a plain int of double range is what finite() would pass on as float(v), without its checks
    value = float(v) if type(v) is int and -_DOUBLE_SAFE < v < _DOUBLE_SAFE else finite(v)
    if value is None:
        return None
    # Some NovelAI timestamps are in milliseconds (inner story data); top-level ones are seconds.
    if value > 10**11:
        value = value / 1000
    try:
        return _dt.datetime.fromtimestamp(value, tz=_dt.timezone.utc)
    except (OverflowError, OSError, ValueError):  # beyond the years a datetime holds: not a date
        return None


# ------------------------------------------------------------------------------------------ declarations

_WIRE = "naikit.wire"


@dataclasses.dataclass(frozen=True)
class Wire:
    """Where one field comes from: wire path, wire type (shape), converter and display options."""

    path: str  # dotted path in the body; "" = the whole object (the converter reads several keys)
    shape: Any  # the shape language; ``object`` = not checked; a dict merges into the parent when path ""
    convert: Callable[[Any], Any] | None
    optional: bool  # may be missing (or null) on the wire
    needs: Any  # shape checked always, before converting (objects where objects go); None = nothing
    show: bool | Callable[[Any], Any]  # False hides the row; a callable(record) gives the shown value
    expand: bool  # a dict shown as one row per key: ``name.key``
    hide_empty: bool  # no row when the value is None or ""


def wire(
    path: str,
    shape: Any = object,
    convert: Callable[[Any], Any] | None = None,
    *,
    optional: bool = False,
    needs: Any = None,
    show: bool | Callable[[Any], Any] = True,
    expand: bool = False,
    hide_empty: bool = False,
) -> Any:
    """Return a dataclass field read from the wire at ``path`` (``"a.b"`` for a nested key).

    ``shape`` is the wire type checked under ``validate=True`` (``object`` checks nothing; a Record class
    means its own shape and its ``from_json`` as converter); ``convert`` turns the JSON value (None when
    missing) into the field's value and must not raise; ``needs`` is a shape checked even without
    validation because the converter relies on it. ``show``/``expand``/``hide_empty`` shape its row.
    """
    spec = Wire(path, shape, convert, optional, needs, show, expand, hide_empty)
    return dataclasses.field(metadata={_WIRE: spec})


@dataclass_transform(field_specifiers=(dataclasses.field, wire))
def record(*, frozen: bool = False, repr: bool = True) -> Callable[[type[T]], type[T]]:
    """Return the decorator that makes a record class a dataclass (``@record(frozen=True)``).

    It is ``dataclasses.dataclass`` itself; the separate name tells type checkers (PEP 681) that
    :func:`wire` declares a field without a default, so records keep positional construction.
    """
    return dataclasses.dataclass(frozen=frozen, repr=repr)


def _fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(cls)


# Per record class, worked out once: a response is parsed on every call, its declaration never changes.
_WIRES: dict[type, list[tuple[str, Wire]]] = {}
_NEEDS: dict[type, dict[str, Any]] = {}


def _wires(cls: type) -> list[tuple[str, Wire]]:
    wires = _WIRES.get(cls)
    if wires is None:
        wires = _WIRES[cls] = [(f.name, f.metadata[_WIRE]) for f in _fields(cls) if _WIRE in f.metadata]
    return wires


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What parsing a record's body needs, worked out once per class (a declaration never changes)."""

    needs: dict[str, Any]  # the shape checked before converting (Record._needs)
    fields: tuple[_FieldPlan, ...]
    raw: bool  # a field named ``raw`` receives the body itself


#: One wire field: its name, wire path, first key (None: the whole object) and the keys after it, its
#: converter, and the record class when it nests one.
_FieldPlan = tuple[
    str, str, "str | None", tuple[str, ...], "Callable[[Any], Any] | None", "type[Record] | None"
]
_PLANS: dict[type, _Plan] = {}


def _plan(cls: type[Record]) -> _Plan:
    fields: list[_FieldPlan] = []
    for name, w in _wires(cls):
        keys = w.path.split(".") if w.path else []
        sub = w.shape if _is_record(w.shape) else None
        fields.append((name, w.path, keys[0] if keys else None, tuple(keys[1:]), w.convert, sub))
    plan = _PLANS[cls] = _Plan(cls._needs(), tuple(fields), any(f.name == "raw" for f in _fields(cls)))
    return plan


def _is_record(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, Record)


def _put(shape: dict[str, Any], keys: list[str], optional: bool, value: Any) -> None:
    """Set ``value`` at the dotted ``keys`` of a shape dict, creating nested objects on the way."""
    head, rest = keys[0], keys[1:]
    if not rest:
        shape[head + ("?" if optional else "")] = value
        return
    key = head if head in shape else head + "?" if head + "?" in shape else head + ("?" if optional else "")
    sub = shape.setdefault(key, {})
    if key.endswith("?") and not optional:  # a required inner field makes the object required
        del shape[key]
        shape[head] = sub
    _put(sub, rest, optional, value)


class Display:
    """Mixin: ``rows()`` gives (field, value) pairs; the frame, the HTML table and the text come from them.

    Subclasses set ``rows()`` (records derive it from their declaration), ``HTML_CLASS`` (the table's
    CSS class, None for none) and may wrap :meth:`_html_table` in their own ``_repr_html_``.
    """

    HTML_CLASS: ClassVar[str | None] = "naikit-record"

    def rows(self) -> list[tuple[str, Any]]:  # pragma: no cover - every user overrides or inherits Record's
        """Return (field, value) pairs in display order."""
        raise NotImplementedError

    def to_frame(self) -> pd.DataFrame:
        """Return a two-column DataFrame (field, value), one row per field, indexed by field."""
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=["field", "value"]).set_index("field")

    def _html_table(self) -> str:
        return html_table(type(self).__name__, self.rows(), self.HTML_CLASS)

    def _repr_html_(self) -> str:
        return self._html_table()

    def to_text(self) -> str:
        """Return the rows as aligned plain text under the type's name."""
        rows = [(str(k), str(v)) for k, v in self.rows()]
        width = max((len(k) for k, _ in rows), default=0)
        return "\n".join([type(self).__name__, *(f"  {k.ljust(width)}  {v}" for k, v in rows)])

    def __str__(self) -> str:
        return self.to_text()


class Listing:
    """Mixin for a sequence of records shown as one table: one row per entry, columns ``COLUMNS``.

    Subclasses give ``_entries()`` (the records, in the server's order) and may override ``_row`` (by
    default the entry's attributes named in ``COLUMNS``). ``HTML_INDEX`` False drops pandas' row numbers
    from the HTML.
    """

    COLUMNS: ClassVar[tuple[str, ...]] = ()
    HTML_INDEX: ClassVar[bool] = True

    def _entries(self) -> Sequence[Any]:  # pragma: no cover - every user overrides it
        raise NotImplementedError

    def _row(self, entry: Any) -> dict[str, Any]:
        return {c: getattr(entry, c) for c in self.COLUMNS}

    def __iter__(self) -> Iterator[Any]:
        return iter(self._entries())

    def __len__(self) -> int:
        return len(self._entries())

    def to_frame(self) -> pd.DataFrame:
        """Return a DataFrame with one row per entry and the columns ``COLUMNS``, in the server's order."""
        import pandas as pd

        return pd.DataFrame([self._row(e) for e in self._entries()], columns=list(self.COLUMNS))

    def _repr_html_(self) -> str:
        frame = self.to_frame()
        if self.HTML_INDEX:
            # pandas' notebook display exists on every DataFrame; pandas-stubs does not declare it
            return frame._repr_html_()  # type: ignore[operator]
        return frame.to_html(index=False)


def html_table(caption: str, rows: list[tuple[str, Any]], css_class: str | None = "naikit-record") -> str:
    """Return an HTML table with a caption and one escaped (field, value) row per pair."""
    cells = "".join(
        f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    cls = f" class='{css_class}'" if css_class else ""
    return f"<table{cls}><caption>{html.escape(caption)}</caption>{cells}</table>"


class Record(Display):
    """Base of declared records (dataclasses whose wire fields use :func:`wire`).

    Class settings: ``WHAT`` names the endpoint in errors; ``EXTRA_SHAPE`` adds documented wire fields
    that are checked but not kept as fields; ``ROWS`` orders the display rows (field and property names;
    default: every shown field in declaration order). A field named ``raw`` receives the body itself.
    """

    WHAT: ClassVar[str] = "response"
    EXTRA_SHAPE: ClassVar[dict[str, Any]] = {}
    ROWS: ClassVar[tuple[str, ...] | None] = None

    @classmethod
    def shape(cls) -> dict[str, Any]:
        """Return the shape responses are checked against under ``validate=True`` (derived, new dict)."""
        out: dict[str, Any] = {}
        for _, w in _wires(cls):
            t = w.shape.shape() if _is_record(w.shape) else w.shape
            if t is object:
                continue
            if not w.path:
                for key, sub in t.items():
                    _put(out, [key.rstrip("?")], key.endswith("?"), sub)
                continue
            _put(out, w.path.split("."), w.optional, t)
        for key, sub in cls.EXTRA_SHAPE.items():
            _put(out, [key.rstrip("?")], key.endswith("?"), sub)
        return out

    @classmethod
    def _needs(cls) -> dict[str, Any]:
        """Return the shape from_json checks whatever ``validate`` says: objects on the way to each field
        (built once per class; callers only read it)."""
        needs = _NEEDS.get(cls)
        if needs is None:
            needs = _NEEDS[cls] = cls._build_needs()
        return needs

    @classmethod
    def _build_needs(cls) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for _, w in _wires(cls):
            if not w.path:
                if isinstance(w.needs, dict):
                    out.update(w.needs)
                continue
            keys = w.path.split(".")
            node = out
            for k in keys[:-1]:
                node = node.setdefault(k + "?", ({}, None))[0]
            if w.needs is not None:
                node[keys[-1] + "?"] = w.needs
            elif _is_record(w.shape):
                node[keys[-1] + "?"] = ({}, None)
        return out

    @classmethod
    def from_json(cls: type[R], d: Any) -> R:
        """Return the record for a response body; ResponseShapeError when a part it reads as an object
        (the body, an object on a field's path) is not one."""
        return cls._from_body(d, cls.WHAT, "")

    @classmethod
    def _from_body(cls: type[R], d: Any, what: str, path: str, **given: Any) -> R:
        plan = _PLANS.get(cls) or _plan(cls)
        check(d, plan.needs, what, path)  # a dict shape: from here on ``d`` is a dict
        kw: dict[str, Any] = {}
        for name, wire_path, first, rest, convert, sub in plan.fields:
            value: Any = d if first is None else d.get(first)
            for k in rest:
                value = value.get(k) if isinstance(value, dict) else None
            if sub is not None:
                where = f"{path}.{wire_path}" if path else wire_path
                kw[name] = sub._from_body(value if value is not None else {}, what, where)
            else:
                kw[name] = convert(value) if convert is not None else value
        if plan.raw:
            kw["raw"] = d
        return cls(**kw, **given)

    def rows(self) -> list[tuple[str, Any]]:
        """Return (field, value) pairs in display order (from the declaration, or ``ROWS``)."""
        specs = {f.name: f.metadata.get(_WIRE) for f in _fields(type(self))}
        names = self.ROWS
        if names is None:
            names = tuple(n for n, w in specs.items() if n != "raw" and (w is None or w.show is not False))
        out: list[tuple[str, Any]] = []
        for name in names:
            w = specs.get(name)
            value = w.show(self) if w is not None and callable(w.show) else getattr(self, name)
            if w is not None and w.hide_empty and (value is None or value == ""):
                continue
            if w is not None and w.expand and isinstance(value, dict):
                out += [(f"{name}.{k}", v) for k, v in value.items()]
            else:
                out.append((name, value))
        return out

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.rows())
        return f"{type(self).__name__}({fields})"
