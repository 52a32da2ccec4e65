"""What tokenizing a text gives: a :class:`Tokenization` of :class:`TokenSpan` records."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import registry
from .bytelevel import readable_bytes
from .clip import ClipBackend

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["TokenSpan", "Tokenization"]


@dataclass(frozen=True)
class TokenSpan:
    """One token of a :class:`Tokenization`: position, id, vocabulary piece, own text, span of the text."""

    index: int
    id: int
    piece: str
    text: str
    start: int
    end: int
    special: bool


class Tokenization:
    """How one text tokenizes for one model.

    ``ids`` and ``pieces`` are the token ids and vocabulary pieces; ``starts``/``ends`` give each
    token's span of the original ``text`` (tokens that each carry part of one character, as byte-level
    BPE does with emoji, share that character's span; a BOS token added with ``bos=True`` has the empty
    span ``(0, 0)``). ``texts`` is each token's own text (incomplete UTF-8 shown as ``\\xNN``).
    """

    def __init__(
        self,
        text: str,
        model: str,
        tokenizer: str,
        ids: list[int],
        pieces: list[str],
        texts: list[str],
        starts: list[int],
        ends: list[int],
        special_ids: frozenset[int],
        *,
        exact_offsets: bool = True,
        limit: int | None = None,
        chunk: int | None = None,
        limit_from: str = "end",
    ):
        self.text = text
        self.model = model
        self.tokenizer = tokenizer
        self.ids = ids
        self.pieces = pieces
        self.texts = texts
        self.starts = starts
        self.ends = ends
        self.special_ids = special_ids
        #: False when the tokenizer changed the text (pile's NFC, CLIP's cleaning of odd input) and the
        #: spans come from the library or an approximation rather than from the token bytes.
        self.exact_offsets = exact_offsets
        #: Context size (text models, "end": the model sees the last ``limit`` tokens) or prompt limit
        #: (image models, "start": tokens past ``limit`` are cut).
        self.limit = limit
        self.limit_from = limit_from
        #: CLIP chunk length (75) for V1-V3 image prompts.
        self.chunk = chunk
        self._labels: list[str] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[TokenSpan]:
        for i in range(len(self.ids)):
            yield self[i]

    def __getitem__(self, i: int) -> TokenSpan:
        if i < 0:
            i += len(self.ids)
        return TokenSpan(
            i, self.ids[i], self.pieces[i], self.texts[i], self.starts[i], self.ends[i],
            self.ids[i] in self.special_ids,
        )  # fmt: skip

    @property
    def offsets(self) -> list[tuple[int, int]]:
        """Return the (start, end) character span of each token."""
        return list(zip(self.starts, self.ends, strict=False))

    @property
    def special(self) -> list[bool]:
        """Return, per token, whether it is a special token (``<|endoftext|>``, BOS, ...)."""
        sp = self.special_ids
        return [i in sp for i in self.ids]

    def count(self) -> int:
        """Return the number of tokens."""
        return len(self.ids)

    @property
    def labels(self) -> list[str]:
        """Return each token's own text as a reader wants it: the characters its bytes spell (``' night'``
        rather than the byte-level piece ``'Ġnight'``), with bytes that are only part of a character shown
        marked, as ``⟨e5 a4⟩``. Special tokens show their piece (``<|endoftext|>``)."""
        if self._labels is None:
            backend = registry.backend(self.tokenizer, self.model)
            self._labels = [
                self.pieces[k] if tid in self.special_ids else readable_bytes(backend.token_bytes(tid))
                for k, tid in enumerate(self.ids)
            ]
            if isinstance(backend, ClipBackend):
                self._labels = [t.replace("</w>", " ") for t in self._labels]
        return self._labels

    def to_frame(self) -> pd.DataFrame:
        """Return a DataFrame with one row per token: index, id, piece (the vocabulary entry), text (the
        token's readable own text, partial UTF-8 as marked bytes ``⟨e5 a4⟩``), start, end."""
        import pandas as pd

        return pd.DataFrame(
            {
                "index": range(len(self.ids)),
                "id": self.ids,
                "piece": self.pieces,
                "text": self.labels,
                "start": self.starts,
                "end": self.ends,
            }
        )

    def __repr__(self) -> str:
        return f"Tokenization(model={self.model!r}, tokenizer={self.tokenizer!r}, tokens={len(self.ids)})"

    def _repr_html_(self) -> str:
        # The pure builder of the token view is part of this package: a Tokenization draws itself
        # without importing naikit.render (a higher layer), which builds its other views from it.
        from .view import tokenization_html

        return tokenization_html(self)
