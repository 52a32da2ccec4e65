"""Google's T5 v1.1 tokenizer, as NovelAI counts V4+ image prompts (sentencepiece)."""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence

from .backend import FILES, Backend, data
from .spans import Spanned

__all__ = ["T5Backend"]

# What the website removes from a V4+ prompt before it counts T5 tokens: brackets and braces
# (emphasis) and the number of a weight group ("1.5::" and the closing "::").
_T5_STRIP = re.compile(r"[\[\]{}]|-?\d*\.?\d*::")


class T5Backend(Backend):
    """Google's T5 v1.1 SentencePiece model (32,000 pieces), as NovelAI counts V4+ image prompts.

    Like the website's counter it drops ``[]{}`` and weight syntax (``1.5::``, ``::``) first and ends
    every encoding with ``</s>`` (id 1), the token that NovelAI's 512-token limit includes.
    """

    name = "t5"
    EOS = 1

    def __init__(self) -> None:
        import sentencepiece  # heavy: only when a model that needs it is used

        self._sp = sentencepiece.SentencePieceProcessor(model_proto=gzip.decompress(data(FILES["t5"])))
        self.vocab_size = self._sp.get_piece_size()
        self.special_ids = frozenset((0, self.EOS, 2))  # <pad>, </s>, <unk>

    def tokenize_spans(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Return ids (ending with ``</s>``) and, per id, the span of ``text`` it came from.

        SentencePiece never joins across whitespace, so each word is encoded alone (checked against
        the whole encoding) and its pieces share the word's characters in order.
        """
        s = Spanned.of(text).sub(_T5_STRIP, lambda m: "")
        whole = self._sp.encode(s.text)
        ids: list[int] = []
        spans: list[tuple[int, int]] = []
        for m in re.finditer(r"\S+", s.text):
            a, end = m.span()
            word = self._sp.encode(m.group())
            for k, tid in enumerate(word):
                n = len(self._sp.id_to_piece(tid).lstrip("\u2581"))
                b = end if k == len(word) - 1 else min(end, a + max(n, 0))
                spans.append(s.span(a, b))
                a = b
            ids += word
        if ids != whole:  # whitespace the normaliser made (NFKC): spread the tokens over the text
            ids = whole
            spans = [(0, len(text))] * len(whole)
        ids.append(self.EOS)
        spans.append((len(text), len(text)))
        return ids, spans

    def encode(self, text: str) -> list[int]:
        # The ids of tokenize_spans are always those of the whole stripped text (the per-word
        # encoding only supplies spans), so counting needs no per-word pass.
        return [*self._sp.encode(_T5_STRIP.sub("", text)), self.EOS]

    def encode_many(self, texts: Sequence[str]) -> list[list[int]]:
        stripped = [_T5_STRIP.sub("", t) for t in texts]
        encoded = self._sp.encode(stripped, num_threads=-1) if stripped else []
        return [[*ids, self.EOS] for ids in encoded]

    def decode(self, ids: Sequence[int]) -> str:
        return b"".join(self.token_bytes(i) for i in ids).decode("utf-8", "replace")

    def pieces(self, ids: Sequence[int]) -> list[str]:
        return [self._sp.id_to_piece(i) for i in ids]

    def token_bytes(self, token_id: int) -> bytes:
        piece = self._sp.id_to_piece(token_id)
        if token_id in self.special_ids:
            return piece.encode("utf-8")
        return piece.replace("\u2581", " ").encode("utf-8")
