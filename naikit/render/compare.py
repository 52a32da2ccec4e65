"""Pure HTML for a :class:`~naikit.comparison.Comparison`, one view for its notebook display
(``comparison_html``) and the compare widget alike: the texts side by side with the words that differ
from one chosen base preset highlighted, and the summary table with integers as integers. Uses only the
comparison's public face (``presets``, ``seeds``, ``generations``, ``to_frame()``, ``summary()``), so it
works whatever runs the generations."""

from __future__ import annotations

import difflib
import hashlib
import math
import re
from html import escape
from typing import Any

from ..errors import InputError

__all__ = ["side_by_side_html", "summary_table_html", "diff_html"]

_CSS = (
    "<style>.nk-cmpv table{border-collapse:collapse;font:13px system-ui}"
    ".nk-cmpv td,.nk-cmpv th{border:1px solid #ddd;padding:4px 8px;vertical-align:top;text-align:left}"
    ".nk-cmpv .nk-text{white-space:pre-wrap;text-align:left}.nk-cmpv mark.nk-diff{background:#ffe58a}"
    ".nk-cmpv .nk-base{background:#f4f8fb}.nk-cmpv .nk-m{color:#666;font-size:11px;margin-top:4px}"
    ".nk-cmpv td.nk-num{text-align:right;font-variant-numeric:tabular-nums}</style>"
)
_WORD = re.compile(r"\s+|[^\s]+")


def diff_html(text: str, base: str) -> str:
    """Return ``text`` as escaped HTML with the words that are not in ``base`` (in order) highlighted."""
    a = _WORD.findall(base)
    b = _WORD.findall(text)
    out = []
    for op, _, _, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        chunk = escape("".join(b[j1:j2]))
        out.append(chunk if op == "equal" or not chunk.strip() else f'<mark class="nk-diff">{chunk}</mark>')
    return "".join(out)


def _base(c: Any, base: str | None) -> str:
    if base is None:
        return c.presets[0]
    if base not in c.presets:
        raise InputError("base", base, f"one of the compared presets: {', '.join(c.presets)}")
    return base


def side_by_side_html(c: Any, *, base: str | None = None, dom_id: str | None = None) -> str:
    """Return the texts side by side (a column per preset, a row per seed) with the words that differ
    from the ``base`` preset's text of the same seed highlighted (default: the first preset), and the
    metrics under each text. Deterministic: no timings."""
    base = _base(c, base)
    frame = c.to_frame()
    metrics = {(r.preset, r.seed): r for r in frame.itertuples()}
    key = repr((c.model, c.presets, c.seeds, base))
    did = dom_id or "nk-cmp-" + hashlib.sha1(key.encode()).hexdigest()[:10]
    base_cls = ' class="nk-base"'
    head = "".join(
        f"<th{base_cls}>{escape(p)} (base)</th>" if p == base else f"<th>{escape(p)}</th>" for p in c.presets
    )
    body = []
    for seed in c.seeds:
        ref = c.generations[(base, seed)].text
        cells = []
        for name in c.presets:
            g = c.generations[(name, seed)]
            r = metrics[(name, seed)]
            text = escape(g.text) if name == base else diff_html(g.text, ref)
            ml = "–" if math.isnan(r.mean_logprob) else f"{r.mean_logprob:.2f}"
            cls = ' class="nk-base"' if name == base else ""
            cells.append(
                f'<td{cls}><div class="nk-text">{text}</div><div class="nk-m">{r.tokens} tokens · mean '
                f"logprob {ml} · distinct-2 {r.distinct_2:.2f} · repeated {r.repetition_rate:.0%}</div></td>"
            )
        body.append(f"<tr><th>seed {seed}</th>{''.join(cells)}</tr>")
    prompt = escape(c.prompt[:80]) + ("…" if len(c.prompt) > 80 else "")
    return (
        f'{_CSS}<div class="nk-cmpv" id="{did}"><div>{escape(c.model)} · prompt: {prompt} · '
        f"highlighted: words not in {escape(base)}'s text</div>"
        f"<table><tr><th></th>{head}</tr>{''.join(body)}</table></div>"
    )


def _cell(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return escape(str(v))
    if isinstance(v, (int, float)):
        if isinstance(v, float) and math.isnan(v):
            return "–"
        if float(v).is_integer():
            return f"{int(v):,}"
        return f"{v:.3f}"
    return escape(str(v))


def summary_table_html(c: Any, *, drop: tuple[str, ...] = ("time_s",)) -> str:
    """Return ``c.summary()`` as an HTML table: one row per preset (its name in the first column, no
    empty header row), integers shown as integers, other numbers to three decimals, text left-aligned."""
    table = c.summary()
    table = table.drop(columns=[k for k in drop if k in table.columns])
    cols = [str(k) for k in table.columns]
    head = "<th>preset</th>" + "".join(f"<th>{escape(k)}</th>" for k in cols)
    rows = []
    for name, row in table.iterrows():
        cells = "".join(f'<td class="nk-num">{_cell(row[k])}</td>' for k in table.columns)
        rows.append(f"<tr><th>{escape(str(name))}</th>{cells}</tr>")
    return f'{_CSS}<div class="nk-cmpv"><table><tr>{head}</tr>{"".join(rows)}</table></div>'
