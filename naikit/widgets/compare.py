"""Side-by-side comparison widget for :func:`naikit.compare` results.

``compare_widget(comparison)`` returns an ipywidgets ``VBox``: a toggle between the side-by-side texts
(the words that differ from one chosen base preset highlighted) and the per-preset summary table. ``view``
and ``base`` are traitlets: set them from Python, ``observe`` or ``link`` them. The HTML comes from
``naikit.render.compare``.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import traitlets

from ..comparison import Comparison
from ..errors import InputError
from ..render.compare import side_by_side_html, summary_table_html
from .snapshot import Snapshot

__all__ = ["CompareWidget", "compare_widget"]

_VIEWS = ("side by side", "summary")


class CompareWidget(Snapshot, widgets.VBox):
    """Side-by-side texts or the summary table of one :class:`~naikit.comparison.Comparison`."""

    view = traitlets.Unicode("side by side", help="the view shown: 'side by side' or 'summary'")
    base = traitlets.Unicode("", help="the preset the other texts are compared with")

    def __repr__(self) -> str:
        return f"CompareWidget({len(self.comparison.generations)} generations, view={self.view!r})"

    def __init__(self, comparison: Comparison, *, base: str | None = None):
        if not isinstance(comparison, Comparison):
            raise InputError("comparison", comparison, "a Comparison (the result of naikit.compare)")
        self.comparison = comparison
        self._ready = False
        self.toggle = widgets.ToggleButtons(options=list(_VIEWS), value="side by side")
        self.base_select = widgets.Dropdown(
            options=list(comparison.presets), description="compare with", style={"description_width": "auto"}
        )
        self.html = widgets.HTML()
        self.toggle.observe(lambda change: setattr(self, "view", change["new"]), names="value")
        self.base_select.observe(lambda change: setattr(self, "base", change["new"]), names="value")
        super().__init__([widgets.HBox([self.toggle, self.base_select]), self.html])
        self.base = comparison.presets[0] if base is None else base
        self._ready = True
        self._draw()

    @traitlets.validate("view")
    def _check_view(self, proposal: dict[str, Any]) -> str:
        if proposal["value"] not in _VIEWS:
            raise InputError("view", proposal["value"], "'side by side' or 'summary'")
        return proposal["value"]

    @traitlets.validate("base")
    def _check_base(self, proposal: dict[str, Any]) -> str:
        if proposal["value"] not in self.comparison.presets:
            raise InputError("base", proposal["value"], f"one of {', '.join(self.comparison.presets)}")
        return proposal["value"]

    @traitlets.observe("view", "base")
    def _changed(self, change: dict[str, Any]) -> None:
        self.toggle.value = self.view
        if self.base:
            self.base_select.value = self.base
        if self._ready:
            self._draw()

    def snapshot_html(self) -> str:
        """Return the view shown, as static HTML."""
        return self.html.value

    def _draw(self) -> None:
        summary = self.view == "summary"
        self.base_select.layout.visibility = "hidden" if summary else "visible"
        if summary:
            self.html.value = summary_table_html(self.comparison)
        else:
            self.html.value = side_by_side_html(self.comparison, base=self.base)


def compare_widget(comparison: Comparison, *, base: str | None = None) -> CompareWidget:
    """Return a widget showing ``comparison`` side by side (and its summary on a toggle); the words that
    differ from ``base``'s text (default: the first preset) are highlighted."""
    return CompareWidget(comparison, base=base)
