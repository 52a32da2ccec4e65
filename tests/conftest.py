"""Shared fixtures. Every test runs offline: servers are started on 127.0.0.1 by the tests themselves."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/refclients.py for interop tests and benchmarks

# No test may pick up a developer's real NovelAI / Novita credentials or hosts.
for _k in list(os.environ):
    if _k.startswith(("NAI_", "NOVITA_", "NOVELAI_")):
        del os.environ[_k]

# The local copies naikit keeps before overwriting or deleting go to a throwaway folder, never ~/.naikit.
os.environ["NAIKIT_BACKUP_DIR"] = tempfile.mkdtemp(prefix="naikit-test-backups-")

# after the clean-up above: the shared sandbox and client fixtures (a module needing others says so in one
# line with these factories; see tests/sandbox_fixtures.py)
from sandbox_fixtures import demo_client_fixture, sandbox_fixture  # noqa: E402

sb = sandbox_fixture()
nai = demo_client_fixture()


@pytest.fixture(scope="module")
def token(sb):
    """Return a persistent token of the demo account on ``sb`` (for raw HTTP requests)."""
    return sb.create_persistent_token()


@pytest.fixture(scope="module")
def clock():
    """Return a FakeClock shared by a test module: its sandbox and its clients' polling read it."""
    from naikit.sandbox.clock import FakeClock

    return FakeClock()


@pytest.fixture
def fresh_env(monkeypatch):
    """Return monkeypatch with every NAI_/NOVITA_ variable removed (for credential-resolution tests)."""
    for k in list(os.environ):
        if k.startswith(("NAI_", "NOVITA_", "NOVELAI_")):
            monkeypatch.delenv(k, raising=False)
    return monkeypatch


def _hypothesis_profiles() -> None:
    """Register the hypothesis profiles: ``ci`` (default: repeatable, 2,000 examples where a test does not
    set its own count) and ``nightly`` (``HYPOTHESIS_PROFILE=nightly``: 20,000, a fresh seed each run)."""
    from hypothesis import HealthCheck, settings

    quiet = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
    settings.register_profile(
        "ci", max_examples=2000, derandomize=True, database=None, deadline=None, suppress_health_check=quiet
    )
    settings.register_profile("nightly", max_examples=20000, deadline=None, suppress_health_check=quiet)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_hypothesis_profiles()
