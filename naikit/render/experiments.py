"""Pure SVG/HTML builders for experiment plots (deterministic: the same data give the same markup)."""

from __future__ import annotations

import math
from html import escape

__all__ = ["strip_plot_svg"]


def strip_plot_svg(
    groups: list[tuple[str, list[float]]],
    cis: list[tuple[float, float, float]],
    *,
    title: str = "",
    width: int = 520,
    row: int = 28,
) -> str:
    """Return an SVG strip plot: one row per group, a dot per value, the mean as a tick and its
    interval as a bar (``cis``: ``(mean, low, high)`` per group)."""
    vals = [v for _, vs in groups for v in vs if not math.isnan(v)]
    vals += [x for c in cis for x in c if not math.isnan(x)]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    left, right = 140, 20
    span = width - left - right

    def x(v: float) -> float:
        return round(left + (v - lo) / (hi - lo) * span, 2)

    h = 30 + row * len(groups) + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" font-size="11" '
        'font-family="sans-serif">'
    ]
    out.append(f'<text x="4" y="14" font-weight="bold">{escape(title)}</text>')
    for i, ((name, vs), (mean, clo, chi)) in enumerate(zip(groups, cis, strict=True)):
        y = 30 + i * row + row / 2
        out.append(f'<text x="4" y="{y + 4}">{escape(name[:22])}</text>')
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y}" y2="{y}" stroke="#eee"/>')
        for v in vs:
            if not math.isnan(v):
                out.append(f'<circle cx="{x(v)}" cy="{y}" r="3" fill="#4c78a8" fill-opacity="0.5"/>')
        if not math.isnan(mean):
            out.append(
                f'<line x1="{x(clo)}" x2="{x(chi)}" y1="{y}" y2="{y}" stroke="#e45756" stroke-width="3"/>'
            )
            out.append(
                f'<line x1="{x(mean)}" x2="{x(mean)}" y1="{y - 8}" y2="{y + 8}" '
                'stroke="#e45756" stroke-width="2"/>'
            )
    yb = h - 6
    out.append(f'<text x="{left}" y="{yb}">{lo:.3g}</text>')
    out.append(f'<text x="{width - right}" y="{yb}" text-anchor="end">{hi:.3g}</text>')
    out.append("</svg>")
    return "".join(out)
