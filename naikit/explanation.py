"""What the sampler explainer returns: :class:`SamplerExplanation` (one step of the chain traced candidate by
candidate) and its pure, deterministic views (:func:`explanation_svg`, :func:`explanation_html`).

* ``.to_frame()`` — one row per candidate: ``token_id``, ``piece``, ``p_given`` (the probability as
  given), ``p_start`` (what the chain starts from), one ``p_<sampler>`` column per sampler of the chain
  (the probability after it; 0 once removed), ``survived``, ``removed_by`` (the sampler that removed it,
  "" if none), ``chosen``, and for a Generation ``server_kept`` (whether the server's ``after`` value
  was non-null);
* ``.stages_frame()`` — one row per sampler: its setting, how many candidates it kept, which it removed;
* ``.chart_svg()`` — a small, pure, deterministic SVG bar chart (one row per candidate, one column per
  stage), and ``_repr_html_`` showing the chart, the stage table and the notes.

:func:`naikit.explain.explain_step` builds one.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

from . import sampling
from .errors import InputError
from .novelai._preset_params import SAMPLER_KEYS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["SamplerExplanation", "explanation_svg", "explanation_html", "stage_setting"]

# the numeric parameters each sampler reads (as in the request), to label the stages: the request's own
# table without cfg's negative prompt text
_SETTINGS: dict[str, tuple[str, ...]] = {
    name: tuple(k for k in keys if k != "cfg_uc") for name, keys in SAMPLER_KEYS.items()
}
_NEUTRAL: dict[str, Any] = {
    "temperature": 1.0,
    "top_k": 0,
    "top_p": 1.0,
    "tail_free_sampling": 1.0,
    "top_a": 0.0,
    "typical_p": 1.0,
    "cfg_scale": 1.0,
    "top_g": 0,
    "mirostat_tau": 0.0,
    "mirostat_lr": 1.0,
    "math1_temp": 1.0,
    "math1_quad": 0.0,
    "math1_quad_entropy_scale": 0.0,
    "min_p": 0.0,
}


def stage_setting(name: str, params: Mapping[str, Any]) -> str:
    """Return a short text of the values sampler ``name`` reads from ``params`` ("0.9", "tau 4, lr 0.5")."""
    keys = _SETTINGS[sampling.sampler_name(name)]
    vals = [params.get(k, _NEUTRAL[k]) for k in keys]
    if len(keys) == 1:
        return _fmt(vals[0])
    short = {"mirostat_tau": "tau", "mirostat_lr": "lr", "math1_temp": "linear", "math1_quad": "quad",
             "math1_quad_entropy_scale": "conf"}  # fmt: skip
    return ", ".join(f"{short[k]} {_fmt(v)}" for k, v in zip(keys, vals, strict=True))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


@dataclass
class SamplerExplanation:
    """One step of the sampler chain traced candidate by candidate (see the module docstring).

    ``candidates`` are the keys the chain ran on, highest starting probability first; ``token_ids`` and
    ``pieces`` map them to token ids (an int, or a tuple for a multi-token candidate) and their text.
    ``stages`` are the sampler names in chain order and ``probs[i]`` the distribution after stage ``i``
    (``probs[0]`` is the start; probabilities are over the whole distribution). ``rest`` is the
    probability of the tokens beyond the candidates after each stage (None when the candidates are the
    whole distribution). ``server_kept`` (Generation only) maps a candidate to whether the server's
    ``after`` value was non-null.
    """

    candidates: list[int]
    token_ids: dict[int, Any]
    pieces: dict[int, str]
    given: dict[int, float]
    stages: list[str]
    settings: list[str]
    probs: list[dict[int, float]]
    chosen: int | None = None
    position: int | None = None
    model: str | None = None
    source: str = "distribution"
    coverage: float | None = None
    rest: list[float] | None = None
    server_kept: dict[int, bool] | None = None
    notes: list[str] = field(default_factory=list)

    # -- questions -----------------------------------------------------------------------------------
    @property
    def survivors(self) -> list[int]:
        """Return the candidates left after the whole chain (token ids), most likely first."""
        final = self.probs[-1]
        return [self.token_ids[c] for c in self.candidates if c in final]

    def removed_by(self, key: int) -> str:
        """Return the sampler that removed candidate ``key`` ("" when it survived the chain)."""
        for name, dist in zip(self.stages, self.probs[1:], strict=True):
            if key not in dist:
                return name
        return ""

    def kept_after(self, stage: str) -> list[int]:
        """Return the token ids left after sampler ``stage`` (``"start"`` for the candidates)."""
        if stage == "start":
            return [self.token_ids[c] for c in self.candidates]
        if stage not in self.stages:
            raise InputError("stage", stage, "'start' or a sampler of this chain: " + ", ".join(self.stages))
        dist = self.probs[1 + self.stages.index(stage)]
        return [self.token_ids[c] for c in self.candidates if c in dist]

    @property
    def agrees_with_server(self) -> bool | None:
        """Return whether every candidate survived here exactly when the server kept it (None without a
        server answer to compare with)."""
        if self.server_kept is None:
            return None
        final = self.probs[-1]
        return all((c in final) == self.server_kept.get(c, False) for c in self.candidates)

    # -- conversion ----------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """Return one row per candidate with the columns described in the module docstring."""
        import pandas as pd

        cols = ["token_id", "piece", "p_given", "p_start", *(f"p_{s}" for s in self.stages)]
        cols += ["survived", "removed_by", "chosen"]
        if self.server_kept is not None:
            cols.append("server_kept")
        final = self.probs[-1]
        rows = []
        for c in self.candidates:
            row: dict[str, Any] = {
                "token_id": self.token_ids[c],
                "piece": self.pieces[c],
                "p_given": self.given[c],
                "p_start": self.probs[0].get(c, 0.0),
            }
            for s, dist in zip(self.stages, self.probs[1:], strict=True):
                row[f"p_{s}"] = dist.get(c, 0.0)
            row["survived"] = c in final
            row["removed_by"] = self.removed_by(c)
            row["chosen"] = c == self.chosen
            if self.server_kept is not None:
                row["server_kept"] = self.server_kept.get(c, False)
            rows.append(row)
        return pd.DataFrame(rows, columns=cols)

    @property
    def frame(self) -> pd.DataFrame:
        """Return :meth:`to_frame`."""
        return self.to_frame()

    def stages_frame(self) -> pd.DataFrame:
        """Return one row per stage (``start`` first): stage, setting, kept (candidates left), removed
        (their pieces), top (the likeliest piece), top_p (its probability) and rest (the probability of
        the tokens beyond the candidates; NaN when the candidates are the whole distribution)."""
        import pandas as pd

        rows = [self._stage_row("start", "", self.probs[0], set())]
        prev = set(self.probs[0])
        for s, setting, dist in zip(self.stages, self.settings, self.probs[1:], strict=True):
            rows.append(self._stage_row(s, setting, dist, prev))
            prev = set(dist)
        for i, row in enumerate(rows):
            row["rest"] = self.rest[i] if self.rest is not None else math.nan
        return pd.DataFrame(rows, columns=["stage", "setting", "kept", "removed", "top", "top_p", "rest"])

    def _stage_row(self, name: str, setting: str, dist: dict[int, float], prev: set[int]) -> dict[str, Any]:
        top = max(dist, key=lambda c: (dist[c], -self.candidates.index(c))) if dist else None
        return {
            "stage": name,
            "setting": setting,
            "kept": len(dist),
            "removed": [self.pieces[c] for c in self.candidates if c in prev and c not in dist],
            "top": self.pieces[top] if top is not None else "",
            "top_p": dist[top] if top is not None else math.nan,
        }

    # -- display -------------------------------------------------------------------------------------
    def chart_svg(self, *, limit: int = 12) -> str:
        """Return the bar chart as an SVG string (see :func:`explanation_svg`)."""
        return explanation_svg(self, limit=limit)

    def _repr_html_(self) -> str:
        return explanation_html(self)

    def __repr__(self) -> str:
        chain = (
            " > ".join(f"{s}({t})" for s, t in zip(self.stages, self.settings, strict=True)) or "no samplers"
        )
        at = f" at position {self.position}" if self.position is not None else ""
        return (
            f"SamplerExplanation({len(self.candidates)} candidates{at}; {chain}; "
            f"{len(self.probs[-1])} survive)"
        )


def _label(piece: str, width: int = 14) -> str:
    shown = piece.replace(" ", "·").replace("\n", "↵").replace("\t", "⇥")
    return shown if len(shown) <= width else shown[: width - 1] + "…"


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%" if p >= 0.001 else f"{100 * p:.2g}%"


def explanation_svg(e: SamplerExplanation, *, limit: int = 12) -> str:
    """Return a pure, deterministic SVG chart of ``e``: one row per candidate (the ``limit`` most likely
    at the start), one column per stage; each cell a bar as long as the probability after that stage,
    a cross where a sampler removed the candidate. The chosen token's row is drawn in orange (and always
    shown); a grey last row holds the tokens beyond the candidates, when there are any."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError("limit", limit, "an int >= 1")
    rows = e.candidates[:limit]
    if e.chosen is not None and e.chosen not in rows:
        rows.append(e.chosen)
    hidden = len(e.candidates) - len(rows)
    columns = [("start", "")] + list(zip(e.stages, e.settings, strict=True))
    lw, cw, rh, hh = 128, 92, 18, 34
    width = lw + cw * len(columns) + 4
    height = hh + rh * (len(rows) + (e.rest is not None)) + (16 if hidden else 4)
    did = (
        "nk-expl-"
        + hashlib.sha1(
            repr(
                (
                    e.model,
                    e.position,
                    e.candidates,
                    e.stages,
                    e.settings,
                    [sorted(d.items()) for d in e.probs],
                )
            ).encode("utf-8", "surrogatepass")
        ).hexdigest()[:10]
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{did}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="system-ui,sans-serif" font-size="11">'
    ]
    for j, (name, setting) in enumerate(columns):
        x = lw + j * cw
        out.append(f'<text x="{x + 2}" y="13" font-weight="bold">{escape(name)}</text>')
        if setting:
            out.append(
                f'<text x="{x + 2}" y="27" fill="#666"><title>{escape(setting)}</title>'
                f"{escape(setting if len(setting) <= 15 else setting[:14] + '…')}</text>"
            )
    for i, c in enumerate(rows):
        y = hh + i * rh
        is_chosen = c == e.chosen
        weight = ' font-weight="bold"' if is_chosen else ""
        mark = "▶ " if is_chosen else ""
        out.append(
            f'<text x="4" y="{y + 13}"{weight}><title>{escape(repr(e.pieces[c]))} '
            f"(id {escape(str(e.token_ids[c]))})</title>{escape(mark + _label(e.pieces[c]))}</text>"
        )
        gone = False
        for j, dist in enumerate(e.probs):
            x = lw + j * cw
            if gone:
                out.append(
                    f'<rect x="{x + 2}" y="{y + 3}" width="{cw - 8}" height="{rh - 6}" fill="#f3f3f3"/>'
                )
                continue
            if c not in dist:
                gone = True
                out.append(
                    f'<rect x="{x + 2}" y="{y + 3}" width="{cw - 8}" height="{rh - 6}" fill="#fbe3e0"/>'
                )
                out.append(f'<text x="{x + 6}" y="{y + 13}" fill="#c0392b">✕ removed</text>')
                continue
            p = dist[c]
            fill = "#e67e22" if is_chosen else "#5b8def"
            bar = max(1.0, p * (cw - 8))
            out.append(
                f'<rect x="{x + 2}" y="{y + 3}" width="{bar:.1f}" height="{rh - 6}" fill="{fill}" '
                'opacity="0.75"/>'
            )
            out.append(f'<text x="{x + cw - 8}" y="{y + 13}" text-anchor="end">{_pct(p)}</text>')
    if e.rest is not None:
        y = hh + len(rows) * rh
        out.append(f'<text x="4" y="{y + 13}" fill="#666">(other tokens)</text>')
        for j, mass in enumerate(e.rest):
            x = lw + j * cw
            bar = max(1.0, mass * (cw - 8)) if mass > 0 else 0.0
            out.append(
                f'<rect x="{x + 2}" y="{y + 3}" width="{bar:.1f}" height="{rh - 6}" '
                'fill="#999" opacity="0.5"/>'
            )
            out.append(
                f'<text x="{x + cw - 8}" y="{y + 13}" text-anchor="end" fill="#666">{_pct(mass)}</text>'
            )
    if hidden:
        out.append(
            f'<text x="4" y="{height - 4}" fill="#666">… {hidden} more '
            f"candidate{'s' if hidden > 1 else ''} in the table</text>"
        )
    out.append("</svg>")
    return "".join(out)


def explanation_html(e: SamplerExplanation, *, limit: int = 12) -> str:
    """Return the HTML view of ``e``: a header line, the chart, the stage table and the notes (pure and
    deterministic: the same explanation gives the same string)."""
    head = []
    if e.model:
        head.append(escape(e.model))
    if e.position is not None:
        head.append(f"token {e.position}")
    if e.chosen is not None:
        head.append(f"chosen <b>{escape(_label(e.pieces[e.chosen], 30))}</b>")
    head.append(f"{len(e.candidates)} candidates")
    if e.coverage is not None:
        head.append(f"{e.coverage:.1%} of the probability")
    head.append(f"{len(e.probs[-1])} survive")
    agree = e.agrees_with_server
    if agree is not None:
        head.append(
            "matches the server's after-list" if agree else "<b>differs</b> from the server's after-list"
        )
    rows = []
    prev = set(e.probs[0])
    for s, setting, dist in zip(e.stages, e.settings, e.probs[1:], strict=True):
        removed = [e.pieces[c] for c in e.candidates if c in prev and c not in dist]
        shown = ", ".join(escape(repr(p)) for p in removed[:8]) + (
            f" … (+{len(removed) - 8})" if len(removed) > 8 else ""
        )
        rows.append(
            f"<tr><td>{escape(s)}</td><td>{escape(setting)}</td><td>{len(dist)}</td><td>{shown}</td></tr>"
        )
        prev = set(dist)
    table = (
        "<style>.nk-xs{border-collapse:collapse;font:12px system-ui;margin-top:6px}"
        ".nk-xs td,.nk-xs th{padding:1px 8px;text-align:left}</style>"
        '<table class="nk-xs"><tr><th>sampler</th><th>setting</th><th>kept</th><th>removed here</th></tr>'
        + "".join(rows)
        + "</table>"
        if rows
        else '<div style="font:12px system-ui">No samplers: the distribution is sampled as it is.</div>'
    )
    notes = "".join(f"<li>{escape(n)}</li>" for n in e.notes)
    return (
        '<div class="nk-explain">'
        f'<div style="font:12px system-ui;color:#444;margin-bottom:4px">{" · ".join(head)}</div>'
        f"{explanation_svg(e, limit=limit)}{table}"
        + (f'<ul style="font:12px system-ui;color:#666">{notes}</ul>' if notes else "")
        + "</div>"
    )
