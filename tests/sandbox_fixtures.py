"""The demo account's credentials and the fixtures that start a sandbox or log a client into it.

``conftest.py`` gives every test module a shared sandbox (``sb``), a NovelAI client on its demo account
(``nai``) and a FakeClock (``clock``). A module whose tests need something else says so in one line, e.g.
``sb = sandbox_fixture(scope="function")`` (a fresh sandbox per test: the tests change the demo account),
``sb = sandbox_fixture(test_hooks=True)`` or ``nai = demo_client_fixture(scope="function", backup_dir="b")``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from naikit import sandbox

DEMO = dict(email=sandbox.DEMO_EMAIL, password=sandbox.DEMO_PASSWORD)


def sandbox_fixture(*, scope: str = "module", clock: bool = False, **options: Any) -> Any:
    """Return an ``sb`` fixture: a sandbox started with ``options`` (``sandbox.start``'s keywords) for each
    ``scope``; ``clock=True`` runs it on the module's ``clock`` fixture."""

    @pytest.fixture(scope=scope, name="sb")
    def sb(request: pytest.FixtureRequest) -> Iterator[Any]:
        kw = dict(options, clock=request.getfixturevalue("clock")) if clock else options
        with sandbox.start(**kw) as server:
            yield server

    return sb


def demo_client_fixture(
    *, scope: str = "module", backup_dir: str | None = None, clock: bool = False, **client_options: Any
) -> Any:
    """Return a ``nai`` fixture: a NovelAI client on ``sb`` logged into the demo account, for each ``scope``.
    ``backup_dir``: its safety copies go to ``tmp_path / backup_dir``; ``clock=True``: its polling advances
    the module's ``clock`` instead of sleeping; ``client_options`` go to ``NovelAI``."""

    @pytest.fixture(scope=scope, name="nai")
    def nai(request: pytest.FixtureRequest, sb: Any) -> Iterator[Any]:
        from naikit.novelai.client import NovelAI

        with NovelAI(base_url=sb.url, **client_options, **DEMO) as client:
            if backup_dir is not None:
                client.set_backup_dir(request.getfixturevalue("tmp_path") / backup_dir)
            if clock:
                from novita_helpers import drive

                drive(client, request.getfixturevalue("clock"))
            yield client

    return nai
