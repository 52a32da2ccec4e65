"""naikit.novelai.document: msgpackr decoding (records, tags, bundled strings) against bytes packed by the
real msgpackr (JavaScript), the encoder's byte-exactness, and the story text of a document."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from naikit.novelai import document as d

FIXTURE = json.loads((Path(__file__).parent / "data" / "content" / "msgpackr_document.json").read_text())


@pytest.mark.parametrize("variant", ["records", "bundled", "maps"])
def test_msgpackr_packed_documents_decode(variant):
    doc = d.decode_document(FIXTURE["variants"][variant])
    assert doc.paragraphs == FIXTURE["paragraphs"]
    assert doc.text == "\n".join(FIXTURE["paragraphs"])
    # 16-digit section ids arrive as float64 and come back as the integers JavaScript sees
    assert all(isinstance(k, int) and k > 10**15 for k in doc.order)
    assert doc.value["small"] == [64, 100, 127, -5, 1.5, 4294967296, -2147483649]
    node = doc.value["history"]["nodes"][1424383245752401]
    assert node["date"] == dt.datetime(2023, 8, 15, 7, 40, 45, 104000, tzinfo=dt.timezone.utc)
    assert node["parent"] is d.UNDEFINED and list(node["children"]) == [1350048921598512]
    assert node["changes"][2141014204757573]["section"]["text"] == FIXTURE["paragraphs"][0]


def test_tags_are_kept_on_request():
    value = d.unpack(base64.b64decode(FIXTURE["variants"]["records"]))
    assert isinstance(value, d.Tagged) and value.tag == 20
    section = value.value["sections"][value.value["order"][0]]
    assert isinstance(section, d.Tagged) and section.tag == 30
    assert d.strip_tags(value) == d.unpack(base64.b64decode(FIXTURE["variants"]["records"]), tags=False)


def test_encoder_is_byte_exact_with_msgpackr():
    raw = base64.b64decode(FIXTURE["variants"]["records"])
    assert d.pack(d.unpack(raw)) == raw


def test_plain_msgpack_still_reads():
    import msgpack

    value = {"sections": {1: {"text": "a"}}, "order": [1], "n": [0, 63, -1, 2**40, "x" * 40]}
    assert d.unpack(msgpack.packb(value)) == value


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x92\x01", "unexpected end"),
        (b"\x01\x02", "left over"),
        (b"\xd4\x72\x40\x05", "key array"),
        (b"\xd6\x70" + bytes(4), "unknown structured-clone id"),
    ],
)
def test_malformed_data_says_where(raw, message):
    with pytest.raises(d.DocumentError, match=message):
        d.unpack(raw)


def test_document_errors():
    with pytest.raises(d.DocumentError, match="base64"):
        d.decode_document("***")
    with pytest.raises(d.DocumentError, match="sections"):
        d.decode_document(base64.b64encode(d.pack([1, 2])).decode())


_keys = st.one_of(st.text(max_size=8), st.integers(min_value=-(2**31), max_value=2**53 - 1))
_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer()),
    st.text(max_size=40),
    st.just(d.UNDEFINED),
)
_values = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(_keys, inner, max_size=5),
        st.builds(d.Tagged, st.sampled_from(d.NOVELAI_TAGS), inner),
        st.builds(d.MsgSet, st.lists(inner, max_size=3)),
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(_values)
def test_pack_unpack_round_trip(value):
    assert d.unpack(d.pack(value)) == value
