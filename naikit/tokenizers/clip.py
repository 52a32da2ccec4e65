"""OpenAI CLIP's tokenizer (image models V1-V3): byte-level BPE written for naikit in pure Python.

Text is cleaned first (:mod:`naikit.tokenizers.clip_cleaning`), then split into words the way the
reference splits them with the ``regex`` module::

    <\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+

The standard library's ``re`` has no ``\\p{L}`` / ``\\p{N}``. Rather than spell those classes out (a scan
of all 1.1 million code points), :func:`pre_tokenize` matches an ASCII pattern on a stand-in copy of
the text, where each non-ASCII character is replaced by an ASCII character of its class: ``z`` for a
letter, ``0`` for a number, a space for white space and ``!`` for anything else. Classes come from
Python's ``unicodedata`` (the ``regex`` module used by the reference may know a newer Unicode
version), read once per distinct character. None of the stand-ins occurs in the literal alternatives,
so the words found on the copy have exactly the spans the class pattern finds on the text itself.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from collections.abc import Sequence

from .backend import FILES, Backend, data
from .bytelevel import BYTE_DECODER, BYTE_ENCODER
from .clip_cleaning import normalize
from .spans import WS

__all__ = ["ClipBackend", "pre_tokenize"]

_WORDS = re.compile(
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d"
    f"|[A-Za-z]+|[0-9]|[^{WS}A-Za-z0-9]+"
)
_WS_ONE = re.compile(f"[{WS}]")
_LETTER, _NUMBER, _SPACE, _OTHER = ord("z"), ord("0"), ord(" "), ord("!")


class _StandIns(dict[int, int]):
    """``str.translate`` table: a non-ASCII character -> the ASCII stand-in of its class (made once)."""

    def __missing__(self, cp: int) -> int:
        ch = chr(cp)
        if cp < 0x80:
            got = cp
        elif _WS_ONE.match(ch):
            got = _SPACE
        else:
            # Surrogates are category Cs, so they stand in as "other", as the spelled-out classes had it.
            major = unicodedata.category(ch)[0]
            got = _LETTER if major == "L" else _NUMBER if major == "N" else _OTHER
        if len(self) > 200_000:  # bounded: a text of every code point must not keep them all
            self.clear()
        self[cp] = got
        return got


_STAND_INS = _StandIns()


def pre_tokenize(text: str) -> list[tuple[int, int]]:
    """Return the (start, end) character spans of the words CLIP's pattern finds in ``text``, in order."""
    return [m.span() for m in _WORDS.finditer(text.translate(_STAND_INS))]


class ClipBackend(Backend):
    """OpenAI CLIP's BPE (vocabulary 49408), written for naikit on the standard library's ``re``."""

    name = "clip"
    vocab_size = 49408
    SOT = 49406
    EOT = 49407

    def __init__(self) -> None:
        lines = gzip.decompress(data(FILES["clip"])).decode("utf-8").split("\n")
        # CLIP uses the first 48894 merges after the header line: 256 bytes + 256 word-final bytes +
        # 48894 merges + 2 specials = 49408 ids.
        merges = [tuple(line.split()) for line in lines[1 : 1 + 48894]]
        byte_chars = [BYTE_ENCODER[b] for b in sorted(BYTE_ENCODER, key=_byte_order)]
        vocab = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(p) for p in merges]
        vocab += ["<|startoftext|>", "<|endoftext|>"]
        self._ids = {piece: i for i, piece in enumerate(vocab)}
        self._vocab = vocab
        self._ranks = {pair: r for r, pair in enumerate(merges)}
        self._cache: dict[str, tuple[str, ...]] = {}
        self.special_ids = frozenset((self.SOT, self.EOT))

    # -- BPE

    def _bpe(self, word: str) -> tuple[str, ...]:
        got = self._cache.get(word)
        if got is not None:
            return got
        parts = [*word[:-1], word[-1] + "</w>"]
        ranks = self._ranks
        while len(parts) > 1:
            best_rank = None
            best = -1
            for i in range(len(parts) - 1):
                r = ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best_rank, best = r, i
            if best < 0:
                break
            first, second = parts[best], parts[best + 1]
            merged: list[str] = []
            i = 0
            while i < len(parts):
                if i + 1 < len(parts) and parts[i] == first and parts[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        result = tuple(parts)
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[word] = result
        return result

    def tokenize_spans(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Return ids and, per id, the span of ``text`` it came from."""
        norm = normalize(text)
        ids: list[int] = []
        spans: list[tuple[int, int]] = []
        for a, b in pre_tokenize(norm.text):
            word = norm.text[a:b]
            if word == "<|startoftext|>" or word == "<|endoftext|>":
                ids.append(self.SOT if word == "<|startoftext|>" else self.EOT)
                spans.append(norm.span(a, b))
                continue
            raw = word.encode("utf-8")
            # which character of the word each byte belongs to
            owner: list[int] = []
            for k, ch in enumerate(word):
                owner += [k] * len(ch.encode("utf-8"))
            pos = 0
            for piece in self._bpe("".join(BYTE_ENCODER[b] for b in raw)):
                ids.append(self._ids[piece])
                n = len(piece) - (4 if piece.endswith("</w>") else 0)
                c0, c1 = owner[pos], owner[pos + n - 1]
                spans.append(norm.span(a + c0, a + c1 + 1))
                pos += n
        return ids, spans

    def encode(self, text: str) -> list[int]:
        return self.tokenize_spans(text)[0]

    def decode(self, ids: Sequence[int]) -> str:
        raw = b"".join(self.token_bytes(i) for i in ids)
        return raw.decode("utf-8", errors="replace").replace("</w>", " ")

    def pieces(self, ids: Sequence[int]) -> list[str]:
        return [self._vocab[i] for i in ids]

    def token_bytes(self, token_id: int) -> bytes:
        piece = self._vocab[token_id]
        if token_id in self.special_ids:
            return piece.encode("utf-8")
        tail = b"</w>" if piece.endswith("</w>") else b""
        core = piece[:-4] if tail else piece
        return bytes(BYTE_DECODER[c] for c in core) + tail


def _byte_order(b: int) -> tuple[int, int]:
    # CLIP's id order for single bytes: the printable ones first (in byte order), then the others.
    printable = 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF
    return (0 if printable else 1, b)
