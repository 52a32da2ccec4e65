"""Reading a password the way every naikit command does: typed at a terminal, else one line of stdin."""

from __future__ import annotations

import getpass
import sys

__all__ = ["read_password"]


def read_password(value: str | None) -> str:
    """Return ``value``, or, when it is None or ``"-"``, the password typed at the terminal (not echoed)
    or, with no terminal, the first line of stdin (without its newline)."""
    if value in (None, "-"):
        return getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    return value
