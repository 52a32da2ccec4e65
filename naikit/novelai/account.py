"""Typed results of NovelAI's account API, each convertible to a pandas DataFrame.

Every record keeps the server's JSON in ``raw`` (nothing the API sends is dropped) and shows itself in
a notebook as a small table. pandas is imported only when a frame is asked for.
"""

from __future__ import annotations

import datetime as _dt
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .._decode import finite

__all__ = [
    "TIERS",
    "OBJECT_TYPES",
    "AccountInformation",
    "Priority",
    "Subscription",
    "UserObject",
    "ObjectList",
    "UserAccountData",
]

TIERS = {0: "Paper", 1: "Tablet", 2: "Scroll", 3: "Opus"}
OBJECT_TYPES = ("stories", "storycontent", "presets", "aimodules", "shelf")
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_object_id(object_id: Any, field: str = "object_id") -> str:
    """Return ``object_id`` if it is an object id (1-64 of A-Z a-z 0-9 - _); else raise InputError."""
    from ..errors import InputError

    if not isinstance(object_id, str) or not _ID_RE.match(object_id):
        raise InputError(field, object_id, "an object id: 1-64 characters of A-Z a-z 0-9 - _")
    return object_id


def _ts(seconds: float | int | None) -> _dt.datetime | None:
    """Return an aware UTC datetime for unix seconds (None stays None)."""
    value = finite(seconds)
    if value is None:
        return None
    # Some NovelAI timestamps are in milliseconds (inner story data); top-level ones are seconds.
    if value > 10**11:
        value = value / 1000
    try:
        return _dt.datetime.fromtimestamp(value, tz=_dt.timezone.utc)
    except (OverflowError, OSError, ValueError):  # beyond the years a datetime holds: not a date
        return None


class _Record:
    """Mixin: ``rows()`` gives (field, value) pairs; the frame and the HTML are built from them."""

    def rows(self) -> list[tuple[str, Any]]:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_frame(self):
        """Return a two-column DataFrame (field, value), one row per field."""
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=["field", "value"]).set_index("field")

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in self.rows()
        )
        return f"<table class='naikit-record'><caption>{type(self).__name__}</caption>{cells}</table>"


@dataclass(frozen=True, repr=False)
class AccountInformation(_Record):
    """``GET /user/information``: verification and trial state, creation date."""

    email_verified: bool
    email_verification_letter_sent: bool
    trial_activated: bool
    trial_actions_left: int
    created_at: _dt.datetime | None
    raw: dict = field(compare=False)

    @classmethod
    def from_json(cls, d: dict) -> AccountInformation:
        """Return the record for a response body (already shape-checked or trusted)."""
        return cls(
            email_verified=bool(d.get("emailVerified")),
            email_verification_letter_sent=bool(d.get("emailVerificationLetterSent")),
            trial_activated=bool(d.get("trialActivated")),
            trial_actions_left=int(d.get("trialActionsLeft") or 0),
            created_at=_ts(d.get("accountCreatedAt")),
            raw=d,
        )

    def rows(self) -> list[tuple[str, Any]]:
        """Return (field, value) pairs in display order."""
        return [
            ("email_verified", self.email_verified),
            ("email_verification_letter_sent", self.email_verification_letter_sent),
            ("trial_activated", self.trial_activated),
            ("trial_actions_left", self.trial_actions_left),
            ("created_at", self.created_at),
        ]

    def __repr__(self) -> str:
        return (
            f"AccountInformation(email_verified={self.email_verified}, "
            f"trial_activated={self.trial_activated}, created_at={self.created_at:%Y-%m-%d})"
            if self.created_at
            else f"AccountInformation(email_verified={self.email_verified})"
        )


@dataclass(frozen=True, repr=False)
class Priority(_Record):
    """``GET /user/priority``: the legacy priority-action system."""

    max_priority_actions: float
    next_refill_at: _dt.datetime | None
    task_priority: float
    raw: dict = field(compare=False)

    @classmethod
    def from_json(cls, d: dict) -> Priority:
        """Return the record for a response body."""
        return cls(
            max_priority_actions=d.get("maxPriorityActions", 0),
            next_refill_at=_ts(d.get("nextRefillAt")),
            task_priority=d.get("taskPriority", 0),
            raw=d,
        )

    def rows(self) -> list[tuple[str, Any]]:
        """Return (field, value) pairs in display order."""
        return [
            ("max_priority_actions", self.max_priority_actions),
            ("next_refill_at", self.next_refill_at),
            ("task_priority", self.task_priority),
        ]

    def __repr__(self) -> str:
        return (
            f"Priority(max_priority_actions={self.max_priority_actions}, task_priority={self.task_priority})"
        )


@dataclass(frozen=True, repr=False)
class Subscription(_Record):
    """``GET /user/subscription``: tier, expiry, perks and the Anlas balance.

    ``anlas`` is the sum of fixed and purchased training steps, which is what the website shows.
    """

    tier: int
    active: bool
    expires_at: _dt.datetime | None
    perks: dict
    fixed_training_steps_left: int
    purchased_training_steps: int
    raw: dict = field(compare=False)

    @classmethod
    def from_json(cls, d: dict) -> Subscription:
        """Return the record for a response body."""
        steps = d.get("trainingStepsLeft") or {}
        return cls(
            tier=int(d.get("tier", 0)),
            active=bool(d.get("active")),
            expires_at=_ts(d.get("expiresAt")) if d.get("expiresAt") else None,
            perks=dict(d.get("perks") or {}),
            fixed_training_steps_left=int(steps.get("fixedTrainingStepsLeft", 0)),
            purchased_training_steps=int(steps.get("purchasedTrainingSteps", 0)),
            raw=d,
        )

    @property
    def tier_name(self) -> str:
        """Return the tier's name: Paper, Tablet, Scroll or Opus."""
        return TIERS.get(self.tier, f"tier {self.tier}")

    @property
    def anlas(self) -> int:
        """Return the Anlas balance (fixed + purchased training steps)."""
        return self.fixed_training_steps_left + self.purchased_training_steps

    @property
    def context_tokens(self) -> int | None:
        """Return the context size (tokens) the tier grants, if the server says."""
        v = self.perks.get("contextTokens")
        return int(v) if v is not None else None

    def rows(self) -> list[tuple[str, Any]]:
        """Return (field, value) pairs: the tier, expiry, Anlas, then every perk as ``perks.<name>``."""
        out: list[tuple[str, Any]] = [
            ("tier", f"{self.tier} ({self.tier_name})"),
            ("active", self.active),
            ("expires_at", self.expires_at),
            ("anlas", self.anlas),
            ("fixed_training_steps_left", self.fixed_training_steps_left),
            ("purchased_training_steps", self.purchased_training_steps),
        ]
        for k, v in self.perks.items():
            out.append((f"perks.{k}", v))
        return out

    def __repr__(self) -> str:
        return f"Subscription(tier={self.tier} {self.tier_name}, active={self.active}, anlas={self.anlas})"


@dataclass(frozen=True, repr=False)
class UserObject(_Record):
    """One stored object (``UserData``): id, type, meta, the still-encoded ``data``, version info."""

    id: str
    type: str
    meta: str
    data: str
    last_updated_at: _dt.datetime | None
    change_index: int
    raw: dict = field(compare=False)

    @classmethod
    def from_json(cls, d: dict) -> UserObject:
        """Return the record for one UserData body."""
        return cls(
            id=str(d.get("id", "")),
            type=str(d.get("type", "")),
            meta=str(d.get("meta", "")),
            data=d.get("data", ""),
            last_updated_at=_ts(d.get("lastUpdatedAt")),
            change_index=int(finite(d.get("changeIndex")) or 0),
            raw=d,
        )

    def row(self) -> dict[str, Any]:
        """Return this object as one table row (the data as its length, not its content)."""
        return {
            "id": self.id,
            "type": self.type,
            "meta": self.meta,
            "change_index": self.change_index,
            "last_updated_at": self.last_updated_at,
            "data_chars": len(self.data),
        }

    def rows(self) -> list[tuple[str, Any]]:
        """Return (field, value) pairs of :meth:`row`."""
        return list(self.row().items())

    def __repr__(self) -> str:
        return (
            f"UserObject(type={self.type!r}, id={self.id!r}, meta={self.meta!r}, "
            f"change_index={self.change_index}, data=<{len(self.data)} chars>)"
        )


@dataclass(frozen=True, repr=False)
class ObjectList:
    """The objects of one type (``GET /user/objects/{type}``), iterable, as a DataFrame on request."""

    type: str
    objects: tuple[UserObject, ...]

    def __iter__(self) -> Iterator[UserObject]:
        return iter(self.objects)

    def __len__(self) -> int:
        return len(self.objects)

    def __getitem__(self, i: int) -> UserObject:
        return self.objects[i]

    def to_frame(self):
        """Return a DataFrame with one row per object (id, type, meta, change_index, last_updated_at,
        data_chars), in the server's order."""
        import pandas as pd

        cols = ["id", "type", "meta", "change_index", "last_updated_at", "data_chars"]
        return pd.DataFrame([o.row() for o in self.objects], columns=cols)

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False)

    def __repr__(self) -> str:
        return f"ObjectList(type={self.type!r}, {len(self.objects)} objects)"


@dataclass(frozen=True, repr=False)
class UserAccountData:
    """``GET /user/data``: everything about the account in one answer."""

    information: AccountInformation
    priority: Priority
    subscription: Subscription
    keystore: str | None
    settings: Any
    raw: dict = field(compare=False)

    @classmethod
    def from_json(cls, d: dict) -> UserAccountData:
        """Return the record for a response body."""
        ks = d.get("keystore")
        if isinstance(ks, dict):
            ks = ks.get("keystore")
        return cls(
            information=AccountInformation.from_json(d.get("information") or {}),
            priority=Priority.from_json(d.get("priority") or {}),
            subscription=Subscription.from_json(d.get("subscription") or {}),
            keystore=ks,
            settings=d.get("settings"),
            raw=d,
        )

    def to_frame(self):
        """Return a DataFrame (section, field, value) joining information, priority and subscription."""
        import pandas as pd

        rows = []
        for section, rec in (
            ("information", self.information),
            ("priority", self.priority),
            ("subscription", self.subscription),
        ):
            rows += [(section, k, v) for k, v in rec.rows()]
        rows.append(("keystore", "present", self.keystore is not None))
        return pd.DataFrame(rows, columns=["section", "field", "value"])

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False)

    def __repr__(self) -> str:
        return f"UserAccountData({self.subscription!r}, keystore={'present' if self.keystore else 'none'})"
