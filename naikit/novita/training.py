"""Novita LoRA training results: one task's status, the task list, and the model catalogue.

A training task walks QUEUING -> TRAINING -> SUCCESS (or FAILED / CANCELED); its model then walks
DEPLOYING -> SERVING and is usable as a LoRA in txt2img/img2img once SERVING. :class:`TrainingStatus`
counts as *finished* only then (or on failure), which is what waiting and the dashboard use.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .._decode import finite
from .._records import Listing, Record, record, to_bool, to_dict, to_str, wire


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int_or(default: int | None) -> Any:
    """Return a converter: ``v`` when it is a JSON integer, else ``default``."""
    return lambda v: v if _is_int(v) else default


def _or_empty(v: Any) -> str:
    return str(v or "")


def _model_dicts(v: Any) -> list[dict[str, str]]:
    return [
        {"model_name": str(m.get("model_name", "")), "model_status": str(m.get("model_status", ""))}
        for m in v or []
    ]


__all__ = [
    "TrainingStatus",
    "TrainingTask",
    "TrainingList",
    "ModelInfo",
    "ModelCatalogue",
    "UserInfo",
    "TRAINING_STATUSES",
    "MODEL_STATUSES",
]

TRAINING_STATUSES = ("UNKNOWN", "QUEUING", "TRAINING", "SUCCESS", "CANCELED", "FAILED")
MODEL_STATUSES = ("DEPLOYING", "SERVING")


@record()
class TrainingStatus(Record):
    """``GET /v3/training/{subject|style}?task_id=``: state, progress, ETA and the model(s) it made."""

    WHAT = "GET /v3/training"

    task_id: str = wire("task_id", str, to_str)
    kind: str  # not on the wire: the endpoint asked (subject or style)
    status: str = wire("task_status", str, lambda v: "UNKNOWN" if v is None else str(v))
    model_type: str = wire("model_type", convert=_or_empty)
    models: list[dict[str, str]] = wire(
        "models", ([dict], None), _model_dicts, optional=True, needs=([dict], None)
    )
    progress_percent: float | None = wire("extra.progress_percent", convert=finite)
    eta: float | None = wire("extra.eta_relative", convert=finite)
    raw: dict = field(repr=False)

    @classmethod
    # the extra ``kind`` argument: the body does not say which endpoint answered (callers always pass it)
    def from_json(cls, d: Any, kind: str) -> TrainingStatus:  # type: ignore[override]
        """Return the status for a response body of a ``kind`` training; ResponseShapeError when it,
        ``extra`` or a model is not an object."""
        return cls._from_body(d, cls.WHAT, "", kind=kind)

    @property
    def failed(self) -> bool:
        """Return True if the training failed or was canceled."""
        return self.status in ("FAILED", "CANCELED")

    @property
    def reason(self) -> str:
        """Return the failure text the server gave (or the status itself)."""
        return str(self.raw.get("reason") or (self.status if self.failed else ""))

    @property
    def ready(self) -> bool:
        """Return True when the training succeeded and every model it made is SERVING (usable)."""
        return (
            self.status == "SUCCESS"
            and bool(self.models)
            and all(m["model_status"] == "SERVING" for m in self.models)
        )

    @property
    def finished(self) -> bool:
        """Return True when nothing more will happen: failed, or succeeded with its model serving."""
        return self.failed or self.ready

    @property
    def progress(self) -> float | None:
        """Return progress in percent (100 once the training succeeded)."""
        if self.status == "SUCCESS":
            return 100.0
        return self.progress_percent

    @property
    def model_name(self) -> str | None:
        """Return the trained model's name (use it as a LoRA ``model_name``), or None before there is one."""
        return self.models[0]["model_name"] if self.models else None

    def rows(self) -> list[tuple[str, Any]]:
        """Return (field, value) pairs: id, kind, status, progress, ETA (s), then each model's status."""
        rows: list[tuple[str, Any]] = [
            ("task_id", self.task_id),
            ("kind", self.kind),
            ("status", self.status),
            ("progress_percent", self.progress),
            ("eta_s", self.eta),
        ]
        return rows + [(m["model_name"], m["model_status"]) for m in self.models]

    def __repr__(self) -> str:
        model = f", model={self.model_name} {self.models[0]['model_status']}" if self.models else ""
        return f"TrainingStatus({self.task_id}, {self.kind}, {self.status}{model})"


@record(frozen=True)
class TrainingTask(Record):
    """One entry of ``GET /v3/training``."""

    WHAT = "GET /v3/training (tasks)"

    task_id: str = wire("task_id", convert=to_str)
    name: str = wire("task_name", convert=to_str)
    kind: str = wire("task_type", convert=to_str)
    status: str = wire("task_status", convert=to_str)
    created_at: int | None = wire("created_at", convert=_int_or(None))
    models: tuple[tuple[str, str], ...] = wire(
        "models",
        convert=lambda v: tuple((m["model_name"], m["model_status"]) for m in _model_dicts(v)),
        needs=([dict], None),
    )


@dataclass(frozen=True)
class TrainingList(Listing):
    """Every training task (all pages), newest first as the server lists them; as a frame, one row per
    task: task_id, name, kind, status, created_at, model_name, model_status."""

    COLUMNS = ("task_id", "name", "kind", "status", "created_at", "model_name", "model_status")

    tasks: tuple[TrainingTask, ...]
    pages: int = 1

    def _entries(self) -> tuple[TrainingTask, ...]:
        return self.tasks

    def _row(self, entry: TrainingTask) -> dict[str, Any]:
        import pandas as pd

        t = entry
        return {
            "task_id": t.task_id,
            "name": t.name,
            "kind": t.kind,
            "status": t.status,
            "created_at": pd.to_datetime(t.created_at, unit="s", utc=True) if t.created_at else None,
            "model_name": t.models[0][0] if t.models else None,
            "model_status": t.models[0][1] if t.models else None,
        }

    def __iter__(self) -> Iterator[TrainingTask]:
        return iter(self.tasks)

    def __repr__(self) -> str:
        return f"TrainingList({len(self.tasks)} task(s), {self.pages} page(s))"


def _type_name(v: Any) -> str:
    """Return a model's type: the API sends ``{"name": ...}``, older answers a bare string."""
    return str(v.get("name", "")) if isinstance(v, dict) else str(v or "")


@record(frozen=True)
class ModelInfo(Record):
    """One model of ``GET /v3/model``; ``raw`` keeps every field the server sent."""

    WHAT = "GET /v3/model (models)"

    id: int = wire("id", convert=_int_or(0))
    name: str = wire("name", convert=to_str)
    sd_name: str = wire("sd_name", convert=to_str)
    # the name requests use; older answers have only sd_name
    sd_name_in_api: str = wire("", convert=lambda d: str(d.get("sd_name_in_api") or d.get("sd_name", "")))
    type: str = wire("type", convert=_type_name)
    status: int = wire("status", convert=_int_or(0))
    base_model: str = wire("base_model", convert=_or_empty)
    is_sdxl: bool = wire("is_sdxl", convert=to_bool)
    source: str = wire("source", convert=_or_empty)
    raw: dict = field(compare=False, repr=False)


@dataclass(frozen=True)
class ModelCatalogue(Listing):
    """Models from ``GET /v3/model`` over every page fetched (cursor pagination); as a frame, one row per
    model: id, names, type, base_model, is_sdxl, source, status."""

    COLUMNS = ("id", "name", "sd_name", "sd_name_in_api", "type", "base_model", "is_sdxl", "source", "status")

    models: tuple[ModelInfo, ...]
    pages: int
    next_cursor: str = ""

    def _entries(self) -> tuple[ModelInfo, ...]:
        return self.models

    def __iter__(self) -> Iterator[ModelInfo]:
        return iter(self.models)

    def names(self, type: str | None = None) -> list[str]:
        """Return the names to use in requests (``sd_name_in_api``), optionally of one type."""
        return [m.sd_name_in_api for m in self.models if type is None or m.type == type]

    def __repr__(self) -> str:
        more = ", more pages" if self.next_cursor else ""
        return f"ModelCatalogue({len(self.models)} model(s), {self.pages} page(s){more})"


def _features(v: Any) -> tuple[str, ...]:
    return tuple(f for f in v if isinstance(f, str)) if isinstance(v, list) else ()


def _credit(v: Any) -> int:
    credit = finite(v)
    return int(credit) if credit is not None else 0


@record(frozen=True)
class UserInfo(Record):
    """``GET /v3/user``: features the key may use, the credit balance (units undocumented), free trials."""

    WHAT = "GET /v3/user"
    ROWS = ("credit_balance", "allow_features", "free_trial")

    allow_features: tuple[str, ...] = wire(
        "allow_features", convert=_features, show=lambda u: ", ".join(u.allow_features)
    )
    credit_balance: int = wire("credit_balance", (int, float, None), _credit, optional=True)
    free_trial: dict = wire("free_trial", convert=to_dict, expand=True)
    raw: dict = field(compare=False, repr=False)
