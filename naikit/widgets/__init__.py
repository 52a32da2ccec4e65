"""Notebook widgets, one module per family; names load on first use so ``import naikit`` stays light.

Token inspection (``naikit.widgets.tokens``): :func:`token_inspector` and :func:`logprob_view`; presets
(``naikit.widgets.presets``): :func:`preset_editor`; comparison (``naikit.widgets.compare``). Each
factory returns an ipywidgets object; the HTML they show comes from pure builders in
``naikit.render.tokens`` that also work without ipywidgets.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    "token_inspector": "naikit.widgets.tokens",
    "logprob_view": "naikit.widgets.tokens",
    "TokenInspector": "naikit.widgets.tokens",
    "LogprobView": "naikit.widgets.tokens",
    "preset_editor": "naikit.widgets.presets",
    "PresetEditor": "naikit.widgets.presets",
    "compare_widget": "naikit.widgets.compare",
    "CompareWidget": "naikit.widgets.compare",
    "experiment_dashboard": "naikit.widgets.experiments",
    "ExperimentDashboard": "naikit.widgets.experiments",
    "training_dashboard": "naikit.widgets.training",
    "TrainingDashboard": "naikit.widgets.training",
    "image_grid": "naikit.widgets.images",
    "ImageGrid": "naikit.widgets.images",
    "stream_preview": "naikit.widgets.images",
    "StreamPreview": "naikit.widgets.images",
    "explain_widget": "naikit.widgets.explain",
    "ExplainWidget": "naikit.widgets.explain",
    "context_viewer": "naikit.widgets.context",
    "ContextViewer": "naikit.widgets.context",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'naikit.widgets' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
