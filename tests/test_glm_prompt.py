"""The website's GLM prompt format (naikit.novelai.glm_prompt), against expectations written by hand from
reading novelai.net's January 2026 client (``_app-3519e562baaa896c.js``, module 31621): each expected
prompt below is spelled out literally, not produced by naikit."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from naikit.errors import InputError
from naikit.novelai.glm_prompt import (
    build_prompt,
    default_texts,
    double_newlines,
    split_story,
)

# The site's default prefill (module 31621, the story variant), copied by hand from the bundle.
PREFILL = (
    "Understood. I will:\n"
    "- Continue in the exact established voice, tone, and style\n"
    "- Maintain all character consistencies and ongoing plot threads  \n"
    "- Develop the narrative at natural pace without rushing toward conclusions\n"
    "- Match the linguistic patterns, vocabulary, and rhythm already present\n"
    "\n"
    "[Of course, here you go:]\n"
    "\n"
)
ASSISTANT = "<|assistant|>\n<think></think>\n"


def sys_prompt() -> str:
    return default_texts()["system_prompt"]


def head() -> str:
    return "[gMASK]<sop><|system|>\n" + sys_prompt()


def test_default_texts_are_the_sites():
    d = default_texts()
    assert d["prefill"] == PREFILL
    s = d["system_prompt"]
    # first and last lines as read in the bundle; the hash pins the whole text (computed from the bundle
    # when it was read; 4198 characters, one "\xe9" escape in "Clichéd")
    assert s.startswith("You are a GLM-4.6-based LLM customized by NovelAI for creative writing assistance.")
    assert s.endswith("- Over-explaining what readers can infer")
    assert "- Clich\u00e9d phrases that deaden impact" in s and len(s) == 4198
    assert d["system_prompt_adventure"].startswith(s + "\n\n## Current Task\nYou are acting as a game master")
    assert d["prefill_adventure"].endswith(
        "- Limit the adventure turn length to up to four normal sized paragraphs\n\n"
        "[Of course, here you go:]\n"
    )
    assert (
        hashlib.sha256(s.encode()).hexdigest()
        == "2bb55e7250b390dc0a61853274991ce484ba067fac7d284058def5e890ec2778"
    )


def test_plain_story():
    p = build_prompt("The door opened.\nShe walked in.")
    assert p.text == (
        head() + "<|user|>\nWrite./nothink" + ASSISTANT + PREFILL + "The door opened.\n\nShe walked in."
    )
    assert not p.manual and not p.block_user_token
    assert p.by_source()["story"] == len("The door opened.\n\nShe walked in.")


def test_memory_authors_note_and_lore_short_story():
    p = build_prompt(
        "The door opened.\nShe walked in.",
        memory="Title: A\nTags: b",
        authors_note="[ Style: sad ]",
        lore=["----\nMira\nType: person", "----\nOld Town"],
        permanent_lore=["----\nThe Kingdom"],
    )
    assert p.text == (
        head()
        + "<|user|>\nRelevant persistent information:\n\n"
        + "Title: A\n\nTags: b\n\n----\n\nThe Kingdom\n\n***\n\n"
        + "Write./nothink"
        + "<|system|>\n----\n\nMira\n\nType: person\n\n----\n\nOld Town"
        + "<|system|>\n[ Style: sad ]"
        + ASSISTANT
        + PREFILL
        + "The door opened.\n\nShe walked in."
    )


def test_blank_authors_note_is_left_out_and_memory_is_not_trimmed():
    p = build_prompt("Story.", authors_note="   ", memory="M")
    assert "<|system|>\n   " not in p.text
    assert "information:\n\nM\n\n***\n\nWrite." in p.text


def para(k: int) -> str:
    return f"P{k:02d} " + "x" * 96  # 100 characters


def test_authors_note_four_paragraphs_or_800_characters_up():
    # 20 paragraphs of 100 characters: 800 characters from the bottom reach into the 8th paragraph from
    # the bottom, which is more than 4 lines, so the note goes after paragraph 12 (no snapping: 12 > 3 and
    # 20 - 12 = 8 > 3)
    story = "\n".join(para(k) for k in range(20))
    p = build_prompt(story, authors_note="AN")
    assert p.text == (
        head()
        + "<|user|>\nWrite./nothink"
        + ASSISTANT
        + "\n\n".join(para(k) for k in range(12))
        + "<|system|>\nAN"
        + ASSISTANT
        + PREFILL
        + "\n\n".join(para(k) for k in range(12, 20))
    )


def test_authors_note_snaps_to_the_top_of_a_short_message():
    # 10 paragraphs: the note would go after paragraph 2, within 3 of the start, so it goes first
    story = "\n".join(para(k) for k in range(10))
    p = build_prompt(story, authors_note="AN")
    assert p.text == (
        head()
        + "<|user|>\nWrite./nothink<|system|>\nAN"
        + ASSISTANT
        + PREFILL
        + "\n\n".join(para(k) for k in range(10))
    )


def test_long_story_gets_continue():
    # 100 paragraphs (10,198 characters doubled): cut at the last blank line at or before 2,000 characters
    # from the end, i.e. after paragraph 79 (its separator starts at 102*79 + 100 = 8158 <= 8198)
    story = "\n".join(para(k % 100) for k in range(100))
    p = build_prompt(story)
    assert p.text == (
        head()
        + "<|user|>\nWrite./nothink"
        + ASSISTANT
        + "\n\n".join(para(k) for k in range(80))
        + "<|user|>\nContinue./nothink"
        + ASSISTANT
        + PREFILL
        + "\n\n".join(para(k) for k in range(80, 100))
    )
    assert p.block_user_token  # the last assistant message is over 1,000 characters


def test_instruction_and_unclosed_brace():
    p = build_prompt("Hello\n{ be sad }\nMore")
    assert p.text == (
        head()
        + "<|user|>\nWrite./nothink"
        + ASSISTANT
        + "Hello\n\n"
        + "<|user|>\nbe sad/nothink"
        + ASSISTANT
        + PREFILL
        + "More"
    )
    # an unclosed "{ " is text (the site's code, not the community notes)
    msgs = split_story("Hello\n{ unclosed\nMore")
    assert [(m.role, m.text) for m in msgs] == [("assistant", "Hello\n{ unclosed\nMore")]
    # a multi-line instruction closed by " }" at the end of a later line
    msgs = split_story("{ one\ntwo }\nText")
    assert [(m.role, m.text) for m in msgs] == [("user", "one\ntwo"), ("assistant", "Text")]
    # an instruction at the very top replaces the default one
    p = build_prompt("{ Write a sad poem. }\nRain.")
    assert p.text == head() + "<|user|>\nWrite a sad poem./nothink" + ASSISTANT + PREFILL + "Rain."


def test_empty_story_and_manual_mode():
    p = build_prompt("")
    assert (
        p.text
        == head() + "<|user|>\nWrite a story, or perhaps a poem./nothink" + ASSISTANT + PREFILL + "***\n\n"
    )
    manual = build_prompt("[gMASK]<sop><|user|>\nmine")
    assert manual.manual and manual.text == "[gMASK]<sop><|user|>\nmine"
    assert build_prompt("[gMASK]x", memory="ignored").text == "[gMASK]x"


def test_custom_system_prompt_and_prefill():
    p = build_prompt("Story.", system_prompt="Be brief.\nBe kind.", prefill="  Tags: x  ")
    assert p.text == (
        "[gMASK]<sop><|system|>\nBe brief.\n\nBe kind."
        + "<|user|>\nWrite./nothink"
        + ASSISTANT
        + "Tags: x\n\nStory."
    )
    # empty strings mean the defaults, as on the site
    assert build_prompt("Story.", system_prompt="", prefill="").text == build_prompt("Story.").text


def test_adventure_mode():
    p = build_prompt("> look\nYou see a door.", adventure=True)
    d = default_texts()
    assert p.text == (
        "[gMASK]<sop><|system|>\n"
        + d["system_prompt_adventure"]
        + "<|user|>\nlook/nothink"
        + ASSISTANT
        + d["prefill_adventure"]
        + "You see a door."
    )


def test_double_newlines():
    assert double_newlines("a\nb") == "a\n\nb"
    assert double_newlines("a\n\nb") == "a\n\nb"
    assert double_newlines("a\n") == "a\n\n"
    assert double_newlines("\na") == "\na"  # index 0 is not looked at
    assert double_newlines("a\n\n\nb") == "a\n\n\nb"


@given(st.text(alphabet="ab \n{}>", max_size=60))
def test_builder_never_fails_and_keeps_story_text(story):
    p = build_prompt(story, authors_note="N", memory="M", lore=["L"])
    assert p.text.startswith("[gMASK]")
    if not story.startswith("[gMASK]"):
        # every non-newline character of the story survives (instructions lose only their braces)
        kept = "".join(x.text for x in p.parts if x.source == "story")
        assert kept.replace("\n", "") in story.replace("\n", "") or "{" in story or ">" in story


def test_bad_input():
    with pytest.raises(InputError, match="story"):
        build_prompt(5)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="lore"):
        build_prompt("x", lore="not a list")
    with pytest.raises(InputError, match="memory"):
        build_prompt("x", memory=3)  # type: ignore[arg-type]


def test_parts_frame():
    p = build_prompt("A.\nB.", memory="M")
    df = p.to_frame()
    assert list(df.columns) == ["position", "source", "chars", "text"]
    assert "".join(df["text"]) == p.text
    assert "memory" in set(df["source"]) and "<span" in p._repr_html_()
