"""naikit: a Jupyter-first toolkit for the NovelAI and Novita.ai APIs.

``import naikit`` is light: the clients, pandas, PIL, widgets and tokenizers load on first use
(PEP 562 lazy attributes). With no credentials in the environment the clients talk to an embedded
offline sandbox, so every notebook runs without an account.
"""

import typing as _typing

from ._lazy import lazy_exports as _lazy_exports
from ._version import __version__

# public name -> module that defines it (the TYPE_CHECKING imports below list the same names)
_EXPORTS: dict[str, str] = {
    "NovelAI": "naikit.novelai.client",
    "AsyncNovelAI": "naikit.novelai.async_client",
    "Hosts": "naikit._settings",
    "RetryPolicy": "naikit._settings",
    "Timeouts": "naikit._settings",
    "Secret": "naikit._secret",
    "access_key": "naikit.novelai.auth",
    "encryption_key": "naikit.novelai.auth",
    "Token": "naikit.novelai.auth",
    "tokenize": "naikit.tokenizers",
    "Preset": "naikit.novelai.presets",
    "GlobalSettings": "naikit.novelai.presets",
    "BiasGroup": "naikit.novelai.presets",
    "BanList": "naikit.novelai.presets",
    "compare": "naikit.comparison",
    "Experiment": "naikit.experiments.experiment",
    "Keystore": "naikit.novelai.crypto",
    "Novita": "naikit.novita.client",
    "AsyncNovita": "naikit.novita.async_client",
    "read_metadata": "naikit.metadata",
    "ImagePreset": "naikit.novelai.image_models",
    "Character": "naikit.novelai.image_models",
    "CharacterReference": "naikit.novelai.image_models",
    "Vibe": "naikit.novelai.image_models",
    "xy_plot": "naikit.xyplot",
    "explain_step": "naikit.explain",
    "Story": "naikit.novelai.story",
    "LoreEntry": "naikit.novelai.story",
    "Category": "naikit.novelai.story",
    "ContextConfig": "naikit.novelai.story",
    "EphemeralEntry": "naikit.novelai.story",
    "Context": "naikit.novelai.story_context",
}
# subpackages and modules reachable as attributes (``naikit.sandbox.start()`` after a bare ``import naikit``)
_SUBMODULES = ("errors", "sandbox", "novelai", "tokenizers", "widgets", "cli", "sampling", "novita",
               "metadata", "explain", "experiments")  # fmt: skip

# the same names, written out for static tools (ruff, pyright: `from naikit import *`)
__all__ = [
    "AsyncNovelAI",
    "AsyncNovita",
    "BanList",
    "BiasGroup",
    "Category",
    "Character",
    "CharacterReference",
    "Context",
    "ContextConfig",
    "EphemeralEntry",
    "Experiment",
    "GlobalSettings",
    "Hosts",
    "ImagePreset",
    "Keystore",
    "LoreEntry",
    "NovelAI",
    "Novita",
    "Preset",
    "RetryPolicy",
    "Secret",
    "Story",
    "Timeouts",
    "Token",
    "Vibe",
    "__version__",
    "access_key",
    "compare",
    "encryption_key",
    "errors",
    "explain_step",
    "read_metadata",
    "sandbox",
    "tokenize",
    "xy_plot",
]

if _typing.TYPE_CHECKING:  # pragma: no cover  # for type checkers and IDEs only
    from . import errors, sandbox
    from ._secret import Secret
    from ._settings import Hosts, RetryPolicy, Timeouts
    from .comparison import compare
    from .experiments.experiment import Experiment
    from .explain import explain_step
    from .metadata import read_metadata
    from .novelai.async_client import AsyncNovelAI
    from .novelai.auth import Token, access_key, encryption_key
    from .novelai.client import NovelAI
    from .novelai.crypto import Keystore
    from .novelai.image_models import Character, CharacterReference, ImagePreset, Vibe
    from .novelai.presets import BanList, BiasGroup, GlobalSettings, Preset
    from .novelai.story import Category, ContextConfig, EphemeralEntry, LoreEntry, Story
    from .novelai.story_context import Context
    from .novita.async_client import AsyncNovita
    from .novita.client import Novita
    from .tokenizers import tokenize
    from .xyplot import xy_plot
else:
    __getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS, submodules=_SUBMODULES, public=["__version__"])
