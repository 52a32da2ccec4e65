"""Side-by-side comparison widget for :func:`naikit.compare.compare` results.

``compare_widget(comparison)`` returns an ipywidgets ``VBox``: a toggle between the side-by-side texts
(words that differ from the first preset highlighted) and the per-preset summary table. Its state
(``.view``, ``.html.value``) can be read and set from plain Python.
"""

from __future__ import annotations

import ipywidgets as widgets

from ..compare import Comparison, comparison_html
from ..errors import InputError

__all__ = ["CompareWidget", "compare_widget"]


class CompareWidget(widgets.VBox):
    """Side-by-side texts or the summary table of one :class:`~naikit.compare.Comparison`."""

    def __repr__(self) -> str:
        return f"CompareWidget({len(self.comparison.generations)} generations, view={self.toggle.value!r})"

    def __init__(self, comparison: Comparison):
        if not isinstance(comparison, Comparison):
            raise InputError("comparison", comparison, "a Comparison (the result of naikit.compare.compare)")
        self.comparison = comparison
        self.toggle = widgets.ToggleButtons(options=["side by side", "summary"], value="side by side")
        self.html = widgets.HTML()
        self.toggle.observe(lambda _change: self._draw(), names="value")
        super().__init__([self.toggle, self.html])
        self._draw()

    @property
    def view(self) -> str:
        """Return the view shown: "side by side" or "summary"."""
        return self.toggle.value

    @view.setter
    def view(self, value: str) -> None:
        if value not in self.toggle.options:
            raise InputError("view", value, "'side by side' or 'summary'")
        self.toggle.value = value

    def _draw(self) -> None:
        if self.toggle.value == "summary":
            table = self.comparison.summary().drop(columns=["time_s"])
            self.html.value = table.to_html(float_format=lambda x: f"{x:.3f}")
        else:
            self.html.value = comparison_html(self.comparison)


def compare_widget(comparison: Comparison) -> CompareWidget:
    """Return a widget showing ``comparison`` side by side (and its summary on a toggle)."""
    return CompareWidget(comparison)
