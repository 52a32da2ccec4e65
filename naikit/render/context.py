"""HTML of a story context (what ``naikit.novelai``'s ``Context`` holds): the text coloured by source, a
budget bar per section and the lorebook entries with whether they fired and why. Pure: no ipywidgets.

It reads the context through :class:`ContextView` and :class:`SectionView`, the few attributes it shows,
so that render (a lower layer) names no client type."""

from __future__ import annotations

from collections.abc import Sequence, Sized
from html import escape
from typing import Protocol

__all__ = ["context_html", "ContextView", "SectionView"]


class SectionView(Protocol):
    """What :func:`context_html` reads of one section of a context."""

    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def included(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def tokens(self) -> int: ...


class ContextView(Protocol):
    """What :func:`context_html` reads of a context: its model, token limit and tokens (only counted), its
    sections and its pieces (the text in order, each with the name of its source)."""

    @property
    def model(self) -> str: ...
    @property
    def token_limit(self) -> int: ...
    @property
    def tokens(self) -> Sized: ...
    @property
    def sections(self) -> Sequence[SectionView]: ...
    @property
    def pieces(self) -> Sequence[tuple[str, str]]: ...


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


def context_html(ctx: ContextView) -> str:
    """Return HTML for a context (``naikit.novelai``'s ``Context``, or anything shaped like
    :class:`ContextView`): the text coloured by source, budget bars, entry table."""
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
