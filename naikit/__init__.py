"""naikit: a Jupyter-first toolkit for the NovelAI and Novita.ai APIs.

``import naikit`` is light: the clients, pandas, PIL, widgets and tokenizers load on first use
(PEP 562 lazy attributes). With no credentials in the environment the clients talk to an embedded
offline sandbox, so every notebook runs without an account.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "NovelAI": "naikit.novelai.client",
    "AsyncNovelAI": "naikit.novelai.client",
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
    "compare": "naikit.compare",
    "Experiment": "naikit.experiments.experiment",
    "Keystore": "naikit.novelai.crypto",
    "Novita": "naikit.novita.client",
    "AsyncNovita": "naikit.novita.client",
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
_SUBMODULES = {
    "errors",
    "sandbox",
    "novelai",
    "tokenizers",
    "widgets",
    "cli",
    "sampling",
    "novita",
    "metadata",
    "explain",
    "experiments",
}

__all__ = sorted([*_EXPORTS, "errors", "sandbox", "__version__"])

if TYPE_CHECKING:  # pragma: no cover  # for type checkers and IDEs only
    # ruff: noqa: F401
    from . import errors, sandbox
    from ._secret import Secret
    from ._settings import Hosts, RetryPolicy, Timeouts
    from .compare import compare
    from .experiments.experiment import Experiment
    from .explain import explain_step
    from .metadata import read_metadata
    from .novelai.auth import Token, access_key, encryption_key
    from .novelai.client import AsyncNovelAI, NovelAI
    from .novelai.crypto import Keystore
    from .novelai.image_models import Character, CharacterReference, ImagePreset, Vibe
    from .novelai.presets import BanList, BiasGroup, GlobalSettings, Preset
    from .novelai.story import Category, ContextConfig, EphemeralEntry, LoreEntry, Story
    from .novelai.story_context import Context
    from .novita.client import AsyncNovita, Novita
    from .tokenizers import tokenize
    from .xyplot import xy_plot


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"naikit.{name}")
    raise AttributeError(f"module 'naikit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """This package's module type: importing a submodule named like a function the package exports
    (``naikit.compare``, imported by ``naikit.widgets`` too) does not replace that function with the module,
    so ``naikit.compare(...)`` works whatever was imported first. The module stays in ``sys.modules``."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == f"{__name__}.{name}":
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
