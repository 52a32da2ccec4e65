"""The one atomic write (naikit/_atomic.py): whole files or the old file, never a half or a stray temp."""

from __future__ import annotations

import os

import pytest

from naikit._atomic import write_atomic


def test_writes_bytes_and_text_exactly(tmp_path):
    p = write_atomic(tmp_path / "sub" / "a.bin", b"\x00\xff")
    assert p.read_bytes() == b"\x00\xff"
    write_atomic(p, "é\r\n")
    assert p.read_bytes() == b"\xc3\xa9\r\n"  # UTF-8, newline kept as given
    assert sorted(os.listdir(p.parent)) == ["a.bin"]


def test_overwrite_false_refuses_and_keeps_the_old_file(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        write_atomic(p, b"new", overwrite=False)
    assert p.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.txt"]
    write_atomic(tmp_path / "b.txt", b"x", overwrite=False)
    assert (tmp_path / "b.txt").read_bytes() == b"x"


def test_a_failed_rename_leaves_the_target_and_no_temporary(tmp_path, monkeypatch):
    p = tmp_path / "a.txt"
    p.write_bytes(b"old")

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(p, b"new")
    assert p.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.txt"]
