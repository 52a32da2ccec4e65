"""The text the context builder works on, as the website reads it: sentence splitting, lorebook key
matching (plain keys as whole words, ``/regex/flags`` keys), ``##`` comment stripping and a memoised
encoder."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from ._story_parts import LoreEntry

_TERMINATORS = frozenset(".!?\xbf\xa1؟。？！")
_SPACES = frozenset(" \n")
_CLOSERS = frozenset("})]")
_QUOTES = frozenset('“”"「」')
_ABBREVIATIONS = ("dr", "mr", "mrs", "ms", "esq")
_NOT_ABBREV_CONT = re.compile(r"[^\d.A-Z]")
_AZ_RANGE = re.compile(r"[A-z]")


def split_sentences(text: str) -> list[str]:
    """Return ``text`` cut into sentences as the site cuts them (pieces join back to ``text``).

    A sentence ends at ``.!?`` (and their CJK/Spanish forms) or a newline, taking along following
    spaces, newlines, dots and closing brackets; text in quotes is not cut except at a newline;
    ``Mr.``/``Dr.``... and ``3.5`` or ``e.g.`` do not end a sentence.
    """
    out: list[str] = []
    in_quote = False
    start = 0
    end = 0
    after = False  # just after a terminator
    dot = False  # the terminator was "."
    skip = False  # inside an abbreviation such as "e.g."
    for d, c in enumerate(text):
        if skip:
            if not _NOT_ABBREV_CONT.match(c):
                continue
            skip = False
        if c in _QUOTES:
            in_quote = not in_quote
        if in_quote:
            if c != "\n":
                continue
            end = d + 1
            out.append(text[start:end])
            start = end
            after = dot = in_quote = False
            continue
        if after:
            if dot and c.isdigit() and c.isascii():
                after = False
                continue
            if dot and _AZ_RANGE.match(c):
                after = False
                skip = True
                continue
            if c == "." or c in _SPACES or c in _CLOSERS:
                end = d + 1
            else:
                out.append(text[start:end])
                start = end
                after = False
            dot = False
            continue
        dot = False
        if c in _TERMINATORS or c == "\n":
            if c == ".":
                if any(text[max(0, d - len(a)) : d].lower() == a and d >= len(a) for a in _ABBREVIATIONS):
                    continue
                dot = True
            end = d + 1
            after = True
    rest = text[start:]
    if rest != "":
        out.append(rest)
    return out


def _split_lines(text: str) -> list[str]:
    # JS ``text.split(/(?=^)/m)``: pieces each ending with their newline; "" gives no piece
    if not text:
        return []
    return (
        text.splitlines(keepends=True) if "\r" not in text else re.split(r"(?<=\n)(?=.|\n)", text, flags=re.S)
    )


# ----------------------------------------------------------------------------------- keys


_FLAGS = {"i": re.I, "m": re.M, "s": re.S, "u": 0}


def _parse_regex_key(key: str) -> tuple[str, str] | None:
    # the site's rule: "/pattern/flags", at most one character before the first "/", flags from s,i,u,m
    if len(key) < 3 or "/" not in key:
        return None
    lead = key[: key.index("/")]
    flags = key[key.rindex("/") + 1 :]
    body = key[key.index("/") + 1 : key.rindex("/")]
    if not body or len(lead) > 1 or len(flags) > 4:
        return None
    ok = True
    for f in flags:
        ok = f in _FLAGS
    return (body, flags) if ok else None


_WORD = "A-Za-z0-9_"


@lru_cache(maxsize=8192)
def _key_patterns(key: str) -> tuple[list[re.Pattern[str]], bool]:
    # memoised like the site's own key parser (its cache holds 50); raises re.error for a broken regex
    rx = _parse_regex_key(key)
    if rx is not None:
        body, flags = rx
        fl = 0
        for f in flags:
            fl |= _FLAGS[f]
        # JS named groups (?<name>...) -> Python (?P<name>...)
        body = re.sub(r"\(\?<(?![=!])", "(?P<", body)
        return [re.compile(body, fl)], True
    pats = []
    for part in key.split("&"):
        p = part.strip()
        if not p:
            continue
        # \b only where the key starts/ends with an (ASCII) word character, as the site adds it
        left = "" if re.match(rf"[^{_WORD}]", p[0]) else rf"(?<![{_WORD}])"
        right = "" if re.match(rf"[^{_WORD}]", p[-1]) else rf"(?![{_WORD}])"
        pats.append(re.compile(left + re.escape(p) + right, re.I))
    return pats, False


@lru_cache(maxsize=8192)
def _plain_parts(key: str) -> tuple[tuple[str, bool, bool], ...] | None:
    # (lower-cased part, needs a word boundary before, after) for an ASCII plain key; None otherwise
    if not key.isascii() or _parse_regex_key(key) is not None:
        return None
    out = []
    for part in key.split("&"):
        p = part.strip()
        if p:
            out.append((p.lower(), _is_word(p[0]), _is_word(p[-1])))
    return tuple(out)


def _is_word(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "_")


def _literal_matches(text: str, part: str, left: bool, right: bool, first: bool) -> list[int]:
    """Start offsets of ``part`` in ``text`` as a left-to-right regex scan finds them (non-overlapping),
    with an ASCII word boundary required before/after where ``left``/``right``."""
    out: list[int] = []
    n = len(part)
    pos = 0
    while True:
        i = text.find(part, pos)
        if i < 0:
            return out
        ok = (not left or i == 0 or not _is_word(text[i - 1])) and (
            not right or i + n >= len(text) or not _is_word(text[i + n])
        )
        if ok:
            out.append(i)
            if first:
                return out
            pos = i + max(n, 1)
        else:
            pos = i + 1


def match_keys(text: str, keys: Sequence[str], *, first: bool = True) -> tuple[str, int, int]:
    """Return ``(key, index, length)`` of the key match in ``text`` (index -1: none).

    ``first``: the first key (in order) that matches, at its first match; otherwise the latest match
    of any key (the site's two modes). A broken regular expression key is skipped, as on the site.
    """
    best: re.Match[str] | None = None
    best_key = ""
    best_regex = False
    ascii_text = text.isascii()
    lowered: str | None = None
    best_plain: tuple[int, int] | None = None  # (index, length) of the latest plain-key match so far
    for key in keys:
        if not key:
            continue
        plain = _plain_parts(key) if ascii_text else None
        if plain is not None:
            # ASCII text and key: the same matches as the key's regex, found without compiling one
            if lowered is None:
                lowered = text.lower()
            if not plain:
                continue
            found = [_literal_matches(lowered, p, lb, rb, first) for p, lb, rb in plain]
            if not all(found):
                continue
            if first:
                return key, found[0][0], len(plain[0][0])
            last = found[0][-1]
            cur = best.start() if best is not None else (best_plain[0] if best_plain else -1)
            if last > cur:
                best, best_plain, best_key, best_regex = None, (last, len(plain[0][0])), key, False
            continue
        try:
            pats, is_regex = _key_patterns(key)
        except re.error:
            continue
        if not pats:
            continue
        if first:
            ms = [p.search(text) for p in pats]
            if all(m is not None for m in ms):
                m0 = ms[0]
                assert m0 is not None
                return key, m0.start(), len(m0.group(0))
            continue
        alls = [list(p.finditer(text)) for p in pats]
        if all(alls):
            for m in alls[0]:
                here = best.start() if best is not None else (best_plain[0] if best_plain else None)
                if here is None or m.start() > here:
                    best, best_plain, best_key, best_regex = m, None, key, is_regex
    if best is None:
        if best_plain is not None:
            return best_key, best_plain[0], best_plain[1]
        return best_key, -1, 0
    if best_regex and "hl" in best.re.groupindex and best.group("hl") is not None:
        return best_key, best.start("hl"), len(best.group("hl"))
    return best_key, best.start(), len(best.group(0))


def _entry_match(entry: LoreEntry, text: str, *, first: bool, whole: bool = False) -> tuple[str, float]:
    # the site's per-entry check: disabled never, forced always (index Infinity), else keys in range
    if not entry.enabled:
        return "", -1
    if entry.force_activation:
        return "", math.inf
    rng = entry.search_range
    s = text if whole else (text[-rng:] if rng else text)
    key, idx, _ = match_keys(s, entry.keys, first=first)
    return key, (idx if idx < 0 else max(len(text) - rng, 0) + idx)


def _strip_comments(text: str) -> str:
    return re.sub(r"^##.*\n?", "", text, flags=re.M)


def _field_text(text: str) -> str:
    t = _strip_comments(text)
    if t.endswith("\n") and not text.endswith("\n"):
        t = t[:-1]
    return t


def _budget(value: float, total: int) -> int:
    return int(value) if value > 1 else math.floor(value * total)


class _Enc:
    """Memoised encode (the builder encodes the same strings many times)."""

    def __init__(self, tok: Any):
        self.tok = tok
        self.cache: dict[str, list[int]] = {}

    def encode(self, text: str) -> list[int]:
        got = self.cache.get(text)
        if got is None:
            got = list(self.tok.encode(text))
            if len(self.cache) < 50_000:
                self.cache[text] = got
        return got

    def n(self, text: str) -> int:
        return len(self.encode(text))

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(list(ids))
