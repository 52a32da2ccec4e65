"""CLIP's text cleaning: the fixes of ``ftfy.fix_text`` (but mojibake repair) and CLIP's own.

OpenAI's CLIP tokenizer runs ``ftfy.fix_text`` first. ftfy is not a dependency, so naikit applies the
same fixes except mojibake repair (``fix_encoding``): HTML entities (unless the text has a ``<``), C1
controls read as Windows-1252, Latin ligatures, full/half-width forms, curly quotes, line breaks,
surrogates, terminal escapes, control characters and NFC, repeated until nothing changes. Then CLIP's
own cleaning: HTML-unescape twice, collapse white space, lower-case. :func:`normalize` keeps, for each
character of the result, the span of the original text it came from.
"""

from __future__ import annotations

import bisect
import html
import re
import unicodedata
from html.entities import html5 as _HTML5

from .spans import WS, Spanned

__all__ = ["SURROGATE_RE", "normalize"]

_WS_RUN = re.compile(f"[{WS}]+")
_ENTITY_RE = re.compile(r"&#?[0-9A-Za-z]{1,24};")
_HTML_REF_RE = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")
_C1_RE = re.compile("[\x80-\x9f]")
_LINE_BREAK_RE = re.compile("\r\n|[\r\u2028\u2029\x85]")
_SURROGATE_PAIR_RE = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Quotes that ftfy straightens, Latin ligatures and digraphs it splits, controls it removes.
_QUOTES = {0x02BC: "'", **{c: "'" for c in range(0x2018, 0x201C)}, **{c: '"' for c in range(0x201C, 0x2020)}}
_LIGATURES = {
    0x0132: "IJ", 0x0133: "ij", 0x0149: "\u02bcn", 0x01F1: "DZ", 0x01F2: "Dz", 0x01F3: "dz",
    0x01C4: "D\u017d", 0x01C5: "D\u017e", 0x01C6: "d\u017e", 0x01C7: "LJ", 0x01C8: "Lj", 0x01C9: "lj",
    0x01CA: "NJ", 0x01CB: "Nj", 0x01CC: "nj", 0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi",
    0xFB04: "ffl", 0xFB05: "\u017ft", 0xFB06: "st",
}  # fmt: skip
_CONTROLS: dict[int, None] = dict.fromkeys(
    [
        *range(0x00, 0x09),
        0x0B,
        *range(0x0E, 0x20),
        0x7F,
        *range(0x206A, 0x2070),
        0xFEFF,
        *range(0xFFF9, 0xFFFD),
    ]
)

#: A UTF-16 surrogate (U+D800-U+DFFF): no UTF-8 form, so only CLIP's cleaning accepts one.
SURROGATE_RE = _SURROGATE_RE
_WIDTH: dict[int, str] = {}


def _width_map() -> dict[int, str]:
    # Full- and half-width forms as ftfy's width fix maps them (NFKC of U+FF01-U+FFEF), built once.
    if not _WIDTH:
        table = {0x3000: " "}
        for cp in range(0xFF01, 0xFFF0):
            alt = unicodedata.normalize("NFKC", chr(cp))
            if alt != chr(cp):
                table[cp] = alt
        _WIDTH.update(table)
    return _WIDTH


def _ftfy_entity(m: re.Match[str]) -> str:
    ref = m.group()
    name = ref[1:]
    entities = _HTML5
    if name in entities:
        return entities[name]
    if name.startswith("#"):
        out = html.unescape(ref)
        return ref if ";" in out else out
    # All-caps spellings of lower-case entity names (P&EACUTE;REZ), when not an entity themselves.
    low = name.lower()
    if name == name.upper() and low in entities and html.unescape(ref) == ref:
        return entities[low].upper()
    return ref


def _c1(m: re.Match[str]) -> str:
    try:
        return bytes([ord(m.group())]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D have no Windows-1252 meaning
        return m.group()


def _surrogate_pair(m: re.Match[str]) -> str:
    hi, lo = (ord(c) for c in m.group())
    return chr(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))


def normalize(text: str) -> Spanned:
    """Return ``text`` cleaned as CLIP's tokenizer cleans it (see the module docstring), with spans."""
    width = _width_map()
    s = Spanned.of(text)
    # ftfy leaves HTML alone from the first line that contains "<" onwards.
    first_lt = text.find("<")
    html_stop_orig = len(text) if first_lt < 0 else text.rfind("\n", 0, first_lt) + 1
    for _ in range(16):
        before = s.text
        stop = bisect.bisect_left(s.starts, html_stop_orig)
        if stop:
            s = s.sub(_ENTITY_RE, _ftfy_entity, stop)
        s = s.sub(_C1_RE, _c1)
        s = s.translate(_LIGATURES)
        s = s.translate(width)
        s = s.translate(_QUOTES)
        s = s.sub(_LINE_BREAK_RE, lambda m: "\n")
        if _SURROGATE_RE.search(s.text):
            s = s.sub(_SURROGATE_PAIR_RE, _surrogate_pair)
            s = s.sub(_SURROGATE_RE, lambda m: "\ufffd")
        s = s.sub(_ANSI_RE, lambda m: "")
        s = s.translate(_CONTROLS)
        s = s.nfc()
        if s.text == before:
            break
    # Then CLIP's own cleaning: HTML-unescape twice, collapse whitespace, lower-case.
    for _ in range(2):
        if "&" in s.text:
            s = s.sub(_HTML_REF_RE, lambda m: html.unescape(m.group()))
    s = s.strip()
    s = s.sub(_WS_RUN, lambda m: " ")
    return s.lower()
