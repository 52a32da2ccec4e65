"""The NFC joiners (starters that compose with the character before them) come from a table for known
Unicode versions instead of a scan of every code point; the table must be what the scan finds."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from naikit.tokenizers import spans
from naikit.tokenizers.spans import Spanned, nfc_joiners


def test_the_table_of_this_unicode_version_is_what_the_scan_finds():
    scanned = spans._scan_nfc_joiners()
    known = spans._KNOWN_NFC_JOINERS.get(unicodedata.unidata_version)
    if known is not None:
        assert {chr(cp) for cp in known} == scanned
    hangul = {chr(cp) for cp in range(0x1160, 0x1200)}
    assert nfc_joiners() == frozenset(scanned | hangul)


def test_some_joiners_by_hand():
    # U+09CB BENGALI VOWEL SIGN O = U+09C7 U+09BE; U+0B4C = U+0B47 U+0B57; U+AC00 = U+1100 U+1161
    joins = nfc_joiners()
    assert {"\u09be", "\u0b57", "\u1161", "\u11a8"} <= joins
    assert "a" not in joins and "\u0301" not in joins  # a mark has combining class > 0: not listed


# pieces that compose with their neighbours in NFC: Hangul jamo, Indic two-part vowels, Latin + marks
_ALPHABET = "\u1100\u1161\u11a8\u09c7\u09be\u09d7\u0b47\u0b3e\u0b56\u0b57aeA\u0301\u0327\u0308 \u00e9"


@given(st.text(alphabet=_ALPHABET, max_size=30))
def test_span_preserving_nfc_equals_unicodedata(text):
    assert Spanned.of(text).nfc().text == unicodedata.normalize("NFC", text)
