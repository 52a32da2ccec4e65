"""The tokenizers run by Hugging Face's ``tokenizers`` library: gpt2, gpt2-genji, pile and llama3.

All four are byte-level BPE, so a token's raw bytes come from its piece through GPT-2's byte table.
Batches are cut into chunks (:func:`~naikit.tokenizers.backend.chunk_table`) whose distinct ones go to
the library's ``encode_batch``, which runs in Rust on every core.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence

from .backend import FILES, Backend, chunk_table, data
from .bytelevel import BYTE_DECODER

__all__ = ["HFBackend"]


class HFBackend(Backend):
    """One ``tokenizers.Tokenizer`` loaded from its shipped JSON file; encodes without special tokens."""

    def __init__(self, name: str):
        import tokenizers  # heavy: only when a model that needs it is used

        self.name = name
        self._tok = tokenizers.Tokenizer.from_str(gzip.decompress(data(FILES[name])).decode("utf-8"))
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)
        added = self._tok.get_added_tokens_decoder()
        self._added = {i: t.content for i, t in added.items()}
        self.special_ids = frozenset(i for i, t in added.items() if t.special)
        self._bytes: dict[int, bytes] = {}

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def _encode_all(self, texts: list[str]) -> list[list[int]]:
        # encode_batch_fast (tokenizers >= 0.20) skips the character offsets that counting never reads
        batch = getattr(self._tok, "encode_batch_fast", self._tok.encode_batch)
        return [e.ids for e in batch(texts, add_special_tokens=False)]

    def encode_many(self, texts: Sequence[str]) -> list[list[int]]:
        split, table = chunk_table(texts, self._encode_all)
        return [[i for c in parts for i in table[c]] for parts in split]

    def count_many(self, texts: Sequence[str]) -> list[int]:
        split, table = chunk_table(texts, self._encode_all)
        size = {c: len(ids) for c, ids in table.items()}.__getitem__
        return [sum(map(size, parts)) for parts in split]

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._tok.decode(list(ids), skip_special_tokens=False))

    def pieces(self, ids: Sequence[int]) -> list[str]:
        get = self._tok.id_to_token
        return [get(i) or "" for i in ids]

    def token_bytes(self, token_id: int) -> bytes:
        got = self._bytes.get(token_id)
        if got is None:
            if token_id in self._added:
                got = self._added[token_id].encode("utf-8")
            else:
                piece = self._tok.id_to_token(token_id) or ""
                if all(c in BYTE_DECODER for c in piece):
                    got = bytes(BYTE_DECODER[c] for c in piece)
                else:  # not a byte-level piece; none of the shipped files has one
                    got = piece.encode("utf-8")
            self._bytes[token_id] = got
        return got

    def library_offsets(self, text: str) -> list[tuple[int, int]] | None:
        return list(self._tok.encode(text, add_special_tokens=False).offsets)
