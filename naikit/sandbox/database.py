"""One SQLite database for the sandbox's areas: the connection, transactions, queries and a key/value table.

In memory by default; a file (``<data_dir>/sandbox.sqlite3``) when given a data directory, so what a
user wrote survives a restart. Every multi-statement write runs in one transaction
(:meth:`Database.transaction`), so a crash or a dropped connection never leaves half an update behind.
An area adds its tables with :meth:`Database.add_schema` (idempotent DDL, once per name) and uses
:meth:`Database.query`, :meth:`Database.query_one`, :meth:`Database.execute` and the small key/value
table (:meth:`Database.get_value` / :meth:`Database.set_value`). :class:`~naikit.sandbox.store.Store`
builds the account area on it.

A file-backed database is private: its folder is created 0700, the database and its WAL/SHM files are
0600; signing secrets live beside it in 0600 files (:meth:`Database.private_secret`), never in it.

One connection is shared by the server thread and the caller's thread; a re-entrant lock serialises them.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from .._atomic import write_atomic

__all__ = ["Database", "DB_FILENAME"]

DB_FILENAME = "sandbox.sqlite3"

_KV_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

_D = TypeVar("_D", bound="Database")


class Database:
    """The sandbox's SQLite database (see the module docstring). Use :meth:`open` to create one."""

    def __init__(self, path: str | os.PathLike[str] = ":memory:"):
        self.path = str(path)
        self._lock = threading.RLock()
        if self.path != ":memory:":
            _create_private(Path(self.path))
        # isolation_level=None: no implicit transactions; transaction() issues BEGIN IMMEDIATE itself.
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
            # WAL + NORMAL keeps every committed transaction across a process crash (not a power cut).
            self._conn.execute("PRAGMA synchronous = NORMAL")
            # SQLite gives the -wal and -shm files the database's mode; tighten any left by an older version
            for suffix in ("-wal", "-shm"):
                if os.path.exists(self.path + suffix):
                    os.chmod(self.path + suffix, 0o600)
        self._schemas: set[str] = set()
        self._private: dict[str, bytes] = {}
        self.add_schema("kv", _KV_SCHEMA)

    @classmethod
    def open(cls: type[_D], data_dir: str | os.PathLike[str] | None = None) -> _D:
        """Return a database in memory (``data_dir=None``) or in ``<data_dir>/sandbox.sqlite3`` (dir
        created)."""
        if data_dir is None:
            return cls(":memory:")
        folder = Path(data_dir).expanduser()
        # private: the folder holds the accounts and the JWT signing secret (an existing folder is left as
        # the user made it; the files in it are private either way)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return cls(folder / DB_FILENAME)

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else "open"
        return f"{type(self).__name__}({self.path!r}, {state})"

    @property
    def closed(self) -> bool:
        """Return True once :meth:`close` has run."""
        return self._conn is None

    def close(self) -> None:
        """Close the database (idempotent); returns None."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the sandbox store is closed")
        return self._conn

    def add_schema(self, name: str, ddl: str) -> bool:
        """Create an area's tables once (``CREATE TABLE IF NOT EXISTS …``); return True if it ran now."""
        with self._lock:
            if name in self._schemas:
                return False
            with self.transaction() as conn:
                for statement in _statements(ddl):
                    conn.execute(statement)
            self._schemas.add(name)
            return True

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Yield the connection inside ``BEGIN IMMEDIATE``; commit on success, roll back on any exception.

        Nested use joins the outer transaction (SQLite has no nested BEGIN).
        """
        with self._lock:
            conn = self._connection()
            if conn.in_transaction:
                yield conn
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Return every row of a read query."""
        with self._lock:
            return self._connection().execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        """Return the first row of a read query, or None."""
        with self._lock:
            return self._connection().execute(sql, params).fetchone()

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """Run one write statement atomically; return the number of rows it changed."""
        with self.transaction() as conn:
            return conn.execute(sql, params).rowcount

    def get_value(self, key: str) -> str | None:
        """Return the value stored under ``key`` in the key/value table, or None."""
        row = self.query_one("SELECT value FROM kv WHERE key = ?", (key,))
        return None if row is None else row["value"]

    def set_value(self, key: str, value: str) -> None:
        """Store ``value`` under ``key`` (replacing any); returns None."""
        self.execute(
            "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?",
            (key, value, value),
        )

    def private_secret(self, name: str) -> bytes:
        """Return a 32-byte secret kept out of the database: drawn once per store in memory, else read from
        (or first written to) ``<data_dir>/<name>``, a 0600 file beside the database."""
        with self._lock:
            if name in self._private:
                return self._private[name]
            secret = (
                secrets.token_bytes(32) if self.path == ":memory:" else _secret_file(Path(self.path), name)
            )
            self._private[name] = secret
            return secret

    def get_or_create_value(self, key: str, factory: Callable[[], object]) -> str:
        """Return the value under ``key``, storing ``factory()`` first if there is none (atomically)."""
        with self.transaction() as conn:
            row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return row["value"]
            value = str(factory())
            conn.execute("INSERT INTO kv (key, value) VALUES (?, ?)", (key, value))
            return value


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (0600), or make an existing one so."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        os.chmod(path, 0o600)


def _secret_file(db: Path, name: str) -> bytes:
    path = db.with_name(name)
    if not path.exists():
        # written whole (a private 0600 temporary file) and linked in without replacing: a second process
        # opening the same folder at the same moment either reads our complete file or links its own
        # first and we read that
        try:
            write_atomic(path, secrets.token_hex(32), overwrite=False)
        except FileExistsError:
            pass
    os.chmod(path, 0o600)
    try:
        secret = bytes.fromhex(path.read_text("ascii").strip())
    except (ValueError, UnicodeDecodeError):
        secret = b""
    if len(secret) < 32:
        raise RuntimeError(f"{path} does not hold a secret (64 hex digits); delete it to have a new one made")
    return secret


def _statements(script: str) -> Iterator[str]:
    # complete_statement() knows about BEGIN…END in triggers, unlike a split on ';'
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                yield buf
            buf = ""
    if buf.strip():
        yield buf
