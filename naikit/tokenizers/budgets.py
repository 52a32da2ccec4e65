"""Token counts measured against a model's limit: :class:`TokenBudget`, :func:`budget`,
:func:`count_table`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..novelai.models import TextModel, tier_name
from .encoding import check_text, encode_for
from .registry import TokenizerUnavailable
from .targets import limits, resolve

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..novelai.models import ImageModel

__all__ = ["TokenBudget", "budget", "count_table"]


@dataclass(frozen=True)
class TokenBudget:
    """A token count measured against a model's limit."""

    model: str
    tokenizer: str
    #: None when the tokenizer's data file is unavailable.
    count: int | None
    limit: int | None
    tier: str | None = None
    #: CLIP chunk length (75) for V1-V3 prompts.
    chunk: int | None = None

    @property
    def available(self) -> bool:
        """Return whether a count could be made (False when the tokenizer is unavailable)."""
        return self.count is not None

    @property
    def fits(self) -> bool | None:
        """Return whether the text fits the limit (None when unavailable or no limit is known)."""
        if self.count is None or self.limit is None:
            return None
        return self.count <= self.limit

    @property
    def chunks(self) -> int | None:
        """Return how many CLIP chunks the prompt fills (None for other tokenizers or unavailable)."""
        if self.count is None or not self.chunk:
            return None
        return max(1, -(-self.count // self.chunk))

    @property
    def status(self) -> str:
        """Return "fits", "over", "unavailable", "no limit" or "not on this tier" (a context of 0: the
        model is not offered on the tier, e.g. Xialong below Opus)."""
        if self.limit == 0:
            return "not on this tier"
        if self.count is None:
            return "unavailable"
        if self.limit is None:
            return "no limit"
        return "fits" if self.count <= self.limit else "over"

    def __str__(self) -> str:
        if self.count is None:
            return f"{self.model}: unavailable ({self.tokenizer} tokenizer not shipped)"
        where = f" ({self.tier})" if self.tier else ""
        extra = (
            f", {self.chunks} chunk{'' if self.chunks == 1 else 's'} of {self.chunk}" if self.chunk else ""
        )
        limit = "no limit" if self.limit is None else f"limit {self.limit}{where}"
        return f"{self.model}: {self.count} tokens, {limit}{extra}: {self.status}"


def budget(
    text: str,
    model: str | TextModel | ImageModel,
    tier: str | int = "opus",
    *,
    bos: bool = False,
    client: Any = None,
) -> TokenBudget:
    """Return a :class:`TokenBudget`: the count of ``text`` for ``model`` against its limit for ``tier``.

    Unlike :func:`count`, a missing tokenizer gives ``count=None`` and status "unavailable", not an error:
    GLM-4.6 / Xialong unless ``client`` (a sync ``NovelAI``) is given, whose ``count_tokens`` asks the
    server's token-count endpoint (one request per distinct text).
    """
    target = resolve(model)
    limit, chunk, _ = limits(target, tier)
    shown_tier = tier_name(tier) if isinstance(target.model, TextModel) else None
    try:
        n: int | None = len(encode_for(target, text, bos=bos))
    except TokenizerUnavailable:
        n = None
        if target.tokenizer == "glm4" and client is not None:
            if not callable(getattr(client, "count_tokens", None)):
                raise InputError(
                    "client", client, "a NovelAI client (its count_tokens asks the server)"
                ) from None
            n = int(client.count_tokens(check_text(text), target.label))
    return TokenBudget(target.label, target.tokenizer, n, limit, shown_tier, chunk)


def count_table(
    text: str,
    models: Iterable[str | TextModel | ImageModel],
    tier: str | int = "opus",
    *,
    client: Any = None,
) -> pd.DataFrame:
    """Return a DataFrame with one row per model: model, tokenizer, tokens, limit, status.

    ``tokens`` holds the count, or the string "unavailable" when a tokenizer is missing (never a guess):
    GLM-4.6 / Xialong when no ``client`` is given to ask the server's token-count endpoint.
    """
    import pandas as pd

    rows = []
    for m in models:
        b = budget(text, m, tier, client=client)
        rows.append(
            {
                "model": b.model,
                "tokenizer": b.tokenizer,
                "tokens": b.count if b.count is not None else "unavailable",
                "limit": b.limit,
                "status": b.status,
            }
        )
    return pd.DataFrame(rows, columns=["model", "tokenizer", "tokens", "limit", "status"])
