"""HTML of a story context (:class:`~naikit.novelai.story_context.Context`): the text coloured by source,
a budget bar per section and the lorebook entries with whether they fired and why. Pure: no ipywidgets."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..novelai.story_context import Context

__all__ = ["context_html"]

_COLOURS = {
    "story": "#e5e7eb",
    "memory": "#bfdbfe",
    "an": "#fde68a",
    "ephemeral": "#ddd6fe",
    "lore": "#bbf7d0",
    "system-prompt": "#fed7aa",
    "prefill": "#fbcfe8",
}


def _colour(kind: str) -> str:
    return _COLOURS.get(kind, "#f3f4f6")


def context_html(ctx: Context) -> str:
    """Return HTML for a :class:`Context`: the text coloured by source, budget bars, entry table."""
    kinds = {s.name: s.kind for s in ctx.sections}
    spans = []
    for text, source in ctx.pieces:
        kind = kinds.get(source, source)
        spans.append(
            f'<span title="{escape(source)}" style="background:{_colour(kind)}">{escape(text)}</span>'
        )
    limit = max(1, ctx.token_limit)
    bars = []
    for s in ctx.sections:
        if not s.included:
            continue
        pct = min(100.0, 100.0 * s.tokens / limit)
        bars.append(
            f"<tr><td>{escape(s.name)}</td><td>{s.tokens}</td><td style='width:240px'>"
            f"<div style='background:{_colour(s.kind)};width:{pct:.1f}%;height:10px'></div></td></tr>"
        )
    used = len(ctx.tokens)
    rows = []
    for s in ctx.sections:
        if s.kind != "lore":
            continue
        mark = "✔" if s.included else "✘"
        rows.append(
            f"<tr><td>{mark}</td><td>{escape(s.name)}</td><td>{escape(s.reason)}</td>"
            f"<td>{escape(s.key)}</td><td>{s.tokens}</td></tr>"
        )
    return (
        f'<div class="naikit-context" style="font:12px system-ui">'
        f"<b>{escape(ctx.model)}</b>: {used} of {ctx.token_limit} tokens"
        '<pre style="white-space:pre-wrap;font-size:12px;max-height:320px;overflow:auto">'
        f"{''.join(spans)}</pre>"
        f"<table><tr><th>section</th><th>tokens</th><th>budget</th></tr>{''.join(bars)}</table>"
        f"<table><tr><th></th><th>entry</th><th>why</th><th>key</th><th>tokens</th></tr>{''.join(rows)}</table>"
        "</div>"
    )
