"""What the context builder returns: :class:`Context` (the text sent) and its :class:`Section` rows
(every candidate piece with why it is in or out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ._story_parts import ContextConfig, LoreEntry

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

# ----------------------------------------------------------------------------------- sections


@dataclass
class Section:
    """One candidate piece of context and what became of it.

    ``kind``: story, memory, an, lore, ephemeral (GLM adds system-prompt and prefill rows).
    ``reason``: why it is in or not (key triggered, activation forced, no key in range, disabled,
    category disabled, budget spent, no text, cascaded from <name>, ephemeral inactive...).
    """

    kind: str
    name: str
    text: str
    config: ContextConfig
    entry: LoreEntry | None = None
    included: bool = True
    reason: str = ""
    key: str = ""
    key_index: float = -1
    reserved: int = 0
    tokens: int = 0
    trimmed: bool = False
    trim: str = "none"
    inserted_text: str = ""
    position: int = -1
    uid: int = 0
    keys_text_tokens: int = 0

    @property
    def full_tokens(self) -> int:
        """Return the section's tokens before trimming (0 when not measured)."""
        return self.keys_text_tokens


@dataclass
class Context:
    """The context built for a story: ``text`` (what is sent, decoded), ``tokens`` (native: the ids;
    GLM: the prompt's ids when a tokenizer was available), ``sections`` (every candidate with why it is
    in or out) and ``pieces`` (the text in order, each with its source)."""

    text: str
    tokens: list[int]
    sections: list[Section]
    pieces: list[tuple[str, str]]
    model: str
    token_limit: int
    family: str = "native"
    prompt: Any = None
    window: dict | None = None
    #: Phrase-bias groups the lorebook contributes (native): per entry and category (``C:name``), its
    #: groups for the active state, or its ``whenInactive`` ones when it is not active (the site's rule).
    biases: list[dict] | None = None

    def to_frame(self) -> pd.DataFrame:
        """Return one row per section: source, kind, included, reason, key, position (character offset in
        the text, -1 when absent), tokens kept, tokens trimmed, trim method, budget priority."""
        import pandas as pd

        rows = []
        for s in self.sections:
            rows.append(
                {
                    "source": s.name,
                    "kind": s.kind,
                    "included": s.included,
                    "reason": s.reason,
                    "key": s.key,
                    "position": s.position,
                    "tokens": s.tokens,
                    "trimmed_tokens": max(0, s.keys_text_tokens - s.tokens)
                    if s.included
                    else s.keys_text_tokens,
                    "trim": s.trim,
                    "budget_priority": s.config.budget_priority,
                }
            )
        cols = [
            "source",
            "kind",
            "included",
            "reason",
            "key",
            "position",
            "tokens",
            "trimmed_tokens",
            "trim",
            "budget_priority",
        ]
        return pd.DataFrame(rows, columns=cols)

    def section(self, name: str) -> Section:
        """Return the section called ``name`` (story, memory, an, or an entry's display name)."""
        for s in self.sections:
            if s.name == name or s.kind == name:
                return s
        raise InputError("name", name, "one of " + ", ".join(s.name for s in self.sections))

    def why(self, name: str) -> str:
        """Return why the section ``name`` is in the context or not."""
        return self.section(name).reason

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        n = sum(s.included for s in self.sections)
        return f"Context({self.model}, {len(self.tokens)} tokens of {self.token_limit}, {n} sections in)"

    def _repr_html_(self) -> str:
        from ..render.context import context_html

        return context_html(self)
