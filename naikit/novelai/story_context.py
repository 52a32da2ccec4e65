"""The context the NovelAI website builds from a story: which lore fires, what is trimmed, what is sent.

A pure function of a :class:`~naikit.novelai.story.Story`, a token limit and a tokenizer (any object with
``encode`` and ``decode``), following the website's code (January 2026 builds; module 16394 of chunk
``2751-38b954da8d0ef061.js`` for the builder, module 19295 of ``_app-192d861dd8bcc7c3.js`` for key
matching, module 53925 for ephemeral entries):

Native models (Kayra, Erato, ...):

1. The story is cut to its last 150,000 characters (trim-top story config) and lines starting ``##``
   are removed from every text.
2. Lorebook keys are searched in the last 50,000 characters of that, each entry within its own
   ``search_range`` from the end. Plain keys are case-insensitive whole words (``a & b`` needs both);
   ``/regex/flags`` keys are regular expressions. With ``order_by_key_locations`` off the first
   matching key counts, else the latest match of any key.
3. Activated entries are ordered by where their key matched (latest first; forced ones first).
   Entries with ``non_story_activatable`` are tried again, repeatedly, against memory, the author's note,
   ephemeral text and the activated entries (cascading).
4. Every section (story, memory, AN, entries, ephemeral) is sorted by ``budget_priority`` (highest
   first). Each reserves ``min(reserved_tokens, its size)`` up front; then in order each gets
   ``min(remaining - reserved + own reservation, token_budget)`` tokens, is trimmed to fit (newline,
   then sentence, then token trimming, down to its ``maximum_trim_type``; ``doNotTrim`` drops it) and
   inserted into the text built so far at ``insertion_position`` counted in ``insertion_type`` units,
   moved to the nearest edge of a section it would split unless that section allows insertion
   inside (the story does).

GLM (GLM-4.6, Xialong): entries fire on keys in the last ``3 * token_limit`` characters (no search
range), budgets come from fixed shares (half the window for system prompt, memory and forced lore,
1,024 tokens kept for the story plus 128 for the scaffolding), the story is kept by whole lines from
the bottom, then :func:`naikit.novelai.glm_prompt.build_prompt` lays it out and story paragraphs are
dropped from the top if the rendered prompt is still too long. A ``window`` cache (a dict kept between
calls) reproduces the site's rolling window: the story keeps starting at the same paragraph until it
overflows the extra 8,192 tokens.

Not modelled (named choices): the site's per-model preamble rules (pass ``preamble=``), category
subcontexts, user scripts, the final-token crop, advanced conditions other than true/key/lore/and/or/not.
Character positions are Python code points where the site counts UTF-16 units.

Layout: key matching, sentences and encoding are in ``_context_text``, :class:`Context` in
``_context_result``, the builders in ``_context_native`` and ``_context_glm``, argument checks and the
dispatch in ``_context_build``; every public name is imported from here.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..errors import InputError
from ._context_build import build
from ._context_native import LORE_SEARCH_CHARS, STORY_CHARS
from ._context_result import Context, Section
from ._context_text import match_keys, split_sentences
from .story import Story

__all__ = [
    "Tokenizer",
    "ServerTokenizer",
    "Section",
    "Context",
    "build_context",
    "split_sentences",
    "match_keys",
    "STORY_CHARS",
    "LORE_SEARCH_CHARS",
]


class Tokenizer(Protocol):
    """Anything that turns text into token ids and back."""

    def encode(self, text: str) -> list[int]: ...  # pragma: no cover

    def decode(self, ids: list[int]) -> str: ...  # pragma: no cover


class ServerTokenizer:
    """A tokenizer that asks the server (``client.token_ids``, the OA token-count endpoint) for GLM ids.

    ``client`` is a blocking :class:`~naikit.NovelAI`. One request per distinct text (the builder caches),
    so it suits stories of modest length; ``decode`` is not available from the server.
    """

    def __init__(self, client: Any, model: str = "glm-4-6"):
        self.client = client
        self.model = model

    def encode(self, text: str) -> list[int]:
        """Return the server's token ids of ``text``."""
        return list(self.client.token_ids(text, self.model)) if text else []

    def decode(self, ids: list[int]) -> str:
        """Not available (the server has no decode endpoint): raises InputError."""
        raise InputError("tokenizer", self, "a tokenizer with decode (the server only counts)")


def build_context(
    story: Story,
    model: Any = "erato",
    *,
    tier: str | int = "opus",
    token_limit: int | None = None,
    tokenizer: Any = None,
    max_length: int = 150,
    preamble: str = "",
    window: dict | None = None,
    for_generation: bool = False,
    extra_context: int | None = None,
    continue_to_sentence_end: bool = False,
) -> Context:
    """Return the :class:`Context` the website builds for ``story`` and ``model`` (see the module doc).

    ``token_limit``: tokens the context may use (default, as the site computes it: the model's context
    for ``tier`` minus ``max_length``, minus 20 (GLM: 40) with the site's "continue to sentence end"
    setting, ``continue_to_sentence_end``). ``tokenizer``: an object with ``encode``/``decode``
    (default: the model's).
    GLM only: ``window`` (a dict kept between calls) and ``for_generation`` drive the rolling window,
    ``extra_context`` its extra tokens (default 8,192). Raises InputError for bad arguments.
    """
    if not isinstance(story, Story):
        raise InputError("story", story, "a naikit.Story")
    return build(
        story,
        model,
        tier=tier,
        token_limit=token_limit,
        tokenizer=tokenizer,
        max_length=max_length,
        preamble=preamble,
        window=window,
        for_generation=for_generation,
        extra_context=extra_context,
        continue_to_sentence_end=continue_to_sentence_end,
    )
