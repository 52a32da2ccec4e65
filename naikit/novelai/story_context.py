"""The context the NovelAI website builds from a story: which lore fires, what is trimmed, what is sent.

A pure function of a :class:`~naikit.novelai.story.Story`, a token limit and a tokenizer (any object with
``encode`` and ``decode``), following the website's code (January 2026 builds; module 16394 of chunk
``2751-38b954da8d0ef061.js`` for the builder, module 19295 of ``_app-192d861dd8bcc7c3.js`` for key
matching, module 53925 for ephemeral entries):

Native models (Kayra, Erato, ...):

1. The story is cut to its last 150,000 characters (trim-top story config) and lines starting ``##``
   are removed from every text.
2. Lorebook keys are searched in the last 50,000 characters of that, each entry within its own
   ``search_range`` from the end. Plain keys are case-insensitive whole words (``a & b`` needs both);
   ``/regex/flags`` keys are regular expressions. With ``order_by_key_locations`` off the first
   matching key counts, else the latest match of any key.
3. Activated entries are ordered by where their key matched (latest first; forced ones first).
   Entries with ``non_story_activatable`` are tried again, repeatedly, against memory, the author's note,
   ephemeral text and the activated entries (cascading).
4. Every section (story, memory, AN, entries, ephemeral) is sorted by ``budget_priority`` (highest
   first). Each reserves ``min(reserved_tokens, its size)`` up front; then in order each gets
   ``min(remaining - reserved + own reservation, token_budget)`` tokens, is trimmed to fit (newline,
   then sentence, then token trimming, down to its ``maximum_trim_type``; ``doNotTrim`` drops it) and
   inserted into the text built so far at ``insertion_position`` counted in ``insertion_type`` units,
   moved to the nearest edge of a section it would split unless that section allows insertion
   inside (the story does).

GLM (GLM-4.6, Xialong): entries fire on keys in the last ``3 * token_limit`` characters (no search
range), budgets come from fixed shares (half the window for system prompt, memory and forced lore,
1,024 tokens kept for the story plus 128 for the scaffolding), the story is kept by whole lines from
the bottom, then :func:`naikit.novelai.glm_prompt.build_prompt` lays it out and story paragraphs are
dropped from the top if the rendered prompt is still too long. A ``window`` cache (a dict kept between
calls) reproduces the site's rolling window: the story keeps starting at the same paragraph until it
overflows the extra 8,192 tokens.

Not modelled (named choices): the site's per-model preamble rules (pass ``preamble=``), category
subcontexts, user scripts, the final-token crop, advanced conditions other than true/key/lore/and/or/not.
Character positions are Python code points where the site counts UTF-16 units.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import InputError
from .story import ContextConfig, LoreEntry, Story

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "Tokenizer",
    "ServerTokenizer",
    "Section",
    "Context",
    "build_context",
    "split_sentences",
    "match_keys",
    "STORY_CHARS",
    "LORE_SEARCH_CHARS",
]

#: The site keeps at most this many characters of story (its ``mv``).
STORY_CHARS = 150_000
#: Lorebook keys are searched in the last this many of those characters (its ``Cp``).
LORE_SEARCH_CHARS = 50_000
#: The GLM rolling window's extra tokens (the community notes' "28K + 8K rolling"; guess for tiers).
GLM_ROLLING = 8192


class Tokenizer(Protocol):
    """Anything that turns text into token ids and back."""

    def encode(self, text: str) -> list[int]: ...  # pragma: no cover

    def decode(self, ids: list[int]) -> str: ...  # pragma: no cover


# ----------------------------------------------------------------------------------- sentences


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
                cur = best.start() if best is not None else (best_plain[0] if best_plain else None)
                if cur is None or m.start() > cur:
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


# ----------------------------------------------------------------------------------- sections


@dataclass
class Section:
    """One candidate piece of context and what became of it.

    ``kind``: story, memory, an, lore, ephemeral (GLM adds system-prompt and prefill rows).
    ``reason``: why it is in or not (key triggered, activation forced, no key in range, disabled,
    category disabled, budget spent, no text, cascaded from <name>, ephemeral inactive...).
    """

    kind: str
    name: str
    text: str
    config: ContextConfig
    entry: LoreEntry | None = None
    included: bool = True
    reason: str = ""
    key: str = ""
    key_index: float = -1
    reserved: int = 0
    tokens: int = 0
    trimmed: bool = False
    trim: str = "none"
    inserted_text: str = ""
    position: int = -1
    uid: int = 0
    keys_text_tokens: int = 0

    @property
    def full_tokens(self) -> int:
        """Return the section's tokens before trimming (0 when not measured)."""
        return self.keys_text_tokens


@dataclass
class Context:
    """The context built for a story: ``text`` (what is sent, decoded), ``tokens`` (native: the ids;
    GLM: the prompt's ids when a tokenizer was available), ``sections`` (every candidate with why it is
    in or out) and ``pieces`` (the text in order, each with its source)."""

    text: str
    tokens: list[int]
    sections: list[Section]
    pieces: list[tuple[str, str]]
    model: str
    token_limit: int
    family: str = "native"
    prompt: Any = None
    window: dict | None = None
    #: Phrase-bias groups the lorebook contributes (native): per entry and category (``C:name``), its
    #: groups for the active state, or its ``whenInactive`` ones when it is not active (the site's rule).
    biases: list[dict] | None = None

    def to_frame(self) -> pd.DataFrame:
        """Return one row per section: source, kind, included, reason, key, position (character offset in
        the text, -1 when absent), tokens kept, tokens trimmed, trim method, budget priority."""
        import pandas as pd

        rows = []
        for s in self.sections:
            rows.append(
                {
                    "source": s.name,
                    "kind": s.kind,
                    "included": s.included,
                    "reason": s.reason,
                    "key": s.key,
                    "position": s.position,
                    "tokens": s.tokens,
                    "trimmed_tokens": max(0, s.keys_text_tokens - s.tokens)
                    if s.included
                    else s.keys_text_tokens,
                    "trim": s.trim,
                    "budget_priority": s.config.budget_priority,
                }
            )
        cols = [
            "source",
            "kind",
            "included",
            "reason",
            "key",
            "position",
            "tokens",
            "trimmed_tokens",
            "trim",
            "budget_priority",
        ]
        return pd.DataFrame(rows, columns=cols)

    def section(self, name: str) -> Section:
        """Return the section called ``name`` (story, memory, an, or an entry's display name)."""
        for s in self.sections:
            if s.name == name or s.kind == name:
                return s
        raise InputError("name", name, "one of " + ", ".join(s.name for s in self.sections))

    def why(self, name: str) -> str:
        """Return why the section ``name`` is in the context or not."""
        return self.section(name).reason

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        n = sum(s.included for s in self.sections)
        return f"Context({self.model}, {len(self.tokens)} tokens of {self.token_limit}, {n} sections in)"

    def _repr_html_(self) -> str:
        from ..render.context import context_html

        return context_html(self)


# ----------------------------------------------------------------------------------- helpers


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


def _trim(sec: Section, budget: int, enc: _Enc, heuristics: bool = True) -> tuple[str, int, bool, str]:
    """The site's trimming of one section to ``budget`` tokens: (text, tokens, trimmed, method)."""
    cfg = sec.config
    bottom = cfg.trim_direction == "trimBottom"
    body = sec.text[: 8 * budget] if bottom else (sec.text[-(8 * budget) :] if budget else sec.text)
    pre, suf = cfg.prefix, cfg.suffix
    full = pre + body + suf
    ids = enc.encode(full)
    target = budget if sec.kind == "story" else min(len(ids), _num(cfg.reserved_tokens))
    if len(ids) <= budget:
        return full, len(ids), False, "none"
    if cfg.trim_direction == "doNotTrim":
        return "", 0, True, "none"
    for unit, joiner, floor in (("newline", "\n", 0.7), ("sentence", "", 0.3)):
        pieces = body.split("\n") if unit == "newline" else split_sentences(body)
        if bottom:
            pieces.reverse()
        g = len(ids)
        for i in range(len(pieces)):
            g -= enc.n(pieces[i])
            if g > budget:
                continue
            keep = pieces[i:]
            if bottom:
                keep.reverse()
            text = pre + joiner.join(keep) + suf
            got = enc.n(text)
            if heuristics and target and (got / target < floor or (unit == "newline" and target - got > 150)):
                break
            if got <= budget:
                return text, got, True, unit
        if cfg.maximum_trim_type == unit:
            return "", 0, True, "none"
    body_ids = enc.encode(body)
    pre_ids, suf_ids = enc.encode(pre), enc.encode(suf)
    room = budget - len(pre_ids) - len(suf_ids)
    if room <= 0:
        kept: list[int] = list(body_ids) if room == 0 else body_ids[-room:]
    else:
        kept = body_ids[:room] if bottom else body_ids[-room:]
    out = [*pre_ids, *kept, *suf_ids]
    if len(out) > budget:
        return "", 0, True, "none"
    return enc.decode(out), len(out), True, "token"


def _num(x: float) -> float:
    return x


def _insertion_point(text: str, cfg: ContextConfig, enc: _Enc) -> int:
    """The site's insertion point: ``insertion_position`` units of ``insertion_type`` from the top
    (>= 0) or bottom (< 0, -1 = the end) of the text built so far."""
    r = cfg.insertion_position
    neg = r < 0
    if cfg.insertion_type in ("newline", "sentence"):
        units = _split_lines(text) if cfg.insertion_type == "newline" else split_sentences(text)
        if neg:
            units.reverse()
            r = -(r + 1)
        if len(units) < r:
            return 0 if neg else len("".join(units))
        return len("".join(units[r:])) if neg else len("".join(units[:r]))
    ids = enc.encode(text)
    if neg:
        k = len(ids) + (r + 1)
        tail = enc.decode(ids[k:]) if k < len(ids) else ""
        return len(text) - len(tail)
    return len(enc.decode(ids[:r]))


def _key_relative_point(text: str, sec: Section, enc: _Enc) -> int:
    """Insertion relative to the last key of the entry found in the text built so far (-1: none)."""
    cfg = sec.config
    keys = sec.entry.keys if sec.entry else []
    _, idx, length = match_keys(text, keys, first=False)
    if idx == -1:
        return -1
    neg = cfg.insertion_position < 0
    tail = text[idx:] if neg else text[: idx + length]
    rest = text[:idx] if neg else text[idx + length :]
    dummy = cfg.insertion_type != "token" and cfg.insertion_position not in (0, -1)
    if dummy:
        rest = rest + "DUMMY" if neg else "DUMMY" + rest
    point = _insertion_point(rest, cfg, enc)
    point = point if neg else len(tail) + point
    if dummy and not neg:
        point -= 5
    return point


def _shunt(pos: int, pieces: list[list[Any]], text: str, inside: dict[int, bool]) -> int:
    """Move ``pos`` to the nearer edge of the section it would split, unless that section allows it."""
    acc = 0
    idx = 0
    for i, p in enumerate(pieces):
        acc += len(p[0])
        if acc >= pos:
            idx = i
            break
    if idx >= len(pieces) or not pieces or inside.get(pieces[idx][1], False) or pos == len(text):
        return pos
    uid = pieces[idx][1]
    end = acc
    for p in pieces[idx + 1 :]:
        if p[1] != uid:
            break
        end += len(p[0])
    start = acc - len(pieces[idx][0])
    for p in reversed(pieces[:idx]):
        if p[1] != uid:
            break
        start -= len(p[0])
    return end if pos - start > end - pos else start


def _insert_piece(pieces: list[list[Any]], text: str, uid: int, pos: int) -> None:
    left = pos
    for i, p in enumerate(pieces):
        if left - len(p[0]) <= 0:
            a, b = p[0][:left], p[0][left:]
            new = []
            if a:
                new.append([a, p[1]])
            new.append([text, uid])
            if b:
                new.append([b, p[1]])
            pieces[i : i + 1] = new
            return
        left -= len(p[0])
    pieces.append([text, uid])


# ----------------------------------------------------------------------------------- native


def _activate(story: Story, story_text: str) -> tuple[list[Section], list[Section], list[Section]]:
    """Return (activated, rejected, disabled) lore sections, activated in the site's order."""
    cats = {c.id: c for c in story.categories}
    search = story_text[-LORE_SEARCH_CHARS:]
    first = not story.order_by_key_locations
    active: list[Section] = []
    cascade: list[Section] = []
    rejected: list[Section] = []
    disabled: list[Section] = []
    for entry in _ordered(story):
        sec = Section("lore", entry.display_name, _field_text(entry.text), entry.context_config, entry)
        cat = cats.get(entry.category)
        if not entry.enabled or (cat is not None and not cat.enabled):
            sec.included = False
            sec.reason = "disabled" if not entry.enabled else "category disabled"
            disabled.append(sec)
            continue
        key, idx = _entry_match(entry, search, first=first)
        if idx >= 0:
            sec.key, sec.key_index = key, idx
            sec.reason = "activation forced" if entry.force_activation else f"key {key!r} in range"
            active.append(sec)
        else:
            sec.included = False
            sec.reason = "no key in range"
            (cascade if entry.non_story_activatable else rejected).append(sec)
    active.sort(key=lambda s: -s.key_index)
    return active, cascade, rejected + disabled


def _ordered(story: Story) -> list[LoreEntry]:
    # the site's lorebook order: story.lorebook_order (ids of entries and categories), then the rest
    entries = list(story.lorebook)
    if not story.lorebook_order:
        return entries
    cat_ids = {c.id for c in story.categories}
    out: list[LoreEntry] = []
    seen: set[str] = set()
    for oid in story.lorebook_order:
        cat = next((c for c in story.categories if c.id == oid), None)
        if cat is not None:
            members = [e for e in entries if e.category == cat.id]
            pos = {x: i for i, x in enumerate(cat.order)}
            ranked = sorted([e for e in members if e.id in pos], key=lambda e: pos[e.id])
            for e in ranked + [e for e in members if e.id not in pos]:
                out.append(e)
                seen.add(e.id)
        else:
            e = next(
                (e for e in entries if e.id == oid and (not e.category or e.category not in cat_ids)), None
            )
            if e is not None:
                out.append(e)
                seen.add(e.id)
    return out + [e for e in entries if e.id not in seen]


def _build_native(
    story: Story, enc: _Enc, max_tokens: int, model: str, preamble: str, trim_trailing_spaces: int
) -> Context:
    text = story.text
    k = len(text)
    if story.story_config.trim_direction == "trimTop":
        text = text[max(0, k - STORY_CHARS) : k]
    else:
        text = text[: min(STORY_CHARS, k)]
    text = _strip_comments(text)
    pre_ids = enc.encode(preamble) if preamble else []
    max_tokens -= len(pre_ids)
    statuses = [
        Section("story", "story", text, story.story_config),
        Section("memory", "memory", _field_text(story.memory), story.memory_config),
        Section("an", "an", _field_text(story.authors_note), story.authors_note_config),
    ]
    active, cascade, rejected = _activate(story, text)
    ephemeral_out: list[Section] = []
    for e in story.ephemeral:
        t = _field_text(e.text)
        name = "E:" + (t[:12] + "..." if len(t) > 12 else t[:15])
        sec = Section("ephemeral", name, t, e.context_config)
        if e.active(story.step):
            sec.reason = "ephemeral active"
            statuses.append(sec)
        else:
            sec.included, sec.reason = False, "ephemeral inactive"
            ephemeral_out.append(sec)
    # cascading: entries that may be activated by other context, tried until nothing changes
    changed = True
    while changed and cascade:
        changed = False
        i = 0
        while i < len(cascade):
            cand = cascade[i]
            assert cand.entry is not None
            hit = None
            for src in statuses:
                body = src.config.prefix + src.text + src.config.suffix
                key, idx = _entry_match(cand.entry, body, first=False, whole=src.kind != "story")
                if idx >= 0:
                    hit = (key, src.name)
                    break
            if hit is None:
                for src in active:
                    body = src.config.prefix + src.text + src.config.suffix
                    key, idx = _entry_match(cand.entry, body, first=False, whole=True)
                    if idx >= 0:
                        hit = (key, src.name)
                        break
            if hit is not None:
                cand.included, cand.key, cand.reason = True, hit[0], f"cascaded from {hit[1]}"
                active.append(cand)
                cascade.pop(i)
                changed = True
            else:
                i += 1
    rejected = cascade + rejected + ephemeral_out
    statuses.extend(active)
    for uid, s in enumerate(statuses):
        s.uid = uid
    out_sections, output, pieces = _fill(statuses, max_tokens, enc)
    # trailing spaces: the site trims them (Llama 3 keeps one)
    stripped = len(output) - len(output.rstrip(" "))
    if stripped > trim_trailing_spaces:
        cut = stripped - trim_trailing_spaces
        output = output[:-cut]
        left = cut
        for p in reversed(pieces):
            n = min(left, len(p[0]))
            p[0] = p[0][: len(p[0]) - n]
            left -= n
            if not left:
                break
    if output.endswith("}"):
        output += "\n"
        pieces.append(["\n", -1])
    names = {s.uid: s.name for s in statuses}
    named = [(p[0], names.get(p[1], "special")) for p in pieces if p[0]]
    if preamble:
        named.insert(0, (preamble, "preamble"))
    ids = [*pre_ids, *enc.encode(output)]
    out = Context(preamble + output, ids, out_sections + rejected, named, model, max_tokens + len(pre_ids))
    out.biases = _lore_biases(story, {s.entry.id for s in active if s.entry is not None})
    return out


def _lore_biases(story: Story, active_ids: set[str]) -> list[dict]:
    """The lorebook's phrase-bias groups in effect: an active entry (or a category with an active entry)
    brings its groups that are not ``whenInactive``, an inactive one those that are; disabled entries none."""
    cats = {c.id: c for c in story.categories}
    out: list[dict] = []
    for e in _ordered(story):
        cat = cats.get(e.category)
        if not e.enabled or (cat is not None and not cat.enabled):
            continue
        on = e.id in active_ids
        groups = [g for g in e.lore_bias_groups if isinstance(g, dict) and bool(g.get("whenInactive")) != on]
        out.append({"identifier": e.display_name, "groups": groups})
    for c in story.categories:
        on = any(e.category == c.id and e.id in active_ids for e in story.lorebook)
        raw = c.raw.get("categoryBiasGroups") or []
        groups = [g for g in raw if isinstance(g, dict) and bool(g.get("whenInactive")) != on]
        out.append({"identifier": f"C:{c.name}", "groups": groups})
    return out


def _fill(statuses: list[Section], t: int, enc: _Enc) -> tuple[list[Section], str, list[list[Any]]]:
    """The site's budget pass over the sections (sorted by budget priority)."""
    out = ""
    remaining = t
    statuses = sorted(statuses, key=lambda s: -s.config.budget_priority)
    reserved_total = 0
    for s in statuses:
        cfg = s.config
        if s.text == "":
            size = 0
        else:
            body = (
                s.text[: 8 * remaining] if cfg.trim_direction == "trimBottom" else s.text[-(8 * remaining) :]
            )
            size = enc.n(cfg.prefix + body + cfg.suffix)
        s.keys_text_tokens = size
        s.reserved = min(_budget(cfg.reserved_tokens, t), size)
        reserved_total += s.reserved
    reserved_total = min(reserved_total, remaining)
    inside = {s.uid: bool(s.config.allow_insertion_inside) for s in statuses}
    for s in statuses:
        if s.kind == "story":
            inside[s.uid] = True
    pieces: list[list[Any]] = []
    for s in statuses:
        cfg = s.config
        cap = _budget(cfg.token_budget, t)
        own = s.reserved
        if own > 0 and own > reserved_total:
            own = reserved_total
        budget = min(remaining - reserved_total + own, cap)
        if not s.included:
            continue
        if s.text == "":
            s.included, s.reason = False, "no text"
            continue
        got = _trim(s, budget, enc)
        if s.kind == "story" and got[1] == 0:
            got = _trim(s, budget, enc, heuristics=False)
        text, n, trimmed, method = got
        if n == 0:
            s.included, s.reason = False, "budget spent"
            continue
        s.trimmed, s.trim, s.tokens, s.inserted_text = trimmed, method, n, text
        if s.entry is not None and s.entry.key_relative:
            b = _key_relative_point(out, s, enc)
        else:
            b = _insertion_point(out, cfg, enc)
        v = b if cfg.allow_inner_insertion else _shunt(b, pieces, out, inside)
        before = len(out)
        if b >= 0:
            out = out[:v] + text + out[v:]
        if len(out) == before:
            s.included, s.reason = False, "no context key" if b < 0 else "nothing inserted"
            continue
        _insert_piece(pieces, text, s.uid, v)
        s.position = v
        remaining -= n
        reserved_total -= own
    # positions: where each piece ends up in the final text
    pos = 0
    first_at: dict[int, int] = {}
    for p in pieces:
        first_at.setdefault(p[1], pos)
        pos += len(p[0])
    for s in statuses:
        if s.included:
            s.position = first_at.get(s.uid, -1)
        else:
            s.position = -1
    return statuses, out, pieces


# ----------------------------------------------------------------------------------- GLM


def _advanced(cond: Any, texts: dict[str, str], active_ids: set[str], story_text: str) -> tuple[bool, int]:
    if not isinstance(cond, dict):
        return False, -1
    t = cond.get("type")
    if t == "not":
        inner = cond.get("condition")
        return (not _advanced(inner, texts, active_ids, story_text)[0]) if inner else True, -1
    if t in ("and", "or"):
        res = [_advanced(c, texts, active_ids, story_text) for c in cond.get("children") or []]
        idxs = [i for a, i in res if a and i >= 0] if t == "or" else [i for _, i in res if i >= 0]
        ok = all(a for a, _ in res) if t == "and" else any(a for a, _ in res)
        return ok, (min(idxs) if ok and idxs else -1)
    if t == "true":
        return True, -1
    if t == "lore":
        return cond.get("entryId") in active_ids, -1
    if t == "key":
        key = str(cond.get("key") or "")
        rng = cond.get("range", 4000)
        keys = [key] if key.startswith("/") else [k.strip() for k in key.split(",") if k.strip()]
        found, best = False, -1
        for where in cond.get("in") or []:
            src = texts.get(where, "")
            for k in keys:
                if where == "story" and isinstance(rng, (int, float)) and rng > 0:
                    start = max(0, len(src) - int(rng))
                    _, idx, _ = match_keys(src[start:], [k], first=False)
                    if idx > -1:
                        found = True
                        best = start + idx if best == -1 else min(best, start + idx)
                        break
                else:
                    _, idx, _ = match_keys(src, [k], first=False)
                    if idx > -1:
                        found = True
                        ii = idx if where == "story" else -1
                        best = ii if best == -1 else min(best, ii)
                        break
        return found, best
    return False, -1


def _build_glm(
    story: Story,
    enc: _Enc | None,
    max_tokens: int,
    model: str,
    window: dict | None,
    extra: int,
    for_generation: bool,
) -> Context:
    from . import glm_prompt as gp

    if enc is None:
        raise InputError("tokenizer", None, "a tokenizer for GLM (naikit ships none: pass tokenizer=)")
    cats = {c.id: c for c in story.categories}
    story_text = _strip_comments(story.text)
    memory = _field_text(story.memory)
    an = _field_text(story.authors_note)
    secs: list[Section] = []
    for entry in story.lorebook:
        text = _field_text(entry.text)
        cat = cats.get(entry.category)
        header = (cat.raw.get("settings") or {}).get("entryHeader") if cat is not None else None
        if header and not text.startswith(header + "\n"):
            text = f"{header}\n{text}"
        secs.append(Section("lore", entry.display_name, text, entry.context_config, entry, included=False))
    search = story_text[max(0, len(story_text) - 3 * max_tokens) :]
    state = {s.entry.id: False for s in secs if s.entry}
    for _ in range(30):
        for s in secs:
            e = s.entry
            assert e is not None
            cat = cats.get(e.category)
            active, reason, idx, key = False, "no key in range", -1, ""
            if cat is not None and not cat.enabled:
                reason = "category disabled"
            elif not e.enabled:
                reason = "disabled"
            elif e.force_activation:
                active, reason = True, "activation forced"
            else:
                if e.keys:
                    key, idx, _ = match_keys(search, e.keys, first=False)
                    if idx > -1:
                        active, reason = True, f"key {key!r} in range"
                if not active and e.advanced_conditions:
                    texts = {
                        "story": story_text,
                        "memory": memory,
                        "an": an,
                        "lore": "\n".join(x.entry.text for x in secs if x.entry and state[x.entry.id]),
                    }
                    reason = "advanced conditions false"
                    ids = {k for k, v in state.items() if v}
                    for c in e.advanced_conditions:
                        ok, ii = _advanced(c, texts, ids, story_text)
                        if ok:
                            active, reason, idx = True, "advanced conditions true", ii
                            break
            s.included, s.reason, s.key_index, s.key = active, reason, idx, key
        new = {s.entry.id: s.included for s in secs if s.entry}
        if new == state:
            break
        state = new
    secs.sort(key=lambda s: -(math.inf if s.key_index == -1 else s.key_index))
    fired = [s for s in secs if s.included]
    texts = gp.default_texts()
    sys_prompt = (
        story.system_prompt or texts["system_prompt_adventure" if story.adventure else "system_prompt"]
    )
    prefill = story.prefill or texts["prefill_adventure" if story.adventure else "prefill"]
    total = max_tokens
    story_budget = total - 128 - 1024
    high = total // 2
    story_budget -= high
    p_sys = enc.n(sys_prompt)
    high -= p_sys
    if high < 0:
        story_budget += high
        high = 0
    p_pre = enc.n(prefill)
    story_budget -= p_pre
    mem = Section("memory", "memory", memory, story.memory_config)
    ans = Section("an", "an", an, story.authors_note_config)
    mem.tokens = mem.keys_text_tokens = enc.n(memory)
    if mem.tokens > story_budget + high:
        mem.included, mem.reason, mem.tokens = False, "budget spent", 0
    else:
        high -= mem.tokens
        if high < 0:
            story_budget += high
            high = 0
    ans.tokens = ans.keys_text_tokens = enc.n(an)
    if ans.tokens > story_budget:
        ans.included, ans.reason, ans.tokens = False, "budget spent", 0
    else:
        story_budget -= ans.tokens
    for s in (mem, ans):
        if not s.text:
            s.included, s.reason = False, "no text"
    kept: list[Section] = []
    for s in fired:
        n = enc.n(s.text)
        s.keys_text_tokens = n
        if not s.text:
            s.included, s.reason = False, "no text"
            continue
        if s.entry and s.entry.force_activation and n <= story_budget + high:
            s.tokens = n
            high -= n
            if high < 0:
                story_budget += high
                high = 0
            kept.append(s)
            continue
        if story_budget - n >= 0:
            s.tokens = n
            story_budget -= n
            kept.append(s)
        else:
            s.included, s.reason = False, "budget spent"
    story_budget += high + 1024
    # the story: whole lines from the bottom; a cached window start (rolling window) when it fits
    lines = story_text.split("\n")
    chosen: list[str] = []
    wkey = total // 256
    window = {} if window is None else window
    if story_text and window:
        for ck in sorted(window, key=lambda c: abs(c - wkey)):
            head = window[ck]
            at = -1
            for i in range(len(lines)):
                if lines[i] != head[0]:
                    continue
                if all(lines[i + j] == head[j] for j in range(len(head)) if i + j < len(lines)):
                    at = i
                    break
            if at == -1:
                continue
            tail = lines[at:]
            n = enc.n("\n".join(tail))
            if not n <= story_budget and n <= story_budget + extra:
                chosen = tail
                story_budget += extra - n
                total += extra
                break
    st = Section("story", "story", story_text, story.story_config)
    if story_text and not chosen:
        for line in reversed(lines):
            n = enc.n(line)
            if story_budget - n < 0:
                break
            story_budget -= n
            chosen.append(line)
        st.trimmed = len(chosen) != len(lines)
        chosen.reverse()
        if not chosen:
            chosen = [enc.decode(enc.encode(story_text)[-1000:])]
        if for_generation and chosen[0].strip():
            window[wkey] = chosen[:3]
    story_out = "\n".join(chosen)
    st.keys_text_tokens = enc.n(story_text) if story_text else 0
    if not story_text:
        st.included, st.reason = False, "no text"
    # trailing spaces trimmed (the site's J with the GLM tokenizer: all of them)
    story_out = story_out.rstrip(" ")
    st.tokens = enc.n(story_out)
    st.inserted_text = story_out
    st.trim = "newline" if st.trimmed else "none"
    lore = [s.text for s in kept if not (s.entry and s.entry.force_activation)]
    perm = [s.text for s in kept if s.entry and s.entry.force_activation]
    prompt = gp.build_prompt(
        story_out,
        memory=memory if mem.included else None,
        authors_note=an if ans.included else None,
        system_prompt=story.system_prompt,
        prefill=story.prefill,
        lore=lore,
        permanent_lore=perm,
        adventure=story.adventure,
    )
    parts = list(prompt.parts)
    ids = enc.encode(prompt.text)
    if len(ids) > total:
        parts = _drop_story_paragraphs(parts, enc, len(ids) - total)
        ids = enc.encode("".join(p.text for p in parts))
        st.trimmed = True
        st.trim = "paragraph"
    text = "".join(p.text for p in parts)
    st.tokens = enc.n("".join(p.text for p in parts if p.source == "story"))
    pos = 0
    first_at: dict[str, int] = {}
    for p in parts:
        first_at.setdefault(p.source, pos)
        pos += len(p.text)
    st.position = first_at.get("story", -1)
    mem.position = first_at.get("memory", -1) if mem.included else -1
    ans.position = first_at.get("an", -1) if ans.included else -1
    for s in kept:
        i = text.find(gp.double_newlines(s.text))
        s.position = i
    extra_rows = [
        Section(
            "system-prompt",
            "system prompt",
            sys_prompt,
            ContextConfig(),
            tokens=p_sys,
            keys_text_tokens=p_sys,
        ),
        Section("prefill", "prefill", prefill, ContextConfig(), tokens=p_pre, keys_text_tokens=p_pre),
    ]
    extra_rows[0].position = first_at.get("system-prompt", -1)
    extra_rows[1].position = first_at.get("prefill", -1)
    sections = [*extra_rows, st, mem, ans, *secs]
    pieces = [(p.text, p.source) for p in parts]
    return Context(text, ids, sections, pieces, model, total, family="glm", prompt=prompt, window=window)


def _drop_story_paragraphs(parts: list[Any], enc: _Enc, excess: int) -> list[Any]:
    """The site's last resort: drop story paragraphs from the top until ``excess`` tokens are gone."""
    from .glm_prompt import Part

    removed = 0
    out = list(parts)
    for i, p in enumerate(out):
        if removed >= excess:
            break
        if p.source != "story":
            continue
        paras = p.text.split("\n\n")
        while paras and removed < excess:
            removed += enc.n(paras.pop(0))
        out[i] = Part("\n\n".join(paras), p.source)
    return [p for p in out if p.text]


# ----------------------------------------------------------------------------------- entry point


class _ModelTokenizer:
    def __init__(self, model: str):
        self.model = model

    def encode(self, text: str) -> list[int]:
        from ..tokenizers import encode

        return encode(text, self.model)

    def decode(self, ids: list[int]) -> str:
        from ..tokenizers import decode

        return decode(ids, self.model)


class ServerTokenizer:
    """A tokenizer that asks the server (``client.token_ids``, the OA token-count endpoint) for GLM ids.

    ``client`` is a blocking :class:`~naikit.NovelAI`. One request per distinct text (the builder caches),
    so it suits stories of modest length; ``decode`` is not available from the server.
    """

    def __init__(self, client: Any, model: str = "glm-4-6"):
        self.client = client
        self.model = model

    def encode(self, text: str) -> list[int]:
        """Return the server's token ids of ``text``."""
        return list(self.client.token_ids(text, self.model)) if text else []

    def decode(self, ids: list[int]) -> str:
        """Not available (the server has no decode endpoint): raises InputError."""
        raise InputError("tokenizer", self, "a tokenizer with decode (the server only counts)")


def build_context(
    story: Story,
    model: Any = "erato",
    *,
    tier: str | int = "opus",
    token_limit: int | None = None,
    tokenizer: Any = None,
    max_length: int = 150,
    preamble: str = "",
    window: dict | None = None,
    for_generation: bool = False,
    extra_context: int | None = None,
    continue_to_sentence_end: bool = False,
) -> Context:
    """Return the :class:`Context` the website builds for ``story`` and ``model`` (see the module doc).

    ``token_limit``: tokens the context may use (default, as the site computes it: the model's context
    for ``tier`` minus ``max_length``, minus 20 (GLM: 40) with the site's "continue to sentence end"
    setting, ``continue_to_sentence_end``). ``tokenizer``: an object with ``encode``/``decode``
    (default: the model's).
    GLM only: ``window`` (a dict kept between calls) and ``for_generation`` drive the rolling window,
    ``extra_context`` its extra tokens (default 8,192). Raises InputError for bad arguments.
    """
    from .models import text_model

    if not isinstance(story, Story):
        raise InputError("story", story, "a naikit.Story")
    from .._validate import check_int

    tm = text_model(model)
    check_int(max_length, "max_length", lo=0)
    if token_limit is None:
        ctx = tm.context.for_tier(tier)
        token_limit = ctx - max_length
        if continue_to_sentence_end:
            token_limit -= 40 if tm.tokenizer == "glm4" else 20
    if isinstance(token_limit, bool) or not isinstance(token_limit, int) or token_limit <= 0:
        raise InputError("token_limit", token_limit, "a positive number of tokens")
    if tokenizer is not None and not (
        callable(getattr(tokenizer, "encode", None)) and callable(getattr(tokenizer, "decode", None))
    ):
        raise InputError("tokenizer", tokenizer, "an object with encode(text) and decode(ids)")
    if not isinstance(preamble, str):
        raise InputError("preamble", preamble, "a string")
    glm = tm.tokenizer == "glm4"
    if glm:
        enc = _Enc(tokenizer) if tokenizer is not None else None
        if window is not None and not isinstance(window, dict):
            raise InputError("window", window, "a dict kept between calls (or None)")
        extra = GLM_ROLLING if extra_context is None else extra_context
        return _build_glm(story, enc, token_limit, tm.value, window, extra, for_generation)
    enc = _Enc(tokenizer if tokenizer is not None else _ModelTokenizer(tm.value))
    keep = 1 if tm.tokenizer == "llama3" else 0
    return _build_native(story, enc, token_limit, tm.value, preamble, keep)
