"""Strings that remember where each character came from, so tokens map back to the original text.

The CLIP cleaning and the T5 counter change the text before they tokenize it (entities, widths,
case, removed brackets); a :class:`Spanned` string carries, for each of its characters, the span of
the original text it came from, through every such step.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable
from typing import Any

__all__ = ["WS", "Spanned", "nfc_joiners"]

# Unicode White_Space (what the reference's regex-module ``\s`` matches) plus the C0 separators that
# Python's str.isspace() also counts; the latter are removed by the control-character step anyway.
WS = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_WS_START = re.compile(f"[{WS}]*")
_WS_ONE = re.compile(f"[{WS}]")


class Spanned:
    """A string and, for each of its characters, the [start, end) span of the original text it came from.

    Spans only ever grow monotonically along the string, so a range of characters maps back to
    ``(starts[a], ends[b - 1])``.
    """

    __slots__ = ("text", "starts", "ends")

    def __init__(self, text: str, starts: list[int], ends: list[int]):
        self.text = text
        self.starts = starts
        self.ends = ends

    @classmethod
    def of(cls, text: str) -> Spanned:
        """Return ``text`` with each character spanning itself."""
        return cls(text, list(range(len(text))), list(range(1, len(text) + 1)))

    def span(self, a: int, b: int) -> tuple[int, int]:
        """Return the span of the original text that characters ``a`` to ``b`` (exclusive) came from."""
        if a < b:
            return self.starts[a], self.ends[b - 1]
        edge = self.starts[a] if a < len(self.text) else (self.ends[-1] if self.text else 0)
        return edge, edge

    def sub(
        self, pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str], stop: int | None = None
    ) -> Spanned:
        """Return a copy with each match of ``pattern`` before character ``stop`` replaced by ``repl(m)``."""
        text = self.text
        out: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        pos = 0
        end = len(text) if stop is None else stop
        for m in pattern.finditer(text, 0, end):
            a, b = m.span()
            new = repl(m)
            if new == text[a:b]:
                continue
            out.append(text[pos:a])
            starts += self.starts[pos:a]
            ends += self.ends[pos:a]
            s, e = self.span(a, b)
            out.append(new)
            starts += [s] * len(new)
            ends += [e] * len(new)
            pos = b
        if not out:
            return self
        out.append(text[pos:])
        starts += self.starts[pos:]
        ends += self.ends[pos:]
        return Spanned("".join(out), starts, ends)

    def translate(self, table: dict[int, Any]) -> Spanned:
        """Return a copy translated by ``table`` (as ``str.translate``); new characters keep the span."""
        if self.text.translate(table) == self.text:
            return self
        out: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        for ch, s, e in zip(self.text, self.starts, self.ends, strict=False):
            new = ch.translate(table)
            out.append(new)
            starts += [s] * len(new)
            ends += [e] * len(new)
        return Spanned("".join(out), starts, ends)

    def lower(self) -> Spanned:
        """Return the lower-cased copy (a character that lower-cases to several keeps its span on each)."""
        low = self.text.lower()
        if len(low) == len(self.text):
            return Spanned(low, self.starts, self.ends)
        starts: list[int] = []
        ends: list[int] = []
        for ch, s, e in zip(self.text, self.starts, self.ends, strict=False):
            n = len(ch.lower())
            starts += [s] * n
            ends += [e] * n
        return Spanned(low, starts, ends)

    def nfc(self) -> Spanned:
        """Return the NFC-normalised copy, composed cluster by cluster so that spans survive."""
        if unicodedata.is_normalized("NFC", self.text):
            return self
        # Compose cluster by cluster (a starter and what may attach to it) so that spans survive.
        out: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        text = self.text
        i = 0
        while i < len(text):
            j = i + 1
            # A cluster takes the marks that follow (combining class > 0) and the starters that can
            # compose with what precedes them (Hangul jamo, U+09BE after U+09C7, ...): NFC joins those too.
            joins = nfc_joiners()
            while j < len(text) and (unicodedata.combining(text[j]) or text[j] in joins):
                j += 1
            new = unicodedata.normalize("NFC", text[i:j])
            s, e = self.span(i, j)
            out.append(new)
            starts += [s] * len(new)
            ends += [e] * len(new)
            i = j
        return Spanned("".join(out), starts, ends)

    def strip(self) -> Spanned:
        """Return the copy without leading and trailing Unicode white space."""
        m = _WS_START.match(self.text)
        a = m.end() if m else 0
        b = len(self.text)
        while b > a and _WS_ONE.match(self.text[b - 1]):
            b -= 1
        if a == 0 and b == len(self.text):
            return self
        return Spanned(self.text[a:b], self.starts[a:b], self.ends[a:b])


_NFC_JOINERS: frozenset[str] | None = None

# The starters that are second halves of canonical compositions, per Unicode version of ``unicodedata``
# (besides the Hangul jamo U+1160-U+11FF): read off once with :func:`_scan_nfc_joiners`, so the first
# non-NFC text does not pay a scan of every code point (0.3 s). A version not listed is scanned; a test
# checks the entry of the running Python's version against the scan.
_KNOWN_NFC_JOINERS: dict[str, tuple[int, ...]] = {
    "14.0.0": (
        0x09BE, 0x09D7, 0x0B3E, 0x0B56, 0x0B57, 0x0BBE, 0x0BD7, 0x0CC2, 0x0CD5, 0x0CD6, 0x0D3E, 0x0D57,
        0x0DCF, 0x0DDF, 0x102E, 0x1B35, 0x11127, 0x1133E, 0x11357, 0x114B0, 0x114BA, 0x114BD, 0x115AF,
        0x11930,
    ),
}  # fmt: skip
_HANGUL_JOINERS = range(0x1160, 0x1200)  # medial and final jamo: Hangul composes algorithmically


def nfc_joiners() -> frozenset[str]:
    """Return the characters of combining class 0 that NFC may compose with the character before them.

    These are the second halves of canonical compositions whose second character is a starter
    (Unicode's NFC_Quick_Check=Maybe starters), plus the Hangul medial and final jamo (Hangul syllables
    compose algorithmically, without decomposition entries).
    """
    global _NFC_JOINERS
    if _NFC_JOINERS is None:
        known = _KNOWN_NFC_JOINERS.get(unicodedata.unidata_version)
        found = {chr(cp) for cp in known} if known is not None else _scan_nfc_joiners()
        _NFC_JOINERS = frozenset(found | {chr(cp) for cp in _HANGUL_JOINERS})
    return _NFC_JOINERS


def _scan_nfc_joiners() -> set[str]:
    """Return the starters that are second halves of canonical compositions, read from ``unicodedata``
    by looking at every code point (Hangul aside)."""
    found: set[str] = set()
    for cp in range(sys.maxunicode + 1):
        d = unicodedata.decomposition(chr(cp))
        if not d or d.startswith("<"):
            continue
        parts = d.split()
        if len(parts) != 2:
            continue
        a, b = (chr(int(x, 16)) for x in parts)
        if not unicodedata.combining(b) and unicodedata.normalize("NFC", a + b) == chr(cp):
            found.add(b)
    return found
