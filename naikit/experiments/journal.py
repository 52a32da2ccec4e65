"""The experiment journal: one SQLite file (WAL) holding every planned request and its result.

Tables::

    requests(key PRIMARY KEY, kind, body, state, estimate, cost, pid, run_id, spent_by,
             started, finished, elapsed, result, error, attempts)
    plan(experiment, idx, key, axes)       -- which requests an experiment is made of, in order

``key`` is the sha256 of the canonical JSON of the full request, so two experiments in one folder share
their results: a key already ``done`` is never requested again. ``state`` is one of ``planned``,
``in_flight``, ``done``, ``failed``. Each change is one autocommitted statement, so a process killed at
any moment leaves the journal consistent: at worst a row stays ``in_flight`` (an *orphan*: the request
may have been spent without its result being recorded).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable
from typing import Any

from ..errors import InputError, NaikitError

__all__ = ["Journal", "JournalError", "request_key", "canonical_json", "STATES"]

STATES = ("planned", "in_flight", "done", "failed")
FILENAME = "journal.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests(
  key TEXT PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'planned',
  estimate INTEGER NOT NULL DEFAULT 0, cost INTEGER NOT NULL DEFAULT 0, pid INTEGER, run_id TEXT,
  spent_by TEXT, started REAL, finished REAL, elapsed REAL, result TEXT, row TEXT, error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS requests_state ON requests(state);
CREATE TABLE IF NOT EXISTS plan(
  experiment TEXT NOT NULL, idx INTEGER NOT NULL, key TEXT NOT NULL, rid INTEGER NOT NULL,
  axes TEXT NOT NULL, PRIMARY KEY(experiment, idx));
CREATE INDEX IF NOT EXISTS plan_key ON plan(key);
"""


class JournalError(NaikitError):
    """The folder's journal.sqlite3 cannot be read as an experiment journal."""


def canonical_json(value: Any) -> str:
    """Return ``value`` as canonical JSON: sorted keys, no spaces, UTF-8 kept (the text that is hashed)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def request_key(body: Any) -> str:
    """Return the sha256 hex digest of the canonical JSON of a full request ``body``."""
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


class Journal:
    """The SQLite journal of one experiment folder (``None``: a private in-memory journal)."""

    def __init__(self, folder: str | os.PathLike[str] | None):
        self.folder = None if folder is None else os.fspath(folder)
        if self.folder is not None:
            os.makedirs(self.folder, exist_ok=True)
            path = os.path.join(self.folder, FILENAME)
        else:
            path = ":memory:"
        # autocommit: every state change is durable on its own; one lock because the run loop may live on
        # a background thread while the notebook thread reads the frame
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._lock = threading.RLock()
        try:
            with self._lock:
                if self.folder is not None:
                    self._db.execute("PRAGMA journal_mode=WAL")
                    self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise JournalError(
                f"{path} is not a naikit experiment journal ({exc}); use another folder"
            ) from exc

    def close(self) -> None:
        """Close the database; returns None."""
        with self._lock:
            self._db.close()

    def _q(self, sql: str, args: Iterable[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    # -- planning ---------------------------------------------------------------------------------
    def register(self, experiment: str, cells: list[tuple[str, str, Any, dict[str, Any]]]) -> None:
        """Record an experiment's plan: ``(key, kind, body, axes)`` per cell, in order; returns None.

        A key already known keeps its state and result (that is the cache)."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute("DELETE FROM plan WHERE experiment=?", (experiment,))
                self._db.executemany(
                    "INSERT OR IGNORE INTO requests(key, kind, body) VALUES(?,?,?)",
                    [(k, kind, canonical_json(body)) for k, kind, body, _ in cells],
                )
                # rid: the request's rowid, so the joins of a large journal are integer lookups
                self._db.executemany(
                    "INSERT INTO plan(experiment, idx, key, rid, axes) "
                    "VALUES(?,?,?,(SELECT rowid FROM requests WHERE key=?),?)",
                    [(experiment, i, k, k, canonical_json(axes)) for i, (k, _, _, axes) in enumerate(cells)],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # -- state changes ----------------------------------------------------------------------------
    def claim(self, key: str, run_id: str, estimate: int, now: float, *, orphan: bool = False) -> bool:
        """Mark ``key`` in flight for this process and run (written before the request is sent); return
        False when another run claimed it first (two processes on one folder never send a key twice).
        ``orphan=True`` takes over a row left in flight by a run that is gone."""
        allowed = "('in_flight')" if orphan else "('planned','failed')"
        with self._lock:
            cur = self._db.execute(
                "UPDATE requests SET state='in_flight', pid=?, run_id=?, estimate=?, started=?, "
                f"attempts=attempts+1, error=NULL WHERE key=? AND state IN {allowed}",
                (os.getpid(), run_id, int(estimate), now, key),
            )
            return cur.rowcount == 1

    def finish(
        self,
        key: str,
        result: dict[str, Any],
        row: dict[str, Any],
        cost: int,
        experiment: str,
        now: float,
        elapsed: float,
    ) -> None:
        """Record the result of ``key`` (state ``done``) and its small frame ``row``; returns None."""
        self._q(
            "UPDATE requests SET state='done', result=?, row=?, cost=?, spent_by=?, finished=?, elapsed=? "
            "WHERE key=?",
            (canonical_json(result), canonical_json(row), int(cost), experiment, now, elapsed, key),
        )

    def fail(self, key: str, error: str, now: float) -> None:
        """Record that ``key`` failed (it is tried again on the next run); returns None."""
        self._q("UPDATE requests SET state='failed', error=?, finished=? WHERE key=?", (error, now, key))

    def release(self, key: str) -> None:
        """Put an in-flight key back to ``planned`` (its request was never sent); returns None."""
        self._q("UPDATE requests SET state='planned', pid=NULL, run_id=NULL WHERE key=?", (key,))

    # -- reading ----------------------------------------------------------------------------------
    def states(self, experiment: str) -> dict[str, int]:
        """Return how many of the experiment's distinct keys are in each state."""
        rows = self._q(
            "SELECT state, COUNT(*) FROM requests WHERE rowid IN "
            "(SELECT rid FROM plan WHERE experiment=?) GROUP BY state",
            (experiment,),
        )
        out = dict.fromkeys(STATES, 0)
        out.update(dict(rows))
        return out

    def state_of(self, keys: Iterable[str]) -> dict[str, str]:
        """Return ``{key: state}`` for the given keys."""
        keys = list(keys)
        out: dict[str, str] = {}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            marks = ",".join("?" * len(part))
            out.update(dict(self._q(f"SELECT key, state FROM requests WHERE key IN ({marks})", part)))
        return out

    def in_flight(self, experiment: str) -> list[dict[str, Any]]:
        """Return the experiment's rows in flight: key, pid, run_id, started, axes."""
        rows = self._q(
            "SELECT r.key, r.pid, r.run_id, r.started, MIN(p.axes) FROM plan p "
            "JOIN requests r ON r.rowid=p.rid WHERE p.experiment=? AND r.state='in_flight' GROUP BY r.key",
            (experiment,),
        )
        return [
            {"key": k, "pid": pid, "run_id": rid, "started": st, "axes": json.loads(ax)}
            for k, pid, rid, st, ax in rows
        ]

    def spent(self, experiment: str) -> int:
        """Return the Anlas this experiment's own requests cost (cache hits from others cost nothing)."""
        return int(
            self._q("SELECT COALESCE(SUM(cost),0) FROM requests WHERE spent_by=?", (experiment,))[0][0]
        )

    def results(
        self, experiment: str, where: str = "", args: Iterable[Any] = (), *, full: bool = False
    ) -> list[tuple]:
        """Return ``(idx, axes_json, state, row_json, cost, elapsed, error)`` per planned cell, in order
        (``row``: the small JSON the frame is made of; the whole stored result with ``full=True``).

        ``where`` is an extra SQL condition on ``p`` (plan) and ``r`` (requests),
        e.g. ``"r.state='done'"``."""
        sql = (
            f"SELECT p.idx, p.axes, r.state, r.{'result' if full else 'row'}, r.cost, r.elapsed, r.error "
            "FROM plan p JOIN requests r ON r.rowid=p.rid WHERE p.experiment=?"
        )
        if where:
            sql += f" AND ({where})"
        return self._q(sql + " ORDER BY p.idx", (experiment, *args))

    def frame_rows(self, experiment: str, where: str = "", args: Iterable[Any] = ()) -> list[list[Any]]:
        """Return ``[axes, row, cost, elapsed]`` per done cell, in plan order, decoded in one go (SQLite
        joins the JSON texts into one array, so a large journal costs one decode, not one per row)."""
        sql = (
            "SELECT '[' || COALESCE(group_concat(item, ','), '') || ']' FROM (SELECT '[' || p.axes || ',' "
            "|| r.row || ',' || r.cost || ',' || COALESCE(r.elapsed, 'null') || ']' AS item FROM plan p "
            "JOIN requests r ON r.rowid=p.rid WHERE p.experiment=? AND r.state='done'"
        )
        if where:
            sql += f" AND ({where})"
        try:
            text = self._q(sql + " ORDER BY p.idx)", (experiment, *args))[0][0]
            rows = json.loads(text)
        except (sqlite3.DatabaseError, ValueError) as exc:
            raise JournalError(f"the journal's results cannot be read ({exc})") from exc
        if not all(isinstance(r, list) and len(r) == 4 and isinstance(r[0], dict) for r in rows):
            raise JournalError("the journal's results cannot be read (rows of an unexpected shape)")
        if not all(isinstance(r[1], dict) for r in rows):
            raise JournalError("the journal's results cannot be read (rows of an unexpected shape)")
        return rows

    def first(self, experiment: str) -> tuple[str, str] | None:
        """Return ``(kind, axes_json)`` of the experiment's first cell, or None when it has none."""
        rows = self._q(
            "SELECT r.kind, p.axes FROM plan p JOIN requests r ON r.rowid=p.rid WHERE p.experiment=? "
            "ORDER BY p.idx LIMIT 1",
            (experiment,),
        )
        return rows[0] if rows else None

    def result(self, key: str) -> dict[str, Any] | None:
        """Return the full stored result of ``key`` (None until it is done)."""
        rows = self._q("SELECT result FROM requests WHERE key=? AND state='done'", (key,))
        return json.loads(rows[0][0]) if rows and rows[0][0] else None

    def experiments(self) -> list[str]:
        """Return the names of the experiments planned in this journal."""
        return [r[0] for r in self._q("SELECT DISTINCT experiment FROM plan ORDER BY experiment")]


def check_folder(folder: Any) -> str | None:
    """Return ``folder`` as a path string (None stays None) or raise InputError."""
    if folder is None:
        return None
    if not isinstance(folder, (str, os.PathLike)) or not os.fspath(folder):
        raise InputError("folder", folder, "a folder path (str or PathLike) or None for a temporary journal")
    return os.fspath(folder)
