"""Story context: the context naikit builds equals what the website's code builds.

Every expected context below is worked out by hand from the website's builder (module 16394 of chunk
``2751-38b954da8d0ef061.js``, January 2026, and key matching in module 19295), with a stand-in tokenizer
whose tokens can be counted by eye: one token per word, a word carrying the whitespace before it
(``"a b.\\nc"`` -> ``"a"``, ``" b."``, ``"\\nc"``), trailing whitespace one token. The comments give the
steps of the site's code each expectation follows.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from naikit.errors import InputError
from naikit.novelai.story import Category, ContextConfig, EphemeralEntry, LoreEntry, Story, StoryFileError
from naikit.novelai.story_context import match_keys, split_sentences


class Words:
    """One token per word (with its leading whitespace); ids index a growing vocabulary."""

    def __init__(self) -> None:
        self.vocab: list[str] = []
        self.ids: dict[str, int] = {}

    def pieces(self, text: str) -> list[str]:
        return re.findall(r"\s*\S+|\s+", text)

    def encode(self, text: str) -> list[int]:
        out = []
        for p in self.pieces(text):
            if p not in self.ids:
                self.ids[p] = len(self.vocab)
                self.vocab.append(p)
            out.append(self.ids[p])
        return out

    def decode(self, ids: list[int]) -> str:
        return "".join(self.vocab[i] for i in ids)


W = Words()


def ctx(story: Story, limit: int, model: str = "kayra"):
    return story.context(model, token_limit=limit, tokenizer=W)


def test_stand_in_tokenizer_counts_words() -> None:
    assert W.pieces("Alpha beta. \n") == ["Alpha", " beta.", " \n"]
    assert W.decode(W.encode("a b.\nc")) == "a b.\nc"


# ------------------------------------------------------------------------------------------- keys


def test_keys_and_placement_by_priority() -> None:
    # priorities: memory 800 (position 0), entry 400 (-1: the end), story 0 (-1), AN -400 (-4: four
    # lines up from the bottom, newline units). After memory+entry+story the text has 5 lines; the AN
    # goes in front of the 3rd line from the bottom = right after the entry (offset 29), which is the end
    # of the entry's section, so no shunting.
    s = Story(
        text="Alice walked home.\nBob waited at the door.\nThey spoke.",
        memory="Memory here.",
        authors_note="[ Style: terse ]",
        lorebook=[
            LoreEntry("Bob is a baker.", keys=["bob"], display_name="Bob"),
            LoreEntry("Zed.", keys=["zed"], display_name="Zed"),
            LoreEntry("Off.", keys=["alice"], display_name="Off", enabled=False),
        ],
    )
    c = ctx(s, 100)
    assert c.text == (
        "Memory here.\nBob is a baker.\n[ Style: terse ]\n"
        "Alice walked home.\nBob waited at the door.\nThey spoke."
    )
    assert c.tokens == W.encode(c.text)
    f = c.to_frame().set_index("source")
    assert f.loc["Bob", "included"] and f.loc["Bob", "key"] == "bob"
    assert not f.loc["Zed", "included"] and f.loc["Zed", "reason"] == "no key in range"
    assert f.loc["Off", "reason"] == "disabled"
    assert f.loc["an", "position"] == len("Memory here.\nBob is a baker.\n")


def test_plain_keys_whole_words_case_insensitive_and_all_parts() -> None:
    # plain keys: \b added where the key starts/ends with a word character, flags "iu"; "&" needs all parts
    assert match_keys("Bobby and BOB", ["bob"]) == ("bob", 10, 3)
    assert match_keys("Bobby", ["bob"])[1] == -1
    assert match_keys("bob at the door", ["bob & window"])[1] == -1
    assert match_keys("the door, then bob", ["bob & door"]) == ("bob & door", 15, 3)
    # a key ending in a non-word character gets no \b there
    assert match_keys("say hi!!", ["hi!"]) == ("hi!", 4, 3)
    # first mode: the first key in order wins; latest mode: the latest match of any key
    assert match_keys("bob then alice", ["alice", "bob"], first=True) == ("alice", 9, 5)
    assert match_keys("alice then bob, alice", ["bob", "alice"], first=False) == ("alice", 16, 5)


def test_regex_keys() -> None:
    # "/pattern/flags", flags from s,i,u,m; at most one character before the first "/"
    assert match_keys("The Baker came", ["/b[a-z]+r/i"]) == ("/b[a-z]+r/i", 4, 5)
    assert match_keys("The Baker came", ["/b[a-z]+r/"])[1] == -1
    # latest mode with an "hl" group: the index and length of the group
    assert match_keys("a door, the door!", ["/the (?<hl>door)/"], first=False) == ("/the (?<hl>door)/", 12, 4)
    # not a regex (flag "x" is not allowed): a plain key, which does not occur
    assert match_keys("b.r", ["/b.r/x"])[1] == -1
    # a broken regular expression is skipped, the next key still counts
    assert match_keys("bob", ["/(/", "bob"])[1] == 0


def test_search_range() -> None:
    # each entry searches only its last search_range characters of the story
    story = "Bob left. " + "x " * 20
    near = LoreEntry("B.", keys=["bob"], display_name="near", search_range=1000)
    far = LoreEntry("B2.", keys=["bob"], display_name="far", search_range=10)
    c = ctx(Story(text=story, lorebook=[near, far]), 200)
    assert c.section("near").included
    assert not c.section("far").included and c.why("far") == "no key in range"


def test_cascading_activation() -> None:
    # "Baker" fires only on the text of the activated "Bob" entry (non-story activatable, tried against
    # memory/AN/story first, then the activated entries); "Castle" finds its key nowhere
    s = Story(
        text="Bob waited.",
        lorebook=[
            LoreEntry("Bob is a baker.", keys=["bob"], display_name="Bob"),
            LoreEntry("Bakers bake.", keys=["baker"], display_name="Baker", non_story_activatable=True),
            LoreEntry("A castle.", keys=["castle"], display_name="Castle", non_story_activatable=True),
        ],
    )
    c = ctx(s, 100)
    assert c.why("Baker") == "cascaded from Bob"
    assert not c.section("Castle").included
    # both entries: priority 400, position -1 (the end), inserted in activation order, then the story
    assert c.text == "Bob is a baker.\nBakers bake.\nBob waited."


def test_category_disabled_disables_entries() -> None:
    cat = Category("People", enabled=False)
    s = Story(
        text="Bob",
        lorebook=[LoreEntry("B.", keys=["bob"], display_name="Bob", category=cat.id)],
        categories=[cat],
    )
    assert ctx(s, 50).why("Bob") == "category disabled"


# ------------------------------------------------------------------------------------------- trimming


def test_budget_overflow_trims_by_newline() -> None:
    # memory budget 5 tokens; full = "One two.\nThree four.\nFive six.\n" = 7 tokens. trimBottom: lines
    # from the bottom; after subtracting "Five six." (2) the count is 5 <= 5 so all lines are tried (7
    # tokens, too many), after "Three four." the top two lines + suffix = 5 tokens fit.
    mem = ContextConfig(token_budget=5, budget_priority=800, insertion_position=0)
    c = ctx(Story(text="End.", memory="One two.\nThree four.\nFive six.", memory_config=mem), 100)
    assert c.text == "One two.\nThree four.\nEnd."
    sec = c.section("memory")
    assert (sec.tokens, sec.trim, sec.trimmed) == (5, "newline", True)


def test_budget_overflow_trims_by_sentence() -> None:
    # one line, 6 tokens with the suffix, budget 3: newline trimming cannot help; sentences (bottom
    # first): "Epsilon." -> 5 left, "Gamma delta. " -> 2 <= 3, try "Alpha beta. Gamma delta. \n" (5:
    # no), then "Alpha beta. \n" = 3 tokens.
    mem = ContextConfig(token_budget=3, budget_priority=800, insertion_position=0)
    c = ctx(Story(text="End.", memory="Alpha beta. Gamma delta. Epsilon.", memory_config=mem), 100)
    assert c.text == "Alpha beta. \nEnd."
    assert c.section("memory").trim == "sentence"


def test_budget_overflow_trims_by_token_and_drops_untrimmable() -> None:
    # no newline, no sentence end: token trimming keeps the first 3 - 1 (suffix) tokens
    mem = ContextConfig(token_budget=3, budget_priority=800, insertion_position=0, maximum_trim_type="token")
    c = ctx(Story(text="End.", memory="aa bb cc dd ee", memory_config=mem), 100)
    assert c.text == "aa bb\nEnd."
    assert c.section("memory").trim == "token"
    # the same with maximum trim type "sentence": it cannot be trimmed, so it is left out
    mem2 = ContextConfig(token_budget=3, budget_priority=800, insertion_position=0)
    c2 = ctx(Story(text="End.", memory="aa bb cc dd ee", memory_config=mem2), 100)
    assert c2.text == "End." and c2.why("memory") == "budget spent"
    # doNotTrim: all or nothing
    mem3 = ContextConfig(
        token_budget=3, budget_priority=800, insertion_position=0, trim_direction="doNotTrim"
    )
    assert ctx(Story(text="End.", memory="One two.\nThree four.", memory_config=mem3), 100).text == "End."


def test_sentence_splitter() -> None:
    assert split_sentences("Alpha beta. Gamma delta. Epsilon.") == [
        "Alpha beta. ",
        "Gamma delta. ",
        "Epsilon.",
    ]
    # Mr. is not an end; 3.5 is not; quotes hold sentences together; a closing bracket goes along
    assert split_sentences("Mr. Smith paid 3.5 coins. Next") == ["Mr. Smith paid 3.5 coins. ", "Next"]
    assert split_sentences('He said "Stop. Now." Then left.') == ['He said "Stop. Now." Then left.']
    assert split_sentences("(Done.) Go") == ["(Done.) ", "Go"]


@given(st.text(alphabet='ab .!?\n"“)e', max_size=40))
def test_sentences_join_back(text: str) -> None:
    assert "".join(split_sentences(text)) == text


def test_long_story_past_the_window() -> None:
    # 20 lines of 3 tokens, limit 10. The story (trimTop) is measured on its last 8*10 characters:
    # "e 15 here." + lines 16-20 = 18 tokens. Newline trimming from the top: after dropping 3 pieces'
    # worth the count is 9 <= 10 -> lines 18-20 are kept (lines 17-20 = 12 tokens did not fit).
    story = "\n".join(f"Line {i} here." for i in range(1, 21))
    c = ctx(Story(text=story), 10)
    assert c.text == "Line 18 here.\nLine 19 here.\nLine 20 here."
    assert c.section("story").tokens == 9
    # with no newline and no sentence end the default story config (max trim "sentence") cannot trim
    words = " ".join(f"w{i}" for i in range(1, 21))
    assert ctx(Story(text=words), 5).text == ""
    # maximum trim type "token": the last 5 tokens
    cfg = ContextConfig("", "", 1, 512, 0, "trimTop", "newline", "token", -1, None, True)
    assert ctx(Story(text=words, story_config=cfg), 5).text == " w16 w17 w18 w19 w20"


# ------------------------------------------------------------------------------------------- positions


def test_insertion_positions_and_shunting() -> None:
    # memory (800, position 0) gives "M1.\nM2.\nM3.\n"; an entry at position 1 from the top (newline
    # units) would land at offset 4, inside memory: it is moved to the nearer edge (offset 0, 4 < 8)
    s = Story(
        text="S.",
        memory="M1.\nM2.\nM3.",
        lorebook=[
            LoreEntry("E.", keys=["s"], display_name="E", context_config=ContextConfig(insertion_position=1))
        ],
    )
    assert ctx(s, 100).text == "E.\nM1.\nM2.\nM3.\nS."
    # memory that allows insertion inside: the entry goes in after the first line
    s.memory_config = ContextConfig(budget_priority=800, insertion_position=0, allow_insertion_inside=True)
    assert ctx(s, 100).text == "M1.\nE.\nM2.\nM3.\nS."
    # sentence units, from the bottom: -2 is in front of the last sentence of the story
    s2 = Story(
        text="One. Two. Three.",
        lorebook=[
            LoreEntry(
                "E.",
                keys=["one"],
                display_name="E",
                context_config=ContextConfig(
                    budget_priority=-1, insertion_type="sentence", insertion_position=-2
                ),
            )
        ],
    )
    assert ctx(s2, 100).text == "One. Two. E.\nThree."


def test_reserved_tokens_protect_the_story() -> None:
    # limit 10. The story reserves min(512, 4) = 4 tokens, so memory (800, max trim token) gets
    # min(10 - 4 + 0, 10) = 6: "m1 m2 m3 m4 m5\n"; the story then gets its 4.
    mem = ContextConfig(budget_priority=800, insertion_position=0, maximum_trim_type="token")
    s = Story(text="s1 s2 s3 s4", memory="m1 m2 m3 m4 m5 m6 m7 m8", memory_config=mem)
    assert ctx(s, 10).text == "m1 m2 m3 m4 m5\ns1 s2 s3 s4"
    assert ctx(s, 10).section("story").reserved == 4
    # no reservation: memory takes 9 tokens, the story's 1 token cannot hold a sentence -> left out
    s.story_config = ContextConfig("", "", 1, 0, 0, "trimTop", "newline", "sentence", -1, None, True)
    c = ctx(s, 10)
    assert c.text == "m1 m2 m3 m4 m5 m6 m7 m8\n"
    assert not c.section("story").included


def test_ephemeral_context() -> None:
    # startingStep 1, delay 0, duration 2: steps 1 and 2. Config default: position -2 (newline units)
    e = EphemeralEntry("It is raining.", starting_step=1, duration=2)
    s = Story(text="L1.\nL2.\nL3.", ephemeral=[e], step=2)
    assert ctx(s, 100).text == "L1.\nL2.\nIt is raining.\nL3."
    s.step = 3
    c = ctx(s, 100)
    assert c.text == "L1.\nL2.\nL3." and c.why("E:It is rainin...") == "ephemeral inactive"
    # repeat every 3 steps for 1 step, and reverse
    r = EphemeralEntry("x", starting_step=1, delay=3, duration=1, repeat=True)
    assert [r.active(i) for i in range(1, 8)] == [True, False, False, True, False, False, True]
    rv = EphemeralEntry("x", starting_step=2, reverse=True)
    assert [rv.active(i) for i in range(1, 5)] == [True, False, True, True]


# ------------------------------------------------------------------------------------------- GLM


GLM_HEAD = (
    "[gMASK]<sop><|system|>\nSYS<|user|>\nRelevant persistent information:\n\nMEM\n\n***\n\n"
    "Write./nothink<|assistant|>\n<think></think>\n"
)


def test_glm_prefill_memory_and_forced_lore() -> None:
    # tiny story: system prompt, memory block (memory, then always-on lore) before "Write.", the
    # prefill in front of the story, paragraphs doubled
    s = Story(
        text="L1.\nL2.",
        memory="MEM",
        system_prompt="SYS",
        prefill="PRE",
        lorebook=[
            LoreEntry("Always.", display_name="A", force_activation=True),
            LoreEntry("No.", keys=["zzz"], display_name="N"),
        ],
    )
    c = s.context("glm-4-6", token_limit=2400, tokenizer=W)
    head = GLM_HEAD.replace("MEM\n\n***", "MEM\n\nAlways.\n\n***")
    assert c.text == head + "PRE\n\nL1.\n\nL2."
    assert c.why("A") == "activation forced" and c.why("N") == "no key in range"


def test_glm_budget_and_rolling_window() -> None:
    # limit 2400: story share A = 2400 - 128 - 1024 - 1200 = 48; high share 1200 - 1 (SYS) = 1199;
    # prefill 1 -> A = 47; memory 1 -> high 1198; then A = 47 + 1198 + 1024 = 2269 one-token lines.
    lines = [f"x{i}" for i in range(3000)]
    s = Story(text="\n".join(lines), memory="MEM", system_prompt="SYS", prefill="PRE")
    window: dict = {}
    c1 = s.context("glm-4-6", token_limit=2400, tokenizer=W, window=window, for_generation=True)
    kept = c1.section("story").inserted_text.split("\n")
    assert len(kept) == 2269 and kept[0] == "x731"
    assert window == {2400 // 256: ["x731", "x732", "x733"]}
    # two more lines: alone, the window would start two lines lower; with the cached start the story
    # (2271 tokens > 2269) still fits in 2269 + 8192, so it keeps starting at x731 and the limit grows
    s.text += "\nx3000\nx3001"
    c2 = s.context("glm-4-6", token_limit=2400, tokenizer=W, window=window, for_generation=True)
    assert c2.section("story").inserted_text.split("\n")[0] == "x731"
    assert c2.token_limit == 2400 + 8192
    c3 = s.context("glm-4-6", token_limit=2400, tokenizer=W)
    assert c3.section("story").inserted_text.split("\n")[0] == "x733"


# ------------------------------------------------------------------------------------------- files


LOREBOOK = (
    '{"lorebookVersion":6,"entries":[{"text":"Bob is a baker.","contextConfig":{"prefix":"","suffix":"\\n",'
    '"tokenBudget":1,"reservedTokens":0,"budgetPriority":400,"trimDirection":"trimBottom","insertionType":'
    '"newline","maximumTrimType":"sentence","insertionPosition":-1},"lastUpdatedAt":1700000000000,'
    '"displayName":"Bob","id":"8c1f0d6e-0000-4000-8000-000000000001","keys":["bob","/bak(er|ing)/i"],'
    '"searchRange":1000,"enabled":true,"forceActivation":false,"keyRelative":false,"nonStoryActivatable":false,'
    '"category":"","loreBiasGroups":[{"phrases":[],"ensureSequenceFinish":false,"generateOnce":true,"bias":0,'
    '"enabled":true,"whenInactive":false}]}],"settings":{"orderByKeyLocations":false},"categories":[{"name":'
    '"People","id":"c1","enabled":true,"createSubcontext":false,"subcontextSettings":{},"useCategoryDefaults":'
    'false,"categoryDefaults":{},"categoryBiasGroups":[],"open":true}],"order":[]}'
)


def test_lorebook_file_round_trip_byte_exact() -> None:
    s = Story.from_json(LOREBOOK)
    assert s.to_json("lorebook") == LOREBOOK
    pretty = json.dumps(json.loads(LOREBOOK), indent=2, ensure_ascii=False)
    assert Story.from_json(pretty).to_json("lorebook") == pretty
    e = s.entry("Bob")
    assert e.keys == ["bob", "/bak(er|ing)/i"] and e.context_config.budget_priority == 400
    e.keys.append("bread")
    assert json.loads(s.to_json("lorebook"))["entries"][0]["keys"][-1] == "bread"


def _story_file() -> str:
    cfg = {"prefix": "", "suffix": "\n", "tokenBudget": 1, "reservedTokens": 0, "budgetPriority": 800,
           "trimDirection": "trimBottom", "insertionType": "newline", "maximumTrimType": "sentence",
           "insertionPosition": 0}  # fmt: skip
    an = dict(cfg, reservedTokens=1, budgetPriority=-400, insertionPosition=-4)
    story_cfg = {"prefix": "", "suffix": "", "tokenBudget": 1, "reservedTokens": 512, "budgetPriority": 0,
                 "trimDirection": "trimTop", "insertionType": "newline", "maximumTrimType": "sentence",
                 "insertionPosition": -1, "allowInsertionInside": True}  # fmt: skip
    block = {"nextBlock": [], "prevBlock": -1, "origin": "root", "startIndex": 0, "endIndex": 0,
             "dataFragment": {"data": "Bob baked bread.", "origin": "prompt"}, "fragmentIndex": -1,
             "removedFragments": [], "chain": False}  # fmt: skip
    content = {
        "storyContentVersion": 6,
        "settings": {
            "parameters": {},
            "preset": "",
            "trimResponses": True,
            "banBrackets": True,
            "prefix": "vanilla",
            "model": "kayra-v1",
        },
        "story": {
            "version": 2,
            "step": 1,
            "datablocks": [block],
            "currentBlock": 0,
            "fragments": [{"data": "Bob baked bread.", "origin": "prompt"}],
        },  # fmt: skip
        "context": [{"text": "Memory.", "contextConfig": cfg}, {"text": "Note.", "contextConfig": an}],
        "lorebook": json.loads(LOREBOOK),
        "storyContextConfig": story_cfg,
        "ephemeralContext": [],
        "contextDefaults": {},
        "phraseBiasGroups": [],
        "bannedSequenceGroups": [],
    }
    meta = {"storyMetadataVersion": 1, "id": "s1", "remoteId": "", "remoteStoryId": "", "title": "Bread",
            "description": "", "textPreview": "", "isTA": False, "favorite": False, "tags": [],
            "createdAt": 1700000000000, "lastUpdatedAt": 1700000000000, "isModified": False,
            "hasDocument": False}  # fmt: skip
    return json.dumps(
        {"storyContainerVersion": 1, "metadata": meta, "content": content},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def test_story_file_round_trip_and_context(tmp_path) -> None:
    text = _story_file()
    s = Story.from_json(text)
    assert (s.text, s.memory, s.authors_note, s.title, s.model) == (
        "Bob baked bread.",
        "Memory.",
        "Note.",
        "Bread",
        "kayra-v1",
    )
    assert s.to_json() == text
    p = s.save(tmp_path / "x.story")
    assert p.read_text(encoding="utf-8") == text
    assert Story.from_file(p).to_json() == text
    # "bob" fires (first key in order). The AN at -4 counts 4 lines up but the text has only 3, so it
    # goes to the very top (offset 0, the start of memory's section: no shunting needed)
    c = ctx(s, 100)
    assert c.text == "Note.\nMemory.\nBob is a baker.\nBob baked bread."


def test_bad_input_names_the_field() -> None:
    with pytest.raises(InputError, match="keys"):
        LoreEntry("x", keys="bob")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="trim_direction"):
        ContextConfig(trim_direction="up")
    with pytest.raises(InputError, match="token_limit"):
        Story(text="a").context("kayra", token_limit=0, tokenizer=W)
    with pytest.raises(InputError, match="tokenizer"):
        Story(text="a").context("kayra", token_limit=10, tokenizer=object())
    with pytest.raises(StoryFileError):
        Story.from_json("{}")
    with pytest.raises(StoryFileError):
        Story.from_json('{"lorebookVersion":6,"entries":[{"text":5}]}')


@given(st.text(max_size=200))
def test_story_files_parse_or_fail_cleanly(text: str) -> None:
    try:
        Story.from_json(text)
    except StoryFileError:
        pass


@given(
    st.text(alphabet="ab _.\n", max_size=30),
    st.lists(st.text(alphabet="ab _&.", min_size=1, max_size=5), min_size=1, max_size=3),
    st.booleans(),
)
def test_ascii_fast_path_matches_the_regex_path(text: str, keys: list[str], first: bool) -> None:
    # ASCII text and keys take a path without regular expressions; a non-ASCII character in front
    # forces the regex path, which must find the same match two characters later
    fast = match_keys(text, keys, first=first)
    slow = match_keys("é " + text, keys, first=first)
    assert slow == (fast[0], fast[1] + 2 if fast[1] >= 0 else -1, fast[2]) or (
        fast[1] == -1 and slow[1] == -1
    )


_KEYS = ["text", "context", "lorebook", "entries", "keys", "contextConfig", "settings", "categories",
         "order", "story", "document", "datablocks", "fragments", "currentBlock", "ephemeralContext",
         "searchRange", "tokenBudget", "prefix", "storyContextConfig", "messageSettings", "displayName",
         "id", "step"]  # fmt: skip
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), kids, max_size=4),
    max_leaves=12,
)


@given(_json, st.booleans())
def test_odd_story_and_lorebook_shapes_fail_cleanly(content, lorebook: bool) -> None:
    # the site's keys with values of any JSON type: a Story or a StoryFileError, never a raw exception
    doc = (
        {"lorebookVersion": 6, "entries": content}
        if lorebook
        else {"storyContainerVersion": 1, "content": content}
    )
    try:
        s = Story.from_json(json.dumps(doc))
    except StoryFileError:
        return
    s.to_json("lorebook" if lorebook else "story")


def test_default_token_limit_is_context_minus_output() -> None:
    # the site: min(context for the tier, ...) - max_length (- 20, GLM 40, to continue to a sentence end)
    s = Story(text="a")
    assert s.context("kayra", tier="opus", tokenizer=W, max_length=150).token_limit == 8192 - 150
    from naikit.novelai.models import text_model

    tablet = text_model("kayra").context.tablet  # the model table (a separate, sourced fact)
    assert s.context("kayra", tier="tablet", tokenizer=W, max_length=40).token_limit == tablet - 40
    c = s.context("kayra", tokenizer=W, max_length=150, continue_to_sentence_end=True)
    assert c.token_limit == 8192 - 150 - 20


def test_story_trimming_prefers_sentences_when_lines_waste_the_budget() -> None:
    # limit 10, story only (12 tokens). Newline trimming from the top: all lines (12) do not fit, the
    # last line alone is 2 tokens = 20% of the budget, under the site's 70% floor for the story -> it
    # gives up on lines. Sentences: "a ... h. " (9 tokens) dropped -> "i j.\nk l." = 4 tokens, 40%
    # (over the 30% floor for sentences) -> kept.
    c = ctx(Story(text="a b c d e f g h. i j.\nk l."), 10)
    assert c.text == "i j.\nk l."
    assert c.section("story").trim == "sentence"


def test_key_relative_insertion() -> None:
    # placed relative to the last match of the entry's key in the text built so far. -2: the text
    # before the key gets a "DUMMY" so its partial line counts as one -> in front of the key's line.
    # +1: after the key, the rest gets a leading "DUMMY" (taken back off) -> after the key's line.
    def story(pos: int) -> Story:
        cfg = ContextConfig(budget_priority=-100, insertion_position=pos)
        e = LoreEntry("E.", keys=["bob"], display_name="E", key_relative=True, context_config=cfg)
        return Story(text="A.\nB bob.\nC.", lorebook=[e])

    assert ctx(story(-2), 100).text == "A.\nE.\nB bob.\nC."
    assert ctx(story(1), 100).text == "A.\nB bob.\nE.\nC."


def test_glm_lore_budget() -> None:
    # limit 2400: after system prompt, prefill and memory the story share is 47 tokens. A conditional
    # entry of 50 words does not fit there ("budget spent"); an always-on one of 50 draws on the
    # 1,198-token high-priority share and goes in; a 40-word conditional one fits the 47.
    big = " ".join(["w"] * 50)
    s = Story(
        text="x ship y",
        memory="MEM",
        system_prompt="SYS",
        prefill="PRE",
        lorebook=[
            LoreEntry(big, keys=["ship"], display_name="big"),
            LoreEntry(big, display_name="always", force_activation=True),
            LoreEntry(" ".join(["v"] * 40), keys=["ship"], display_name="small"),
        ],
    )
    c = s.context("glm-4-6", token_limit=2400, tokenizer=W)
    assert c.why("big") == "budget spent" and not c.section("big").included
    assert c.section("always").included and c.section("small").included
    # always-on entries go with memory, conditional ones in a system message near the bottom
    assert "MEM\n\n" + big + "\n\n***" in c.text
    assert "<|system|>\n" + " ".join(["v"] * 40) + "<|assistant|>" in c.text


def test_lorebook_phrase_bias_groups() -> None:
    # the site: an active entry brings its groups without whenInactive, an inactive one those with it;
    # a category likewise by whether any of its entries is active; disabled entries bring none
    on = {"phrases": [{"sequence": "ship"}], "bias": 1, "whenInactive": False}
    off = {"phrases": [{"sequence": "shore"}], "bias": -1, "whenInactive": True}
    cat = Category("Things", raw={"categoryBiasGroups": [on, off]})
    s = Story(
        text="the ship",
        categories=[cat],
        lorebook=[
            LoreEntry("S.", keys=["ship"], display_name="S", lore_bias_groups=[on, off], category=cat.id),
            LoreEntry("T.", keys=["tree"], display_name="T", lore_bias_groups=[on, off]),
            LoreEntry("D.", keys=["ship"], display_name="D", lore_bias_groups=[on], enabled=False),
        ],
    )
    b = {x["identifier"]: x["groups"] for x in ctx(s, 100).biases}
    assert b == {"S": [on], "T": [off], "C:Things": [on]}
