"""Pure, deterministic HTML builders (no ipywidgets): what results show in ``_repr_html_`` and what the
widgets in :mod:`naikit.widgets` put on screen. Domain objects and widgets both import from here, so
imports keep running one way (widgets -> domain/render -> transport)."""

from __future__ import annotations
