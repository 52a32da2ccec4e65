"""The ``naikit`` command as a user meets it, in a subprocess: --version, email addresses checked, hints in
command-line terms, ``decode`` warnings, help that states defaults, a busy port in one line."""

from __future__ import annotations

import base64
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import naikit
from naikit import sandbox
from naikit.cli import _cli_terms

ROOT = Path(__file__).resolve().parent.parent


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NAI_", "NOVITA_", "NAIKIT_DEBUG"))}
    env["PYTHONPATH"] = str(ROOT)
    env["HOME"] = str(tmp)
    return subprocess.run(
        [sys.executable, "-m", "naikit", *args],
        input="",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp,
        timeout=120,
    )


def test_version(tmp_path: Path) -> None:
    r = _run(["--version"], tmp_path)
    assert r.returncode == 0
    assert r.stdout.strip() == f"naikit {naikit.__version__}"


@pytest.mark.parametrize("email", ["a@@b", "a@b,c", "a@b;c", "a b@c", "@b", "a@", "ab"])
@pytest.mark.parametrize("command", [["access-key"], ["access-token"]])
def test_email_refused(tmp_path: Path, email: str, command: list[str]) -> None:
    r = _run([*command, email, "secret-pw"], tmp_path)
    assert r.returncode == 2
    assert "not one email address" in r.stderr
    assert "Traceback" not in r.stderr
    # the value is not echoed: EMAIL and PASSWORD swapped would print the password
    assert f"'{email}'" not in r.stderr and "secret-pw" not in r.stderr


def test_email_refused_in_backup_option(tmp_path: Path) -> None:
    r = _run(["backup", "--email", "a@b,c"], tmp_path)
    assert r.returncode == 2
    assert "argument --email: not one email address" in r.stderr
    assert "a comma" in r.stderr


def test_good_email_accepted(tmp_path: Path) -> None:
    r = _run(["access-key", "Me@Example.com", "pw"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip()) == 64


def test_hints_in_cli_terms_unit() -> None:
    assert _cli_terms("try email_case='verbatim' for") == "try --email-case verbatim for"
    assert _cli_terms('email_case="lower"') == "--email-case lower"
    assert _cli_terms("nothing to change") == "nothing to change"


def test_rejected_login_hint_in_cli_terms(tmp_path: Path) -> None:
    with sandbox.start() as server:
        r = _run(["access-token", sandbox.DEMO_EMAIL, "wrong-password", "--base-url", server.url], tmp_path)
    assert r.returncode == 2, r.stderr
    assert "--email-case verbatim" in r.stderr
    assert "email_case=" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def _b64(fmt: str, *ids: int) -> str:
    return base64.b64encode(struct.pack(fmt, *ids)).decode()


def test_decode_warns_when_ids_do_not_fit(tmp_path: Path) -> None:
    # " night —" in Erato's 4-byte tokens, read as 2-byte Kayra tokens: every second id is 0 (<|pad|>)
    r = _run(["decode", "kayra", _b64("<2I", 3814, 2001)], tmp_path)
    assert r.returncode == 0
    assert "warning: every second id is 0" in r.stderr
    assert "llama-3-erato-v1" in r.stderr
    assert "special tokens inside the text" in r.stderr
    good = _run(["decode", "llama-3-erato-v1", _b64("<2I", 3814, 2001)], tmp_path)
    assert good.returncode == 0
    assert good.stdout == " night —\n"
    assert good.stderr == ""


def test_top_level_help(tmp_path: Path) -> None:
    r = _run(["--help"], tmp_path)
    assert r.returncode == 0
    for command in ("access-key", "serve", "lab", "tokenize", "decode", "backup"):
        assert command in r.stdout
    assert "--version" in r.stdout
    assert "``" not in r.stdout  # no reStructuredText from a docstring
    serve = _run(["serve", "--help"], tmp_path).stdout
    assert "(default: 127.0.0.1)" in serve
    assert "(default: 8765)" in serve
    assert "(default: None)" not in serve and "(default: False)" not in serve
    assert "(default: lower)" in _run(["access-key", "--help"], tmp_path).stdout
    assert "(default: 8888)" in _run(["lab", "--help"], tmp_path).stdout


@pytest.mark.parametrize("command", ["serve", "lab"])
def test_busy_port_is_one_line(tmp_path: Path, command: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        extra = ["--no-browser"] if command == "lab" else []
        r = _run([command, "--port", str(port), *extra], tmp_path)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "already in use" in lines[0] and "--port" in lines[0]
