"""The HTML view of one tokenization: coloured tokens with hover details and limit markers.

A :class:`~naikit.tokenizers.Tokenization` draws itself with :func:`tokenization_html` (its
``_repr_html_``), so the view lives here rather than in ``naikit.render``, which builds the comparison,
summary and logprob views from the same parts. Everything returns a string. Tokens are drawn from their
character offsets into the original text, every piece of text is escaped, colours are a function of
the token id and position only, and element ids derive from a hash of the input, so the same input
always gives the same HTML. Hovering a token shows its index, id, readable text and span through the
``title`` attribute, which needs no JavaScript. Long texts are paged by character windows: one page
never holds more than ``page_chars`` characters of text plus a bounded amount of markup per token, so
a 100,000-token text stays responsive.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from html import escape
from typing import Any, Protocol

__all__ = [
    "DEFAULT_PAGE_CHARS",
    "TOKENS_CSS",
    "TokenView",
    "dom_id_for",
    "plural",
    "show_text",
    "pages_for",
    "tokens_body",
    "tokens_header",
    "tokenization_html",
]


class TokenView(Protocol):
    """What the view reads of a tokenization (a :class:`~naikit.tokenizers.Tokenization` has it all)."""

    text: str
    model: str
    tokenizer: str
    ids: list[int]
    pieces: list[str]
    starts: list[int]
    ends: list[int]
    special_ids: frozenset[int]
    exact_offsets: bool
    limit: int | None
    limit_from: str
    chunk: int | None

    @property
    def labels(self) -> list[str]: ...


DEFAULT_PAGE_CHARS = 3000
# Longest run of text drawn for one token group or gap; longer ones are elided in the middle so that
# one page stays bounded whatever the text holds (a 50,000-space gap, a 10,000-character token).
_MAX_RUN = 160
_MAX_TITLE_TOKENS = 8

TOKENS_CSS = """<style>
.nk-tok{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;line-height:1.9}
.nk-tok .nk-text{white-space:pre-wrap;overflow-wrap:anywhere}
.nk-tok .nk-t{border-radius:3px;padding:1px 0;color:#111;white-space:pre;display:inline-block;max-width:100%;
overflow:hidden;text-overflow:ellipsis;vertical-align:top;line-height:1.5;margin:1px 0}
.nk-tok .nk-multi{outline:1px dashed #777}
.nk-tok .nk-sp{background:#333!important;color:#fff;padding:1px 3px}
.nk-tok .nk-ws{color:#888}
.nk-tok .nk-gap{color:#aaa;background:repeating-linear-gradient(135deg,#fff 0 3px,#eee 3px 6px)}
.nk-tok .nk-out{opacity:.45}
.nk-tok .nk-mark{display:inline-block;font-size:11px;color:#fff;background:#c0392b;border-radius:3px;
padding:0 4px;margin:0 2px}
.nk-tok .nk-chunk{background:#2471a3}
.nk-tok .nk-head{font-family:system-ui,sans-serif;font-size:12px;color:#444;margin:2px 0}
.nk-tok .nk-grid{display:grid;gap:12px;grid-template-columns:repeat(auto-fit,minmax(min(100%,300px),1fr))}
.nk-tok table{border-collapse:collapse;font-family:system-ui,sans-serif;font-size:12px}
.nk-tok td,.nk-tok th{border:1px solid #ddd;padding:2px 8px;text-align:left}
.nk-tok .nk-over{color:#c0392b;font-weight:bold}
.nk-tok .nk-fits{color:#1e8449}
.nk-tok .nk-na{color:#888;font-style:italic}
</style>"""

_VISIBLE = {
    " ": "·",
    "\t": "⇥\t",
    "\n": "↵\n",
    "\r": "␍",
    "\u00a0": "⍽",
    "\u3000": "□",
    "\u200b": "␣",
    "\u200d": "‍",
}


def dom_id_for(prefix: str, *parts: Any) -> str:
    """Return a deterministic element id: ``prefix`` and a hash of ``parts``."""
    h = hashlib.sha1(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{prefix}-{h}"


def show_text(text: str, *, breaks: bool = True) -> str:
    """Escape ``text`` for HTML with whitespace made visible (marker spans) and long runs elided.

    With ``breaks=False`` line breaks are only marked (↵), for a token's box that must stay on one line;
    the caller puts the break itself after the box (:func:`_breaks_after`)."""
    if len(text) > _MAX_RUN:
        text = text[: _MAX_RUN - 40] + f"\u2026(+{len(text) - _MAX_RUN + 20} chars)\u2026" + text[-20:]
    out: list[str] = []
    plain: list[str] = []
    for ch in text:
        vis = _VISIBLE.get(ch)
        if not breaks and vis is not None:
            vis = vis.rstrip("\n")
        if vis is None and ch.isspace():
            vis = "␣"
        if vis is None:
            plain.append(ch)
            continue
        if plain:
            out.append(escape("".join(plain)))
            plain = []
        out.append(f'<span class="nk-ws">{escape(vis)}</span>')
    if plain:
        out.append(escape("".join(plain)))
    return "".join(out)


def _breaks_after(text: str) -> str:
    """Return the line breaks of a token's text, to put after its one-line box."""
    return "\n" * text.count("\n")


def plural(n: int, word: str) -> str:
    """Return "1 token" or "2,000 tokens"."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _short(s: str, n: int = 40) -> str:
    return s if len(s) <= n else s[: n - 1] + "\u2026"


def _colour(token_id: int, index: int) -> str:
    # Golden-angle hues spread neighbouring ids apart; alternating lightness separates equal neighbours.
    hue = (token_id * 137.508) % 360
    light = 86 if index % 2 == 0 else 78
    return f"hsl({hue:.0f},70%,{light}%)"


def pages_for(length: int, page_chars: int = DEFAULT_PAGE_CHARS) -> int:
    """Return how many pages of ``page_chars`` characters a text of ``length`` fills (at least 1)."""
    return max(1, math.ceil(length / max(1, page_chars)))


def _mark(label: str) -> str:
    cls = "nk-mark nk-chunk" if label.startswith("chunk") else "nk-mark"
    return f'<span class="{cls}">{escape(label)}</span>'


def _boundaries(tok: TokenView) -> tuple[dict[int, list[str]], int, int]:
    """Markers before token indexes, plus the [lo, hi) token range inside the limit."""
    n = len(tok.ids)
    marks: dict[int, list[str]] = {}
    lo, hi = 0, n
    if tok.chunk:
        for k in range(tok.chunk, n, tok.chunk):
            marks.setdefault(k, []).append(f"chunk {k // tok.chunk + 1}")
    if tok.limit is not None and n > tok.limit:
        if tok.limit_from == "end":
            lo = n - tok.limit
            marks.setdefault(lo, []).append(f"context starts: last {tok.limit:,} tokens")
        else:
            hi = tok.limit
            marks.setdefault(hi, []).append(f"limit {tok.limit:,}: the rest is cut")
    return marks, lo, hi


def _title(tok: TokenView, idxs: list[int]) -> str:
    lines = []
    labels = tok.labels
    for i in idxs[:_MAX_TITLE_TOKENS]:
        special = " · special" if tok.ids[i] in tok.special_ids else ""
        # the token's readable text (' night', not the byte-level piece 'Ġnight'); pieces are in to_frame()
        lines.append(
            f"#{i} · id {tok.ids[i]} · {_short(labels[i])!r} · chars {tok.starts[i]}–{tok.ends[i]}{special}"
        )
    if len(idxs) > _MAX_TITLE_TOKENS:
        lines.append(f"… {len(idxs) - _MAX_TITLE_TOKENS} more tokens")
    if len(idxs) > 1:
        lines.insert(0, f"{len(idxs)} tokens share these characters")
    return escape("\n".join(lines), quote=True)


def tokens_body(tok: TokenView, page: int, page_chars: int) -> tuple[str, int, int]:
    """Return the HTML of one page of ``tok``, and the first and last+1 token index drawn."""
    text = tok.text
    w0, w1 = page * page_chars, (page + 1) * page_chars
    starts, ends, ids = tok.starts, tok.ends, tok.ids
    n = len(ids)
    i0 = bisect.bisect_left(starts, w0) if page else 0
    i1 = bisect.bisect_left(starts, w1) if w1 < len(text) else n
    # zero-width tokens at a page edge (BOS at 0) belong to the page that starts there
    marks, lo, hi = _boundaries(tok)
    out: list[str] = []
    cursor = max(w0, ends[i0 - 1] if i0 > 0 else 0)
    i = i0
    while i < i1:
        j = i + 1
        group_end = ends[i]
        # tokens that share characters (byte-level pieces of one emoji) are drawn as one group
        while j < i1 and starts[j] < group_end and j not in marks:
            group_end = max(group_end, ends[j])
            j += 1
        a = starts[i]
        if a > cursor:
            gap = text[cursor:a]
            out.append(f'<span class="nk-gap" title="not part of any token">{show_text(gap)}</span>')
        out += [_mark(label) for label in marks.get(i, ())]
        idxs = list(range(i, j))
        special = all(ids[k] in tok.special_ids for k in idxs)
        classes = ["nk-t"]
        if len(idxs) > 1:
            classes.append("nk-multi")
        if special:
            classes.append("nk-sp")
        if i < lo or i >= hi:
            classes.append("nk-out")
        shown = text[a:group_end] if group_end > a else tok.pieces[i]
        # one box per token on one line: a token that holds a line break shows ↵ and breaks after its box
        out.append(
            f'<span class="{" ".join(classes)}" style="background:{_colour(ids[i], i)}" '
            f'title="{_title(tok, idxs)}">{show_text(shown, breaks=False)}</span>{_breaks_after(shown)}'
        )
        cursor = max(cursor, group_end)
        i = j
    if i1 == n:
        out += [_mark(label) for label in marks.get(i1, ())]
    tail_end = min(w1, starts[i1] if i1 < n else len(text))
    if tail_end > cursor:
        out.append(
            f'<span class="nk-gap" title="not part of any token">{show_text(text[cursor:tail_end])}</span>'
        )
    if not out:
        out.append('<span class="nk-na">(empty)</span>')
    return "".join(out), i0, i1


def tokens_header(tok: TokenView, i0: int = 0, i1: int = 0) -> str:
    """Return the header line of ``tok``: model, tokenizer, count against the limit, tokens shown."""
    n = len(tok.ids)
    limit = ""
    if tok.limit is not None:
        cls = "nk-fits" if n <= tok.limit else "nk-over"
        limit = f' / <span class="{cls}">{tok.limit:,}</span>'
    chunks = f" · {plural(max(1, -(-n // tok.chunk)), 'chunk')} of {tok.chunk}" if tok.chunk else ""
    shown = f" · showing tokens {i0:,}–{max(i0, i1 - 1):,}" if n else ""
    approx = "" if tok.exact_offsets else " · offsets approximate (the tokenizer normalised the text)"
    return (
        f'<div class="nk-head"><b>{escape(tok.model)}</b> · {escape(tok.tokenizer)} · '
        f"{n:,} tokens{limit}{chunks}{shown}{approx}</div>"
    )


def tokenization_html(
    tok: TokenView, *, page: int = 0, page_chars: int = DEFAULT_PAGE_CHARS, dom_id: str | None = None
) -> str:
    """Return the HTML of one page of ``tok``: coloured tokens with hover details and limit markers."""
    pages = pages_for(len(tok.text), page_chars)
    page = min(max(0, int(page)), pages - 1)
    body, i0, i1 = tokens_body(tok, page, page_chars)
    did = dom_id or dom_id_for("nk-tok", tok.model, tok.ids[:64], len(tok.ids), page)
    pager = f'<div class="nk-head">page {page + 1} of {pages}</div>' if pages > 1 else ""
    return (
        f'{TOKENS_CSS}<div class="nk-tok" id="{escape(did)}">{tokens_header(tok, i0, i1)}{pager}'
        f'<div class="nk-text">{body}</div></div>'
    )
