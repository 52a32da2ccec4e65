"""Context viewer: the assembled story context coloured by source, a budget bar per section, and the
lorebook entries with whether they fired and why; edits to the story update the view live."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..render.context import context_html

if TYPE_CHECKING:  # pragma: no cover
    from ..novelai.story import Story
    from ..novelai.story_context import Context

__all__ = ["context_html", "ContextViewer", "context_viewer"]


class ContextViewer:
    """A live view of a story's context: text areas for memory, author's note, story text and each
    entry's keys; every edit rebuilds the context and redraws (``.widget`` is the ipywidgets box)."""

    def __init__(self, story: Story, model: Any = "erato", **context_options: Any):
        import ipywidgets as w

        self.story = story
        self.model = model
        self.options = context_options
        self.output = w.HTML()
        self.memory = w.Textarea(story.memory, description="memory", layout=w.Layout(width="98%"))
        self.an = w.Textarea(story.authors_note, description="AN", layout=w.Layout(width="98%"))
        self.text = w.Textarea(story.text, description="story", layout=w.Layout(width="98%", height="120px"))
        self.keys = [
            w.Text(", ".join(e.keys), description=e.display_name[:12], layout=w.Layout(width="98%"))
            for e in story.lorebook
        ]
        for box in (self.memory, self.an, self.text, *self.keys):
            box.observe(self._edited, names="value")
        self.widget = w.VBox([self.memory, self.an, self.text, *self.keys, self.output])
        self.context = self.refresh()

    def _edited(self, _change: Any = None) -> None:
        self.story.memory = self.memory.value
        self.story.authors_note = self.an.value
        self.story.text = self.text.value
        for entry, box in zip(self.story.lorebook, self.keys, strict=False):
            entry.keys = [k.strip() for k in box.value.split(",") if k.strip()]
        self.refresh()

    def refresh(self) -> Context:
        """Rebuild the context from the story as it is now; return it (and redraw)."""
        self.context = self.story.context(self.model, **self.options)
        self.output.value = context_html(self.context)
        return self.context

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # the live box, plus a static picture of the context for front ends without widgets
        from .snapshot import add_snapshot

        return add_snapshot(self.widget._repr_mimebundle_(**kwargs), context_html(self.context))


def context_viewer(story: Story, model: Any = "erato", **context_options: Any) -> ContextViewer:
    """Return a :class:`ContextViewer` for ``story`` (display it in a notebook cell)."""
    return ContextViewer(story, model, **context_options)
