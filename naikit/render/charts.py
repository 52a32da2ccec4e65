"""Pure SVG charts (no plotting library): the same input gives the same text, every label escaped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["nice_ticks", "line_chart_svg"]


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Return about ``count`` round tick values (1, 2 or 5 times a power of ten apart) covering lo..hi."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        return []
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        return [lo]
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    ratio = raw / mag  # 1 <= ratio < 10: round to the nearest of 1, 2, 5, 10
    step = mag * (1 if ratio < 1.5 else 2 if ratio < 3 else 5 if ratio < 7 else 10)
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    v = first
    while v <= hi + step * 1e-9:
        out.append(round(v, 12))
        v += step
    return out


def _label(v: float) -> str:
    if v == int(v) and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.3g}"


def line_chart_svg(
    values: Sequence[float],
    *,
    total: int | None = None,
    width: int = 320,
    height: int = 160,
    x_label: str = "step",
    y_label: str = "loss",
    title: str = "",
) -> str:
    """Return an SVG line chart of ``values`` (one per step, starting at step 1) with axes, round ticks
    on both, axis labels and the last value marked. ``total`` fixes the x axis to that many steps, so a
    curve that is still growing keeps its scale."""
    left, right, top, bottom = 44, 10, 18 if title else 8, 30
    pw, ph = width - left - right, height - top - bottom
    head = (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' class='naikit-chart' font-family='sans-serif' font-size='10'>"
    )
    parts = [head]
    if title:
        parts.append(f"<text x='{left}' y='12' font-weight='bold'>{escape(title)}</text>")
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not finite:
        parts.append(
            f"<text x='{left + 4}' y='{top + ph // 2}' fill='#888'>no {escape(y_label)} yet</text></svg>"
        )
        return "".join(parts)
    n = max(total or 0, len(values), 2)
    lo, hi = min(finite), max(finite)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    yt = nice_ticks(lo, hi)
    lo, hi = min([lo, *yt]), max([hi, *yt])

    def x(step: float) -> float:
        return left + pw * (step - 1) / (n - 1)

    def y(v: float) -> float:
        return top + ph * (1 - (v - lo) / (hi - lo))

    # axes
    parts.append(
        f"<path d='M{left},{top} V{top + ph} H{left + pw}' fill='none' stroke='#444' stroke-width='1'/>"
    )
    for t in yt:
        ty = y(t)
        parts.append(
            f"<line x1='{left}' x2='{left + pw}' y1='{ty:.1f}' y2='{ty:.1f}' stroke='#ddd'/>"
            f"<text x='{left - 4}' y='{ty + 3:.1f}' text-anchor='end'>{_label(t)}</text>"
        )
    xt = [t for t in nice_ticks(1, n) if t >= 1] or [1]
    for t in xt:
        tx = x(t)
        parts.append(
            f"<line x1='{tx:.1f}' x2='{tx:.1f}' y1='{top + ph}' y2='{top + ph + 4}' stroke='#444'/>"
            f"<text x='{tx:.1f}' y='{top + ph + 14}' text-anchor='middle'>{_label(t)}</text>"
        )
    parts.append(
        f"<text x='{left + pw / 2:.1f}' y='{height - 3}' text-anchor='middle' fill='#444'>"
        f"{escape(x_label)}</text>"
        f"<text x='10' y='{top + ph / 2:.1f}' text-anchor='middle' fill='#444' "
        f"transform='rotate(-90 10 {top + ph / 2:.1f})'>{escape(y_label)}</text>"
    )
    pts = " ".join(
        f"{x(i + 1):.1f},{y(v):.1f}"
        for i, v in enumerate(values)
        if isinstance(v, (int, float)) and math.isfinite(v)
    )
    parts.append(f"<polyline fill='none' stroke='#3b7dd8' stroke-width='1.5' points='{pts}'/>")
    last_i = max(i for i, v in enumerate(values) if isinstance(v, (int, float)) and math.isfinite(v))
    lx, ly = x(last_i + 1), y(values[last_i])
    anchor = "end" if lx > left + pw * 0.7 else "start"
    dx = -4 if anchor == "end" else 4
    parts.append(
        f"<circle cx='{lx:.1f}' cy='{ly:.1f}' r='2.5' fill='#3b7dd8'/>"
        f"<text x='{lx + dx:.1f}' y='{max(top + 8, ly - 5):.1f}' text-anchor='{anchor}'>"
        f"step {last_i + 1}: {values[last_i]:.4g}</text></svg>"
    )
    return "".join(parts)
