"""Results of text generation: :class:`Generation` (a whole output) and :class:`StreamToken` (one event).

A Generation shows itself in a notebook with the logprob view (each token coloured by its probability,
alternatives on hover) and converts to pandas: :meth:`Generation.to_frame` has one row per generated
token, :meth:`Generation.logprobs_frame` one row per candidate (before and after sampling).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..explanation import SamplerExplanation
    from ..tokenizers import LogprobStep

__all__ = ["Generation", "StreamToken", "decode_output"]


def decode_output(ids: list[int], model: str) -> str:
    """Return the text of generated ``ids``: their bytes joined, so a leading space or a split character
    survives (SentencePiece's own decode drops a leading space)."""
    from ..tokenizers import token_bytes

    return token_bytes(ids, model).decode("utf-8", "replace")


@dataclass
class Generation:
    """One generated continuation: text, token ids, logprobs, timings and what was sent.

    ``timings`` holds ``total_s`` (request to last byte), ``first_token_s`` (streams only) and
    ``tokens_per_s``. ``parameters`` is the request's ``parameters`` object exactly as sent.
    """

    text: str
    tokens: list[int]
    model: str
    prompt: str | list[int]
    preset: str
    parameters: dict[str, Any]
    raw_logprobs: list[dict[str, Any]] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    seed: int | None = None
    #: OA models (GLM, Xialong): "stop" or "length" (None for the native API, which does not say).
    finish_reason: str | None = None
    #: OA models: ``prompt_tokens`` / ``completion_tokens`` / ``total_tokens`` (from the server's ``usage``
    #: when it sends one, else counted: ``counted`` is then True).
    usage: dict[str, Any] | None = None
    #: OA models: the text each generated token (or chunk) added, as the server sent it (naikit has no
    #: local GLM tokenizer to decode ids with).
    pieces: list[str] | None = None
    #: OA models: the OpenAI-style ``logprobs`` objects of the chunks, when the server sent any.
    oa_logprobs: list[dict[str, Any]] | None = None
    #: ``continue_story``: the :class:`~naikit.novelai.story_context.Context` that was sent.
    context: Any = None

    @property
    def logprobs(self) -> list[LogprobStep]:
        """Return one LogprobStep per generated token (empty when logprobs were not asked for)."""
        if not self.raw_logprobs:
            return []
        from ..tokenizers import parse_logprobs

        return parse_logprobs(self.raw_logprobs, self.model)

    @property
    def mean_logprob(self) -> float | None:
        """Return the mean log-probability (before sampling) of the chosen tokens, or None."""
        vals = [s.chosen.before for s in self.logprobs if s.chosen.before is not None]
        return sum(vals) / len(vals) if vals else None

    def to_frame(self) -> pd.DataFrame:
        """Return one row per generated token: position, token_id, piece, logprob_before, logprob_after,
        chosen (always True here) and alternatives (``[(piece, before, after), ...]`` before sampling)."""
        import pandas as pd

        from ..tokenizers import token_bytes

        steps = self.logprobs
        rows = []
        for i, tok in enumerate(self.tokens):
            if self.pieces is not None:
                piece = self.pieces[i] if i < len(self.pieces) else ""
            else:
                piece = token_bytes([tok], self.model).decode("utf-8", "backslashreplace")
            st = steps[i] if i < len(steps) else None
            rows.append(
                {
                    "position": i,
                    "token_id": tok,
                    "piece": piece,
                    "logprob_before": st.chosen.before if st else math.nan,
                    "logprob_after": (st.chosen.after if st and st.chosen.after is not None else math.nan),
                    "chosen": True,
                    "alternatives": [(c.text, c.before, c.after) for c in st.before] if st else [],
                }
            )
        cols = ["position", "token_id", "piece", "logprob_before", "logprob_after", "chosen", "alternatives"]
        return pd.DataFrame(rows, columns=cols)

    def logprobs_frame(self) -> pd.DataFrame:
        """Return one row per candidate of every step: position, token_id, piece, logprob_before,
        logprob_after (NaN when sampling removed it), chosen, and ``list`` ("before" or "after")."""
        import pandas as pd

        rows = []
        for st in self.logprobs:
            for which, cands in (("before", st.before), ("after", st.after)):
                for c in cands:
                    rows.append(
                        {
                            "position": st.index,
                            "token_id": c.ids[0] if len(c.ids) == 1 else c.ids,
                            "piece": c.text,
                            "logprob_before": c.before if c.before is not None else math.nan,
                            "logprob_after": c.after if c.after is not None else math.nan,
                            "chosen": c.ids == st.chosen.ids,
                            "list": which,
                        }
                    )
        cols = ["position", "token_id", "piece", "logprob_before", "logprob_after", "chosen", "list"]
        return pd.DataFrame(rows, columns=cols)

    def explain(self, position: int = 0, preset: Any = None, **params: Any) -> SamplerExplanation:
        """Return a :class:`~naikit.explain.SamplerExplanation` of the sampler chain at generated token
        ``position``: which candidates each sampler kept (see :func:`naikit.explain.explain_step`)."""
        from ..explain import explain_step

        return explain_step(self, preset, position=position, **params)

    def __repr__(self) -> str:
        text = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return f"Generation({self.model}, preset={self.preset!r}, {len(self.tokens)} tokens: {text!r})"

    def __str__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        head = (
            f'<div style="font:12px system-ui;color:#444">{escape(self.model)} · preset '
            f"<b>{escape(self.preset)}</b> · {len(self.tokens)} tokens</div>"
        )
        if self.raw_logprobs:
            from ..render.tokens import logprobs_html

            return head + logprobs_html(self.logprobs, self.model)
        return head + f'<pre style="white-space:pre-wrap">{escape(self.text)}</pre>'


@dataclass(frozen=True)
class StreamToken:
    """One event of a text stream.

    ``text`` is what this token adds to the output (whole characters: bytes of a split character are
    held back until it is complete, so Erato's multi-token characters never come out garbled).
    ``generation`` is set on the final event: the whole result, as :meth:`generate` would return it.
    """

    ptr: int
    token: int | None
    text: str
    final: bool
    logprobs: dict[str, Any] | None
    elapsed: float
    generation: Generation | None = None
