"""The embedded sandbox: a real local aiohttp server that emulates NovelAI's API, offline, on 127.0.0.1.

naikit's clients start it when no credentials are set; ``naikit serve`` runs it standalone so other
clients (``novelai-api`` and friends) can point at it. All three NovelAI hosts (api, image, text) are
served on one port.

::

    import naikit.sandbox as sb

    with sb.start() as box:                  # own thread + loop, free port, in-memory store
        box.url                              # 'http://127.0.0.1:54321'
        box.faults = "429=0.2,seed=7"        # inject faults at runtime
        box.create_persistent_token()        # 'pst-…' for the demo account

    sb.embedded()                            # the process-wide instance clients share
    sb.build_app(store)                      # the web.Application, for aiohttp's test server

Demo account: :data:`DEMO_EMAIL` / :data:`DEMO_PASSWORD` (Opus, active, with Anlas).

Importing this package is cheap: aiohttp and the modules of the server load on first use.
"""

from __future__ import annotations

import typing as _typing

from .._lazy import lazy_exports as _lazy_exports
from .demo_account import DEMO_EMAIL, DEMO_PASSWORD

if _typing.TYPE_CHECKING:
    import os

    from aiohttp import web

    from .clock import Clock, FakeClock, SystemClock
    from .faults import FaultPlan
    from .server import Sandbox, embedded, start
    from .store import Store

__all__ = [
    "DEMO_EMAIL",
    "DEMO_PASSWORD",
    "start",
    "embedded",
    "serve",
    "build_app",
    "demo_access_key",
    "Sandbox",
    "Store",
    "FaultPlan",
    "FakeClock",
    "SystemClock",
    "Clock",
]

# public name -> module that defines it (the TYPE_CHECKING imports above list the same names)
_EXPORTS = {
    "start": ".server",
    "embedded": ".server",
    "Sandbox": ".server",
    "Store": ".store",
    "FaultPlan": ".faults",
    "FakeClock": ".clock",
    "SystemClock": ".clock",
    "Clock": ".clock",
}

if not _typing.TYPE_CHECKING:
    __getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS, public=__all__)


def serve(
    host: str = "127.0.0.1",
    port: int | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    faults: FaultPlan | str | None = None,
    test_hooks: bool = False,
    read_timeout: float | None = None,
) -> None:
    """Run a sandbox in the foreground until Ctrl-C, printing its URL and the demo credentials; returns None.

    ``port=None`` uses the default port (8765, as ``naikit serve``). ``test_hooks=True`` also prints the admin
    token the ``/_sandbox/`` endpoints then require.
    """
    from .server import DEFAULT_PORT
    from .server import serve as _serve

    _serve(
        host=host,
        port=DEFAULT_PORT if port is None else port,
        data_dir=data_dir,
        faults=faults,
        test_hooks=test_hooks,
        read_timeout=read_timeout,
    )


def build_app(
    store: Store,
    *,
    faults: FaultPlan | str | None = None,
    clock: Clock | None = None,
    admin_token: str | None = None,
) -> web.Application:
    """Return the sandbox's ``aiohttp.web.Application`` on ``store`` (seeding the demo account if missing).

    ``admin_token`` turns the ``/_sandbox/`` test hooks on for requests carrying it (else they answer 404).
    """
    from .app import build_app as _build_app

    return _build_app(store, faults=faults, clock=clock, admin_token=admin_token)


def demo_access_key() -> str:
    """Return the demo account's access key (computed once per process; Argon2 takes ~20 ms)."""
    from .app import demo_access_keys

    return demo_access_keys()[0]


# the __future__ import binds a name: keep it out of the package namespace (dir() and vars() list public
# names only)
del annotations
