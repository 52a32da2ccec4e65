"""Notebook widgets, one module per family; names load on first use so ``import naikit`` stays light.

Token inspection (``naikit.widgets.tokens``): :func:`token_inspector` and :func:`logprob_view`; presets
(``naikit.widgets.presets``): :func:`preset_editor`; comparison (``naikit.widgets.compare``). Each
factory returns an ipywidgets object; the HTML they show comes from pure builders in
``naikit.render.tokens`` that also work without ipywidgets.
"""

import typing as _typing

from .._lazy import lazy_exports as _lazy_exports

# public name -> module that defines it (the TYPE_CHECKING imports below list the same names)
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

# the same names, written out for static tools (ruff, pyright: `from naikit import *`)
__all__ = [
    "CompareWidget",
    "ContextViewer",
    "ExperimentDashboard",
    "ExplainWidget",
    "ImageGrid",
    "LogprobView",
    "PresetEditor",
    "StreamPreview",
    "TokenInspector",
    "TrainingDashboard",
    "compare_widget",
    "context_viewer",
    "experiment_dashboard",
    "explain_widget",
    "image_grid",
    "logprob_view",
    "preset_editor",
    "stream_preview",
    "token_inspector",
    "training_dashboard",
]

if _typing.TYPE_CHECKING:  # pragma: no cover  # for type checkers and IDEs only
    from .compare import CompareWidget, compare_widget
    from .context import ContextViewer, context_viewer
    from .experiments import ExperimentDashboard, experiment_dashboard
    from .explain import ExplainWidget, explain_widget
    from .images import ImageGrid, StreamPreview, image_grid, stream_preview
    from .presets import PresetEditor, preset_editor
    from .tokens import LogprobView, TokenInspector, logprob_view, token_inspector
    from .training import TrainingDashboard, training_dashboard
else:
    __getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)
