"""The parts a story is made of, named as the website stores them: context settings
(:class:`ContextConfig`), lorebook entries and categories, ephemeral entries (see
:mod:`naikit.novelai.story`)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .._validate import check_choice, check_instance, check_int
from ..errors import ContentError, InputError


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
            check_instance(getattr(self, name), str, name, "a string")
        for name in ("token_budget", "reserved_tokens", "budget_priority"):
            _num(name, getattr(self, name))
        check_choice(
            self.trim_direction, "trim_direction", TRIM_DIRECTIONS, allowed=" / ".join(TRIM_DIRECTIONS)
        )
        for name in ("insertion_type", "maximum_trim_type"):
            check_choice(getattr(self, name), name, TRIM_TYPES, allowed=" / ".join(TRIM_TYPES))
        check_int(self.insertion_position, "insertion_position")

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

    def to_dict(self) -> dict[str, Any]:
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
        check_instance(self.text, str, "text", "the entry's text as a string")
        self.keys = _str_list("keys", self.keys)
        if not self.id:
            self.id = str(uuid.uuid4())
        if isinstance(self.search_range, bool) or not isinstance(self.search_range, int):
            raise InputError("search_range", self.search_range, "an integer number of characters")
        check_instance(self.context_config, ContextConfig, "context_config", "a ContextConfig")

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

    def to_dict(self) -> dict[str, Any]:
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

    def to_dict(self) -> dict[str, Any]:
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

    def to_dict(self) -> dict[str, Any]:
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
