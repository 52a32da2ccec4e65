"""Typed results of NovelAI's account API, each convertible to a pandas DataFrame.

Each record is declared once (:mod:`naikit._records`): its fields name their wire key and type, and
from that come the response shape the client checks (``Subscription.shape()``, also
``naikit.novelai.shapes.SUBSCRIPTION``), ``from_json`` and the display rows. Every record keeps the
server's JSON in ``raw`` (nothing the API sends is dropped) and shows itself in a notebook as a small
table. pandas is imported only when a frame is asked for.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._records import (
    Listing,
    Number,
    Record,
    record,
    to_bool,
    to_dict,
    to_int,
    to_number,
    to_str,
    to_timestamp,
    wire,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

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


@record(frozen=True, repr=False)
class AccountInformation(Record):
    """``GET /user/information``: verification and trial state, creation date."""

    WHAT = "GET /user/information"
    EXTRA_SHAPE = {"trialImagesLeft?": Number}

    email_verified: bool = wire("emailVerified", bool, to_bool)
    email_verification_letter_sent: bool = wire("emailVerificationLetterSent", bool, to_bool)
    trial_activated: bool = wire("trialActivated", bool, to_bool)
    trial_actions_left: int = wire("trialActionsLeft", Number, to_int)
    created_at: _dt.datetime | None = wire("accountCreatedAt", Number, to_timestamp)
    raw: dict = field(compare=False)

    def __repr__(self) -> str:
        return (
            f"AccountInformation(email_verified={self.email_verified}, "
            f"trial_activated={self.trial_activated}, created_at={self.created_at:%Y-%m-%d})"
            if self.created_at
            else f"AccountInformation(email_verified={self.email_verified})"
        )


@record(frozen=True, repr=False)
class Priority(Record):
    """``GET /user/priority``: the legacy priority-action system."""

    WHAT = "GET /user/priority"

    max_priority_actions: float = wire("maxPriorityActions", Number, to_number)
    next_refill_at: _dt.datetime | None = wire("nextRefillAt", Number, to_timestamp)
    task_priority: float = wire("taskPriority", Number, to_number)
    raw: dict = field(compare=False)

    def __repr__(self) -> str:
        return (
            f"Priority(max_priority_actions={self.max_priority_actions}, task_priority={self.task_priority})"
        )


def _expiry(v: Any) -> _dt.datetime | None:
    return to_timestamp(v) if v else None  # 0 means "no subscription", not 1970


_PERKS = {
    "maxPriorityActions": Number,
    "startPriority": Number,
    "contextTokens": Number,
    "unlimitedMaxPriority": bool,
    "moduleTrainingSteps": Number,
    "voiceGeneration?": bool,
    "imageGeneration?": bool,
    "unlimitedImageGeneration?": bool,
    "unlimitedImageGenerationLimits?": [{"resolution": Number, "maxPrompts": Number}],
}


@record(frozen=True, repr=False)
class Subscription(Record):
    """``GET /user/subscription``: tier, expiry, perks and the Anlas balance.

    ``anlas`` is the sum of fixed and purchased training steps, which is what the website shows.
    """

    WHAT = "GET /user/subscription"
    EXTRA_SHAPE = {"accountType?": int, "isGracePeriod?": bool, "paymentProcessorData?": (dict, None)}
    ROWS = (
        "tier",
        "active",
        "expires_at",
        "anlas",
        "fixed_training_steps_left",
        "purchased_training_steps",
        "perks",
    )

    tier: int = wire("tier", int, to_int, show=lambda s: f"{s.tier} ({s.tier_name})")
    active: bool = wire("active", bool, to_bool)
    expires_at: _dt.datetime | None = wire("expiresAt", Number, _expiry)
    perks: dict = wire("perks", _PERKS, to_dict, expand=True)
    fixed_training_steps_left: int = wire("trainingStepsLeft.fixedTrainingStepsLeft", Number, to_int)
    purchased_training_steps: int = wire("trainingStepsLeft.purchasedTrainingSteps", Number, to_int)
    raw: dict = field(compare=False)

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

    def __repr__(self) -> str:
        return f"Subscription(tier={self.tier} {self.tier_name}, active={self.active}, anlas={self.anlas})"


@record(frozen=True, repr=False)
class UserObject(Record):
    """One stored object (``UserData``): id, type, meta, the still-encoded ``data``, version info."""

    WHAT = "GET /user/objects/{type}/{id}"
    ROWS = ("id", "type", "meta", "change_index", "last_updated_at", "data_chars")

    id: str = wire("id", str, to_str)
    type: str = wire("type", str, to_str)
    meta: str = wire("meta", str, to_str)
    data: str = wire("data", str, to_str)
    last_updated_at: _dt.datetime | None = wire("lastUpdatedAt", Number, to_timestamp)
    change_index: int = wire("changeIndex", Number, to_int)
    raw: dict = field(compare=False)

    @property
    def data_chars(self) -> int:
        """Return the length of the still-encoded ``data`` (what tables show instead of the content)."""
        return len(self.data)

    def row(self) -> dict[str, Any]:
        """Return this object as one table row (the data as its length, not its content)."""
        return dict(self.rows())

    def __repr__(self) -> str:
        return (
            f"UserObject(type={self.type!r}, id={self.id!r}, meta={self.meta!r}, "
            f"change_index={self.change_index}, data=<{len(self.data)} chars>)"
        )


@dataclass(frozen=True, repr=False)
class ObjectList(Listing):
    """The objects of one type (``GET /user/objects/{type}``), iterable, as a DataFrame on request: one row
    per object (id, type, meta, change_index, last_updated_at, data_chars), in the server's order."""

    COLUMNS = UserObject.ROWS
    HTML_INDEX = False

    type: str
    objects: tuple[UserObject, ...]

    def _entries(self) -> tuple[UserObject, ...]:
        return self.objects

    def _row(self, entry: UserObject) -> dict[str, Any]:
        return entry.row()

    def __iter__(self) -> Iterator[UserObject]:
        return iter(self.objects)

    def __getitem__(self, i: int) -> UserObject:
        return self.objects[i]

    def __repr__(self) -> str:
        return f"ObjectList(type={self.type!r}, {len(self.objects)} objects)"


def _keystore(v: Any) -> str | None:
    """Return the keystore text: the answer nests it as ``{"keystore": ...}``, older ones sent it bare."""
    if isinstance(v, dict):
        v = v.get("keystore")
    return v if isinstance(v, str) else None


@record(frozen=True, repr=False)
class UserAccountData(Record):
    """``GET /user/data``: everything about the account in one answer."""

    WHAT = "GET /user/data"

    information: AccountInformation = wire("information", AccountInformation)
    priority: Priority = wire("priority", Priority)
    subscription: Subscription = wire("subscription", Subscription)
    keystore: str | None = wire("keystore", ({"keystore": (str, None)}, str, None), _keystore)
    settings: Any = wire("settings", (str, dict, None))
    raw: dict = field(compare=False)

    def to_frame(self) -> pd.DataFrame:
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
