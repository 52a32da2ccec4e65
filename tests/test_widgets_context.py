"""The context viewer: coloured sections, budget bars, entries with why; edits rebuild it."""

from __future__ import annotations

from test_story_context import W

from naikit.novelai.story import LoreEntry, Story
from naikit.render.context import context_html
from naikit.widgets.context import context_viewer


def _story() -> Story:
    return Story(
        text="Bob waited at the door.",
        memory="Memory.",
        lorebook=[
            LoreEntry("Bob is a baker.", keys=["bob"], display_name="Bob"),
            LoreEntry("Zed.", keys=["zed"], display_name="Zed"),
        ],
    )


def test_html_colours_sections_and_lists_entries() -> None:
    ctx = _story().context("kayra", token_limit=100, tokenizer=W)
    html = context_html(ctx)
    assert 'title="memory" style="background:#bfdbfe"' in html
    assert 'title="Bob" style="background:#bbf7d0"' in html
    assert "<td>✘</td><td>Zed</td><td>no key in range</td>" in html
    assert f"{len(ctx.tokens)} of 100 tokens" in html
    assert ctx._repr_html_() == html


def test_edits_update_the_view() -> None:
    v = context_viewer(_story(), "kayra", token_limit=100, tokenizer=W)
    assert not v.context.section("Zed").included
    v.keys[1].value = "zed, door"
    assert v.context.section("Zed").included and "Zed." in v.context.text
    assert "<td>✔</td><td>Zed</td>" in v.output.value
    v.memory.value = "New memory."
    assert v.context.text.startswith("New memory.\n")
    v.text.value = "Nobody here."
    assert not v.context.section("Bob").included
