"""NovelAI: the clients, credentials, presets, stories, image settings and the results they give.

::

    from naikit.novelai import NovelAI, Preset

    nai = NovelAI()                     # NAI_TOKEN / NAI_USERNAME+NAI_PASSWORD, else the offline sandbox
    nai.generate("The lighthouse keeper", Preset.default("erato"))

Names load on first use so that ``import naikit.novelai`` stays light; each also lives in the module that
defines it (``naikit.novelai.presets.Preset``), which is where the rest of an area's names are.
"""

import typing as _typing

from .._lazy import lazy_exports as _lazy_exports

# public name -> defining module, relative to this package (the TYPE_CHECKING imports list the same names)
_EXPORTS: dict[str, str] = {
    "NovelAI": ".client",
    "AsyncNovelAI": ".async_client",
    "access_key": ".auth",
    "encryption_key": ".auth",
    "Token": ".auth",
    "Keystore": ".crypto",
    "Preset": ".presets",
    "GlobalSettings": ".presets",
    "BiasGroup": ".presets",
    "BanList": ".presets",
    "ImagePreset": ".image_models",
    "Character": ".image_models",
    "CharacterReference": ".image_models",
    "Vibe": ".image_models",
    "Story": ".story",
    "LoreEntry": ".story",
    "Category": ".story",
    "ContextConfig": ".story",
    "EphemeralEntry": ".story",
    "Context": ".story_context",
}

# the same names, written out for static tools (ruff, pyright: `from naikit.novelai import *`)
__all__ = [
    "AsyncNovelAI",
    "BanList",
    "BiasGroup",
    "Category",
    "Character",
    "CharacterReference",
    "Context",
    "ContextConfig",
    "EphemeralEntry",
    "GlobalSettings",
    "ImagePreset",
    "Keystore",
    "LoreEntry",
    "NovelAI",
    "Preset",
    "Story",
    "Token",
    "Vibe",
    "access_key",
    "encryption_key",
]

if _typing.TYPE_CHECKING:  # pragma: no cover  # for type checkers and IDEs only
    from .async_client import AsyncNovelAI
    from .auth import Token, access_key, encryption_key
    from .client import NovelAI
    from .crypto import Keystore
    from .image_models import Character, CharacterReference, ImagePreset, Vibe
    from .presets import BanList, BiasGroup, GlobalSettings, Preset
    from .story import Category, ContextConfig, EphemeralEntry, LoreEntry, Story
    from .story_context import Context
else:
    __getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)
