"""What every tokenizer backend offers, and where their data files are.

A backend is one tokenizer loaded from its data file in ``naikit/data/tokenizers`` (see its NOTICE);
:mod:`naikit.tokenizers.registry` makes each one on first use and shares it between the models that
use it. Heavy libraries (``tokenizers``, ``sentencepiece``) are imported by the backends' constructors,
never at import time.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from importlib import resources
from itertools import chain

__all__ = ["FILES", "data", "Backend", "CHUNK_BOUNDARY", "chunks", "chunk_table"]

#: The data file of each tokenizer.
FILES: dict[str, str] = {
    "gpt2": "gpt2_tokenizer.json.gz",
    "gpt2-genji": "gpt2-genji_tokenizer.json.gz",
    "pile": "pile_tokenizer.json.gz",
    "llama3": "llama3.json.gz",
    "nerdstash_v1": "nerdstash_v1.model.gz",
    "nerdstash_v2": "nerdstash_v2.model.gz",
    "clip": "bpe_simple_vocab_16e6.txt.gz",
    "t5": "t5_spiece.model.gz",
}


def data(name: str) -> bytes:
    """Return the bytes of the shipped tokenizer data file ``name`` (still gzipped)."""
    return resources.files("naikit").joinpath("data").joinpath("tokenizers").joinpath(name).read_bytes()


#: Where a text can be cut without changing its tokens, for the HF tokenizers (:func:`chunk_table`):
#: before a space (U+0020) that follows a character other than white space. The HF pre-tokenizers
#: (gpt2's byte-level pattern, llama3's split pattern) put a space only at the start of a pre-token or
#: inside an all-white-space one, pile's added tokens are runs of spaces and NFC never composes across
#: a space. So the ids of a text are the ids of its chunks, joined (tests check every tokenizer).
#: The nerdstash tokenizers cut by their own rule (:data:`naikit.tokenizers.nerdstash.SP_CUT`).
CHUNK_BOUNDARY = re.compile(r"(?<=\S)(?= )")
# The chunks between those cuts, matched directly (faster than splitting at the zero-width boundary):
# leading white space, then runs of non-spaces, carrying on over spaces only after other white space.
_CHUNK = re.compile(r"\s*(?:[^ ]*[^\S ] +)*[^ ]*")
# Chunking pays when words repeat; with fewer repeats than this in a sample, whole texts are sent.
_SAMPLE_TEXTS = 500
_MIN_REPEATS = 0.5


def _cut(text: str) -> list[str]:
    # Printable text without double spaces has no white space but single spaces, each after a
    # non-space (or at the start): every space starts a chunk, and str.split finds them far faster
    # than the pattern. Either way an empty chunk may come first or last; it encodes to no ids.
    if text.isprintable() and "  " not in text:
        words = text.split(" ")
        return [words[0], *map(" ".__add__, words[1:])]
    return _CHUNK.findall(text)


def chunks(text: str) -> list[str]:
    """Return ``text`` cut at :data:`CHUNK_BOUNDARY` (no empty chunks; ``[]`` for ``""``)."""
    return [c for c in _cut(text) if c]


def chunk_table(
    texts: Sequence[str], encode_all: Callable[[list[str]], list[list[int]]]
) -> tuple[list[list[str]], dict[str, list[int]]]:
    """Return each text as pieces whose ids, joined, are its ids, and the ids of every distinct piece.

    Words repeat across the texts of a column, so the pieces are the chunks between cut points and
    ``encode_all`` (the library's batch encoder) sees each distinct one once. When a sample of the
    texts shows few repeats, every text is one piece instead (many short items cost the library more
    than the whole texts). The table lives for one call only.
    """
    sample = [_cut(t) for t in texts[:_SAMPLE_TEXTS]]
    found = Counter(chain.from_iterable(sample))
    found.pop("", None)
    total = sum(found.values())
    if not total or (total - len(found)) < _MIN_REPEATS * total:
        unique = list(dict.fromkeys(texts))
        return [[t] for t in texts], dict(zip(unique, encode_all(unique), strict=True))
    split = sample + [_cut(t) for t in texts[_SAMPLE_TEXTS:]]
    unique = list(dict.fromkeys(chain.from_iterable(split)))
    return split, dict(zip(unique, encode_all(unique), strict=True))


class Backend:
    """One loaded tokenizer: encode, decode, vocabulary pieces and the raw bytes of each token."""

    name: str
    vocab_size: int
    special_ids: frozenset[int]

    def encode(self, text: str) -> list[int]:
        """Return the token ids of ``text`` (no BOS)."""
        raise NotImplementedError

    def encode_many(self, texts: Sequence[str]) -> list[list[int]]:
        """Return the token ids of each of ``texts``, the same as :meth:`encode` one by one.

        Backends whose library encodes a batch in parallel (HF ``tokenizers``, ``sentencepiece``)
        override this; the default encodes one text after the other."""
        return [self.encode(t) for t in texts]

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """Return how many tokens each of ``texts`` takes (the lengths of :meth:`encode_many`)."""
        return [len(ids) for ids in self.encode_many(texts)]

    def decode(self, ids: Sequence[int]) -> str:
        """Return the text ``ids`` spell (special tokens kept as their text)."""
        raise NotImplementedError

    def pieces(self, ids: Sequence[int]) -> list[str]:
        """Return the vocabulary piece of each id."""
        raise NotImplementedError

    def token_bytes(self, token_id: int) -> bytes:
        """Return the raw UTF-8 bytes one token stands for (possibly part of a character)."""
        raise NotImplementedError

    def library_offsets(self, text: str) -> list[tuple[int, int]] | None:
        """Return the library's own character span per token of ``text``, or None if it has none."""
        return None
