"""The sandbox's account area in its SQLite database: accounts, access keys, persistent tokens, one-time mail
tokens, keystore, user objects, client settings, subscription and Anlas.

:class:`Store` is a :class:`~naikit.sandbox.database.Database` (connection, transactions, queries, the
key/value table and private secrets; later areas such as modules and Novita tasks add their tables with
``add_schema``) with the account area's tables and typed helpers on top.

Secrets are stored hashed (SHA-256): access keys, persistent tokens and mail tokens are looked up by
their hash, so the database file never holds a usable credential. The JWT signing secret is not in it at all
(see :mod:`.tokens` and :meth:`~naikit.sandbox.database.Database.private_secret`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any

from .database import Database

__all__ = [
    "Store",
    "Account",
    "UserObject",
    "StoreConflict",
    "StaleChangeIndex",
    "OBJECT_TYPES",
    "secret_hash",
]

OBJECT_TYPES = ("stories", "storycontent", "presets", "aimodules", "shelf")

_CORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    email_hash TEXT UNIQUE,
    created_at INTEGER NOT NULL,
    email_verified INTEGER NOT NULL DEFAULT 0,
    email_letter_sent INTEGER NOT NULL DEFAULT 0,
    trial_activated INTEGER NOT NULL DEFAULT 0,
    trial_actions_left INTEGER NOT NULL DEFAULT 100,
    trial_images_left INTEGER NOT NULL DEFAULT 50,
    tier INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL DEFAULT 0,
    fixed_training_steps INTEGER NOT NULL DEFAULT 0,
    purchased_training_steps INTEGER NOT NULL DEFAULT 0,
    account_type INTEGER NOT NULL DEFAULT 0,
    payment_processor_data TEXT,
    giftkey TEXT,
    keystore TEXT,
    keystore_change_index INTEGER NOT NULL DEFAULT 0,
    settings BLOB NOT NULL DEFAULT x'',
    auth_epoch INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS access_keys (
    key_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS persistent_tokens (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mail_tokens (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    meta TEXT NOT NULL,
    data TEXT NOT NULL,
    last_updated_at INTEGER NOT NULL,
    change_index INTEGER NOT NULL,
    UNIQUE (account_id, type, id)
);
"""


class StoreConflict(Exception):
    """A write would break a uniqueness rule (access key or email already used by another account)."""

    def __init__(self, what: str):
        self.what = what
        super().__init__(f"{what} already in use")


class StaleChangeIndex(Exception):
    """A write named a ``changeIndex`` that is not the stored one: another write came first."""

    def __init__(self, sent: int, stored: int):
        self.sent = sent
        self.stored = stored
        super().__init__(f"changeIndex {sent} is stale: the stored changeIndex is {stored}")


def secret_hash(value: str) -> str:
    """Return the hex SHA-256 of ``value``: how credentials are keyed in the store."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_object_id() -> str:
    """Return a 21-character object id: URL-safe base64 of random bytes, as NovelAI's web app makes them."""
    return base64.urlsafe_b64encode(os.urandom(21)).decode("ascii")[:21]


@dataclass(frozen=True)
class Account:
    """One row of ``accounts``; booleans and JSON already decoded."""

    id: str
    email_hash: str | None
    created_at: int
    email_verified: bool
    email_letter_sent: bool
    trial_activated: bool
    trial_actions_left: int
    trial_images_left: int
    tier: int
    active: bool
    expires_at: int
    fixed_training_steps: int
    purchased_training_steps: int
    account_type: int
    payment_processor_data: dict | None
    giftkey: str | None
    keystore: str | None
    keystore_change_index: int
    settings: bytes
    # +1 on every access-key change and recovery: login tokens signed for an older epoch are refused
    auth_epoch: int = 0

    @property
    def anlas(self) -> int:
        """Return the Anlas balance: fixed plus purchased training steps."""
        return self.fixed_training_steps + self.purchased_training_steps

    def __repr__(self) -> str:
        # keystore and settings can be large; the id and plan are what matter when debugging
        return f"Account(id={self.id!r}, tier={self.tier}, active={self.active}, anlas={self.anlas})"


_BOOL_COLUMNS = {"email_verified", "email_letter_sent", "trial_activated", "active"}
_ACCOUNT_COLUMNS = tuple(f.name for f in fields(Account))
_UPDATABLE = set(_ACCOUNT_COLUMNS) - {"id", "created_at"}


def _account_from_row(row: sqlite3.Row) -> Account:
    values: dict[str, Any] = {}
    for name in _ACCOUNT_COLUMNS:
        v = row[name]
        if name in _BOOL_COLUMNS:
            v = bool(v)
        elif name == "payment_processor_data":
            v = None if v is None else json.loads(v)
        elif name == "settings":
            v = bytes(v)
        values[name] = v
    return Account(**values)


@dataclass(frozen=True)
class UserObject:
    """One user object (story, storycontent, preset, aimodule, shelf)."""

    id: str
    type: str
    meta: str
    data: str
    last_updated_at: int
    change_index: int

    def to_json(self) -> dict[str, Any]:
        """Return the UserData JSON shape NovelAI answers with."""
        return {
            "id": self.id,
            "type": self.type,
            "meta": self.meta,
            "data": self.data,
            "lastUpdatedAt": self.last_updated_at,
            "changeIndex": self.change_index,
        }


def _object_from_row(row: sqlite3.Row) -> UserObject:
    return UserObject(
        id=row["id"],
        type=row["type"],
        meta=row["meta"],
        data=row["data"],
        last_updated_at=row["last_updated_at"],
        change_index=row["change_index"],
    )


class Store(Database):
    """The sandbox's storage: its database with the account area (see the module docstring). Use
    :meth:`open` to create one."""

    def __init__(self, path: str | os.PathLike[str] = ":memory:"):
        super().__init__(path)
        self.add_schema("core", _CORE_SCHEMA)
        columns = {row["name"] for row in self.query("PRAGMA table_info(accounts)")}
        if "auth_epoch" not in columns:  # a store written before tokens could be revoked
            self.execute("ALTER TABLE accounts ADD COLUMN auth_epoch INTEGER NOT NULL DEFAULT 0")
        # signing secrets older versions kept in the database (see private_secret)
        self.execute("DELETE FROM kv WHERE key IN ('jwt_secret', 'novita_s3_secret')")

    # ------------------------------------------------------------------ accounts

    def create_account(
        self,
        access_keys: Sequence[str],
        *,
        created_at: int,
        email_hash: str | None = None,
        **columns: Any,
    ) -> Account:
        """Create an account reachable by each of ``access_keys``; return it.

        ``columns`` sets any other column of :class:`Account` (tier, active, expires_at, …). Raises
        :class:`StoreConflict` if a key or the email hash is already used.
        """
        unknown = set(columns) - _UPDATABLE
        if unknown:
            raise TypeError(f"unknown account columns: {sorted(unknown)}")
        account_id = secrets.token_hex(12)
        values = {"id": account_id, "email_hash": email_hash, "created_at": int(created_at)}
        values.update(_encode_columns(columns))
        with self.transaction() as conn:
            if (
                email_hash is not None
                and conn.execute("SELECT 1 FROM accounts WHERE email_hash = ?", (email_hash,)).fetchone()
            ):
                raise StoreConflict("email")
            names = ", ".join(values)
            marks = ", ".join("?" for _ in values)
            conn.execute(f"INSERT INTO accounts ({names}) VALUES ({marks})", tuple(values.values()))
            self._add_keys(conn, account_id, access_keys)
        account = self.account_by_id(account_id)
        assert account is not None
        return account

    def _add_keys(self, conn: sqlite3.Connection, account_id: str, access_keys: Sequence[str]) -> None:
        for key_hash in dict.fromkeys(secret_hash(k) for k in access_keys):
            owner = conn.execute(
                "SELECT account_id FROM access_keys WHERE key_hash = ?", (key_hash,)
            ).fetchone()
            if owner is not None and owner["account_id"] != account_id:
                raise StoreConflict("access key")
            conn.execute(
                "INSERT OR IGNORE INTO access_keys (key_hash, account_id) VALUES (?, ?)",
                (key_hash, account_id),
            )

    def account_by_id(self, account_id: str) -> Account | None:
        """Return the account with this id, or None."""
        row = self.query_one("SELECT * FROM accounts WHERE id = ?", (account_id,))
        return None if row is None else _account_from_row(row)

    def account_by_key(self, access_key: str) -> Account | None:
        """Return the account this access key logs into, or None."""
        row = self.query_one(
            "SELECT a.* FROM accounts a JOIN access_keys k ON k.account_id = a.id WHERE k.key_hash = ?",
            (secret_hash(access_key),),
        )
        return None if row is None else _account_from_row(row)

    def account_by_email_hash(self, email_hash: str) -> Account | None:
        """Return the account registered with this hashed email (hex SHA-256), or None."""
        row = self.query_one("SELECT * FROM accounts WHERE email_hash = ?", (email_hash,))
        return None if row is None else _account_from_row(row)

    def key_exists(self, access_key: str) -> bool:
        """Return True if some account logs in with this access key."""
        return (
            self.query_one("SELECT 1 FROM access_keys WHERE key_hash = ?", (secret_hash(access_key),))
            is not None
        )

    def update_account(self, account_id: str, **columns: Any) -> Account:
        """Set columns of an account (tier, active, settings, keystore, …); return the updated account.

        Raises KeyError if the account does not exist.
        """
        unknown = set(columns) - _UPDATABLE
        if unknown:
            raise TypeError(f"unknown account columns: {sorted(unknown)}")
        encoded = _encode_columns(columns)
        with self.transaction() as conn:
            if encoded:
                assignments = ", ".join(f"{name} = ?" for name in encoded)
                changed = conn.execute(
                    f"UPDATE accounts SET {assignments} WHERE id = ?", (*encoded.values(), account_id)
                ).rowcount
            else:
                changed = len(conn.execute("SELECT 1 FROM accounts WHERE id = ?", (account_id,)).fetchall())
            if not changed:
                raise KeyError(account_id)
        account = self.account_by_id(account_id)
        assert account is not None
        return account

    def adjust_anlas(self, account_id: str, delta: int) -> Account:
        """Add ``delta`` Anlas (negative spends: fixed steps first, then purchased); return the account.

        Raises ValueError if the balance would go below zero (nothing is changed then).
        """
        with self.transaction():
            account = self.account_by_id(account_id)
            if account is None:
                raise KeyError(account_id)
            fixed, purchased = account.fixed_training_steps, account.purchased_training_steps
            if delta >= 0:
                purchased += delta
            else:
                cost = -delta
                if cost > fixed + purchased:
                    raise ValueError(f"not enough Anlas: {fixed + purchased} left, {cost} needed")
                from_fixed = min(fixed, cost)
                fixed -= from_fixed
                purchased -= cost - from_fixed
            return self.update_account(
                account_id, fixed_training_steps=fixed, purchased_training_steps=purchased
            )

    def replace_access_keys(self, account_id: str, access_keys: Sequence[str]) -> None:
        """Make ``access_keys`` the only keys of the account (change-access-key, recovery); returns None.

        Raises :class:`StoreConflict` if another account uses one of them.
        """
        with self.transaction() as conn:
            conn.execute("DELETE FROM access_keys WHERE account_id = ?", (account_id,))
            self._add_keys(conn, account_id, access_keys)

    def set_email_hash(self, account_id: str, email_hash: str) -> None:
        """Change the hashed email of an account; raises :class:`StoreConflict` if another account has it."""
        with self.transaction() as conn:
            other = conn.execute(
                "SELECT id FROM accounts WHERE email_hash = ? AND id != ?", (email_hash, account_id)
            ).fetchone()
            if other is not None:
                raise StoreConflict("email")
            conn.execute("UPDATE accounts SET email_hash = ? WHERE id = ?", (email_hash, account_id))

    def revoke_tokens(self, account_id: str, *, persistent: bool = False) -> None:
        """Make every login token issued so far for the account invalid (and, with ``persistent``, delete
        its persistent tokens); returns None."""
        with self.transaction() as conn:
            conn.execute("UPDATE accounts SET auth_epoch = auth_epoch + 1 WHERE id = ?", (account_id,))
            if persistent:
                conn.execute("DELETE FROM persistent_tokens WHERE account_id = ?", (account_id,))

    def delete_account(self, account_id: str) -> bool:
        """Delete an account with its keys, tokens and objects; return True if it existed."""
        # ON DELETE CASCADE removes keys, tokens and objects in the same statement.
        return self.execute("DELETE FROM accounts WHERE id = ?", (account_id,)) > 0

    # ------------------------------------------------------------------ tokens

    def add_persistent_token(self, account_id: str, token: str, *, created_at: int) -> None:
        """Remember a persistent (``pst-``) token for the account (stored hashed); returns None."""
        self.execute(
            "INSERT INTO persistent_tokens (token_hash, account_id, created_at) VALUES (?, ?, ?)",
            (secret_hash(token), account_id, int(created_at)),
        )

    def account_for_persistent_token(self, token: str) -> Account | None:
        """Return the account a persistent token belongs to, or None."""
        row = self.query_one(
            "SELECT a.* FROM accounts a JOIN persistent_tokens t ON t.account_id = a.id "
            "WHERE t.token_hash = ?",
            (secret_hash(token),),
        )
        return None if row is None else _account_from_row(row)

    def add_mail_token(self, account_id: str, kind: str, token: str, *, expires_at: int) -> None:
        """Remember a one-time token sent by "mail" (email verification, recovery); returns None."""
        self.execute(
            "INSERT INTO mail_tokens (token_hash, account_id, kind, expires_at) VALUES (?, ?, ?, ?)",
            (secret_hash(token), account_id, kind, int(expires_at)),
        )

    def use_mail_token(self, kind: str, token: str, *, now: float) -> str | None:
        """Consume a one-time token of ``kind``; return its account id, or None if unknown or expired."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT account_id, expires_at FROM mail_tokens WHERE token_hash = ? AND kind = ?",
                (secret_hash(token), kind),
            ).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM mail_tokens WHERE token_hash = ?", (secret_hash(token),))
            return row["account_id"] if row["expires_at"] > now else None

    # ------------------------------------------------------------------ keystore and settings

    def get_keystore(self, account_id: str) -> str | None:
        """Return the account's keystore (base64 text) or None if it never set one."""
        row = self.query_one("SELECT keystore FROM accounts WHERE id = ?", (account_id,))
        if row is None:
            raise KeyError(account_id)
        return row["keystore"]

    def set_keystore(self, account_id: str, keystore: str | None, *, expect: int | None = None) -> int:
        """Replace the keystore; return its new change index (+1 per write).

        ``expect``: the change index the writer last read; the write happens only if it is still the stored
        one (compare-and-swap in one transaction), else :class:`StaleChangeIndex` and nothing changes.
        """
        with self.transaction() as conn:
            changed = conn.execute(
                "UPDATE accounts SET keystore = ?, keystore_change_index = keystore_change_index + 1 "
                "WHERE id = ? AND (? IS NULL OR keystore_change_index = ?)",
                (keystore, account_id, expect, expect),
            ).rowcount
            if not changed:
                row = conn.execute(
                    "SELECT keystore_change_index FROM accounts WHERE id = ?", (account_id,)
                ).fetchone()
                if row is None:
                    raise KeyError(account_id)
                raise StaleChangeIndex(int(expect), int(row[0]))  # type: ignore[arg-type]
            return conn.execute(
                "SELECT keystore_change_index FROM accounts WHERE id = ?", (account_id,)
            ).fetchone()[0]

    def get_settings(self, account_id: str) -> bytes:
        """Return the client settings exactly as last stored (empty if never set)."""
        row = self.query_one("SELECT settings FROM accounts WHERE id = ?", (account_id,))
        if row is None:
            raise KeyError(account_id)
        return bytes(row["settings"])

    def set_settings(self, account_id: str, raw: bytes) -> None:
        """Store the client settings as raw bytes; returns None."""
        self.update_account(account_id, settings=bytes(raw))

    # ------------------------------------------------------------------ objects

    def list_objects(self, account_id: str, type_: str) -> list[UserObject]:
        """Return the account's objects of one type, oldest first (all in memory: see iter_objects)."""
        return list(self.iter_objects(account_id, type_))

    def iter_objects(self, account_id: str, type_: str) -> Iterator[UserObject]:
        """Yield the account's objects of one type, oldest first, reading one at a time.

        A listing of large objects then holds one of them in memory, not all. An object deleted while the
        iteration runs is skipped.
        """
        seqs = [
            r["seq"]
            for r in self.query(
                "SELECT seq FROM objects WHERE account_id = ? AND type = ? ORDER BY seq", (account_id, type_)
            )
        ]
        for seq in seqs:
            row = self.query_one("SELECT * FROM objects WHERE seq = ?", (seq,))
            if row is not None:
                yield _object_from_row(row)

    def get_object(self, account_id: str, type_: str, object_id: str) -> UserObject | None:
        """Return one object, or None if this account has no such object of this type."""
        row = self.query_one(
            "SELECT * FROM objects WHERE account_id = ? AND type = ? AND id = ?",
            (account_id, type_, object_id),
        )
        return None if row is None else _object_from_row(row)

    def create_object(self, account_id: str, type_: str, meta: str, data: str, *, now: int) -> UserObject:
        """Create an object with a fresh id and change index 1; return it."""
        with self.transaction() as conn:
            while True:
                object_id = new_object_id()
                try:
                    conn.execute(
                        "INSERT INTO objects "
                        "(account_id, type, id, meta, data, last_updated_at, change_index) "
                        "VALUES (?, ?, ?, ?, ?, ?, 1)",
                        (account_id, type_, object_id, meta, data, int(now)),
                    )
                    break
                except sqlite3.IntegrityError:
                    # 126 random bits collided; draw again rather than fail the request
                    continue
        # built from what was written rather than read back: no second copy of a large object
        return UserObject(
            id=object_id, type=type_, meta=meta, data=data, last_updated_at=int(now), change_index=1
        )

    def update_object(
        self,
        account_id: str,
        type_: str,
        object_id: str,
        *,
        now: int,
        meta: str | None = None,
        data: str | None = None,
        expect: int | None = None,
    ) -> UserObject | None:
        """Change meta and/or data, bump ``changeIndex`` and ``lastUpdatedAt``; return the object or None.

        ``expect``: the change index the writer last read; the write happens only if it is still the stored
        one (compare-and-swap in one transaction), else :class:`StaleChangeIndex` and nothing changes.
        """
        with self.transaction() as conn:
            changed = conn.execute(
                "UPDATE objects SET meta = COALESCE(?, meta), data = COALESCE(?, data), last_updated_at = ?, "
                "change_index = change_index + 1 WHERE account_id = ? AND type = ? AND id = ? "
                "AND (? IS NULL OR change_index = ?)",
                (meta, data, int(now), account_id, type_, object_id, expect, expect),
            ).rowcount
            if not changed:
                row = conn.execute(
                    "SELECT change_index FROM objects WHERE account_id = ? AND type = ? AND id = ?",
                    (account_id, type_, object_id),
                ).fetchone()
                if row is None:
                    return None
                raise StaleChangeIndex(int(expect), int(row[0]))  # type: ignore[arg-type]
            return self.get_object(account_id, type_, object_id)

    def delete_object(self, account_id: str, type_: str, object_id: str) -> UserObject | None:
        """Delete one object; return it as it was, or None if it did not exist."""
        with self.transaction() as conn:
            obj = self.get_object(account_id, type_, object_id)
            if obj is not None:
                conn.execute(
                    "DELETE FROM objects WHERE account_id = ? AND type = ? AND id = ?",
                    (account_id, type_, object_id),
                )
            return obj

    def delete_content(self, account_id: str) -> int:
        """Delete all objects and the keystore of an account (deleteContent); return how many objects."""
        with self.transaction() as conn:
            n = conn.execute("DELETE FROM objects WHERE account_id = ?", (account_id,)).rowcount
            conn.execute(
                "UPDATE accounts SET keystore = NULL, keystore_change_index = keystore_change_index + 1 "
                "WHERE id = ?",
                (account_id,),
            )
            return n


def _encode_columns(columns: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in columns.items():
        if name in _BOOL_COLUMNS:
            value = int(bool(value))
        elif name == "payment_processor_data":
            value = None if value is None else json.dumps(value, separators=(",", ":"))
        elif name == "settings":
            value = bytes(value)
        out[name] = value
    return out
