"""One lazy exporter for the packages whose names load on first use (PEP 562).

A package face lists ``{public name: defining module}`` and, for type checkers and IDEs, imports the same
names under ``if TYPE_CHECKING:``; at run time it installs the ``__getattr__`` and ``__dir__`` this module
returns, so ``import naikit`` loads none of the clients, pandas, PIL or ipywidgets until a name is used.
(tests/test_public_surface.py checks that the table and the ``TYPE_CHECKING`` imports agree.)
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str,
    exports: Mapping[str, str],
    *,
    submodules: Iterable[str] = (),
    public: Iterable[str] = (),
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return the ``(__getattr__, __dir__)`` pair of the package ``package``.

    ``exports`` maps each public name to the module defining it (absolute, or relative to ``package``:
    ``".client"``); the first access imports the module and keeps the value in the package's namespace, so
    later accesses are plain attribute reads. ``submodules`` are subpackages reachable as attributes
    (``naikit.sandbox``). ``__dir__`` lists exactly the public names: the exports, the submodules and
    ``public`` (names the package defines itself, such as ``__version__``), none of the helpers the face
    imported for itself.
    """
    table = dict(exports)
    subs = frozenset(submodules)
    names = sorted({*table, *subs, *public})
    clash = subs & table.keys()
    if clash:  # a submodule would replace the exported name of the same spelling once imported
        raise ValueError(f"{package}: {sorted(clash)} are both submodules and exported names")

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is not None:
            value = getattr(import_module(module, package), name)
        elif name in subs:
            value = import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return list(names)

    return __getattr__, __dir__
