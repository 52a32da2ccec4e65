"""A static HTML picture of a widget, stored next to its live view.

A notebook saved with widget outputs shows them only where a widget manager with their state runs. The
``text/html`` snapshot added here is what GitHub, nbviewer, exported HTML and any front end without the
widget's model show instead: the same pure HTML the widget draws, so it is deterministic (nbval compares
it) and escaped. The live view still wins wherever widgets render.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Snapshot", "add_snapshot"]


def add_snapshot(bundle: Any, html: str) -> Any:
    """Return ``bundle`` (a widget's mime bundle) with ``html`` added as its ``text/html`` snapshot."""
    if isinstance(bundle, dict) and html:
        note = (
            "<div style='color:#888;font:11px sans-serif'>"
            "(a static picture: run the notebook for the live widget)</div>"
        )
        bundle["text/html"] = f"<div class='naikit-snapshot'>{html}{note}</div>"
    return bundle


class Snapshot:
    """Mixin for ipywidgets classes: ``_repr_mimebundle_`` adds ``text/html`` from ``snapshot_html()``."""

    def snapshot_html(self) -> str:
        """Return the static HTML of the widget's current state ("" for none)."""
        return ""

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        if not isinstance(bundle, dict):
            return bundle
        try:
            html = self.snapshot_html()
        except Exception:  # a snapshot is a courtesy: never let it break the live display
            return bundle
        return add_snapshot(bundle, html)
