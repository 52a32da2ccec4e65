"""Token inspector and logprob view: pure HTML builders and widget state, without a kernel."""

from __future__ import annotations

import math
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

import naikit.tokenizers as nt  # noqa: E402
from naikit.errors import InputError  # noqa: E402
from naikit.render import tokens as H  # noqa: E402
from naikit.widgets import logprob_view, token_inspector  # noqa: E402
from naikit.widgets.tokens import LogprobView, TokenInspector  # noqa: E402

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SAMPLE = (
    'The dragon\'s lantern flickered.  "Wait!" she said —\n\n\t'
    "日本語のテキスト😀👩\u200d💻 <|endoftext|> café"
)


def _tokens_drawn(html: str) -> int:
    """Count tokens in a page: one per token span, N for a group titled "N tokens share ..."."""
    n = 0
    for title in re.findall(r'<span class="nk-t[^"]*"[^>]*title="([^"]*)"', html):
        m = re.match(r"(\d+) tokens share", title)
        n += int(m.group(1)) if m else 1
    return n


def _visible(fragment: str) -> str:
    return re.sub(r"<[^>]+>", "", fragment)


def _long_text(tokens_wanted: int) -> str:
    rnd = random.Random(7)
    words = "alpha beta gamma delta epsilon lantern dragon castle 日本 😀 forest".split()
    parts = []
    for i in range(tokens_wanted):
        parts.append(rnd.choice(words))
        if i % 17 == 16:
            parts.append(".\n")
    return " ".join(parts)


# --------------------------------------------------------------------------------------------------
# HTML builders


def test_every_token_is_escaped():
    text = '<script>alert("x")</script> & <b>bold</b> "quotes" \'single\''
    for model in ("kayra", "erato", "krake", "v3"):
        html = H.tokenization_html(nt.tokenize(text, model))
        assert "<script>" not in html and "<b>bold" not in html
        assert "&lt;script&gt;" in html or "&lt;" in html
        # every title attribute is closed properly: no raw quote inside it
        for title in re.findall(r'title="([^"]*)"', html):
            assert "<" not in title and ">" not in title


def test_html_is_deterministic_and_has_no_random_ids():
    tok = nt.tokenize(SAMPLE, "erato")
    a, b = H.tokenization_html(tok), H.tokenization_html(nt.tokenize(SAMPLE, "erato"))
    assert a == b
    assert not UUID.search(a)
    ids = re.findall(r'id="([^"]+)"', a)
    assert ids and all(i.startswith("nk-tok-") for i in ids)
    other = H.tokenization_html(nt.tokenize(SAMPLE + "!", "erato"))
    assert re.findall(r'id="([^"]+)"', other) != ids


def test_hover_titles_give_index_id_piece_and_offsets():
    tok = nt.tokenize("Hello world", "kayra")
    html = H.tokenization_html(tok)
    titles = re.findall(r'title="([^"]*)"', html)
    assert "#0 · id 13071 · &#x27;Hello&#x27; · chars 0–5" in titles
    # the token's readable text, not the vocabulary piece '▁world'
    assert "#1 · id 1190 · &#x27; world&#x27; · chars 5–11" in titles


def test_colours_depend_on_id_and_position_only():
    html1 = H.tokenization_html(nt.tokenize("the the the", "gpt2"))
    colours = re.findall(r"background:(hsl\([^)]*\))", html1)
    assert len(colours) == 3
    # ids [1169 "the", 262 " the", 262 " the"]: the same id keeps its hue, neighbours alternate lightness
    hues = [c.split(",")[0] for c in colours]
    assert hues[1] == hues[2] != hues[0] and colours[1] != colours[2]


def test_whitespace_and_special_tokens_are_visible():
    tok = nt.tokenize("a  b\n\tc<|endoftext|>", "kayra")
    html = H.tokenization_html(tok)
    assert '<span class="nk-ws">·</span>' in html
    assert "↵" in html and "⇥" in html
    assert re.search(r'class="nk-t nk-sp"[^>]*>&lt;\|endoftext\|&gt;</span>', html)


def test_tokens_sharing_a_character_are_one_group():
    html = H.tokenization_html(nt.tokenize("a😀b", "gpt2"))
    groups = re.findall(r'class="nk-t nk-multi"[^>]*title="([^"]*)"', html)
    assert len(groups) == 1 and groups[0].startswith("2 tokens share these characters")


def test_bos_is_drawn_as_its_own_badge():
    html = H.tokenization_html(nt.tokenize("Hi", "erato", bos=True))
    assert "&lt;|begin_of_text|&gt;" in html


def test_context_limit_marker_for_text_models():
    text = _long_text(1500)
    tok = nt.tokenize(text, "sigurd", tier="tablet")  # 1024-token context on Tablet
    assert tok.limit == 1024 and len(tok) > 1024
    html = H.tokenization_html(tok, page_chars=10**6)
    assert "context starts: last 1,024 tokens" in html
    assert "nk-out" in html  # the tokens before the context are faded
    assert '/ <span class="nk-over">1,024</span>' in html


def test_chunk_and_limit_markers_for_clip_prompts():
    prompt = ", ".join(["masterpiece"] * 130)  # 259 tokens: 4 chunks, over the 225 limit
    tok = nt.tokenize(prompt, "v3")
    html = H.tokenization_html(tok)
    assert "chunk 2" in html and "chunk 3" in html and "chunk 4" in html
    assert "limit 225: the rest is cut" in html
    assert "4 chunks of 75" in html


def test_empty_text():
    html = H.tokenization_html(nt.tokenize("", "kayra"))
    assert "(empty)" in html and "0 tokens" in html


def test_compare_and_summary_include_unavailable_t5():
    # a budget without a count stands for a tokenizer whose data file is missing
    toks = [nt.tokenize(SAMPLE, m) for m in ("kayra", "erato", "v3")]
    toks.append(nt.TokenBudget("nai-diffusion-4-full", "t5", None, 512))
    html = H.compare_html(toks)
    # columns wrap to new rows rather than shrink below a readable width
    assert (
        html.count('<div class="nk-head"><b>') == 4 and "repeat(auto-fit,minmax(min(100%,300px),1fr))" in html
    )
    assert "unavailable: no t5 tokenizer is shipped" in html
    summary = H.summary_html(toks, tier="opus")
    assert summary.count("<tr>") == 5 and "limit (opus)" in summary
    assert '<td class="nk-na">unavailable</td>' in summary
    with pytest.raises(InputError):
        H.compare_html([])


def test_pages_are_bounded_and_100k_tokens_render():
    text = _long_text(100_000)
    tok = nt.tokenize(text, "gpt2")
    assert len(tok) >= 100_000
    pages = H.page_count(tok)
    assert pages > 50
    sizes = [len(H.tokenization_html(tok, page=p)) for p in (0, 1, pages // 2, pages - 1)]
    small = nt.tokenize(text[:20_000], "gpt2")
    small_size = len(H.tokenization_html(small, page=0))
    # a page does not grow with the length of the text
    assert max(sizes) < 1.3 * small_size and max(sizes) < 400_000
    # and every token is drawn on exactly one page
    drawn = sum(
        _tokens_drawn(H.tokenization_html(tok, page=p, page_chars=50_000))
        for p in range(H.page_count(tok, 50_000))
    )
    assert drawn == len(tok)


def test_huge_gaps_and_tokens_are_elided():
    prompt = "a" + " " * 50_000 + "b"  # CLIP drops the whitespace: one 50,000-character gap
    html = H.tokenization_html(nt.tokenize(prompt, "v3"), page_chars=10**6)
    assert len(html) < 10_000 and "chars)" in html
    # worst case for markup: every character split over several byte tokens (2 per emoji in GPT-2)
    tok = nt.tokenize("😀" * 50_000, "gpt2")
    assert len(tok) == 100_000
    assert max(len(H.tokenization_html(tok, page=p)) for p in (0, 5)) < 300 * H.DEFAULT_PAGE_CHARS


def test_last_page_clamps():
    tok = nt.tokenize("short", "kayra")
    assert H.tokenization_html(tok, page=99) == H.tokenization_html(tok, page=0)


# --------------------------------------------------------------------------------------------------
# Logprobs (spec §5.7 shape)


def _entry(chosen: int, lp: float, alts: list[tuple[int, float, float | None]]) -> dict:
    before = [[[t], [b, a]] for t, b, a in alts]
    after = [[[t], [b, a]] for t, b, a in alts if a is not None]
    return {
        "chosen": [[[chosen], [lp, 0.0 if lp == alts[0][1] else lp / 2]]],
        "before": before,
        "after": after,
    }


def example_logprobs() -> list[dict]:
    # Erato ids: "Hello" 9906, " world" 1917, "!" 0, " there" 1070, "," 11
    return [
        _entry(9906, -0.1054, [(9906, -0.1054, 0.0), (13347, -2.5, None)]),
        _entry(1917, -1.6094, [(1070, -0.5108, -0.3), (1917, -1.6094, -1.2), (11, -2.9957, None)]),
        _entry(0, -0.0101, [(0, -0.0101, 0.0)]),
    ]


def test_parse_logprobs():
    steps = H.parse_logprobs(example_logprobs(), "erato")
    assert [s.chosen.text for s in steps] == ["Hello", " world", "!"]
    assert steps[1].before[0].text == " there" and math.isclose(
        steps[1].before[0].p_before, 0.6, rel_tol=1e-3
    )
    assert steps[0].before[1].after is None and steps[0].before[1].p_after is None
    assert len(steps[1].after) == 2


@pytest.mark.parametrize(
    "bad",
    [
        "nope",
        [{"before": []}],
        [{"chosen": [[9906, [-0.1, 0]]]}],
        [{"chosen": [[[9906], [-0.1]]]}],
        [{"chosen": [[[9906], ["x", 0]]]}],
    ],
)
def test_bad_logprobs_name_the_entry(bad):
    with pytest.raises(InputError) as e:
        H.parse_logprobs(bad, "erato")
    assert "logprobs" in str(e.value)


def test_logprobs_html_colours_and_hover():
    html = H.logprobs_html(example_logprobs(), "erato")
    spans = re.findall(
        r'<span class="nk-t" style="background:(hsl\([^)]*\))" title="([^"]*)">'
        r'(.*?)</span>(?=<span class="nk-t"|</div>)',
        html,
    )
    assert [_visible(s[2]) for s in spans] == ["Hello", "·world", "!"]
    hues = [int(re.match(r"hsl\((\d+)", s[0]).group(1)) for s in spans]
    assert hues[0] > hues[1] < hues[2]  # the unlikely " world" is the reddest
    title = spans[1][1]
    assert "before: &#x27; there&#x27; 60.0% | &#x27; world&#x27; 20.0%" in title
    assert "after: &#x27; there&#x27; 74.1%" in title
    assert "&#x27;,&#x27; removed" not in title and "removed" in H.logprobs_html(example_logprobs(), "erato")
    after = H.logprobs_html(example_logprobs(), "erato", by="after")
    assert after != html and "after sampling" in after
    assert H.logprobs_html(example_logprobs(), "erato") == html  # deterministic
    with pytest.raises(InputError):
        H.logprobs_html(example_logprobs(), "erato", by="sideways")


def test_logprobs_join_partial_characters():
    ids = nt.encode("日本", "gpt2")
    entries = [{"chosen": [[[i], [-0.5, -0.5]]], "before": [[[i], [-0.5, -0.5]]], "after": []} for i in ids]
    html = H.logprobs_html(entries, "gpt2")
    assert "日" in html and "本" in html


# --------------------------------------------------------------------------------------------------
# Widgets


def test_inspector_state():
    w = token_inspector(SAMPLE, ["kayra", "erato", "v3", "v4"])
    assert isinstance(w, TokenInspector)
    assert w.models == ["kayra-v1", "llama-3-erato-v1", "nai-diffusion-3", "nai-diffusion-4-full"]
    assert w.counts["kayra-v1"] == nt.count(SAMPLE, "kayra")
    assert w.counts["nai-diffusion-4-full"] == nt.count(SAMPLE, "v4")  # T5 is shipped: a number
    assert w.pages == 1 and w.page == 1 and w.prev_button.disabled and w.next_button.disabled
    assert "unavailable" not in w.summary.value and "kayra-v1" in w.html
    assert repr(w) == (
        f"TokenInspector(kayra-v1: {w.counts['kayra-v1']}, llama-3-erato-v1: {w.counts['llama-3-erato-v1']}, "
        f"nai-diffusion-3: {w.counts['nai-diffusion-3']}, "
        f"nai-diffusion-4-full: {w.counts['nai-diffusion-4-full']}; page 1/1)"
    )
    assert repr(w) == repr(token_inspector(SAMPLE, ["kayra", "erato", "v3", "v4"]))


def test_inspector_reacts_to_text_models_and_tier():
    w = token_inspector("Hello world", "kayra")
    w.text_area.value = "Hello there, world"
    assert w.text == "Hello there, world" and w.counts == {
        "kayra-v1": nt.count("Hello there, world", "kayra")
    }
    w.text = "Bye"
    assert w.text_area.value == "Bye" and w.counts["kayra-v1"] == nt.count("Bye", "kayra")
    w.model_select.value = ("kayra-v1", "clio-v1")
    assert list(w.counts) == ["kayra-v1", "clio-v1"] and "clio-v1" in w.html
    w.models = ["erato"]
    assert w.models == ["llama-3-erato-v1"] and w.model_select.value == ("llama-3-erato-v1",)
    w.models = ["kayra"]
    w.tier_select.value = "tablet"
    assert w.tier == "tablet" and "4,096" in w.summary.value and "limit (tablet)" in w.summary.value


def test_inspector_pages():
    text = _long_text(6000)
    w = token_inspector(text, ["kayra", "gpt2"], page_chars=2000)
    assert w.pages == math.ceil(len(text) / 2000) and w.pages > 3
    first = w.html
    w.next_button.click()
    assert w.page == 2 and w.html != first and not w.prev_button.disabled
    w.page_slider.value = w.pages
    assert w.next_button.disabled and f"page {w.pages} of {w.pages}" in w.html
    w.show_page(10**6)
    assert w.page == w.pages
    w.prev_button.click()
    assert w.page == w.pages - 1
    w.text = "short now"
    assert w.pages == 1 and w.page == 1


def test_inspector_long_text_is_not_editable():
    w = token_inspector("word " * 5000)
    assert not w.editable and w.text_area not in w.children
    assert token_inspector("word").editable


def test_inspector_refuses_bad_input():
    with pytest.raises(InputError, match="kayra-v1"):
        token_inspector("x", ["kayraa"])
    with pytest.raises(InputError):
        token_inspector("x", [])
    with pytest.raises(InputError):
        token_inspector(123)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        token_inspector("x", tier="gold")


def test_logprob_view_state():
    v = logprob_view(example_logprobs(), "erato")
    assert isinstance(v, LogprobView)
    assert repr(v) == "LogprobView(model='llama-3-erato-v1', tokens=3, text='Hello world!')"
    assert "Hello" in v.html and "token #0" in v.detail.value
    v.select(1)
    assert "token #1" in v.detail.value and "◀ chosen" in v.detail.value and "not listed" in v.detail.value
    before = v.html
    v.colour_by.value = "after"
    assert v.html != before
    empty = logprob_view([], "kayra")
    assert "0 generated tokens" in empty.html
    with pytest.raises(InputError):
        logprob_view(example_logprobs(), "erato", by="x")


def test_widgets_package_is_lazy():
    code = (
        "import sys, naikit.widgets, naikit.render.tokens; "
        "print([m for m in ('ipywidgets', 'tokenizers', 'sentencepiece', 'pandas') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------------------------------
# Readable tokens, one box per token, typing with a debounce, traitlets


def test_byte_level_pieces_read_as_text_and_partial_utf8_as_marked_bytes():
    tok = nt.tokenize(" night — 夜", "erato")
    assert tok.pieces[:2] == ["Ġnight", "ĠâĢĶ"]  # the vocabulary entries, unreadable as they are
    assert tok.labels[:2] == [" night", " —"]
    # 夜 is E5 A4 9C: Erato splits it over two tokens, each a part of the character
    assert tok.labels[2:] == [" ⟨e5 a4⟩", "⟨9c⟩"]
    frame = tok.to_frame()
    assert list(frame.columns) == ["index", "id", "piece", "text", "start", "end"]
    assert list(frame["text"]) == tok.labels
    assert nt.readable_bytes(b"ok\xf0\x9f") == "ok⟨f0 9f⟩"
    assert nt.readable_bytes("🙂".encode()) == "🙂"


def test_cli_tokenize_shows_readable_text(capsys: pytest.CaptureFixture[str]):
    from naikit.cli import main

    assert main(["tokenize", "erato", " night — 夜"]) == 0
    out = capsys.readouterr().out
    assert "' night'" in out and "' —'" in out and "' ⟨e5 a4⟩'" in out and "'⟨9c⟩'" in out
    assert "\\x" not in out


def test_no_token_box_can_break_across_lines():
    html = H.tokenization_html(nt.tokenize("The lamp flickered.\nNext line", "kayra"))
    css = re.search(r"\.nk-tok \.nk-t\{([^}]*)\}", html).group(1)
    assert "white-space:pre" in css and "display:inline-block" in css
    assert "break-all" not in html
    # a token holding a line break shows ↵ inside its box and breaks after the box, not inside it
    for box in re.findall(r'<span class="nk-t[^"]*"[^>]*>(.*?)</span>(?=<span class="nk-t|\n|$)', html):
        assert "\n" not in box
    assert "↵</span></span>\n" in html


class _Clock:
    """A driven clock for Debouncer: call_later records, advance() fires what is due."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[list[Any]] = []

    def call_later(self, delay: float, fn: Any) -> Any:
        timer = [self.now + delay, fn, False]
        self.timers.append(timer)

        class Handle:
            def cancel(self) -> None:
                timer[2] = True

        return Handle()

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for timer in list(self.timers):
            if not timer[2] and timer[0] <= self.now:
                timer[2] = True
                timer[1]()


def test_typing_updates_after_a_pause():
    clock = _Clock()
    w = TokenInspector("Hello", ["kayra"], debounce=0.3, call_later=clock.call_later)
    assert w.text_area.continuous_update  # every key stroke reaches Python
    before = w.counts["kayra-v1"]
    for typed in ("Hello ", "Hello w", "Hello wo", "Hello world"):
        w.text_area.value = typed
        clock.advance(0.1)  # typing: shorter pauses than the debounce
    assert w.pending and w.text == "Hello" and w.counts["kayra-v1"] == before
    clock.advance(0.3)
    assert not w.pending and w.text == "Hello world"
    assert w.counts["kayra-v1"] == nt.count("Hello world", "kayra")
    fired = [t for t in clock.timers if t[2]]
    assert len(fired) == 4  # three cancelled, one ran


def test_inspector_state_is_traitlets():
    import ipywidgets as widgets

    w = token_inspector("Hello", ["kayra"])
    seen: list[Any] = []
    w.observe(lambda change: seen.append((change["name"], change["new"])), names=["text", "models", "page"])
    w.text = "Hello there"
    w.models = ["erato", "kayra"]
    assert ("text", "Hello there") in seen and ("models", ["llama-3-erato-v1", "kayra-v1"]) in seen
    source = widgets.Text("linked")
    link = widgets.link((source, "value"), (w, "text"))
    source.value = "Linked text"
    assert w.text == "Linked text" and w.counts["kayra-v1"] == nt.count("Linked text", "kayra")
    link.unlink()
    with pytest.raises(InputError):
        w.models = ["no-such-model"]
