"""NovelAI's SentencePiece tokenizers nerdstash_v1 (Clio) and nerdstash_v2 (Kayra).

SentencePiece cannot encode NovelAI's four special literals (``<|pad|>``, ``<|unk|>``,
``<|startoftext|>``, ``<|endoftext|>``, ids 0-3) itself, so the text is cut at each literal and the
parts in between are encoded alone, as novelai-api does, but keeping every character.

A batch (:meth:`SPBackend.encode_many`, :meth:`SPBackend.count_many`) is cut into words at
:data:`SP_CUT`, and SentencePiece encodes each distinct word of the whole batch once, in one threaded
call; a text's ids are its words' ids joined.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator, Sequence
from itertools import accumulate, chain, pairwise
from typing import Any, TypeVar

from .backend import FILES, Backend, data

__all__ = ["SP_SPECIALS", "SP_CUT", "SPBackend", "sp_chunks"]

#: NovelAI's special literals and their ids in the nerdstash vocabularies.
SP_SPECIALS: dict[str, int] = {"<|pad|>": 0, "<|unk|>": 1, "<|startoftext|>": 2, "<|endoftext|>": 3}
_T = TypeVar("_T")
_SP_SPECIAL_RE = re.compile("|".join(re.escape(k) for k in SP_SPECIALS))

#: Where a nerdstash text (between special literals) can be cut without changing its ids: before a
#: space (U+0020) that follows a character other than a space and U+2581 ("▁", the symbol SentencePiece
#: writes for a space, so a literal "▁" joins a following space into the user piece "▁▁"). Both models
#: are BPE with an identity normaliser and no dummy prefix, and no piece, user-defined ones included,
#: holds "▁" after another character: no merge and no user piece spans such a cut, so the ids of a text
#: are the ids of its chunks, joined (tests check the pieces and compare batches with one-by-one ids).
SP_CUT = re.compile(r"(?<=[^ \u2581])(?= )")

# Chunking pays when words repeat; with fewer repeats than this in a sample of words, whole texts
# are encoded instead (many short items cost SentencePiece more than the texts they come from).
_SAMPLE_TEXTS = 200
_MIN_REPEATS = 0.5


def _parts(text: str) -> list[str | int]:
    """Return ``text`` cut at the special literals: the text in between (str) and each literal's id (int)."""
    if "<|" not in text:  # no literal: the common case, without a search
        return [text]
    out: list[str | int] = []
    pos = 0
    for m in _SP_SPECIAL_RE.finditer(text):
        if m.start() > pos:
            out.append(text[pos : m.start()])
        out.append(SP_SPECIALS[m.group()])
        pos = m.end()
    if pos < len(text):
        out.append(text[pos:])
    return out


def _plain(text: str) -> bool:
    # Every space of a text without double spaces, "▁" or literals is a cut (SP_CUT): str.split finds them.
    return "  " not in text and "\u2581" not in text and "<|" not in text


def sp_chunks(text: str) -> list[str | int]:
    """Return ``text`` cut at the special literals (their ids) and at :data:`SP_CUT` (no empty chunks)."""
    out: list[str | int] = []
    for part in _parts(text):
        if isinstance(part, int):
            out.append(part)
        else:
            out += [c for c in SP_CUT.split(part) if c]
    return out


class _Batch:
    """A batch cut for SentencePiece: each distinct key encoded once, in one call over every core.

    With ``chunked``, the plain texts (see :func:`_plain`) are joined by spaces and split at every
    space, one C-level pass for the whole batch: a text's ids are those of its first word, then those
    of " " + each further word. Any other text is its :func:`sp_chunks`, or, without ``chunked``, its
    :func:`_parts` (whole texts between literals).
    """

    def __init__(self, sp: Any, texts: Sequence[str], chunked: bool):
        # Joining with single spaces keeps each text's words apart: text j's words are
        # words[starts[j]:starts[j + 1]] (a text with n spaces has n + 1 words). When the joined batch
        # is plain, so is every text (a text's double space, "▁" or "<|" would be in it).
        joined = " ".join(texts) if chunked and texts else ""
        if joined and _plain(joined):
            self.plain, plain = [True] * len(texts), list(texts)
        else:
            self.plain = [chunked and _plain(t) for t in texts]
            plain = [t for t, ok in zip(texts, self.plain, strict=True) if ok]
            joined = " ".join(plain)
        self.words = joined.split(" ") if plain else []
        self.starts = [0, *accumulate(t.count(" ") + 1 for t in plain)]
        cut = sp_chunks if chunked else _parts
        self.other = [cut(t) for t, ok in zip(texts, self.plain, strict=True) if not ok]
        spaced = list(set(self.words))
        whole = {self.words[i] for i in self.starts[:-1]}
        whole.update(c for cs in self.other for c in cs if isinstance(c, str))
        # SentencePiece's list form encodes on every core (num_threads=-1); it rejects an empty list
        keys = [" " + w for w in spaced] + list(whole)
        ids: list[list[int]] = sp.encode(keys, num_threads=-1) if keys else []
        self.spaced = dict(zip(spaced, ids[: len(spaced)], strict=True))
        self.whole = dict(zip(keys[len(spaced) :], ids[len(spaced) :], strict=True))

    def _merge(self, plain: Iterator[_T], other: Iterator[_T]) -> list[_T]:
        # back into the order of the texts: the plain ones from ``plain``, the others from ``other``
        return [next(plain) if ok else next(other) for ok in self.plain]

    def ids(self) -> list[list[int]]:
        """Return the ids of each text, in order."""
        spaced, whole, words, starts = self.spaced.__getitem__, self.whole, self.words, self.starts
        plain = (
            [*whole[words[a]], *chain.from_iterable(map(spaced, words[a + 1 : b]))]
            for a, b in pairwise(starts)
        )
        return self._merge(plain, map(self._joined, self.other))

    def _joined(self, chunks: list[str | int]) -> list[int]:
        # a new list per text (texts that repeat must not share one), extended chunk by chunk in C
        out: list[int] = []
        for c in chunks:
            if isinstance(c, int):
                out.append(c)
            else:
                out += self.whole[c]
        return out

    def counts(self) -> list[int]:
        """Return how many ids each text has, in order (no id list is built per text)."""
        size = dict(zip(self.spaced, map(len, self.spaced.values()), strict=True)).__getitem__
        whole = dict(zip(self.whole, map(len, self.whole.values()), strict=True))
        words, starts = self.words, self.starts
        # a text's first word without the space, then " " + each further word (small ints: no allocation)
        plain = (whole[words[a]] + sum(map(size, words[a + 1 : b])) for a, b in pairwise(starts))
        other = (sum(1 if isinstance(c, int) else whole[c] for c in cs) for cs in self.other)
        return self._merge(plain, other)


def _words_repeat(texts: Sequence[str]) -> bool:
    """Return whether at least :data:`_MIN_REPEATS` of the words in a sample of ``texts`` are repeats."""
    sample = " ".join(texts[:_SAMPLE_TEXTS]).split(" ")
    return len(sample) - len(set(sample)) >= _MIN_REPEATS * len(sample)


class SPBackend(Backend):
    """SentencePiece with NovelAI's four special literals spliced in as ids 0-3."""

    def __init__(self, name: str):
        import sentencepiece  # heavy: only when a model that needs it is used

        self.name = name
        self._sp = sentencepiece.SentencePieceProcessor(model_proto=gzip.decompress(data(FILES[name])))
        self.vocab_size = self._sp.get_piece_size()
        self.special_ids = frozenset(SP_SPECIALS.values())
        self._literal = {v: k for k, v in SP_SPECIALS.items()}
        self._bytes: dict[int, bytes] = {}

    def encode(self, text: str) -> list[int]:
        out: list[int] = []
        for part in _parts(text):
            if isinstance(part, int):
                out.append(part)
            else:
                out += self._sp.encode(part)
        return out

    def encode_many(self, texts: Sequence[str]) -> list[list[int]]:
        return _Batch(self._sp, texts, _words_repeat(texts)).ids()

    def count_many(self, texts: Sequence[str]) -> list[int]:
        return _Batch(self._sp, texts, _words_repeat(texts)).counts()

    def decode(self, ids: Sequence[int]) -> str:
        parts: list[str] = []
        run: list[int] = []
        for i in ids:
            if i in self._literal:
                if run:
                    parts.append(self._sp.decode(run))
                    run = []
                parts.append(self._literal[i])
            else:
                run.append(i)
        if run:
            parts.append(self._sp.decode(run))
        return "".join(parts)

    def pieces(self, ids: Sequence[int]) -> list[str]:
        return [self._literal[i] if i in self._literal else self._sp.id_to_piece(i) for i in ids]

    def token_bytes(self, token_id: int) -> bytes:
        got = self._bytes.get(token_id)
        if got is None:
            if token_id in self._literal:
                got = self._literal[token_id].encode("utf-8")
            elif self._sp.is_byte(token_id):
                got = bytes([int(self._sp.id_to_piece(token_id)[3:5], 16)])
            else:
                got = self._sp.id_to_piece(token_id).replace("\u2581", " ").encode("utf-8")
            self._bytes[token_id] = got
        return got
