"""naikit._shapes: the compiled shape check accepts what the shape language accepts, and refuses with the
same ResponseShapeError (what, field path, problem) the field-by-field reading always gave.

Two kinds of test. The hand-written cases spell out the expected verdicts and messages literally, worked
from the rules in the module's docstring. The hypothesis test is a refactor-equivalence check: it compares
the compiled check with the interpreter it replaced on the fast path (``_interpret``, the former body of
``check``), on random shapes of the documented language and random JSON values, many of them built to
nearly fit the shape. Comparing two implementations proves only that they agree, which is what a speed
refactor has to keep; what the rules mean is pinned by the literal cases.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from naikit import _shapes
from naikit._shapes import Number, check
from naikit.errors import ResponseShapeError

HINT = (
    ". The API may have changed; pass validate=False to the client to accept it anyway, and please report it."
)


def verdict(value: Any, shape: Any, what: str = "GET /x") -> str | None:
    """Return None when ``check`` accepts ``value`` (returning it unchanged), else the error's text; the
    check runs twice, so the second call goes through the compiled check (a shape is compiled on its second
    check), and both calls must agree."""
    out = []
    for _ in range(2):
        try:
            assert check(value, shape, what) is value
            out.append(None)
        except ResponseShapeError as e:
            assert str(e) == f"{e.what}: field {e.field!r} {e.problem}" + HINT
            out.append(f"{e.field} {e.problem}")
    assert out[0] == out[1], out
    return out[1]


# ------------------------------------------------------------------------------------------ literal cases


def test_a_complete_body_passes_and_extra_fields_are_allowed():
    shape = {"id": str, "n": Number, "tags": [str], "meta?": {"k": int}}
    assert verdict({"id": "a", "n": 1.5, "tags": ["x", "y"], "extra": [1, {}]}, shape) is None
    assert verdict({"id": "a", "n": 2, "tags": [], "meta": {"k": 0}}, shape) is None


def test_missing_and_mistyped_fields_are_named_with_their_path():
    shape = {"id": str, "list": [{"n": Number}], "sub": {"deep": {"flag": bool}}}
    good = {"id": "a", "list": [{"n": 1}], "sub": {"deep": {"flag": True}}}
    assert verdict({"list": [], "sub": {"deep": {"flag": True}}}, shape) == "id is missing"
    assert verdict({**good, "id": 7}, shape) == "id should be string but is int 7"
    assert (
        verdict({**good, "list": [{"n": 1}, {"n": "2"}]}, shape)
        == "list[1].n should be number but is str '2'"
    )
    assert verdict({**good, "list": [{"n": 1}, {}]}, shape) == "list[1].n is missing"
    assert (
        verdict({**good, "sub": {"deep": {"flag": 1}}}, shape)
        == "sub.deep.flag should be boolean but is int 1"
    )
    assert verdict({**good, "sub": {"deep": None}}, shape) == "sub.deep should be object but is null"
    assert verdict({**good, "list": {"n": 1}}, shape) == "list should be list of object but is dict {'n': 1}"


def test_the_body_itself_is_named_body():
    assert verdict([], {"a": int}) == "(body) should be object but is list []"
    assert verdict("x", [str]) == "(body) should be list of string but is str 'x'"
    assert verdict(None, (str, Number)) == "(body) should be string or number but is null"


def test_integer_and_number_refuse_booleans_and_number_takes_floats():
    assert verdict({"a": True}, {"a": int}) == "a should be integer but is bool True"
    assert verdict({"a": False}, {"a": Number}) == "a should be number but is bool False"
    assert verdict({"a": 1.0}, {"a": int}) == "a should be integer but is float 1.0"
    assert verdict({"a": 1.0}, {"a": Number}) is None
    assert verdict({"a": 1}, {"a": float}) == "a should be number but is int 1"
    assert verdict({"a": True}, {"a": bool}) is None


def test_optional_fields_may_be_missing_or_null_required_ones_may_not():
    assert verdict({}, {"a?": int}) is None
    assert verdict({"a": None}, {"a?": int}) is None  # optional newer fields may come back null
    assert verdict({"a": None}, {"a?": {"k": str}}) is None
    assert verdict({"a": None}, {"a": int}) == "a should be integer but is null"
    assert verdict({"a": "1"}, {"a?": int}) == "a should be integer but is str '1'"
    assert verdict({"a": None}, {"a": (int, None)}) is None


def test_object_accepts_anything_and_extra_keys_never_matter():
    assert verdict({"a": [1, {"b": None}]}, {"a": object}) is None
    assert verdict({"a": None}, {"a": object}) is None
    assert verdict({"a": 1}, {"a": object, "b": object}) == "b is missing"


def test_every_object_alternative_is_checked_in_full_on_an_object():
    # a nullable object: the object is checked field by field
    assert verdict({"x": {}}, {"x": ({"k": str}, None)}) == "x.k is missing"
    assert verdict({"x": None}, {"x": ({"k": str}, None)}) is None
    # two object alternatives: an object must satisfy both
    assert verdict({"a": 1}, ({"a": int}, {"b": str})) == "b is missing"
    assert verdict({"a": 1, "b": "x"}, ({"a": int}, {"b": str})) is None
    # a list alternative is checked item by item on a list, not on an object
    assert verdict([1, "2"], ([int], {"a": int})) == "[1] should be integer but is str '2'"
    assert verdict({"a": 1}, ([int], {"a": int})) is None
    # an alternative nested in an alternative is only a type: its fields are not looked at
    assert verdict({}, (({"k": str},), None)) is None
    assert verdict(5, (({"k": str},), None)) == "(body) should be object or null but is int 5"


def test_a_long_value_is_cut_in_the_message():
    text = "x" * 60
    # the repr's first 40 characters: the quote and 39 x
    assert verdict({"a": text}, {"a": int}) == "a should be integer but is str '" + "x" * 39 + "…"


def test_an_ordered_dict_is_an_object_too():
    # a dict subclass is left to the interpreter, which reads it as an object
    shape = {"a": int, "b?": [str]}
    assert verdict(OrderedDict(a=1, b=["x"]), shape) is None
    assert verdict(OrderedDict(b=["x"]), shape) == "a is missing"
    assert (
        verdict({"a": 1, "b": OrderedDict()}, shape)
        == "b should be list of string but is OrderedDict OrderedDict()"
    )


def test_a_shape_that_contains_itself_is_interpreted():
    loop: list[Any] = []
    loop.append(loop)
    assert verdict([[], [[]]], loop) is None  # (a refusal cannot be worded: its type name never ends)


def test_shapes_made_on_the_fly_neither_grow_the_caches_nor_evict_compiled_ones():
    kept = {"kept": int}
    check({"kept": 1}, kept, "GET /x")
    check({"kept": 1}, kept, "GET /x")
    compiled = _shapes._CHECKERS[id(kept)]
    for i in range(5000):
        check({"n": i}, {"n": int}, "GET /x")  # a fresh shape each time, as a literal in a function is
    assert len(_shapes._CHECKERS) <= 4096 and len(_shapes._SEEN) <= 4096
    assert _shapes._CHECKERS[id(kept)] is compiled, "a flood of one-off shapes left the compiled one alone"


def test_a_module_level_shape_is_compiled_on_its_second_check():
    shape = {"a": int, "b?": (str, None)}
    check({"a": 1}, shape, "GET /x")
    assert id(shape) not in _shapes._CHECKERS and _shapes._SEEN[id(shape)] is shape
    check({"a": 1}, shape, "GET /x")
    pred = _shapes._CHECKERS[id(shape)][1]
    assert pred.__name__ == "check" and pred({"a": 2, "b": None}) and not pred({"a": "2"})


def test_odd_shapes_are_left_to_the_interpreter():
    # a key that is not a string: the interpreter only trips on it when the value is an object
    odd = {1: int}
    assert verdict("x", odd) == "(body) should be object but is str 'x'"
    # nesting deeper than Python can compile in one function: the closures check it
    deep: Any = int
    for _ in range(60):
        deep = [deep]
    value: Any = 1
    for _ in range(60):
        value = [value]
    assert verdict(value, deep) is None
    assert _shapes._CHECKERS[id(deep)][1].__name__ == "seq"


# ------------------------------------------------------------------------------------------ equivalence

_LEAVES: list[Any] = [None, Number, int, float, str, bool, dict, list, object]
_KEYS = ["a", "b", "c"]
_ODD: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -7,
    2**70,
    1.5,
    -0.0,
    float("nan"),
    "",
    "a",
    [],
    {},
    [None],
    {"a": None},
]


def random_shape(rng: random.Random, depth: int = 0) -> Any:
    """Return a random shape of the documented language: leaves, objects with plain and ``?`` keys, one-item
    lists and tuples of alternatives, at most four levels deep."""
    roll = rng.random()
    if depth >= 4 or roll < 0.4:
        return rng.choice(_LEAVES)
    if roll < 0.7:
        return {
            rng.choice(_KEYS) + ("?" if rng.random() < 0.4 else ""): random_shape(rng, depth + 1)
            for _ in range(rng.randrange(4))
        }
    if roll < 0.82:
        return [random_shape(rng, depth + 1)]
    return tuple(random_shape(rng, depth + 1) for _ in range(rng.randrange(1, 4)))


def random_json(rng: random.Random, depth: int = 0) -> Any:
    """Return a random JSON value with the same keys as the shapes use."""
    roll = rng.random()
    if depth < 4 and roll < 0.2:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    if depth < 4 and roll < 0.4:
        return {rng.choice(_KEYS): random_json(rng, depth + 1) for _ in range(rng.randrange(4))}
    if roll < 0.8:
        return rng.choice(_ODD)
    return "".join(rng.choice("ab\u00e9") for _ in range(rng.randrange(50)))


def fitting(shape: Any, rng: random.Random, depth: int = 0) -> Any:
    """Return a JSON value built to fit ``shape``, with now and then a node replaced by random JSON, a key
    dropped or a null put in, so that values near the boundary of the shape come up often."""
    if rng.random() < 0.08:
        return random_json(rng, depth)
    if isinstance(shape, tuple):
        return fitting(rng.choice(shape), rng, depth)
    if isinstance(shape, list):
        return [fitting(shape[0], rng, depth + 1) for _ in range(rng.randrange(3))]
    if isinstance(shape, dict):
        out = {}
        for key, sub in shape.items():
            name = key.rstrip("?")
            if (key.endswith("?") and rng.random() < 0.3) or rng.random() < 0.03:
                continue
            out[name] = None if key.endswith("?") and rng.random() < 0.2 else fitting(sub, rng, depth + 1)
        if rng.random() < 0.3:
            out[rng.choice(_KEYS) + "x"] = random_json(rng, depth + 1)  # an undeclared field
        return out
    return {
        None: None,
        Number: rng.choice([0, 3, 2.5, -1e300]),
        int: rng.choice([0, -4, 2**64]),
        float: rng.choice([0.5, -2.0]),
        str: rng.choice(["", "x"]),
        bool: rng.choice([True, False]),
        dict: {"a": 1},
        list: [1, "x"],
        object: random_json(rng, depth),
    }[shape]


def interpreted(value: Any, shape: Any) -> tuple[str, str, str] | None:
    try:
        _shapes._interpret(value, shape, "GET /x", "")
    except ResponseShapeError as e:
        return (e.what, e.field, e.problem)
    return None


def compiled(value: Any, shape: Any) -> tuple[str, str, str] | None:
    for _ in range(2):  # the second check runs the compiled predicate
        try:
            assert check(value, shape, "GET /x") is value
        except ResponseShapeError as e:
            last: tuple[str, str, str] | None = (e.what, e.field, e.problem)
        else:
            last = None
    return last


@given(st.integers(0, 2**64))
def test_the_compiled_check_agrees_with_the_interpreter(seed: int) -> None:
    rng = random.Random(seed)
    shape = random_shape(rng)
    for value in (fitting(shape, rng), fitting(shape, rng), random_json(rng)):
        expected = interpreted(value, shape)
        assert compiled(value, shape) == expected, (shape, value)
        # the fast paths themselves say yes to every JSON value the language accepts (none falls back):
        # the predicates made of closures, and the generated function of an object or a list shape
        assert _shapes._closure(shape)(value) is (expected is None), (shape, value)
        if isinstance(shape, (dict, list)):
            assert _shapes._generate(shape)(value) is (expected is None), (shape, value)


@pytest.mark.parametrize(
    "shape",
    [
        {"a": int, "b?": [{"c": (Number, None)}], "d": (str, {"e": bool})},
        [({"a?": [int]}, [str], None)],
        ((int, (str, None)), [object]),
    ],
)
def test_hand_picked_shapes_agree_on_many_values(shape: Any) -> None:
    rng = random.Random(1)
    for _ in range(300):
        value = fitting(shape, rng)
        assert compiled(value, shape) == interpreted(value, shape), value
