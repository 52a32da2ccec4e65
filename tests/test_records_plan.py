"""naikit._records: what a record's parse plan and the converters' fast paths must keep.

The plan (worked out once per class) reads nested paths, nested records and ``raw`` as the per-call
reading did; ``to_int``/``to_timestamp`` take a shortcut for plain ints, which must give what the full
conversion gives at the edges (booleans, ints beyond a double). Expected values are written out by hand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import field
from typing import Any

import pytest

from naikit._records import Record, record, to_int, to_str, to_timestamp, wire
from naikit.errors import ResponseShapeError

UTC = dt.timezone.utc


@record(frozen=True)
class _Inner(Record):
    WHAT = "GET /inner"

    code: int = wire("code", int, to_int)


@record(frozen=True)
class _Outer(Record):
    WHAT = "GET /outer"

    name: str = wire("name", str, to_str)
    deep: int = wire("a.b.c", int, to_int)
    inner: _Inner = wire("box.inner", _Inner)
    whole: Any = wire("", object)
    raw: dict = field(compare=False)


def test_paths_nested_records_and_raw_are_read_each_time_the_same_way():
    body = {"name": "n", "a": {"b": {"c": 7}}, "box": {"inner": {"code": 3}}}
    for _ in range(3):  # the plan is made on the first parse and reused
        rec = _Outer.from_json(body)
        assert (rec.name, rec.deep, rec.inner, rec.whole, rec.raw) == ("n", 7, _Inner(3), body, body)
        assert rec.raw is body and rec.whole is body
    # missing parts read as missing: "" and 0, and the nested record from an empty object
    assert _Outer.from_json({}) == _Outer("", 0, _Inner(0), {}, {})
    # an object on the way to a field that is something else is drift, named by its path
    with pytest.raises(ResponseShapeError) as e:
        _Outer.from_json({"a": {"b": 5}})
    assert (e.value.field, e.value.problem) == ("a.b", "should be object or null but is int 5")


def test_a_nested_record_that_is_not_an_object_is_named_with_its_full_path():
    with pytest.raises(ResponseShapeError) as e:
        _Outer.from_json({"box": {"inner": [1]}})
    assert (e.value.what, e.value.field) == ("GET /outer", "box.inner")
    assert e.value.problem == "should be object or null but is list [1]"
    with pytest.raises(ResponseShapeError) as e:
        _Outer.from_json({"box": 3})
    assert (e.value.field, e.value.problem) == ("box", "should be object or null but is int 3")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, 7),
        (-3, -3),
        (2**1023, 2**1023),  # still converts to a finite double, so it is kept as is
        (2**1024, 0),  # beyond a double: not a number naikit reads
        (-(2**1024), 0),
        (True, 0),  # a boolean is not a number
        (2.9, 2),
        ("5", 0),
        (None, 0),
    ],
)
def test_to_int(value: Any, expected: int) -> None:
    out = to_int(value)
    assert out == expected and type(out) is int


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # 1_900_000_000 s: 21,990 days (2030-03-17) and 64,000 s (17:46:40)
        (1_900_000_000, dt.datetime(2030, 3, 17, 17, 46, 40, tzinfo=UTC)),
        (0, dt.datetime(1970, 1, 1, tzinfo=UTC)),
        (-1, dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)),
        # above 10**11 the value is read as milliseconds
        (1_789_956_770_123, dt.datetime(2026, 9, 21, 2, 12, 50, 123000, tzinfo=UTC)),
        (2**1024, None),
        (True, None),
        (10**15 * 400, None),  # milliseconds beyond year 9999
    ],
)
def test_to_timestamp(value: Any, expected: dt.datetime | None) -> None:
    assert to_timestamp(value) == expected
