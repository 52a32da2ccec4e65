"""A NovelAI story as the website stores it: text, memory, author's note, lorebook, ephemeral context.

The names follow the website's storage (January 2026 bundle, ``_app-3519e562baaa896c.js``) one to one,
in snake case: ``contextConfig.tokenBudget`` is :attr:`ContextConfig.token_budget`, a lorebook entry's
``nonStoryActivatable`` is :attr:`LoreEntry.non_story_activatable`, and so on (:data:`FIELD_NAMES`
lists every pair). Defaults are the site's (module 49788 for context configs, module 19295 for entries,
module 53925 for ephemeral entries).

A :class:`Story` is made in code, read from an account story (``nai.story(...)``) or from ``.story`` /
``.lorebook`` files. Each object keeps the dict it was read from, so writing an unedited story back gives
the same bytes (keys in their order, fields naikit does not model kept as they were).
:meth:`Story.context` builds what the model sees (see :mod:`naikit.novelai.story_context`).

Layout: the parts (:class:`ContextConfig`, :class:`LoreEntry`, :class:`Category`,
:class:`EphemeralEntry`) are in ``_story_parts``; every public name is imported from here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._atomic import write_atomic
from .._validate import check_instance, check_path
from ..errors import InputError
from ._context_build import build
from ._context_result import Context
from ._story_parts import (
    FIELD_NAMES,
    Category,
    ContextConfig,
    EphemeralEntry,
    LoreEntry,
    StoryFileError,
    _err,
    authors_note_config,
    lore_config,
    memory_config,
    story_config,
)
from ._story_text import story_text_of

if TYPE_CHECKING:  # pragma: no cover
    from .content import ContentObject

__all__ = [
    "ContextConfig",
    "LoreEntry",
    "Category",
    "EphemeralEntry",
    "Story",
    "StoryFileError",
    "FIELD_NAMES",
    "memory_config",
    "authors_note_config",
    "story_config",
    "lore_config",
    "story_text_of",
]


def _dumps(data: Any, indent: bool) -> str:
    # JSON.stringify: no spaces (or two-space indent), non-ASCII as is, same escapes as Python's
    return json.dumps(
        data, ensure_ascii=False, indent=2 if indent else None, separators=None if indent else (",", ":")
    )


def _loads(text: str | bytes, what: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise _err(what, f"not JSON ({e})") from None


@dataclass
class Story:
    """A story: text, memory, author's note, lorebook, ephemeral context and their context settings.

    ``Story(text=..., memory=..., authors_note=..., lorebook=[LoreEntry(...)])`` makes one in code;
    :meth:`from_file`, :meth:`from_content` read the site's formats; :meth:`context` builds what the
    model sees. ``step`` is the story's step count (ephemeral entries depend on it).
    """

    # Set when read from the account (nai.story): the object it came from and its text then, so that
    # save_story writes it back (the text only by appending). Not constructor arguments.
    _item: ContentObject | None = field(default=None, init=False, repr=False, compare=False)
    _read_text: str = field(default="", init=False, repr=False, compare=False)
    text: str = ""
    memory: str = ""
    authors_note: str = ""
    lorebook: list[LoreEntry] = field(default_factory=list)
    categories: list[Category] = field(default_factory=list)
    ephemeral: list[EphemeralEntry] = field(default_factory=list)
    memory_config: ContextConfig = field(default_factory=memory_config)
    authors_note_config: ContextConfig = field(default_factory=authors_note_config)
    story_config: ContextConfig = field(default_factory=story_config)
    order_by_key_locations: bool = False
    lorebook_order: list[str] = field(default_factory=list)
    step: int = 0
    title: str = ""
    model: str | None = None
    system_prompt: str | None = None
    prefill: str | None = None
    adventure: bool = False
    raw: dict = field(default_factory=dict, repr=False, compare=False)
    raw_lorebook: dict = field(default_factory=dict, repr=False, compare=False)
    # Set when read from a file: the file's kind and whether it was indented (to_json keeps its layout),
    # and the .story container (metadata and fields naikit does not model, written back as they were).
    _file: tuple[str, bool] | None = field(default=None, init=False, repr=False, compare=False)
    _container: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("text", "memory", "authors_note", "title"):
            check_instance(getattr(self, name), str, name, "a string")
        if isinstance(self.lorebook, LoreEntry) or not all(isinstance(e, LoreEntry) for e in self.lorebook):
            raise InputError("lorebook", self.lorebook, "a list of naikit.LoreEntry")
        self.lorebook = list(self.lorebook)
        if not all(isinstance(c, Category) for c in self.categories):
            raise InputError("categories", self.categories, "a list of naikit.Category")
        if not all(isinstance(e, EphemeralEntry) for e in self.ephemeral):
            raise InputError("ephemeral", self.ephemeral, "a list of EphemeralEntry")

    def __repr__(self) -> str:
        name = f"{self.title!r}, " if self.title else ""
        return (
            f"Story({name}{len(self.text):,} characters, {len(self.lorebook)} lorebook entries, "
            f"memory {len(self.memory)} / AN {len(self.authors_note)} characters)"
        )

    # -- the site's formats ---------------------------------------------------------------------
    @classmethod
    def from_content(cls, content: dict, *, title: str = "") -> Story:
        """Return the story held by a decrypted storycontent's data (``nai.story`` uses this).

        Raises :class:`StoryFileError` (naming what is wrong) for data without the site's shape."""
        try:
            return cls._from_content(content, title)
        except (TypeError, AttributeError, KeyError, ValueError) as e:
            if isinstance(e, StoryFileError):
                raise
            raise _err("storycontent", f"unexpected shape ({type(e).__name__}: {e})") from None

    @classmethod
    def _from_content(cls, content: dict, title: str) -> Story:
        if not isinstance(content, dict):
            raise _err("storycontent", f"expected an object, got {type(content).__name__}")
        try:
            text = story_text_of(content)
        except Exception as e:  # the document decoder's own errors name the problem
            raise _err("storycontent.document", str(e)) from None
        ctx = content.get("context") or []
        if not isinstance(ctx, list):
            raise _err("storycontent.context", "expected a list")
        mem = ctx[0] if len(ctx) > 0 and isinstance(ctx[0], dict) else {}
        an = ctx[1] if len(ctx) > 1 and isinstance(ctx[1], dict) else {}
        lb = content.get("lorebook") or {}
        if not isinstance(lb, dict):
            raise _err("storycontent.lorebook", "expected an object")
        entries = [LoreEntry.from_dict(e) for e in lb.get("entries") or []]
        cats = [Category.from_dict(c) for c in lb.get("categories") or []]
        settings = content.get("settings") or {}
        msg = content.get("messageSettings") or {}
        try:
            story = cls(
                text=text,
                memory=mem.get("text", ""),
                authors_note=an.get("text", ""),
                lorebook=entries,
                categories=cats,
                ephemeral=[EphemeralEntry.from_dict(e) for e in content.get("ephemeralContext") or [] if e],
                memory_config=ContextConfig.from_dict(mem.get("contextConfig", {}), memory_config()),
                authors_note_config=ContextConfig.from_dict(
                    an.get("contextConfig", {}), authors_note_config()
                ),
                story_config=ContextConfig.from_dict(content.get("storyContextConfig", {}), story_config()),
                order_by_key_locations=bool((lb.get("settings") or {}).get("orderByKeyLocations", False)),
                lorebook_order=list(lb.get("order") or []),
                step=int(content.get("step", 0) or 0)
                if isinstance(content.get("step", 0), (int, float))
                else 0,
                title=title,
                model=settings.get("model") if isinstance(settings, dict) else None,
                system_prompt=msg.get("systemPrompt") if isinstance(msg, dict) else None,
                prefill=msg.get("prefill") if isinstance(msg, dict) else None,
                adventure=isinstance(settings, dict) and settings.get("mode") == 1,
            )
        except InputError as e:
            raise _err("storycontent", str(e)) from None
        story.raw = content
        story.raw_lorebook = lb
        return story

    def lorebook_dict(self) -> dict[str, Any]:
        """Return the lorebook as the site stores it (``.lorebook`` file / storycontent ``lorebook``)."""
        out: dict[str, Any] = dict(self.raw_lorebook) if self.raw_lorebook else {"lorebookVersion": 6}
        out["entries"] = [e.to_dict() for e in self.lorebook]
        settings = dict(out.get("settings") or {})
        if self.order_by_key_locations or "orderByKeyLocations" in settings:
            settings["orderByKeyLocations"] = self.order_by_key_locations
        out["settings"] = settings
        out["categories"] = [c.to_dict() for c in self.categories]
        if self.lorebook_order or "order" in out:
            out["order"] = list(self.lorebook_order)
        return out

    def content_dict(self) -> dict[str, Any]:
        """Return the storycontent data with this story's memory, AN, lorebook and configs written in.

        The story text itself is not rewritten here (the document format is the content layer's);
        :meth:`NovelAI.continue_story` appends generated text through it.
        """
        out: dict[str, Any] = copy.deepcopy(self.raw) if self.raw else {"storyContentVersion": 6}
        ctx = list(out.get("context") or [{}, {}])
        while len(ctx) < 2:
            ctx.append({})
        for i, (text, cfg) in enumerate(
            ((self.memory, self.memory_config), (self.authors_note, self.authors_note_config))
        ):
            d = dict(ctx[i]) if isinstance(ctx[i], dict) else {}
            d["text"] = text
            d["contextConfig"] = cfg.to_dict()
            ctx[i] = d
        out["context"] = ctx
        out["storyContextConfig"] = self.story_config.to_dict()
        out["lorebook"] = self.lorebook_dict()
        if self.ephemeral or "ephemeralContext" in out:
            out["ephemeralContext"] = [e.to_dict() for e in self.ephemeral]
        return out

    @classmethod
    def from_file(cls, path: str | Path) -> Story:
        """Return the story in a ``.story`` file (or a story with only the lorebook of a ``.lorebook``)."""
        check_path(path)
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise InputError("path", path, "a readable .story or .lorebook file", hint=str(exc)) from None
        return cls.from_json(raw, what=str(p))

    @classmethod
    def from_json(cls, text: str | bytes, *, what: str = "story file") -> Story:
        """Return the story in the text of a ``.story`` or ``.lorebook`` file (StoryFileError if it is
        not one)."""
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as e:
                raise _err(what, f"not UTF-8 ({e})") from None
        if not isinstance(text, str):
            raise InputError("text", text, "the text of a .story or .lorebook file")
        try:
            return cls._from_json(text, what)
        except (TypeError, AttributeError, KeyError, ValueError) as e:
            if isinstance(e, StoryFileError):
                raise
            raise _err(what, f"unexpected shape ({type(e).__name__}: {e})") from None

    @classmethod
    def _from_json(cls, text: str, what: str) -> Story:
        data = _loads(text, what)
        if not isinstance(data, dict):
            raise _err(what, "expected a JSON object")
        if "lorebookVersion" in data and "storyContainerVersion" not in data:
            story = cls(
                lorebook=[LoreEntry.from_dict(e) for e in _list(data, "entries", what)],
                categories=[Category.from_dict(c) for c in _list(data, "categories", what)],
                order_by_key_locations=bool((data.get("settings") or {}).get("orderByKeyLocations", False)),
                lorebook_order=list(data.get("order") or []),
            )
            story.raw_lorebook = data
            story._file = ("lorebook", "\n" in text)
            return story
        if "storyContainerVersion" not in data:
            raise _err(what, "neither a .story (storyContainerVersion) nor a .lorebook (lorebookVersion)")
        content = data.get("content")
        meta = data.get("metadata") or {}
        if not isinstance(content, dict) or not isinstance(meta, dict):
            raise _err(what, "content and metadata must be objects")
        story = cls.from_content(content, title=str(meta.get("title", "")))
        story._container = data
        story._file = ("story", "\n" in text)
        return story

    def to_json(self, kind: str = "story", *, indent: bool | None = None) -> str:
        """Return the text of a ``.story`` (``kind="story"``) or ``.lorebook`` file; a story read from a
        file keeps its layout (compact or two-space indent) unless ``indent`` says otherwise."""
        if kind not in ("story", "lorebook"):
            raise InputError("kind", kind, '"story" or "lorebook"')
        was = self._file or (kind, False)
        pretty = was[1] if indent is None else indent
        if kind == "lorebook":
            return _dumps(self.lorebook_dict(), pretty)
        container = dict(self._container or {"storyContainerVersion": 1, "metadata": {}})
        meta = dict(container.get("metadata") or {})
        if self.title or "title" in meta:
            meta["title"] = self.title
        container["metadata"] = meta
        container["content"] = self.content_dict()
        if not self.raw:
            # a story made in code: its text as one plain fragment (the site's older datablock form)
            container["content"]["story"] = _text_story(self.text)
        return _dumps(container, pretty)

    def save(self, path: str | Path, *, indent: bool | None = None) -> Path:
        """Write a ``.story`` or ``.lorebook`` file (kind from the suffix); return the path."""
        check_path(path)
        p = Path(path)
        kind = "lorebook" if p.suffix == ".lorebook" else "story"
        data = self.to_json(kind, indent=indent).encode("utf-8")
        try:
            write_atomic(p, data)
        except OSError as exc:
            raise InputError("path", path, "a writable file path", hint=str(exc)) from None
        return p

    # -- context ---------------------------------------------------------------------------------
    def context(
        self,
        model: Any = "erato",
        *,
        tier: str | int = "opus",
        token_limit: int | None = None,
        tokenizer: Any = None,
        max_length: int = 150,
        **options: Any,
    ) -> Context:
        """Return the :class:`~naikit.novelai.story_context.Context` the website would send for ``model``.

        ``token_limit`` overrides the budget (default: the model's context for ``tier`` minus
        ``max_length``); ``tokenizer`` is any object with ``encode(str) -> list[int]`` and
        ``decode(list[int]) -> str`` (default: the model's own).
        """
        return build(
            self,
            model,
            tier=tier,
            token_limit=token_limit,
            tokenizer=tokenizer,
            max_length=max_length,
            **options,
        )

    def entry(self, name: str) -> LoreEntry:
        """Return the lorebook entry called ``name`` (display name or id)."""
        for e in self.lorebook:
            if name in (e.display_name, e.id):
                return e
        raise InputError(
            "name",
            name,
            "the display name or id of an entry: " + ", ".join(e.display_name for e in self.lorebook),
        )


def _list(data: dict, key: str, what: str) -> list:
    v = data.get(key) or []
    if not isinstance(v, list):
        raise _err(what, f"{key} must be a list")
    return v


def _text_story(text: str) -> dict:
    return {
        "version": 2,
        "step": 1,
        "datablocks": [
            {
                "nextBlock": [],
                "prevBlock": -1,
                "origin": "root",
                "startIndex": 0,
                "endIndex": 0,
                "dataFragment": {"data": text, "origin": "prompt"},
                "fragmentIndex": -1,
                "removedFragments": [],
                "chain": False,
            }
        ],
        "currentBlock": 0,
        "fragments": [{"data": text, "origin": "prompt"}],
    }


def lorebook_entries(entries: Sequence[LoreEntry]) -> list[dict]:
    """Return the entries as the site stores them."""
    return [e.to_dict() for e in entries]
