"""Pure HTML builders for the token inspector and the logprob view (no ipywidgets, no JavaScript).

Everything here returns a string, drawn as :mod:`naikit.tokenizers.view` draws one tokenization (the
view a :class:`~naikit.tokenizers.Tokenization` shows of itself, which is why it lives in the
tokenizers package): several tokenizations side by side (:func:`compare_html`), a table of counts
against limits (:func:`summary_html`) and a generation coloured by token probability
(:func:`logprobs_html`). :func:`tokenization_html` is the single view, listed here with the others.
Every piece of text is escaped and element ids derive from a hash of the input, so the same input
always gives the same HTML.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from ..errors import InputError
from ..tokenizers import (
    LogprobStep,
    TokenBudget,
    Tokenization,
    parse_logprobs,
    tokenization_from_ids,
)
from ..tokenizers.view import (
    DEFAULT_PAGE_CHARS,
    TOKENS_CSS,
    dom_id_for,
    pages_for,
    plural,
    show_text,
    tokenization_html,
    tokens_body,
    tokens_header,
)

__all__ = [
    "DEFAULT_PAGE_CHARS",
    "page_count",
    "tokenization_html",
    "compare_html",
    "summary_html",
    "logprobs_html",
    "logprob_detail_html",
]


def page_count(
    toks: Sequence[Tokenization | TokenBudget] | Tokenization, page_chars: int = DEFAULT_PAGE_CHARS
) -> int:
    """Return how many pages of ``page_chars`` characters the text of ``toks`` fills (at least 1)."""
    if isinstance(toks, Tokenization):
        toks = [toks]
    return pages_for(max((len(t.text) for t in toks if isinstance(t, Tokenization)), default=0), page_chars)


def _header(tok: Tokenization | TokenBudget, i0: int = 0, i1: int = 0) -> str:
    if isinstance(tok, TokenBudget):
        return (
            f'<div class="nk-head"><b>{escape(tok.model)}</b> · {escape(tok.tokenizer)} · '
            f'<span class="nk-na">unavailable: no {escape(tok.tokenizer)} tokenizer is shipped</span></div>'
        )
    return tokens_header(tok, i0, i1)


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
        body, i0, i1 = tokens_body(t, page, page_chars)
        cols.append(f'<div>{_header(t, i0, i1)}<div class="nk-text">{body}</div></div>')
    did = dom_id or dom_id_for(
        "nk-cmp", [(getattr(t, "model", ""), len(getattr(t, "ids", ()))) for t in toks], page
    )
    pager = f'<div class="nk-head">page {page + 1} of {pages}</div>' if pages > 1 else ""
    grid = f'<div class="nk-grid">{"".join(cols)}</div>'
    return f'{TOKENS_CSS}<div class="nk-tok" id="{escape(did)}">{pager}{grid}</div>'


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
        chunks = f" ({plural(max(1, -(-n // t.chunk)), 'chunk')})" if t.chunk else ""
        rows.append(
            f"<tr><td>{escape(t.model)}</td><td>{escape(t.tokenizer)}</td><td>{n:,}{chunks}</td>"
            f'<td>{"" if t.limit is None else f"{t.limit:,}"}</td><td class="{cls}">{status}</td></tr>'
        )
    head = f"limit ({escape(tier)})" if tier else "limit"
    return (
        f'{TOKENS_CSS}<div class="nk-tok"><table><tr><th>model</th><th>tokenizer</th><th>tokens</th>'
        f"<th>{head}</th><th>status</th></tr>{''.join(rows)}</table></div>"
    )


# --------------------------------------------------------------------------------------------------
# Logprobs (spec §5.7; parsed by naikit.tokenizers.parse_logprobs)


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
            f'title="{_step_title(s)}">{show_text(text)}</span>'
        )
        pos += k
    more = (
        f'<div class="nk-head">… {len(steps) - len(shown):,} more tokens not drawn</div>'
        if len(steps) > len(shown)
        else ""
    )
    did = dom_id or dom_id_for("nk-lp", model, ids[:64], len(ids), by)
    head = (
        f'<div class="nk-head"><b>{escape(model)}</b> · {plural(len(steps), "generated token")} · '
        "colour: probability "
        f"{'before' if by == 'before' else 'after'} sampling (green likely, red unlikely, grey removed)</div>"
    )
    body = "".join(out)
    return (
        f'{TOKENS_CSS}<div class="nk-tok" id="{escape(did)}">{head}'
        f'<div class="nk-text">{body}</div>{more}</div>'
    )


def logprob_detail_html(step: LogprobStep) -> str:
    """Return an HTML table of one step's alternatives before and after sampling."""
    rows = []
    after = {a.ids: a for a in step.after}
    for cand in step.before:
        mark = " ◀ chosen" if cand.ids == step.chosen.ids else ""
        aft = after.get(cand.ids)
        rows.append(
            f"<tr><td>{show_text(cand.text)}{mark}</td><td>{list(cand.ids)}</td><td>{_pct(cand.p_before)}</td>"
            f"<td>{_pct(aft.p_after) if aft else 'not listed'}</td></tr>"
        )
    c = step.chosen
    return (
        f'{TOKENS_CSS}<div class="nk-tok"><div class="nk-head">token #{step.index}: {show_text(c.text)} · '
        f"before {_pct(c.p_before)} · after {_pct(c.p_after)}</div><table><tr><th>candidate</th><th>ids</th>"
        f"<th>before sampling</th><th>after sampling</th></tr>{''.join(rows)}</table></div>"
    )
