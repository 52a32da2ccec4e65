"""Novita LoRA training results: one task's status, the task list, and the model catalogue.

A training task walks QUEUING -> TRAINING -> SUCCESS (or FAILED / CANCELED); its model then walks
DEPLOYING -> SERVING and is usable as a LoRA in txt2img/img2img once SERVING. :class:`TrainingStatus`
counts as *finished* only then (or on failure), which is what waiting and the dashboard use.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .._decode import finite
from .._shapes import check


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


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


def _table(caption: str, rows: list[tuple[str, Any]]) -> str:
    cells = "".join(
        f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    return f"<table class='naikit-record'><caption>{html.escape(caption)}</caption>{cells}</table>"


@dataclass
class TrainingStatus:
    """``GET /v3/training/{subject|style}?task_id=``: state, progress, ETA and the model(s) it made."""

    task_id: str
    kind: str
    status: str
    model_type: str
    models: list[dict[str, str]]
    progress_percent: float | None
    eta: float | None
    raw: dict = field(repr=False)

    @classmethod
    def from_json(cls, d: dict, kind: str) -> TrainingStatus:
        """Return the status for a response body; ResponseShapeError when it, ``extra`` or a model is
        not an object."""
        check(d, {"extra?": (dict, None), "models?": ([dict], None)}, "GET /v3/training")
        extra = d.get("extra") or {}
        pp, eta = extra.get("progress_percent"), extra.get("eta_relative")
        return cls(
            task_id=str(d.get("task_id", "")),
            kind=kind,
            status=str(d.get("task_status", "UNKNOWN")),
            model_type=str(d.get("model_type") or ""),
            models=[
                {"model_name": str(m.get("model_name", "")), "model_status": str(m.get("model_status", ""))}
                for m in d.get("models") or []
            ],
            progress_percent=finite(pp),
            eta=finite(eta),
            raw=d,
        )

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

    def _repr_html_(self) -> str:
        rows = [
            ("task_id", self.task_id),
            ("kind", self.kind),
            ("status", self.status),
            ("progress_percent", self.progress),
            ("eta_s", self.eta),
        ]
        rows += [(m["model_name"], m["model_status"]) for m in self.models]
        return _table("TrainingStatus", rows)

    def __repr__(self) -> str:
        model = f", model={self.model_name} {self.models[0]['model_status']}" if self.models else ""
        return f"TrainingStatus({self.task_id}, {self.kind}, {self.status}{model})"


@dataclass(frozen=True)
class TrainingTask:
    """One entry of ``GET /v3/training``."""

    task_id: str
    name: str
    kind: str
    status: str
    created_at: int | None
    models: tuple[tuple[str, str], ...]

    @classmethod
    def from_json(cls, d: dict) -> TrainingTask:
        """Return the entry for one JSON task; ResponseShapeError when it or a model is not an object."""
        check(d, {"models?": ([dict], None)}, "GET /v3/training (tasks)")
        return cls(
            task_id=str(d.get("task_id", "")),
            name=str(d.get("task_name", "")),
            kind=str(d.get("task_type", "")),
            status=str(d.get("task_status", "")),
            created_at=d["created_at"] if _is_int(d.get("created_at")) else None,
            models=tuple(
                (str(m.get("model_name", "")), str(m.get("model_status", ""))) for m in d.get("models") or []
            ),
        )


@dataclass(frozen=True)
class TrainingList:
    """Every training task (all pages), newest first as the server lists them."""

    tasks: tuple[TrainingTask, ...]
    pages: int = 1

    def __iter__(self) -> Iterator[TrainingTask]:
        return iter(self.tasks)

    def __len__(self) -> int:
        return len(self.tasks)

    def to_frame(self) -> Any:
        """Return one row per task: task_id, name, kind, status, created_at, model_name, model_status."""
        import pandas as pd

        rows = [
            {
                "task_id": t.task_id,
                "name": t.name,
                "kind": t.kind,
                "status": t.status,
                "created_at": pd.to_datetime(t.created_at, unit="s", utc=True) if t.created_at else None,
                "model_name": t.models[0][0] if t.models else None,
                "model_status": t.models[0][1] if t.models else None,
            }
            for t in self.tasks
        ]
        cols = ["task_id", "name", "kind", "status", "created_at", "model_name", "model_status"]
        return pd.DataFrame(rows, columns=cols)

    def _repr_html_(self) -> str:
        return self.to_frame()._repr_html_()

    def __repr__(self) -> str:
        return f"TrainingList({len(self.tasks)} task(s), {self.pages} page(s))"


@dataclass(frozen=True)
class ModelInfo:
    """One model of ``GET /v3/model``; ``raw`` keeps every field the server sent."""

    id: int
    name: str
    sd_name: str
    sd_name_in_api: str
    type: str
    status: int
    base_model: str
    is_sdxl: bool
    source: str
    raw: dict = field(compare=False, repr=False)

    @classmethod
    def from_json(cls, d: dict) -> ModelInfo:
        """Return the model for one JSON entry; ResponseShapeError when it is not an object."""
        check(d, {}, "GET /v3/model (models)")
        t = d.get("type")
        return cls(
            id=d["id"] if _is_int(d.get("id")) else 0,
            name=str(d.get("name", "")),
            sd_name=str(d.get("sd_name", "")),
            sd_name_in_api=str(d.get("sd_name_in_api") or d.get("sd_name", "")),
            type=str(t.get("name", "")) if isinstance(t, dict) else str(t or ""),
            status=d["status"] if _is_int(d.get("status")) else 0,
            base_model=str(d.get("base_model") or ""),
            is_sdxl=bool(d.get("is_sdxl")),
            source=str(d.get("source") or ""),
            raw=d,
        )


@dataclass(frozen=True)
class ModelCatalogue:
    """Models from ``GET /v3/model`` over every page fetched (cursor pagination)."""

    models: tuple[ModelInfo, ...]
    pages: int
    next_cursor: str = ""

    def __iter__(self) -> Iterator[ModelInfo]:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)

    def names(self, type: str | None = None) -> list[str]:
        """Return the names to use in requests (``sd_name_in_api``), optionally of one type."""
        return [m.sd_name_in_api for m in self.models if type is None or m.type == type]

    def to_frame(self) -> Any:
        """Return one row per model: id, names, type, base_model, is_sdxl, source, status."""
        import pandas as pd

        cols = [
            "id",
            "name",
            "sd_name",
            "sd_name_in_api",
            "type",
            "base_model",
            "is_sdxl",
            "source",
            "status",
        ]
        return pd.DataFrame([{c: getattr(m, c) for c in cols} for m in self.models], columns=cols)

    def _repr_html_(self) -> str:
        return self.to_frame()._repr_html_()

    def __repr__(self) -> str:
        more = ", more pages" if self.next_cursor else ""
        return f"ModelCatalogue({len(self.models)} model(s), {self.pages} page(s){more})"


@dataclass(frozen=True)
class UserInfo:
    """``GET /v3/user``: features the key may use, the credit balance (units undocumented), free trials."""

    allow_features: tuple[str, ...]
    credit_balance: int
    free_trial: dict
    raw: dict = field(compare=False, repr=False)

    @classmethod
    def from_json(cls, d: dict) -> UserInfo:
        """Return the record for a response body; ResponseShapeError when it is not an object."""
        check(d, {}, "GET /v3/user")
        features, trial = d.get("allow_features"), d.get("free_trial")
        credit = finite(d.get("credit_balance"))
        return cls(
            allow_features=tuple(f for f in features if isinstance(f, str))
            if isinstance(features, list)
            else (),
            credit_balance=int(credit) if credit is not None else 0,
            free_trial=dict(trial) if isinstance(trial, dict) else {},
            raw=d,
        )

    def rows(self) -> list[tuple[str, Any]]:
        """Return (field, value) pairs."""
        rows: list[tuple[str, Any]] = [
            ("credit_balance", self.credit_balance),
            ("allow_features", ", ".join(self.allow_features)),
        ]
        rows += [(f"free_trial.{k}", v) for k, v in self.free_trial.items()]
        return rows

    def to_frame(self) -> Any:
        """Return a two-column DataFrame (field, value)."""
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=["field", "value"]).set_index("field")

    def _repr_html_(self) -> str:
        return _table("UserInfo", self.rows())
