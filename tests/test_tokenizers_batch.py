"""Batch tokenizing: ``encode_many``/``count_many`` give exactly the ids of ``encode`` one by one.

The one-by-one ids are themselves checked against novelai-api in test_tokenizers.py; here every
tokenizer's batch path (HF ``encode_batch``, sentencepiece's threaded list encoding, T5's direct
encoding, CLIP's loop) must reproduce them on a corpus with CJK, emoji, special literals and edge cases.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naikit.tokenizers as nt
from naikit.errors import InputError
from naikit.tokenizers import registry
from naikit.tokenizers.backend import CHUNK_BOUNDARY, chunk_table, chunks

CORPUS = [
    "",
    " ",
    "Hello world",
    "The lamp flickered.\n\nShe turned the page, and the room went quiet.",
    "漢字とかなの混じった文章です。中文也可以。한국어도 됩니다.",
    "emoji 😀👍🏽👩‍👩‍👧 and flags 🇯🇵 and a lone ZWJ \u200d",
    "<|endoftext|>after<|pad|><|unk|>x<|startoftext|>",
    "a<|endoftext|>",
    "<|begin_of_text|>Erato",
    "1girl, {{solo}}, [[smile]], 1.2::red hair::, -1::blurry::",
    "café naïve Ångström ﬁ ＡＢＣ &amp; &lt;b&gt;",
    "tabs\tand\r\nline breaks\u2028here",
    "x" * 3000,
    " leading and trailing spaces  ",
]
TOKENIZERS = ["gpt2", "gpt2-genji", "pile", "nerdstash_v1", "nerdstash_v2", "llama3", "clip", "t5"]


@pytest.mark.parametrize("tokenizer", TOKENIZERS)
def test_batch_equals_one_by_one(tokenizer):
    expected = [nt.encode(t, tokenizer) for t in CORPUS]
    assert nt.encode_many(CORPUS, tokenizer) == expected
    assert nt.count_many(CORPUS, tokenizer) == [len(ids) for ids in expected]
    assert nt.encode_many([], tokenizer) == [] and nt.count_many((), tokenizer) == []


@pytest.mark.parametrize("model", ["erato", "kayra", "clio", "krake", "euterpe", "v3", "v4.5"])
def test_batch_for_models_and_bos(model):
    for bos in (False, True):
        assert nt.encode_many(CORPUS, model, bos=bos) == [nt.encode(t, model, bos=bos) for t in CORPUS]
    if model == "erato":
        assert all(ids[0] == nt.LLAMA3_BOS for ids in nt.encode_many(CORPUS, model, bos=True))


def test_t5_encode_equals_tokenize_ids():
    # encode() takes the direct path; tokenize() the per-word one that also gives spans
    for text in CORPUS:
        assert nt.encode(text, "v4") == nt.tokenize(text, "v4").ids


def test_dataframe_column_and_generator():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"text": CORPUS}, index=range(100, 100 + len(CORPUS)))
    df["tokens"] = nt.count_many(df["text"], "kayra")
    assert df["tokens"].tolist() == [nt.count(t, "kayra") for t in CORPUS]
    assert nt.count_many((t for t in CORPUS), "erato") == [nt.count(t, "erato") for t in CORPUS]


def test_bad_batches_name_the_item():
    with pytest.raises(InputError, match="texts"):
        nt.count_many("one string", "kayra")
    with pytest.raises(InputError, match="texts"):
        nt.count_many(12, "kayra")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"texts\[1\]"):
        nt.count_many(["ok", None], "kayra")  # type: ignore[list-item]
    with pytest.raises(InputError, match=r"texts\[0\].*surrogates"):
        nt.encode_many(["\ud800"], "erato")
    with pytest.raises(nt.TokenizerUnavailable):
        nt.count_many(["x"], "glm-4-6")


# Texts built to stress the chunk cut (before a space that follows a non-space): runs of spaces (pile's
# added tokens), other white space, line breaks, contractions, combining marks (NFC), digits, CJK,
# emoji and the special literals, next to spaces.
_PIECES = st.sampled_from(
    [" ", "  ", "   ", "    ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "a", "Z", "'s", "'ll", "1",
     "123", ".", "!?", "\u0301", "e\u0301", "\u1100\u1161", "漢", "😀", "👍🏽", "<|endoftext|>", "<|pad|>",
     "<|begin_of_text|>", "<|", "|>", "\x1c", "\x85", "ﬁ"]
)  # fmt: skip
_TEXTS = st.lists(st.lists(_PIECES, max_size=12).map("".join), max_size=10)


@settings(max_examples=150, deadline=None)
@given(_TEXTS)
def test_random_batches(texts):
    for tokenizer in ("gpt2", "gpt2-genji", "pile", "llama3", "nerdstash_v1", "nerdstash_v2", "t5"):
        assert nt.encode_many(texts, tokenizer) == [nt.encode(t, tokenizer) for t in texts], tokenizer
        assert nt.count_many(texts, tokenizer) == [nt.count(t, tokenizer) for t in texts], tokenizer


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.text(max_size=40).filter(lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t)), max_size=8
    )
)
def test_random_unicode_batches(texts):
    for tokenizer in ("llama3", "pile", "nerdstash_v2"):
        assert nt.encode_many(texts, tokenizer) == [nt.encode(t, tokenizer) for t in texts], tokenizer


def test_no_nerdstash_piece_holds_a_space_after_another_character():
    # what lets a nerdstash text be cut before such a space (naikit.tokenizers.backend.CHUNK_BOUNDARY)
    for tokenizer in ("nerdstash_v1", "nerdstash_v2"):
        backend = registry.backend(tokenizer, tokenizer)
        pieces = backend.pieces(range(backend.vocab_size))
        assert len(pieces) > 60_000
        assert not [p for p in pieces if "\u2581" in p.lstrip("\u2581")], tokenizer


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_chunks_are_cut_at_the_boundary(text_list):
    for text in text_list:
        assert chunks(text) == [c for c in CHUNK_BOUNDARY.split(text) if c]


def test_both_batch_paths():
    # many repeated words: cut into chunks, each distinct one encoded once; no repeats: whole texts
    prose = [" ".join(["the lamp and the sea"] * k) + f" word{k}" for k in range(1, 40)]
    unique = [f"w{k}a w{k}b w{k}c" for k in range(40)]
    calls: list[list[str]] = []

    def encode_all(items: list[str]) -> list[list[int]]:
        calls.append(items)
        return [nt.encode(i, "llama3") for i in items]

    pieces, table = chunk_table(prose, encode_all)
    # the five repeated chunks once each, then one " wordK" per text (and "" for the end of a text)
    assert sorted(c for c in calls[-1] if c) == sorted(
        ["the", " lamp", " and", " the", " sea"] + [f" word{k}" for k in range(1, 40)]
    )
    assert [[i for c in p for i in table[c]] for p in pieces] == [nt.encode(t, "llama3") for t in prose]
    pieces, table = chunk_table(unique, encode_all)
    assert pieces == [[t] for t in unique] and calls[-1] == unique
    for texts in (prose, unique):
        for tokenizer in ("llama3", "pile", "nerdstash_v2"):
            assert nt.encode_many(texts, tokenizer) == [nt.encode(t, tokenizer) for t in texts]
