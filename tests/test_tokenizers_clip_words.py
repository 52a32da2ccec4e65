"""CLIP's word pattern without a scan of Unicode: the same words as the spelled-out class pattern.

The reference tokenizer splits words with the ``regex`` module's ``\\p{L}``/``\\p{N}`` classes. naikit
used to spell those classes out from ``unicodedata`` (a scan of every code point on first use); it now
matches an ASCII pattern on stand-in characters (:func:`naikit.tokenizers.clip.pre_tokenize`). The old
builder is kept here, verbatim, as the expectation, and every code point is checked against it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import unicodedata
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from naikit.tokenizers.clip import pre_tokenize
from naikit.tokenizers.spans import WS

ROOT = Path(__file__).resolve().parents[1]


def _category_class(prefixes: tuple[str, ...]) -> str:
    # naikit's former builder (naikit/tokenizers.py before the split), kept as the expectation
    ranges: list[tuple[int, int]] = []
    start = -1
    for cp in range(sys.maxunicode + 1):
        inside = 0xD800 > cp or cp > 0xDFFF
        inside = inside and unicodedata.category(chr(cp)).startswith(prefixes)
        if inside and start < 0:
            start = cp
        elif not inside and start >= 0:
            ranges.append((start, cp - 1))
            start = -1
    if start >= 0:
        ranges.append((start, sys.maxunicode))
    return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


_OLD: list[re.Pattern[str]] = []


def old_pattern() -> re.Pattern[str]:
    if not _OLD:
        letters = _category_class(("L",))
        numbers = _category_class(("N",))
        _OLD.append(
            re.compile(
                r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d"
                f"|[{letters}]+|[{numbers}]|[^{WS}{letters}{numbers}]+"
            )
        )
    return _OLD[0]


def old_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in old_pattern().finditer(text)]


def test_every_code_point_is_classed_as_before():
    # Each code point c appears as "ca c! ": a letter joins "a" but not "!", anything else joins "!"
    # but not "a", a number joins neither, white space is skipped; so every class gives other spans.
    for lo in range(0, sys.maxunicode + 1, 0x10000):
        text = "".join(f"{chr(cp)}a {chr(cp)}! " for cp in range(lo, min(lo + 0x10000, sys.maxunicode + 1)))
        assert pre_tokenize(text) == old_spans(text), f"plane starting U+{lo:04X}"


def test_literals_contractions_and_runs():
    for text in [
        "<|startoftext|>a photo of ça'sé'll 12 <|endoftext|>",
        "it's we'll they're i've i'm he'd don't",
        "!'s ?'ll <|endoftext|><|startoftext|> <|start <|endoftext",
        "１２３ ⅻ ½ ٣ 一 漢字 かな 😀👍🏽 ᾯ ǅ ß İ",
        "a\u00a0b\u2003c\u3000d\u0085e\x1cf",
        "x'ſ 'ſ 'Ｓ",
        "",
        "   ",
    ]:
        assert pre_tokenize(text) == old_spans(text), text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=()), max_size=60))
def test_random_text_splits_as_before(text):
    assert pre_tokenize(text) == old_spans(text)


def test_first_use_reads_only_the_characters_of_the_text():
    # No scan of Unicode: the stand-in table holds the characters met so far and nothing else.
    code = (
        "import naikit.tokenizers.clip as c; c.pre_tokenize('héllo wörld 漢字 ½'); "
        "print(sorted(chr(k) for k in c._STAND_INS if k >= 0x80))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(sorted("éö漢字½"))
