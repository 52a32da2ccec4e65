"""Every ``naikit`` subcommand with bad arguments, in a subprocess: one clear line on stderr, a non-zero exit
code, never a traceback. The subcommands come from the parser itself, so a new one is tried too."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from naikit.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent


def _run(args: list[str], tmp: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NAI_", "NOVITA_", "NAIKIT_DEBUG"))}
    env["PYTHONPATH"] = str(ROOT)
    env["NAIKIT_BACKUP_DIR"] = str(tmp / "backups")
    env["HOME"] = str(tmp)
    return subprocess.run(
        [sys.executable, "-m", "naikit", *args],
        input=stdin,
        capture_output=True,
        text=True,
        errors="backslashreplace",
        env=env,
        cwd=tmp,  # a command given an odd folder name writes it here, not in the checkout
        timeout=120,
    )


def _subcommands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sorted(sub.choices)


def _bad_manifests(tmp: Path) -> dict[str, Path]:
    """Return backup folders whose manifest is malformed in one way each."""
    cases = {
        "not-json": b"{",
        "a-list": b"[]",
        "files-a-list": json.dumps({"format": "naikit-backup-1", "files": []}).encode(),
        "files-ints": json.dumps({"format": "naikit-backup-1", "files": {"x.json": 1}}).encode(),
        "nan": b'{"format": NaN}',
        "surrogate": b'{"format": "\\ud800"}',
    }
    from naikit.novelai.backup import FORMAT

    out = {}
    for name, raw in cases.items():
        folder = tmp / f"manifest-{name}"
        folder.mkdir()
        (folder / "manifest.json").write_bytes(raw.replace(b"naikit-backup-1", FORMAT.encode()))
        out[name] = folder
    # a manifest that names a file whose content is not an object
    folder = tmp / "manifest-bad-object"
    folder.mkdir()
    import hashlib

    (folder / "stories-x.json").write_bytes(b"[1, 2]")
    digest = hashlib.sha256(b"[1, 2]").hexdigest()
    (folder / "manifest.json").write_text(json.dumps({"format": FORMAT, "files": {"stories-x.json": digest}}))
    out["bad-object"] = folder
    return out


def _cases(tmp: Path) -> list[list[str]]:
    a_file = tmp / "a-file"
    a_file.write_text("not a folder")
    cases: list[list[str]] = [
        ["serve", "--port", "-1"],
        ["serve", "--port", "65536"],
        ["serve", "--port", "abc"],
        ["serve", "--data", str(a_file)],
        ["serve", "--faults", "429=2"],
        ["serve", "--faults", "nonsense"],
        ["serve", "--host", "256.1.1.1", "--port", "0"],
        ["lab", "--port", "-5"],
        ["lab", "--data", str(a_file)],
        ["backup", str(a_file), "--sandbox"],
        ["backup", "--base-url", "http://[::1"],
        ["restore", str(tmp / "missing"), "--sandbox"],
        ["restore", str(a_file), "--sandbox"],
        ["sanity-check", "--base-url", "ftp://x"],
        ["access-key", "", ""],
        ["access-key", "\udc80@x", "pw"],
        ["access-token", "a@b.c", "pw", "--base-url", "http://[::1"],
        ["access-token", "a@b.c", "pw", "--base-url", ""],
        ["tokenize", "no-such-model", "hello"],
        ["tokenize", "kayra", "\udc80"],
        ["decode", "kayra", "not base64!"],
        ["decode", "no-such-model", "AAAA"],
        ["no-such-command"],
    ]
    cases += [["restore", str(folder), "--sandbox"] for folder in _bad_manifests(tmp).values()]
    # every subcommand with an option it does not have
    cases += [[name, "--no-such-option"] for name in _subcommands() if name != "lab"]
    return cases


def _odd_cases() -> list[list[str]]:
    """Odd but possibly valid arguments (a folder may be called "\x01\x01\x01"): no traceback, any exit."""
    # lab passes unknown arguments on to JupyterLab, which would start: it is tried in _cases only
    return [[name, "\x01" * 3] for name in _subcommands() if name != "lab"]


def test_every_subcommand_is_tried():
    names = set(_subcommands())
    assert {"serve", "backup", "restore", "access-key", "lab"} <= names


def test_bad_arguments_give_one_line_and_nonzero_exit(tmp_path):
    tracebacks, zero_exits = [], []
    for args in _cases(tmp_path):
        proc = _run(args, tmp_path)
        if "Traceback" in proc.stderr or "Traceback" in proc.stdout:
            tracebacks.append((args, proc.stderr.strip().splitlines()[-1:]))
        if proc.returncode == 0:
            zero_exits.append(args)
        else:
            assert proc.stderr.strip(), f"{args}: no message"
    for args in _odd_cases():
        proc = _run(args, tmp_path, stdin="pw\n")
        if "Traceback" in proc.stderr or "Traceback" in proc.stdout:
            tracebacks.append((args, proc.stderr.strip().splitlines()[-1:]))
    assert tracebacks == []
    assert zero_exits == []


def test_busy_port_is_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = _run(["serve", "--port", str(port)], tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "in use" in proc.stderr


@pytest.mark.parametrize("port", ["-1", "70000"])
def test_port_out_of_range_names_the_range(tmp_path, port):
    proc = _run(["serve", "--port", port], tmp_path)
    assert proc.returncode == 2  # argparse's usage error
    assert "0-65535" in proc.stderr
