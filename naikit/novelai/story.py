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
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ContentError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from .content import ContentObject
    from .story_context import Context

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
]


class StoryFileError(ContentError, ValueError):
    """A ``.story`` / ``.lorebook`` file (or a storycontent) that does not have the website's shape."""


#: naikit name -> the website's stored name, for every modelled field.
FIELD_NAMES: dict[str, str] = {
    # contextConfig
    "prefix": "prefix",
    "suffix": "suffix",
    "token_budget": "tokenBudget",
    "reserved_tokens": "reservedTokens",
    "budget_priority": "budgetPriority",
    "trim_direction": "trimDirection",
    "insertion_type": "insertionType",
    "maximum_trim_type": "maximumTrimType",
    "insertion_position": "insertionPosition",
    "allow_inner_insertion": "allowInnerInsertion",
    "allow_insertion_inside": "allowInsertionInside",
    # lorebook entry
    "text": "text",
    "context_config": "contextConfig",
    "display_name": "displayName",
    "id": "id",
    "keys": "keys",
    "search_range": "searchRange",
    "enabled": "enabled",
    "force_activation": "forceActivation",
    "key_relative": "keyRelative",
    "non_story_activatable": "nonStoryActivatable",
    "category": "category",
    "lore_bias_groups": "loreBiasGroups",
    "advanced_conditions": "advancedConditions",
    # category
    "name": "name",
    "create_subcontext": "createSubcontext",
    "subcontext_settings": "subcontextSettings",
    "use_category_defaults": "useCategoryDefaults",
    "category_defaults": "categoryDefaults",
    "category_bias_groups": "categoryBiasGroups",
    "order": "order",
    # ephemeral entry
    "starting_step": "startingStep",
    "delay": "delay",
    "duration": "duration",
    "repeat": "repeat",
    "reverse": "reverse",
}

TRIM_DIRECTIONS = ("trimTop", "trimBottom", "doNotTrim")
TRIM_TYPES = ("token", "sentence", "newline")


def _err(what: str, problem: str) -> StoryFileError:
    return StoryFileError(f"{what}: {problem}")


def _num(name: str, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise InputError(name, value, "a number")
    return value


@dataclass
class ContextConfig:
    """How one piece of context is placed and trimmed (the site's ``contextConfig``).

    ``token_budget`` and ``reserved_tokens`` above 1 are token counts; 1 or less are fractions of the
    context size (the site's rule: ``x > 1 ? x : floor(x * maxTokens)``). ``insertion_position``
    counts ``insertion_type`` units (newlines, sentences, tokens) from the top (>= 0) or from the
    bottom (< 0; -1 is the very end).
    """

    prefix: str = ""
    suffix: str = "\n"
    token_budget: float = 1
    reserved_tokens: float = 0
    budget_priority: float = 400
    trim_direction: str = "trimBottom"
    insertion_type: str = "newline"
    maximum_trim_type: str = "sentence"
    insertion_position: int = -1
    allow_inner_insertion: bool | None = None
    allow_insertion_inside: bool | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("prefix", "suffix"):
            if not isinstance(getattr(self, name), str):
                raise InputError(name, getattr(self, name), "a string")
        for name in ("token_budget", "reserved_tokens", "budget_priority"):
            _num(name, getattr(self, name))
        if self.trim_direction not in TRIM_DIRECTIONS:
            raise InputError("trim_direction", self.trim_direction, " / ".join(TRIM_DIRECTIONS))
        for name in ("insertion_type", "maximum_trim_type"):
            if getattr(self, name) not in TRIM_TYPES:
                raise InputError(name, getattr(self, name), " / ".join(TRIM_TYPES))
        if isinstance(self.insertion_position, bool) or not isinstance(self.insertion_position, int):
            raise InputError("insertion_position", self.insertion_position, "an integer")

    _KEYS = (
        "prefix",
        "suffix",
        "token_budget",
        "reserved_tokens",
        "budget_priority",
        "trim_direction",
        "insertion_type",
        "maximum_trim_type",
        "insertion_position",
        "allow_inner_insertion",
        "allow_insertion_inside",
    )

    @classmethod
    def from_dict(cls, d: Any, default: ContextConfig | None = None) -> ContextConfig:
        """Return the config stored as ``d`` (missing keys take ``default``'s values)."""
        if not isinstance(d, dict):
            raise _err("contextConfig", f"expected an object, got {type(d).__name__}")
        base = copy.copy(default) if default is not None else cls()
        kw = {k: d.get(FIELD_NAMES[k], getattr(base, k)) for k in cls._KEYS}
        try:
            out = cls(**kw)
        except InputError as e:
            raise _err("contextConfig", str(e)) from None
        out.raw = d
        return out

    def to_dict(self) -> dict:
        """Return the config as the site stores it (keys it had keep their order)."""
        out = dict(self.raw)
        for k in self._KEYS:
            v = getattr(self, k)
            if v is None and FIELD_NAMES[k] not in out:
                continue
            out[FIELD_NAMES[k]] = v
        return out


def story_config() -> ContextConfig:
    """Return the site's default config of the story text (module 49788)."""
    return ContextConfig("", "", 1, 512, 0, "trimTop", "newline", "sentence", -1, None, True)


def memory_config() -> ContextConfig:
    """Return the site's default config of memory (module 49788)."""
    return ContextConfig("", "\n", 1, 0, 800, "trimBottom", "newline", "sentence", 0)


def authors_note_config() -> ContextConfig:
    """Return the site's default config of the author's note (module 49788)."""
    return ContextConfig("", "\n", 1, 1, -400, "trimBottom", "newline", "sentence", -4)


def lore_config() -> ContextConfig:
    """Return the site's default config of a lorebook entry (module 49788)."""
    return ContextConfig("", "\n", 1, 0, 400, "trimBottom", "newline", "sentence", -1)


def ephemeral_config() -> ContextConfig:
    """Return the site's default config of an ephemeral entry (module 49788)."""
    return ContextConfig("", "\n", 1, 1, -10000, "doNotTrim", "newline", "newline", -2)


def _str_list(name: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InputError(name, value, "a list of strings")
    out = list(value)
    if not all(isinstance(x, str) for x in out):
        raise InputError(name, value, "a list of strings")
    return out


@dataclass
class LoreEntry:
    """A lorebook entry: its text, the keys that activate it and its context settings.

    A key is a word or phrase (case-insensitive, whole words when it starts/ends with a word
    character; ``a & b`` needs both), or a regular expression written ``/pattern/flags``.
    """

    text: str = ""
    keys: list[str] = field(default_factory=list)
    display_name: str = "New Lorebook Entry"
    id: str = ""
    search_range: int = 1000
    enabled: bool = True
    force_activation: bool = False
    key_relative: bool = False
    non_story_activatable: bool = False
    category: str = ""
    context_config: ContextConfig = field(default_factory=lore_config)
    lore_bias_groups: list = field(default_factory=list)
    advanced_conditions: list = field(default_factory=list)
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise InputError("text", self.text, "the entry's text as a string")
        self.keys = _str_list("keys", self.keys)
        if not self.id:
            self.id = str(uuid.uuid4())
        if isinstance(self.search_range, bool) or not isinstance(self.search_range, int):
            raise InputError("search_range", self.search_range, "an integer number of characters")
        if not isinstance(self.context_config, ContextConfig):
            raise InputError("context_config", self.context_config, "a ContextConfig")

    _ORDER = (
        "text",
        "context_config",
        "display_name",
        "id",
        "keys",
        "search_range",
        "enabled",
        "force_activation",
        "key_relative",
        "non_story_activatable",
        "category",
        "lore_bias_groups",
        "advanced_conditions",
    )

    @classmethod
    def from_dict(cls, d: Any) -> LoreEntry:
        """Return the entry stored as ``d`` (the site's lorebook entry object)."""
        if not isinstance(d, dict):
            raise _err("lorebook entry", f"expected an object, got {type(d).__name__}")
        try:
            out = cls(
                text=d.get("text", ""),
                keys=d.get("keys", []),
                display_name=d.get("displayName", "New Lorebook Entry"),
                id=d.get("id", ""),
                search_range=d.get("searchRange", 1000),
                enabled=d.get("enabled", True),
                force_activation=d.get("forceActivation", False),
                key_relative=d.get("keyRelative", False),
                non_story_activatable=d.get("nonStoryActivatable", False),
                category=d.get("category", ""),
                context_config=ContextConfig.from_dict(d.get("contextConfig", {}), lore_config()),
                lore_bias_groups=d.get("loreBiasGroups", []),
                advanced_conditions=d.get("advancedConditions", []),
            )
        except InputError as e:
            raise _err(f"lorebook entry {d.get('displayName')!r}", str(e)) from None
        out.raw = d
        return out

    def to_dict(self) -> dict:
        """Return the entry as the site stores it."""
        out = dict(self.raw)
        for k in self._ORDER:
            v = getattr(self, k)
            if k == "context_config":
                v = v.to_dict()
            elif k in ("advanced_conditions",) and not v and FIELD_NAMES[k] not in out:
                continue
            out[FIELD_NAMES[k]] = v
        return out


@dataclass
class Category:
    """A lorebook category (entries point at it by ``id``); disabled categories disable their entries."""

    name: str = "New Category"
    id: str = ""
    enabled: bool = True
    create_subcontext: bool = False
    use_category_defaults: bool = False
    order: list[str] = field(default_factory=list)
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.id:
            self.id = str(uuid.uuid4())

    @classmethod
    def from_dict(cls, d: Any) -> Category:
        """Return the category stored as ``d``."""
        if not isinstance(d, dict):
            raise _err("lorebook category", f"expected an object, got {type(d).__name__}")
        out = cls(
            d.get("name", ""),
            d.get("id", ""),
            d.get("enabled", True),
            d.get("createSubcontext", False),
            d.get("useCategoryDefaults", False),
            list(d.get("order") or []),
        )
        out.raw = d
        return out

    def to_dict(self) -> dict:
        """Return the category as the site stores it (settings naikit does not model kept)."""
        out = dict(self.raw)
        out.update(
            {
                "name": self.name,
                "id": self.id,
                "enabled": self.enabled,
                "createSubcontext": self.create_subcontext,
                "useCategoryDefaults": self.use_category_defaults,
            }
        )
        if self.order or "order" in out:
            out["order"] = list(self.order)
        return out


@dataclass
class EphemeralEntry:
    """Ephemeral context: text shown only at some story steps (``startingStep``, ``delay``,
    ``duration``, ``repeat``, ``reverse``; module 53925)."""

    text: str = ""
    starting_step: int = 1
    delay: int = 0
    duration: int = 1
    repeat: bool = False
    reverse: bool = False
    context_config: ContextConfig = field(default_factory=ephemeral_config)
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    def active(self, step: int) -> bool:
        """Return True when the entry is shown at story step ``step`` (the site's rule)."""
        from .._validate import check_int

        check_int(step, "step")
        t = step - self.starting_step
        if t < 0:
            return self.reverse
        if self.duration == 0:
            return (t >= self.delay) != self.reverse
        if self.repeat:
            # JS ``%`` by 0 is NaN and NaN < x is false
            on = (t % self.delay < self.duration) if self.delay else False
            return on != self.reverse
        return (self.delay <= t < self.delay + self.duration) != self.reverse

    @classmethod
    def from_dict(cls, d: Any) -> EphemeralEntry:
        """Return the ephemeral entry stored as ``d``."""
        if not isinstance(d, dict):
            raise _err("ephemeral entry", f"expected an object, got {type(d).__name__}")
        out = cls(
            d.get("text", ""),
            d.get("startingStep", 1),
            d.get("delay", 0),
            d.get("duration", 1),
            d.get("repeat", False),
            d.get("reverse", False),
            ContextConfig.from_dict(d.get("contextConfig", {}), ephemeral_config()),
        )
        out.raw = d
        return out

    def to_dict(self) -> dict:
        """Return the entry as the site stores it."""
        out = dict(self.raw)
        out.update({"text": self.text, "contextConfig": self.context_config.to_dict()})
        out.update(
            {
                "startingStep": self.starting_step,
                "delay": self.delay,
                "duration": self.duration,
                "repeat": self.repeat,
                "reverse": self.reverse,
            }
        )
        return out


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

    def __post_init__(self) -> None:
        for name in ("text", "memory", "authors_note", "title"):
            if not isinstance(getattr(self, name), str):
                raise InputError(name, getattr(self, name), "a string")
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
        from .content import story_text_of

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

    def lorebook_dict(self) -> dict:
        """Return the lorebook as the site stores it (``.lorebook`` file / storycontent ``lorebook``)."""
        out = dict(self.raw_lorebook) if self.raw_lorebook else {"lorebookVersion": 6}
        out["entries"] = [e.to_dict() for e in self.lorebook]
        settings = dict(out.get("settings") or {})
        if self.order_by_key_locations or "orderByKeyLocations" in settings:
            settings["orderByKeyLocations"] = self.order_by_key_locations
        out["settings"] = settings
        out["categories"] = [c.to_dict() for c in self.categories]
        if self.lorebook_order or "order" in out:
            out["order"] = list(self.lorebook_order)
        return out

    def content_dict(self) -> dict:
        """Return the storycontent data with this story's memory, AN, lorebook and configs written in.

        The story text itself is not rewritten here (the document format is the content layer's);
        :meth:`NovelAI.continue_story` appends generated text through it.
        """
        out = copy.deepcopy(self.raw) if self.raw else {"storyContentVersion": 6}
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
        from .._validate import check_path

        check_path(path)
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise InputError("path", path, "a readable .story or .lorebook file", hint=str(exc)) from None
        return cls.from_json(raw, what=str(p))

    @classmethod
    def from_json(cls, text: str, *, what: str = "story file") -> Story:
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
        was = getattr(self, "_file", (kind, False))
        pretty = was[1] if indent is None else indent
        if kind == "lorebook":
            return _dumps(self.lorebook_dict(), pretty)
        container = dict(getattr(self, "_container", None) or {"storyContainerVersion": 1, "metadata": {}})
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
        from .._validate import check_path

        check_path(path)
        p = Path(path)
        kind = "lorebook" if p.suffix == ".lorebook" else "story"
        data = self.to_json(kind, indent=indent).encode("utf-8")
        try:
            p.write_bytes(data)
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
        from .story_context import build_context

        return build_context(
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


def append_story_text(content: dict, addition: str, *, origin: str = "ai") -> dict:
    """Return a copy of storycontent ``content`` whose story text has ``addition`` appended.

    Older stories get a new datablock (and fragment) after the current one, as the site records a
    generation; newer ones (an editor-v2 ``document``) get the text added to the last section, one new
    section per further line. The result is checked: its text must be the old text plus ``addition``
    (else :class:`StoryFileError`, before anything is uploaded).
    """
    from .content import story_text_of

    if not isinstance(addition, str) or not addition:
        raise InputError("addition", addition, "the non-empty text to append")
    old = story_text_of(content)
    out = copy.deepcopy(content)
    doc = out.get("document")
    if isinstance(doc, str) and doc:
        out["document"] = _append_to_document(doc, addition)
    else:
        story = out.get("story")
        if not isinstance(story, dict):
            raise _err("storycontent", "has neither a document nor a datablock story")
        blocks = story.setdefault("datablocks", [])
        frags = story.setdefault("fragments", [])
        cur = story.get("currentBlock", len(blocks) - 1)
        frag = {"data": addition, "origin": origin}
        frags.append(frag)
        if isinstance(cur, int) and 0 <= cur < len(blocks):
            blocks[cur].setdefault("nextBlock", []).append(len(blocks))
        blocks.append(
            {
                "nextBlock": [],
                "prevBlock": cur if isinstance(cur, int) else -1,
                "origin": origin,
                "startIndex": len(old),
                "endIndex": len(old),
                "dataFragment": frag,
                "fragmentIndex": len(frags) - 1,
                "removedFragments": [],
                "chain": False,
            }
        )
        story["currentBlock"] = len(blocks) - 1
        story["step"] = int(story.get("step", 0) or 0) + 1
    if story_text_of(out) != old + addition:
        raise _err(
            "storycontent", "appending the text did not give the expected story text; nothing was changed"
        )
    return out


def _append_to_document(doc: str, addition: str) -> str:
    import base64

    from .document import Tagged, encode_document, unpack

    value = unpack(base64.b64decode(doc))
    inner = value.value if isinstance(value, Tagged) else value
    sections, order = inner["sections"], inner["order"]
    lines = addition.split("\n")
    last_id = order[-1]
    last = sections[last_id]
    sec = last.value if isinstance(last, Tagged) else last
    sec["text"] = sec.get("text", "") + lines[0]
    next_id = max(k for k in sections if isinstance(k, int)) + 1 if sections else 1
    for line in lines[1:]:
        new = copy.deepcopy(sec)
        new["text"] = line
        new["meta"] = {}
        sections[next_id] = Tagged(last.tag, new) if isinstance(last, Tagged) else new
        order.append(next_id)
        next_id += 1
    return encode_document(value)
