"""Pure HTML builders for the token inspector and the logprob view (no ipywidgets, no JavaScript).

Everything here returns a string. Tokens are drawn from their character offsets into the original
text, every piece of text is escaped, colours are a function of the token id and position only, and
element ids derive from a hash of the input, so the same input always gives the same HTML. Hovering a
token shows its index, id, vocabulary piece and span through the ``title`` attribute, which needs no
JavaScript. Long texts are paged by character windows: one page never holds more than
``page_chars`` characters of text plus a bounded amount of markup per token, so a 100,000-token text
stays responsive.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from .._decode import finite
from ..errors import InputError
from ..tokenizers import TokenBudget, Tokenization, token_bytes, tokenization_from_ids

__all__ = [
    "DEFAULT_PAGE_CHARS",
    "page_count",
    "tokenization_html",
    "compare_html",
    "summary_html",
    "Candidate",
    "LogprobStep",
    "parse_logprobs",
    "logprobs_html",
    "logprob_detail_html",
]

DEFAULT_PAGE_CHARS = 3000
# Longest run of text drawn for one token group or gap; longer ones are elided in the middle so that
# one page stays bounded whatever the text holds (a 50,000-space gap, a 10,000-character token).
_MAX_RUN = 160
_MAX_TITLE_TOKENS = 8

_CSS = """<style>
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


def _dom_id(prefix: str, *parts: Any) -> str:
    h = hashlib.sha1(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{prefix}-{h}"


def _show(text: str, *, breaks: bool = True) -> str:
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


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _short(s: str, n: int = 40) -> str:
    return s if len(s) <= n else s[: n - 1] + "\u2026"


def _colour(token_id: int, index: int) -> str:
    # Golden-angle hues spread neighbouring ids apart; alternating lightness separates equal neighbours.
    hue = (token_id * 137.508) % 360
    light = 86 if index % 2 == 0 else 78
    return f"hsl({hue:.0f},70%,{light}%)"


def page_count(
    toks: Sequence[Tokenization | TokenBudget] | Tokenization, page_chars: int = DEFAULT_PAGE_CHARS
) -> int:
    """Return how many pages of ``page_chars`` characters the text of ``toks`` fills (at least 1)."""
    if isinstance(toks, Tokenization):
        toks = [toks]
    length = max((len(t.text) for t in toks if isinstance(t, Tokenization)), default=0)
    return max(1, math.ceil(length / max(1, page_chars)))


def _mark(label: str) -> str:
    cls = "nk-mark nk-chunk" if label.startswith("chunk") else "nk-mark"
    return f'<span class="{cls}">{escape(label)}</span>'


def _boundaries(tok: Tokenization) -> tuple[dict[int, list[str]], int, int]:
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


def _title(tok: Tokenization, idxs: list[int]) -> str:
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


def _body(tok: Tokenization, page: int, page_chars: int) -> tuple[str, int, int]:
    """HTML of one page of ``tok``; also the first and last+1 token index drawn."""
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
            out.append(f'<span class="nk-gap" title="not part of any token">{_show(gap)}</span>')
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
            f'title="{_title(tok, idxs)}">{_show(shown, breaks=False)}</span>{_breaks_after(shown)}'
        )
        cursor = max(cursor, group_end)
        i = j
    if i1 == n:
        out += [_mark(label) for label in marks.get(i1, ())]
    tail_end = min(w1, starts[i1] if i1 < n else len(text))
    if tail_end > cursor:
        out.append(
            f'<span class="nk-gap" title="not part of any token">{_show(text[cursor:tail_end])}</span>'
        )
    if not out:
        out.append('<span class="nk-na">(empty)</span>')
    return "".join(out), i0, i1


def _header(tok: Tokenization | TokenBudget, i0: int = 0, i1: int = 0) -> str:
    if isinstance(tok, TokenBudget):
        return (
            f'<div class="nk-head"><b>{escape(tok.model)}</b> · {escape(tok.tokenizer)} · '
            f'<span class="nk-na">unavailable: no {escape(tok.tokenizer)} tokenizer is shipped</span></div>'
        )
    n = len(tok.ids)
    limit = ""
    if tok.limit is not None:
        cls = "nk-fits" if n <= tok.limit else "nk-over"
        limit = f' / <span class="{cls}">{tok.limit:,}</span>'
    chunks = f" · {_plural(max(1, -(-n // tok.chunk)), 'chunk')} of {tok.chunk}" if tok.chunk else ""
    shown = f" · showing tokens {i0:,}–{max(i0, i1 - 1):,}" if n else ""
    approx = "" if tok.exact_offsets else " · offsets approximate (the tokenizer normalised the text)"
    return (
        f'<div class="nk-head"><b>{escape(tok.model)}</b> · {escape(tok.tokenizer)} · '
        f"{n:,} tokens{limit}{chunks}{shown}{approx}</div>"
    )


def tokenization_html(
    tok: Tokenization, *, page: int = 0, page_chars: int = DEFAULT_PAGE_CHARS, dom_id: str | None = None
) -> str:
    """Return the HTML of one page of ``tok``: coloured tokens with hover details and limit markers."""
    pages = page_count(tok, page_chars)
    page = min(max(0, int(page)), pages - 1)
    body, i0, i1 = _body(tok, page, page_chars)
    did = dom_id or _dom_id("nk-tok", tok.model, tok.ids[:64], len(tok.ids), page)
    pager = f'<div class="nk-head">page {page + 1} of {pages}</div>' if pages > 1 else ""
    return (
        f'{_CSS}<div class="nk-tok" id="{escape(did)}">{_header(tok, i0, i1)}{pager}'
        f'<div class="nk-text">{body}</div></div>'
    )


def compare_html(
    toks: Sequence[Tokenization | TokenBudget],
    *,
    page: int = 0,
    page_chars: int = DEFAULT_PAGE_CHARS,
    dom_id: str | None = None,
) -> str:
    """Return the HTML of one page of several tokenizations of the same text, side by side.

    ``toks`` may hold a :class:`~naikit.tokenizers.TokenBudget` with ``count=None`` for a model whose
    tokenizer data file is missing; its column says so instead of showing tokens.
    """
    if not toks:
        raise InputError("toks", toks, "at least one Tokenization")
    pages = page_count(toks, page_chars)
    page = min(max(0, int(page)), pages - 1)
    cols = []
    for t in toks:
        if isinstance(t, TokenBudget):
            cols.append(f"<div>{_header(t)}</div>")
            continue
        body, i0, i1 = _body(t, page, page_chars)
        cols.append(f'<div>{_header(t, i0, i1)}<div class="nk-text">{body}</div></div>')
    did = dom_id or _dom_id(
        "nk-cmp", [(getattr(t, "model", ""), len(getattr(t, "ids", ()))) for t in toks], page
    )
    pager = f'<div class="nk-head">page {page + 1} of {pages}</div>' if pages > 1 else ""
    grid = f'<div class="nk-grid">{"".join(cols)}</div>'
    return f'{_CSS}<div class="nk-tok" id="{escape(did)}">{pager}{grid}</div>'


def summary_html(toks: Sequence[Tokenization | TokenBudget], *, tier: str | None = None) -> str:
    """Return an HTML table: per model, the tokenizer, the token count, the limit and whether it fits."""
    rows = []
    for t in toks:
        if isinstance(t, TokenBudget):
            rows.append(
                f"<tr><td>{escape(t.model)}</td><td>{escape(t.tokenizer)}</td>"
                f'<td class="nk-na">unavailable</td><td>{t.limit or ""}</td>'
                '<td class="nk-na">unavailable</td></tr>'
            )
            continue
        n = len(t.ids)
        if t.limit is None:
            status, cls = "no limit", ""
        elif n <= t.limit:
            status, cls = "fits", "nk-fits"
        else:
            status, cls = (
                ("over: the start is cut" if t.limit_from == "end" else "over: the end is cut"),
                "nk-over",
            )
        chunks = f" ({_plural(max(1, -(-n // t.chunk)), 'chunk')})" if t.chunk else ""
        rows.append(
            f"<tr><td>{escape(t.model)}</td><td>{escape(t.tokenizer)}</td><td>{n:,}{chunks}</td>"
            f'<td>{"" if t.limit is None else f"{t.limit:,}"}</td><td class="{cls}">{status}</td></tr>'
        )
    head = f"limit ({escape(tier)})" if tier else "limit"
    return (
        f'{_CSS}<div class="nk-tok"><table><tr><th>model</th><th>tokenizer</th><th>tokens</th>'
        f"<th>{head}</th><th>status</th></tr>{''.join(rows)}</table></div>"
    )


# --------------------------------------------------------------------------------------------------
# Logprobs (spec §5.7)


@dataclass(frozen=True)
class Candidate:
    """One candidate token of a logprobs entry: its ids, text and log-probabilities."""

    ids: tuple[int, ...]
    text: str
    before: float | None
    after: float | None

    @property
    def p_before(self) -> float | None:
        """Return the probability before sampling (None when not given)."""
        return None if self.before is None else math.exp(self.before)

    @property
    def p_after(self) -> float | None:
        """Return the probability after the sampler chain (None: removed by sampling, or not given)."""
        return None if self.after is None else math.exp(self.after)


@dataclass(frozen=True)
class LogprobStep:
    """One generated token: the chosen candidate and the top alternatives before and after sampling."""

    index: int
    chosen: Candidate
    before: tuple[Candidate, ...]
    after: tuple[Candidate, ...]


def _candidate(e: Any, model: str, where: str) -> Candidate:
    shape = "[[token_id, ...], [logprob_before, logprob_after_or_null]]"
    if not (isinstance(e, (list, tuple)) and len(e) == 2 and isinstance(e[0], (list, tuple)) and e[0]):
        raise InputError(where, e, shape)
    ids = e[0]
    probs = e[1] if isinstance(e[1], (list, tuple)) else None
    if (
        probs is None
        or len(probs) != 2
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    ):
        raise InputError(where, e, shape)
    vals = []
    for v in probs:
        if v is not None and not _is_logprob(v):
            raise InputError(where, e, shape, hint="log-probabilities are numbers <= 0 or null")
        vals.append(None if v is None else float(v))
    text = token_bytes(list(ids), model).decode("utf-8", "backslashreplace")
    return Candidate(tuple(ids), text, vals[0], vals[1])


def _is_logprob(v: Any) -> bool:
    # a natural log of a probability: <= 0 (a hair above allows float rounding; -inf is probability 0)
    f = finite(v)
    return (f is not None and f <= 1e-3) or (isinstance(v, float) and v == -math.inf)


def parse_logprobs(logprobs: Sequence[Any], model: str) -> list[LogprobStep]:
    """Return one :class:`LogprobStep` per generated token from a response's ``logprobs`` list.

    Each entry is ``{"chosen": [E], "before": [E...], "after": [E...]}`` with
    ``E = [[token_id, ...], [logprob_before, logprob_after_or_null]]`` (spec §5.7). Raises InputError
    naming the entry that does not have this shape.
    """
    if isinstance(logprobs, dict) and "logprobs" in logprobs:
        logprobs = logprobs["logprobs"]
    if not isinstance(logprobs, (list, tuple)):
        raise InputError("logprobs", logprobs, 'a list of {"chosen": [...], "before": [...], "after": [...]}')
    steps = []
    for k, entry in enumerate(logprobs):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("chosen"), (list, tuple))
            or not entry["chosen"]
        ):
            raise InputError(
                f"logprobs[{k}]", entry, 'a dict with "chosen": [E], "before": [E...], "after": [E...]'
            )
        chosen = _candidate(entry["chosen"][0], model, f"logprobs[{k}].chosen")
        lists = []
        for name in ("before", "after"):
            items = entry.get(name) or []
            if not isinstance(items, (list, tuple)):
                raise InputError(f"logprobs[{k}].{name}", items, "a list of [[token_id, ...], [lp, lp]]")
            lists.append(tuple(_candidate(e, model, f"logprobs[{k}].{name}") for e in items))
        before, after = lists
        steps.append(LogprobStep(k, chosen, before, after))
    return steps


def _pct(p: float | None) -> str:
    if p is None:
        return "removed"
    return f"{100 * p:.1f}%" if p >= 0.001 else f"{100 * p:.2g}%"


def _prob_colour(p: float | None) -> str:
    if p is None:
        return "hsl(0,0%,85%)"
    return f"hsl({120 * p:.0f},75%,{80 + 6 * (1 - p):.0f}%)"


def _step_title(step: LogprobStep, limit: int = 10) -> str:
    c = step.chosen
    lines = [
        f"#{step.index} · {c.text!r} · ids {list(c.ids)}",
        f"probability before sampling {_pct(c.p_before)}, after {_pct(c.p_after)}",
        "before: " + " | ".join(f"{a.text!r} {_pct(a.p_before)}" for a in step.before[:limit]),
        "after: " + " | ".join(f"{a.text!r} {_pct(a.p_after)}" for a in step.after[:limit]),
    ]
    return escape("\n".join(lines), quote=True)


def logprobs_html(
    logprobs: Sequence[Any] | Sequence[LogprobStep],
    model: str,
    *,
    by: str = "before",
    dom_id: str | None = None,
    max_tokens: int = 5000,
) -> str:
    """Return the HTML of a generation coloured by each token's probability (green likely, red unlikely).

    ``by`` chooses the probability: "before" (raw distribution) or "after" (after the sampler chain).
    Hovering a token lists the top alternatives before and after sampling. At most ``max_tokens``
    tokens are drawn.
    """
    if by not in ("before", "after"):
        raise InputError("by", by, "'before' or 'after'")
    steps = list(logprobs)
    if steps and not isinstance(steps[0], LogprobStep):
        steps = parse_logprobs(steps, model)
    shown = steps[:max_tokens]
    # Draw from the decoded text of all chosen ids so that characters split over tokens come out whole.
    ids = [i for s in shown for i in s.chosen.ids]
    tok = tokenization_from_ids(ids, model)
    out = []
    pos = 0
    for s in shown:
        k = len(s.chosen.ids)
        a = tok.starts[pos] if k else 0
        b = tok.ends[pos + k - 1] if k else 0
        text = tok.text[a:b] if b > a else s.chosen.text
        p = s.chosen.p_before if by == "before" else s.chosen.p_after
        out.append(
            f'<span class="nk-t" style="background:{_prob_colour(p)}" '
            f'title="{_step_title(s)}">{_show(text)}</span>'
        )
        pos += k
    more = (
        f'<div class="nk-head">… {len(steps) - len(shown):,} more tokens not drawn</div>'
        if len(steps) > len(shown)
        else ""
    )
    did = dom_id or _dom_id("nk-lp", model, ids[:64], len(ids), by)
    head = (
        f'<div class="nk-head"><b>{escape(model)}</b> · {_plural(len(steps), "generated token")} · '
        "colour: probability "
        f"{'before' if by == 'before' else 'after'} sampling (green likely, red unlikely, grey removed)</div>"
    )
    body = "".join(out)
    return f'{_CSS}<div class="nk-tok" id="{escape(did)}">{head}<div class="nk-text">{body}</div>{more}</div>'


def logprob_detail_html(step: LogprobStep) -> str:
    """Return an HTML table of one step's alternatives before and after sampling."""
    rows = []
    after = {a.ids: a for a in step.after}
    for cand in step.before:
        mark = " ◀ chosen" if cand.ids == step.chosen.ids else ""
        aft = after.get(cand.ids)
        rows.append(
            f"<tr><td>{_show(cand.text)}{mark}</td><td>{list(cand.ids)}</td><td>{_pct(cand.p_before)}</td>"
            f"<td>{_pct(aft.p_after) if aft else 'not listed'}</td></tr>"
        )
    c = step.chosen
    return (
        f'{_CSS}<div class="nk-tok"><div class="nk-head">token #{step.index}: {_show(c.text)} · '
        f"before {_pct(c.p_before)} · after {_pct(c.p_after)}</div><table><tr><th>candidate</th><th>ids</th>"
        f"<th>before sampling</th><th>after sampling</th></tr>{''.join(rows)}</table></div>"
    )
