"""Which AI modules (the ``prefix`` parameter) each text model offers (spec §5.6).

:func:`check_module` refuses, before anything is sent, a module the chosen model does not have. A custom
module trained by the user is named ``<model>:<id>:<hash>`` and only works with the model it was trained
for. The table is plain data: :func:`modules_for` lists a model's modules and :func:`module_frame` shows
the whole matrix.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import InputError
from .models import TEXT_MODELS, TextModel, text_model

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["MODULES", "STYLES", "THEMES", "INSPIRATIONS", "modules_for", "check_module", "module_frame"]

STYLES: tuple[str, ...] = (
    "style_algernonblackwood",
    "style_arthurconandoyle",
    "style_edgarallanpoe",
    "style_hplovecraft",
    "style_shridanlefanu",
    "style_janeausten",
    "style_julesverne",
    "style_williamshakespeare",
)
THEMES: tuple[str, ...] = tuple(
    "theme_" + t
    for t in (
        "19thcenturyromance actionarcheology ai ancientchina ancientgreek india animalfiction "
        "anthropomorphicanimals childrens christmas comedicfantasy contemporary cyberpunk darkfantasy "
        "dragons egypt feudaljapan gaming generalfantasy goldenagescifi hardsf history horror huntergatherer "
        "litrpg magicacademy libraries lightnovels mars medieval militaryscifi music mystery nature naval "
        "noir philosophy pirates poeticfantasy postapocalyptic rats romanempire sciencefantasy spaceopera "
        "superheroes airships travel urbanfantasy valentines vikings weirdwest westernromance"
    ).split()
)
INSPIRATIONS: tuple[str, ...] = (
    "inspiration_crabsnailandmonkey",
    "inspiration_mercantilewolfgirlromance",
    "inspiration_nervegear",
    "inspiration_thronewars",
    "inspiration_witchatlevelcap",
)
# Style and theme modules Krake never had (spec §5.6).
_KRAKE_LACKS = frozenset(
    ["style_janeausten", "style_williamshakespeare"]
    + [
        "theme_" + t
        for t in (
            "ancientchina ancientgreek india anthropomorphicanimals contemporary gaming goldenagescifi "
            "hardsf lightnovels music nature noir weirdwest"
        ).split()
    ]
)

_OLD_FAMILY = (*STYLES, *THEMES, *INSPIRATIONS)


def _build() -> dict[str, tuple[str, ...]]:
    table: dict[str, list[str]] = {m.value: ["vanilla"] for m in TEXT_MODELS}
    for value in ("6B-v4", "euterpe-v2", "krake-v2", "clio-v1", "kayra-v1", "llama-3-erato-v1"):
        table[value].append("theme_textadventure")
    for value in ("6B-v4", "euterpe-v2", "clio-v1", "kayra-v1"):
        table[value].append("special_proseaugmenter")
    for value in ("clio-v1", "kayra-v1"):
        table[value] += ["special_instruct", "special_openings"]
    for value in ("6B-v4", "euterpe-v2", "krake-v2"):
        table[value].append("general_crossgenre")
        lacks = _KRAKE_LACKS if value == "krake-v2" else frozenset()
        table[value] += [m for m in _OLD_FAMILY if m not in lacks]
    for value in ("euterpe-v2", "krake-v2"):
        table[value].append("theme_romanceofthreekingdoms")
    return {k: tuple(v) for k, v in table.items()}


#: API model value -> the module ids it accepts as ``prefix``.
MODULES: dict[str, tuple[str, ...]] = _build()

# <model>:<64 hex id or uuid-like id>:<hash>; the id and hash forms are not documented, so any
# non-empty run of [A-Za-z0-9_-] is accepted.
_CUSTOM = re.compile(r"^(?P<model>[A-Za-z0-9._-]+):(?P<id>[A-Za-z0-9_-]+):(?P<hash>[A-Za-z0-9_-]+)$")


def modules_for(model: str | TextModel) -> tuple[str, ...]:
    """Return the module ids (``prefix`` values) that ``model`` offers, ``"vanilla"`` first."""
    return MODULES[text_model(model).value]


def check_module(prefix: str | None, model: str | TextModel) -> str:
    """Return the ``prefix`` to send (``"vanilla"`` for None) if ``model`` has that module.

    Raises InputError naming the module and listing the model's modules otherwise; a custom module
    (``<model>:<id>:<hash>``) must have been trained for this model.
    """
    m = text_model(model)
    if prefix is None:
        return "vanilla"
    if not isinstance(prefix, str) or not prefix:
        raise InputError("module", prefix, "a module id such as 'vanilla' or 'theme_textadventure'")
    custom = _CUSTOM.match(prefix)
    if custom:
        if custom["model"] != m.value:
            raise InputError(
                "module",
                prefix,
                f"a custom module trained for {m.value} ('{m.value}:<id>:<hash>')",
                hint=f"This module was trained for {custom['model']}.",
            )
        return prefix
    allowed = MODULES[m.value]
    if prefix not in allowed:
        others = [v for v, mods in MODULES.items() if prefix in mods]
        hint = f"{prefix} exists for {', '.join(others)}." if others else "No model has this module."
        raise InputError("module", prefix, f"one of {m.name}'s modules: {', '.join(allowed)}", hint=hint)
    return prefix


def module_frame() -> pd.DataFrame:
    """Return a DataFrame with one row per module and one boolean column per text model."""
    import pandas as pd

    names = list(dict.fromkeys(n for mods in MODULES.values() for n in mods))
    data = {m.name: [n in MODULES[m.value] for n in names] for m in TEXT_MODELS}
    return pd.DataFrame(data, index=pd.Index(names, name="module"))
