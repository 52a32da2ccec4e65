"""The sampler explainer widget: step through a generation token by token and see which candidates each
sampler of the chain kept.

``explain_widget(generation)`` returns an :class:`ExplainWidget` (an ipywidgets ``VBox``): a slider over
the generated tokens, the output with the current token marked, and a toggle between the chart (from
:func:`naikit.explain.explanation_html`) and the candidate table. Its state (``.position.value``,
``.view.value``, ``.explanation``, ``.html.value``) can be read and set from plain Python.
"""

from __future__ import annotations

from html import escape
from typing import Any

import ipywidgets as widgets

from ..errors import InputError
from ..explain import SamplerExplanation, explain_step, explanation_html
from ..novelai.generation import Generation
from ..novelai.presets import Preset
from .snapshot import Snapshot

__all__ = ["ExplainWidget", "explain_widget"]

_VIEWS = ("chart", "table")


class ExplainWidget(Snapshot, widgets.VBox):
    """Sampler explainer for every step of one :class:`~naikit.novelai.generation.Generation`."""

    def __repr__(self) -> str:
        n = self.position.max + 1
        return f"ExplainWidget(token {self.position.value} of {n}, view={self.view.value!r})"

    def __init__(
        self,
        generation: Generation,
        preset: Preset | None = None,
        *,
        position: int = 0,
        limit: int = 12,
        **params: Any,
    ):
        if not isinstance(generation, Generation):
            raise InputError("generation", generation, "a Generation (the result of generate)")
        steps = generation.logprobs
        if not steps:
            raise InputError(
                "generation", repr(generation), "a Generation made with logprobs (num_logprobs > 0)"
            )
        self.generation = generation
        self._preset = preset
        self._params = params
        self._limit = limit
        self._pieces = [s.chosen.text for s in steps]
        # fail now, not on the first slider move, if the preset or the overrides are unusable
        self.explanation: SamplerExplanation = explain_step(generation, preset, position=position, **params)
        self.position = widgets.IntSlider(
            value=self.explanation.position, min=0, max=len(steps) - 1, description="Token"
        )
        self.view = widgets.ToggleButtons(options=list(_VIEWS), value="chart")
        self.text = widgets.HTML()
        self.html = widgets.HTML()
        self.position.observe(lambda _c: self._draw(), names="value")
        self.view.observe(lambda _c: self._draw(), names="value")
        super().__init__([widgets.HBox([self.position, self.view]), self.text, self.html])
        self._draw()

    def snapshot_html(self) -> str:
        """Return the text and the view shown, as static HTML."""
        return self.text.value + self.html.value

    def _draw(self) -> None:
        pos = self.position.value
        if self.explanation.position != pos:
            self.explanation = explain_step(self.generation, self._preset, position=pos, **self._params)
        parts = []
        for i, piece in enumerate(self._pieces):
            if i == pos:
                parts.append(f'<mark style="background:#ffd08a">{escape(piece)}</mark>')
            else:
                parts.append(escape(piece))
        self.text.value = (
            '<div style="font:13px system-ui;white-space:pre-wrap;border-left:3px solid #ddd;'
            f'padding-left:6px">{"".join(parts)}</div>'
        )
        if self.view.value == "table":
            self.html.value = self.explanation.to_frame().to_html(
                index=False, float_format=lambda x: f"{x:.4f}"
            )
        else:
            self.html.value = explanation_html(self.explanation, limit=self._limit)


def explain_widget(
    generation: Generation,
    preset: Preset | None = None,
    *,
    position: int = 0,
    limit: int = 12,
    **params: Any,
) -> ExplainWidget:
    """Return an :class:`ExplainWidget` for ``generation`` (its own chain, or ``preset``'s, with
    ``params`` overriding single values), starting at token ``position``."""
    return ExplainWidget(generation, preset, position=position, limit=limit, **params)
