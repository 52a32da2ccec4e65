# ruff: noqa: E501  (hypothesis strategies read best on one line)
"""The V5 / msgpack image stream reader (naikit.novelai.image_stream.msgpack_frames): frames split at every chunk
boundary read the same; any other bytes end in a naikit error, never a raw exception (hypothesis)."""

from __future__ import annotations

import asyncio

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from naikit.errors import APIError, NaikitError, ResponseShapeError
from naikit.novelai.image_stream import msgpack_frames


def _frame(event: dict) -> bytes:
    packed = msgpack.packb(event, use_bin_type=True)
    return len(packed).to_bytes(4, "big") + packed


EVENTS = [
    {"event_type": "intermediate", "samp_ix": 0, "step_ix": 4, "image": b"\xff\xd8jpeg"},
    {"event_type": "intermediate", "samp_ix": 1, "step_ix": 4, "image": b"\xff\xd8jpeg2"},
    {"event_type": "final", "samp_ix": 0, "image": b"\x89PNG final 0"},
    {"event_type": "final", "samp_ix": 1, "image": b"\x89PNG final 1"},
]
STREAM = b"".join(_frame(e) for e in EVENTS)


def _read(chunks: list[bytes]) -> list[dict]:
    async def gen():
        for c in chunks:
            yield c

    async def run():
        return [d async for d in msgpack_frames(gen())]

    return asyncio.run(run())


def test_every_two_way_split_reads_the_same_events():
    for cut in range(len(STREAM) + 1):
        assert _read([STREAM[:cut], STREAM[cut:]]) == EVENTS


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, len(STREAM)), max_size=12))
def test_any_chunking_reads_the_same_events(cuts):
    cuts = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)], strict=True)]
    assert _read(chunks) == EVENTS


def test_error_event_and_truncated_stream_are_naikit_errors():
    with pytest.raises(APIError) as err:
        _read([_frame({"event_type": "error", "message": "out of capacity", "samp_ix": 0})])
    assert "out of capacity" in str(err.value)
    with pytest.raises(ResponseShapeError):
        _read([STREAM[:-3]])
    with pytest.raises(ResponseShapeError):
        _read([_frame({"event_type": "final", "samp_ix": "0", "image": b"x"})])


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 200))
def test_random_bytes_end_in_naikit_errors_only(data, cut):
    try:
        _read([data[:cut], data[cut:]])
    except NaikitError:
        pass


@settings(max_examples=500, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=5) | st.binary(max_size=5),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                    max_leaves=10))  # fmt: skip
def test_any_msgpack_value_in_a_frame_is_read_or_refused(value):
    try:
        out = (
            _read([_frame(value)])
            if isinstance(value, dict)
            else _read([len(p := msgpack.packb(value)).to_bytes(4, "big") + p])
        )
    except NaikitError:
        return
    assert all(isinstance(d, dict) for d in out)
