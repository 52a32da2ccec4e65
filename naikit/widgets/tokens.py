"""Token inspector and logprob view widgets.

``token_inspector(text, models=...)`` shows how one text tokenizes for several models side by side,
with counts against each model's limit, hover details per token and markers where the context or a
CLIP chunk ends; long texts are paged. ``logprob_view(logprobs, model)`` colours a generation by the
probability of each token and lists the alternatives before and after sampling.

Both factories return ipywidgets containers whose state (text, models, page, HTML) can be read and set
from plain Python, which is how the tests drive them. The HTML comes from
``naikit.render.tokens``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import traitlets

from ..errors import InputError
from ..novelai.models import IMAGE_MODELS, TEXT_MODELS, tier_name
from ..render.tokens import (
    DEFAULT_PAGE_CHARS,
    compare_html,
    logprob_detail_html,
    logprobs_html,
    page_count,
    summary_html,
)
from ..tokenizers import (
    LogprobStep,
    TokenBudget,
    Tokenization,
    TokenizerUnavailable,
    budget,
    canonical_name,
    parse_logprobs,
    tokenize,
)
from .snapshot import Snapshot

__all__ = ["Debouncer", "TokenInspector", "LogprobView", "token_inspector", "logprob_view"]

DEFAULT_MODELS = ("kayra", "erato", "clio", "krake", "euterpe")
# Above this many characters the text is not put in an editable text area (the browser would carry it
# all as widget state); the inspector still shows every page.
_EDITABLE_MAX = 20_000


def _model_options() -> list[tuple[str, str]]:
    text = [(f"{m.name} ({m.value})", m.value) for m in TEXT_MODELS]
    image = [(f"Image {m.name} ({m.value})", m.value) for m in IMAGE_MODELS if not m.inpainting]
    return text + image


class Debouncer:
    """Run ``fn`` once, ``delay`` seconds after the last of a burst of calls (typing, say).

    ``call_later(delay, fn)`` schedules and returns a handle with ``cancel()``; by default it is the
    running asyncio loop's (a Jupyter kernel has one), and with no running loop ``fn`` runs at once. Tests
    pass their own ``call_later`` to drive the clock.
    """

    def __init__(
        self,
        delay: float,
        fn: Callable[[], None],
        call_later: Callable[[float, Callable[[], None]], Any] | None = None,
    ):
        self.delay = float(delay)
        self._fn = fn
        self._call_later = call_later
        self._pending: Any = None

    @property
    def pending(self) -> bool:
        """Return whether a call is waiting to run."""
        return self._pending is not None

    def __call__(self) -> None:
        self.cancel()
        call_later = self._call_later
        if call_later is None and self.delay > 0:
            try:
                call_later = asyncio.get_running_loop().call_later
            except RuntimeError:
                call_later = None
        if call_later is None or self.delay <= 0:
            self._fn()
            return
        self._pending = call_later(self.delay, self._fire)

    def _fire(self) -> None:
        self._pending = None
        self._fn()

    def cancel(self) -> None:
        """Drop the waiting call, if any."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def flush(self) -> None:
        """Run the waiting call now, if any."""
        if self._pending is not None:
            self.cancel()
            self._fn()


class TokenInspector(Snapshot, widgets.VBox):
    """Side-by-side tokenization of one text for several models, paged, with counts against limits.

    ``text``, ``models``, ``tier`` and ``page`` are traitlets: ``observe`` them, or ``link`` them to other
    widgets. Typing in the text area re-tokenizes ``debounce`` seconds after the last key stroke.
    """

    text = traitlets.Unicode("", help="the text being inspected")
    models = traitlets.List(traitlets.Unicode(), help="the models shown, as API values")
    tier = traitlets.Unicode("opus", help="the subscription tier whose context sizes are shown")
    page = traitlets.Int(1, help="the page shown, counting from 1")

    def __init__(
        self,
        text: str = "",
        models: Sequence[str] = DEFAULT_MODELS,
        *,
        tier: str | int = "opus",
        page_chars: int = DEFAULT_PAGE_CHARS,
        bos: bool = False,
        editable: bool | None = None,
        debounce: float = 0.3,
        call_later: Callable[[float, Callable[[], None]], Any] | None = None,
    ):
        if not isinstance(text, str):
            raise InputError("text", text, "a str")
        if isinstance(models, str):
            models = [models]
        if not models:
            raise InputError("models", models, "at least one model name")
        if not isinstance(page_chars, int) or page_chars < 100:
            raise InputError("page_chars", page_chars, "an int of at least 100")
        self._ready = False
        self._page_chars = page_chars
        self._bos = bos
        self.results: list[Tokenization | TokenBudget] = []
        # validate names now, so a typo fails here and not on the first redraw
        names = [canonical_name(m) for m in models]
        tier = tier_name(tier)

        options = _model_options()
        known = {v for _, v in options}
        for m in names:
            if m not in known:
                options.append((m, m))
        self.model_select = widgets.SelectMultiple(
            options=options, value=tuple(names), rows=min(8, len(options)), description="models"
        )
        self.tier_select = widgets.Dropdown(
            options=["tablet", "scroll", "opus"], value=tier, description="tier"
        )
        self.editable = len(text) <= _EDITABLE_MAX if editable is None else editable
        # continuous_update: every key stroke reaches Python, which waits for a pause (the debouncer)
        self.text_area = widgets.Textarea(
            value=text if self.editable else "",
            placeholder="Type or paste text to tokenize",
            continuous_update=True,
            layout=widgets.Layout(width="100%", height="90px"),
            disabled=not self.editable,
        )
        self._typing = Debouncer(debounce, self._typed, call_later)
        self.summary = widgets.HTML()
        self.prev_button = widgets.Button(
            description="◀", layout=widgets.Layout(width="40px"), tooltip="previous page"
        )
        self.next_button = widgets.Button(
            description="▶", layout=widgets.Layout(width="40px"), tooltip="next page"
        )
        self.page_slider = widgets.IntSlider(
            value=1, min=1, max=1, description="page", continuous_update=False
        )
        self.page_label = widgets.Label()
        self.body = widgets.HTML()
        self.pager = widgets.HBox([self.prev_button, self.page_slider, self.next_button, self.page_label])

        self.prev_button.on_click(lambda _: self.show_page(self.page - 1))
        self.next_button.on_click(lambda _: self.show_page(self.page + 1))
        self.page_slider.observe(self._on_page_slider, names="value")
        self.text_area.observe(lambda _: self._typing(), names="value")
        self.model_select.observe(self._on_model_select, names="value")
        self.tier_select.observe(self._on_tier_select, names="value")

        controls = [widgets.HBox([self.model_select, self.tier_select])]
        if self.editable:
            controls.append(self.text_area)
        super().__init__(children=[*controls, self.summary, self.pager, self.body])
        with self.hold_trait_notifications():
            self.text = text
            self.models = names
            self.tier = tier
        self._ready = True
        self._retokenize()

    # -- state

    @traitlets.validate("models")
    def _check_models(self, proposal: dict[str, Any]) -> list[str]:
        value = proposal["value"]
        names = [canonical_name(m) for m in ([value] if isinstance(value, str) else value)]
        if not names:
            raise InputError("models", value, "at least one model name")
        return names

    @traitlets.validate("tier")
    def _check_tier(self, proposal: dict[str, Any]) -> str:
        return tier_name(proposal["value"])

    @traitlets.validate("page")
    def _check_page(self, proposal: dict[str, Any]) -> int:
        return min(max(1, int(proposal["value"])), self.page_slider.max)

    @traitlets.observe("text")
    def _on_text(self, change: dict[str, Any]) -> None:
        if self.editable and self.text_area.value != change["new"]:
            self.text_area.value = change["new"]
            self._typing.cancel()  # set from Python: no need to wait for a pause
        if self._ready:
            self._retokenize()

    @traitlets.observe("models")
    def _on_models(self, change: dict[str, Any]) -> None:
        names = change["new"]
        missing = [m for m in names if m not in {v for _, v in self.model_select.options}]
        if missing:
            self.model_select.options = [*self.model_select.options, *((m, m) for m in missing)]
        if tuple(self.model_select.value) != tuple(names):
            self.model_select.value = tuple(names)
        if self._ready:
            self._retokenize()

    @traitlets.observe("tier")
    def _on_tier(self, change: dict[str, Any]) -> None:
        if self.tier_select.value != change["new"]:
            self.tier_select.value = change["new"]
        if self._ready:
            self._retokenize()

    @traitlets.observe("page")
    def _on_page(self, change: dict[str, Any]) -> None:
        if self.page_slider.value != change["new"]:
            self.page_slider.value = change["new"]
        if self._ready:
            self._draw()

    @property
    def pages(self) -> int:
        """How many pages the text fills."""
        return self.page_slider.max

    @property
    def counts(self) -> dict[str, int | None]:
        """Token count per model (None when the tokenizer is unavailable)."""
        return {(r.model): (len(r.ids) if isinstance(r, Tokenization) else None) for r in self.results}

    @property
    def html(self) -> str:
        """The HTML of the page shown."""
        return self.body.value

    @property
    def pending(self) -> bool:
        """Whether typed text waits for a pause before it is tokenized."""
        return self._typing.pending

    def show_page(self, page: int) -> None:
        """Show ``page`` (counting from 1; clamped to the pages there are)."""
        self.page = page

    # -- events

    def _on_page_slider(self, change: dict[str, Any]) -> None:
        self.page = change["new"]

    def _typed(self) -> None:
        self.text = self.text_area.value

    def _on_model_select(self, change: dict[str, Any]) -> None:
        if change["new"] and list(change["new"]) != self.models:
            self.models = list(change["new"])

    def _on_tier_select(self, change: dict[str, Any]) -> None:
        self.tier = change["new"]

    def _retokenize(self) -> None:
        results: list[Tokenization | TokenBudget] = []
        for m in self.models:
            try:
                results.append(tokenize(self.text, m, bos=self._bos, tier=self.tier))
            except TokenizerUnavailable:
                results.append(budget(self.text, m, self.tier))
        self.results = results
        self.summary.value = summary_html(results, tier=self.tier)
        pages = page_count(results, self._page_chars)
        self.page_slider.max = pages
        if self.page > pages:
            self.page = pages  # redraws
        else:
            self._draw()

    def _draw(self) -> None:
        page = self.page
        self.body.value = compare_html(self.results, page=page - 1, page_chars=self._page_chars)
        self.page_label.value = f"of {self.pages}"
        self.prev_button.disabled = page <= 1
        self.next_button.disabled = page >= self.pages

    def snapshot_html(self) -> str:
        """Return the counts table and the page shown, as static HTML."""
        return self.summary.value + self.body.value

    def __repr__(self) -> str:
        counts = ", ".join(f"{m}: {'unavailable' if n is None else n}" for m, n in self.counts.items())
        return f"TokenInspector({counts}; page {self.page}/{self.pages})"


class LogprobView(Snapshot, widgets.VBox):
    """A generation coloured by token probability, with a per-token table of alternatives."""

    def __init__(self, logprobs: Sequence[Any], model: str, *, by: str = "before"):
        self.model = canonical_name(model)
        self.steps: list[LogprobStep] = parse_logprobs(logprobs, self.model)
        self.colour_by = widgets.ToggleButtons(
            options=[("before sampling", "before"), ("after sampling", "after")],
            value=by,
            description="colour",
        )
        self.body = widgets.HTML()
        self.token_slider = widgets.IntSlider(
            value=0, min=0, max=max(0, len(self.steps) - 1), description="token", continuous_update=False
        )
        self.detail = widgets.HTML()
        self.colour_by.observe(lambda _: self._draw(), names="value")
        self.token_slider.observe(lambda _: self._draw_detail(), names="value")
        children: list[widgets.Widget] = [self.colour_by, self.body]
        if self.steps:
            children += [self.token_slider, self.detail]
        super().__init__(children=children)
        self._draw()
        self._draw_detail()

    @property
    def html(self) -> str:
        """The HTML of the coloured generation."""
        return self.body.value

    def select(self, index: int) -> None:
        """Show the alternatives of token ``index`` in the table below the text."""
        self.token_slider.value = min(max(0, int(index)), self.token_slider.max)

    def snapshot_html(self) -> str:
        """Return the coloured generation and the table of the token selected, as static HTML."""
        return self.body.value + self.detail.value

    def _draw(self) -> None:
        self.body.value = logprobs_html(self.steps, self.model, by=self.colour_by.value)

    def _draw_detail(self) -> None:
        if self.steps:
            self.detail.value = logprob_detail_html(self.steps[self.token_slider.value])

    def __repr__(self) -> str:
        text = "".join(s.chosen.text for s in self.steps)
        return f"LogprobView(model={self.model!r}, tokens={len(self.steps)}, text={text[:40]!r})"


def token_inspector(
    text: str = "",
    models: Sequence[str] | str = DEFAULT_MODELS,
    *,
    tier: str | int = "opus",
    page_chars: int = DEFAULT_PAGE_CHARS,
    bos: bool = False,
    editable: bool | None = None,
    debounce: float = 0.3,
) -> TokenInspector:
    """Return a :class:`TokenInspector` widget showing ``text`` tokenized for each of ``models``.

    ``tier`` picks the context sizes (tablet/scroll/opus); ``page_chars`` is the page size in
    characters; ``bos`` starts Erato's tokens with ``<|begin_of_text|>``; ``editable`` adds a text area
    (default: only for texts up to 20,000 characters); typing re-tokenizes ``debounce`` seconds after
    the last key stroke.
    """
    return TokenInspector(
        text, [models] if isinstance(models, str) else models, tier=tier, page_chars=page_chars, bos=bos,
        editable=editable, debounce=debounce,
    )  # fmt: skip


def logprob_view(logprobs: Sequence[Any], model: str, *, by: str = "before") -> LogprobView:
    """Return a :class:`LogprobView` of a generation's ``logprobs`` (spec §5.7 format) for ``model``.

    ``by`` picks which probability colours the tokens: "before" or "after" sampling.
    """
    if by not in ("before", "after"):
        raise InputError("by", by, "'before' or 'after'")
    return LogprobView(logprobs, model, by=by)
