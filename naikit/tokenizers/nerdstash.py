"""NovelAI's SentencePiece tokenizers nerdstash_v1 (Clio) and nerdstash_v2 (Kayra).

SentencePiece cannot encode NovelAI's four special literals (``<|pad|>``, ``<|unk|>``,
``<|startoftext|>``, ``<|endoftext|>``, ids 0-3) itself, so the text is cut at each literal and the
parts in between are encoded alone, as novelai-api does, but keeping every character.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence

from .backend import FILES, Backend, chunk_table, data

__all__ = ["SP_SPECIALS", "SPBackend"]

#: NovelAI's special literals and their ids in the nerdstash vocabularies.
SP_SPECIALS: dict[str, int] = {"<|pad|>": 0, "<|unk|>": 1, "<|startoftext|>": 2, "<|endoftext|>": 3}
_SP_SPECIAL_RE = re.compile("|".join(re.escape(k) for k in SP_SPECIALS))


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

    def _pieces(self, texts: Sequence[str]) -> tuple[list[list[str | int]], dict[str, list[int]]]:
        # The text between literals, cut into chunks (chunk_table), goes to SentencePiece in one call,
        # which encodes the distinct chunks on all cores; the literals stay ids, put back in place.
        split = [_parts(t) for t in texts]
        plain = [p for parts in split for p in parts if isinstance(p, str)]
        chunked, table = chunk_table(plain, lambda xs: self._sp.encode(xs, num_threads=-1) if xs else [])
        encoded = iter(chunked)
        out: list[list[str | int]] = []
        for parts in split:
            items: list[str | int] = []
            for part in parts:
                if isinstance(part, int):
                    items.append(part)
                else:
                    items += next(encoded)
            out.append(items)
        return out, table

    def encode_many(self, texts: Sequence[str]) -> list[list[int]]:
        pieces, table = self._pieces(texts)
        out: list[list[int]] = []
        for items in pieces:
            ids: list[int] = []
            for item in items:
                if isinstance(item, int):
                    ids.append(item)
                else:
                    ids += table[item]
            out.append(ids)
        return out

    def count_many(self, texts: Sequence[str]) -> list[int]:
        pieces, table = self._pieces(texts)
        size: dict[str | int, int] = {c: len(ids) for c, ids in table.items()}
        size.update(dict.fromkeys(SP_SPECIALS.values(), 1))
        return [sum(map(size.__getitem__, items)) for items in pieces]

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
