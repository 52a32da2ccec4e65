"""The length-prefixed frame decoder against an independent reading of the same bytes, under any split."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from naikit import errors
from naikit._framing import FrameDecoder


def _reference(raw: bytes) -> tuple[list[bytes], int]:
    """Read frames off the whole input at once: 4-byte big-endian length, payload; return (payloads, rest)."""
    out, pos = [], 0
    while len(raw) - pos >= 4:
        n = int.from_bytes(raw[pos : pos + 4], "big")
        if len(raw) - pos - 4 < n:
            break
        out.append(raw[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out, len(raw) - pos


def _split(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(raw) + 1) for c in cuts})
    edges = [0, *points, len(raw)]
    return [raw[a:b] for a, b in zip(edges, edges[1:], strict=False)]


@given(
    payloads=st.lists(st.binary(max_size=300), max_size=12),
    tail=st.binary(max_size=40),
    cuts=st.lists(st.integers(0, 10_000), max_size=30),
    kind=st.sampled_from([bytes, bytearray, memoryview]),
)
def test_any_split_gives_the_frames_of_the_whole(payloads, tail, cuts, kind):
    raw = b"".join(len(p).to_bytes(4, "big") + p for p in payloads) + tail
    want, rest = _reference(raw)
    dec = FrameDecoder(max_frame=2**32)  # any length a tail declares is allowed here
    got = [f for c in _split(raw, cuts) for f in dec.feed(kind(c))]
    assert got == want and all(type(f) is bytes for f in got)
    assert dec.pending == rest and dec.frames_seen == len(want)


def test_a_big_frame_is_held_as_the_pieces_that_came():
    # a 64 KiB frame in 1 KiB pieces: held as they arrived (no buffer regrown per piece), joined once
    payload = bytes(range(256)) * 256
    raw = len(payload).to_bytes(4, "big") + payload
    pieces = [raw[i : i + 1024] for i in range(0, len(raw), 1024)]
    dec = FrameDecoder()
    for i, piece in enumerate(pieces[:-1]):
        assert dec.feed(piece) == []
        assert dec.pending == (i + 1) * 1024 and len(dec._buf) == i + 1
    assert dec.feed(pieces[-1]) == [payload]
    assert dec.pending == 0 and dec._buf == []


def test_a_length_split_across_chunks_is_checked_against_the_limit():
    dec = FrameDecoder(max_frame=10)
    assert dec.feed(b"\x00\x00") == []
    with pytest.raises(errors.StreamIncomplete, match="declares 11 bytes"):
        dec.feed(b"\x00\x0b")
