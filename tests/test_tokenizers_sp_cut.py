"""The nerdstash batch cut (``naikit.tokenizers.nerdstash.SP_CUT``) never changes a text's ids.

A Kayra/Clio batch is cut before every space that follows a character other than a space and "▁",
and each distinct word is encoded once; these tests prove on a large varied corpus and with hypothesis
that the joined ids are the ids of the whole text, one at a time (which test_tokenizers.py and the
interop tests compare with novelai-api), in both of the batch's modes (words, whole texts).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naikit.tokenizers as nt
from naikit.tokenizers import registry
from naikit.tokenizers.nerdstash import SP_CUT, _Batch, _plain, _words_repeat, sp_chunks

SP = ["nerdstash_v1", "nerdstash_v2"]

# Building blocks of the corpus: words of several scripts, digits, punctuation, combining marks, emoji
# (with modifiers and ZWJ), white space of every kind and in runs, "▁" (U+2581, what SentencePiece writes
# for a space) and the special literals.
_WORDS = (
    "the lamp sea keeper Harbour 'clock it's they'll o'clock don't Author Title ***  ---- ⁂ ─ "
    "漢字 かな カタカナ 한국어 中文字 Ελληνικά кириллица עברית العربية हिन्दी ไทย "
    "1 12 123 2024 3.14 1,000 ０１２ ½ ² café naïve e\u0301 a\u0308\u0301 ﬁ ＡＢＣ "
    "😀 👍🏽 👩\u200d👩\u200d👧 🇯🇵 \u200d \u200b \ufeff ’ “quoted” — … « » ¿ ¡ ~ ` ^ | \\ / @ # $ % &"
).split(" ")
_SPACES = [
    " ",
    "  ",
    "   ",
    "    ",
    "\t",
    "\n",
    "\n\n",
    "\r\n",
    "\u00a0",
    "\u3000",
    "\u2003",
    "\u2002",
    "\u2028",
]
_ODD = ["\u2581", "\u2581 ", " \u2581", "\u2581\u2581", "<|endoftext|>", "<|pad|>", "<|unk|>",
        "<|startoftext|>", "<|", "|>", "<|spmspace|>", "\x00", "\x1c", "\x85", "\ud7ff",
        "\U0010fffd"]  # fmt: skip


def _corpus(n: int, seed: int) -> list[str]:
    """Return ``n`` texts: mostly words joined by single spaces (the str.split path), some with odd white
    space or "▁" or literals (the pattern path), and some repeated texts, as a DataFrame column has."""
    rnd = random.Random(seed)
    out: list[str] = []
    for _ in range(n):
        words = rnd.choices(_WORDS, k=rnd.randint(0, 40))
        if rnd.random() < 0.4:
            parts: list[str] = []
            for w in words:
                parts.append(w)
                parts.append(rnd.choice(_SPACES + _ODD) if rnd.random() < 0.3 else " ")
            text = "".join(parts)
        else:
            text = " ".join(words)
        if rnd.random() < 0.2:
            text = rnd.choice(_SPACES) + text + rnd.choice(_SPACES)
        out.append(text)
    out += rnd.choices(out, k=n // 10)
    return out


CORPUS = _corpus(2500, seed=15)


def _chunk_by_chunk(text: str, tokenizer: str) -> list[int]:
    """Return the ids of ``text``'s chunks (sp_chunks), each encoded alone, joined."""
    return [i for c in sp_chunks(text) for i in ([c] if isinstance(c, int) else nt.encode(c, tokenizer))]


@pytest.mark.parametrize("tokenizer", SP)
def test_big_corpus_batch_equals_one_by_one(tokenizer):
    expected = [nt.encode(t, tokenizer) for t in CORPUS]
    # the corpus repeats its words, so the batch takes the word path (and the whole-text one below)
    assert _words_repeat(CORPUS)
    assert nt.encode_many(CORPUS, tokenizer) == expected
    assert nt.count_many(CORPUS, tokenizer) == [len(ids) for ids in expected]
    sp = registry.backend(tokenizer, tokenizer)._sp
    for chunked in (True, False):
        batch = _Batch(sp, CORPUS, chunked)
        assert batch.ids() == expected and batch.counts() == [len(ids) for ids in expected], chunked
    # a batch whose joined text is plain (no double space, "▁" or literal) takes the one-split path
    plain = [t for t in CORPUS if t and t.strip(" ") == t and _plain(t)]
    assert len(plain) > 500 and _plain(" ".join(plain)) and _words_repeat(plain)
    assert nt.encode_many(plain, tokenizer) == [nt.encode(t, tokenizer) for t in plain]
    assert nt.count_many(plain, tokenizer) == [nt.count(t, tokenizer) for t in plain]


@pytest.mark.parametrize("tokenizer", SP)
def test_each_chunk_alone_gives_the_text_ids(tokenizer):
    # the cut rule itself: encoding the chunks one by one and joining gives the text's ids
    for text in CORPUS[:800]:
        joined = [
            i for c in sp_chunks(text) for i in ([c] if isinstance(c, int) else nt.encode(c, tokenizer))
        ]
        assert joined == nt.encode(text, tokenizer), repr(text)


def test_a_space_after_u2581_is_not_a_cut():
    # "▁" then a space is the user piece "▁▁": cutting between them would give other ids
    assert nt.encode("x\u2581 y", "kayra") != nt.encode("x\u2581", "kayra") + nt.encode(" y", "kayra")
    assert SP_CUT.split("x\u2581 y  z\t w") == ["x\u2581 y", "  z\t", " w"]
    texts = ["x\u2581 y", "\u2581 a", "a\u2581  b", "the the the"] * 200
    for tokenizer in SP:
        assert nt.encode_many(texts, tokenizer) == [nt.encode(t, tokenizer) for t in texts]


def test_no_dummy_prefix_and_spaces_escape_to_u2581():
    # what the word path relies on: a first word is encoded as it is (no "▁" added in front), and a
    # space becomes the piece "▁" that starts the next word
    for tokenizer in SP:
        backend = registry.backend(tokenizer, tokenizer)
        assert backend.pieces(nt.encode("lamp", tokenizer))[0][0] != "\u2581"
        assert backend.pieces(nt.encode(" lamp", tokenizer))[0][0] == "\u2581"


_PIECES = st.sampled_from(_WORDS + _SPACES + _ODD + ["a", "1", "'s", "'ll", "\u0301"])
_TEXT = st.lists(_PIECES, max_size=14).map("".join)


@settings(max_examples=200, deadline=None)
@given(st.lists(_TEXT, max_size=12), st.booleans())
def test_random_batches_both_modes(texts, chunked):
    for tokenizer in SP:
        expected = [nt.encode(t, tokenizer) for t in texts]
        batch = _Batch(registry.backend(tokenizer, tokenizer)._sp, texts, chunked)
        assert batch.ids() == expected
        assert batch.counts() == [len(ids) for ids in expected]


@settings(max_examples=150, deadline=None)
@given(st.text(st.characters(blacklist_categories=["Cs"]), max_size=60))
def test_random_unicode_chunks(text):
    for tokenizer in SP:
        joined = [
            i for c in sp_chunks(text) for i in ([c] if isinstance(c, int) else nt.encode(c, tokenizer))
        ]
        assert joined == nt.encode(text, tokenizer)
        assert _Batch(registry.backend(tokenizer, tokenizer)._sp, [text, text], True).ids() == [
            joined,
            joined,
        ]
