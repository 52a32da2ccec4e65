"""NovelAI endpoints for custom AI module training (spec §7.2).

``ModulesAPI`` is a mixin of :class:`naikit.novelai.client.AsyncNovelAI`: its public coroutine methods use the
client's ``_call`` and appear on the sync ``NovelAI`` automatically.

A module trains on a text dataset for ``steps`` steps, paid in training steps (Anlas), and reports a loss
per step in ``lossHistory``. The status values are undocumented; naikit treats ``ready`` as success and
``error``/``failed`` as failure, and anything else as still running.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .._validate import check_bool, check_text, has_lone_surrogate
from ..errors import InputError

__all__ = ["ModulesAPI", "Module", "ModuleList", "AI_MODULE", "loss_svg", "MAX_DATASET_BYTES"]

MAX_DATASET_BYTES = 10 * 1024 * 1024
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FINISHED = {"ready", "error", "failed"}
FAILED = {"error", "failed"}

# AiModuleDto: every field is required by REF's schema.
AI_MODULE = {
    "data": str,
    "lr": (int, float),
    "steps": (int, float),
    "model": str,
    "lastUpdatedAt": (int, float),
    "status": str,
    "lossHistory": [(int, float)],
    "id": str,
    "name": str,
    "description": str,
}


def loss_svg(
    losses: list[float] | tuple[float, ...], *, width: int = 240, height: int = 60, total: int | None = None
) -> str:
    """Return an inline SVG line chart of a loss history (pure; the same input gives the same text).

    ``total`` fixes the x axis to that many steps, so a curve still growing keeps its scale.
    """
    if not losses:
        text = f"<text x='4' y='{height // 2}'>no loss yet</text>"
        return f"<svg width='{width}' height='{height}' class='naikit-loss'>{text}</svg>"
    n = max(total or len(losses), 2)
    lo, hi = min(losses), max(losses)
    span = hi - lo or 1.0
    pts = " ".join(
        f"{2 + (width - 4) * i / (n - 1):.1f},{2 + (height - 4) * (1 - (v - lo) / span):.1f}"
        for i, v in enumerate(losses)
    )
    label = f"{losses[-1]:.3f}"
    return (
        f"<svg width='{width}' height='{height}' class='naikit-loss' viewBox='0 0 {width} {height}'>"
        f"<polyline fill='none' stroke='#3b7dd8' stroke-width='1.5' points='{pts}'/>"
        f"<text x='{width - 4}' y='12' text-anchor='end' font-size='10'>{label}</text></svg>"
    )


@dataclass(frozen=True)
class Module:
    """A custom AI module (``AiModuleDto``): status, steps, learning rate and the loss per step so far."""

    id: str
    name: str
    description: str
    status: str
    model: str
    lr: float
    steps: int
    loss_history: tuple[float, ...]
    last_updated_at: float
    raw: dict = field(compare=False, repr=False)

    @classmethod
    def from_json(cls, d: dict) -> Module:
        """Return the module for a DTO (already shape-checked or trusted)."""
        return cls(
            id=str(d.get("id", "")),
            name=str(d.get("name", "")),
            description=str(d.get("description") or ""),
            status=str(d.get("status", "")),
            model=str(d.get("model", "")),
            lr=float(d.get("lr") or 0),
            steps=int(d.get("steps") or 0),
            loss_history=tuple(float(x) for x in d.get("lossHistory") or ()),
            last_updated_at=float(d.get("lastUpdatedAt") or 0),
            raw=d,
        )

    @property
    def task_id(self) -> str:
        """Return the module id (the name polling and the dashboard use for every job)."""
        return self.id

    @property
    def finished(self) -> bool:
        """Return True once the module is ready or failed."""
        return self.status in FINISHED

    @property
    def failed(self) -> bool:
        """Return True if training failed."""
        return self.status in FAILED

    @property
    def reason(self) -> str:
        """Return the failure status text (empty unless failed)."""
        return f"module training ended with status {self.status!r}" if self.failed else ""

    @property
    def steps_done(self) -> int:
        """Return how many steps have a loss value (the steps trained so far)."""
        return self.steps if self.status == "ready" else min(len(self.loss_history), self.steps)

    @property
    def progress(self) -> float | None:
        """Return progress in percent from the loss history (100 when ready)."""
        if self.status == "ready":
            return 100.0
        return round(100 * self.steps_done / self.steps, 1) if self.steps else None

    @property
    def final_loss(self) -> float | None:
        """Return the last loss value, or None before the first step."""
        return self.loss_history[-1] if self.loss_history else None

    def loss_frame(self) -> Any:
        """Return the loss history as a DataFrame (step, loss)."""
        import pandas as pd

        return pd.DataFrame({"step": range(1, len(self.loss_history) + 1), "loss": list(self.loss_history)})

    def rows(self) -> list[tuple[str, Any]]:
        """Return (field, value) pairs for display."""
        return [
            ("id", self.id),
            ("name", self.name),
            ("status", self.status),
            ("model", self.model),
            ("steps", f"{self.steps_done}/{self.steps}"),
            ("lr", self.lr),
            ("final_loss", self.final_loss),
        ]

    def to_frame(self) -> Any:
        """Return a two-column DataFrame (field, value)."""
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=["field", "value"]).set_index("field")

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in self.rows()
        )
        curve = loss_svg(self.loss_history, total=self.steps)
        return f"<div class='naikit-module'><table><caption>Module</caption>{cells}</table>{curve}</div>"

    def __repr__(self) -> str:
        return f"Module({self.id}, {self.name!r}, {self.status}, {self.steps_done}/{self.steps} steps)"


@dataclass(frozen=True)
class ModuleList:
    """Every module of the account (``GET /ai/module/all``)."""

    modules: tuple[Module, ...]

    def __iter__(self) -> Iterator[Module]:
        return iter(self.modules)

    def __len__(self) -> int:
        return len(self.modules)

    def to_frame(self) -> Any:
        """Return one row per module: id, name, status, model, steps, steps_done, lr, final_loss."""
        import pandas as pd

        cols = ["id", "name", "status", "model", "steps", "steps_done", "lr", "final_loss"]
        return pd.DataFrame([{c: getattr(m, c) for c in cols} for m in self.modules], columns=cols)

    def _repr_html_(self) -> str:
        return self.to_frame()._repr_html_()

    def __repr__(self) -> str:
        return f"ModuleList({len(self.modules)} module(s))"


def _check_module_id(module_id: Any) -> str:
    if not isinstance(module_id, str) or not _ID_RE.match(module_id):
        raise InputError("module_id", module_id, "a module id: 1-64 characters of A-Z a-z 0-9 - _")
    return module_id


class ModulesAPI:
    """Mixin: NovelAI custom AI module training."""

    async def train_module(
        self,
        data: str | list[str],
        *,
        name: str,
        description: str = "",
        lr: float = 1e-4,
        steps: int = 500,
        model: str | None = None,
    ) -> Module:
        """Start training a module on ``data`` (text, or a list of texts joined by blank lines); return it.

        Costs ``steps`` training steps (Anlas). Refused before sending: empty data or over 10 MB, a name
        over 64 or a description over 256 characters, ``lr`` outside (0, 1], ``steps`` outside 1–50000.
        Not resent after a dropped connection (it would train, and bill, twice).
        """
        if isinstance(data, (list, tuple)) and all(isinstance(x, str) for x in data):
            data = "\n\n".join(data)
        if not isinstance(data, str) or not data.strip():
            raise InputError("data", data if not isinstance(data, str) else "''", "a non-empty text dataset")
        check_text(data, "data", allowed="a text dataset")
        size = len(data.encode("utf-8"))
        if size > MAX_DATASET_BYTES:
            raise InputError("data", f"<{size / 1e6:.1f} MB of text>", "at most 10 MB of text")
        if not isinstance(name, str) or not 1 <= len(name) <= 64 or has_lone_surrogate(name):
            raise InputError("name", name, "a name of 1 to 64 characters")
        if not isinstance(description, str) or len(description) > 256 or has_lone_surrogate(description):
            raise InputError("description", description, "a description of at most 256 characters")
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr <= 1:
            raise InputError("lr", lr, "a learning rate above 0 and at most 1")
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 50_000:
            raise InputError("steps", steps, "an integer number of steps from 1 to 50000")
        body: dict[str, Any] = {
            "data": data,
            "lr": float(lr),
            "steps": steps,
            "name": name,
            "description": description,
        }
        if model is not None:
            if not isinstance(model, str) or not model:
                raise InputError("model", model, "a model name such as 'euterpe-v2'")
            body["model"] = model
        dto = await self._call("POST", "/ai/module/train", json=body)  # type: ignore[attr-defined]
        return Module.from_json(self._check(dto, AI_MODULE, "POST /ai/module/train"))  # type: ignore[attr-defined]

    async def modules(self) -> ModuleList:
        """Return every module of the account (``GET /ai/module/all``)."""
        data = await self._call("GET", "/ai/module/all")  # type: ignore[attr-defined]
        data = self._check(data, [AI_MODULE], "GET /ai/module/all")  # type: ignore[attr-defined]
        return ModuleList(tuple(Module.from_json(d) for d in data))

    async def module(self, module_id: str) -> Module:
        """Return one module with its status and loss history (``GET /ai/module/{id}``)."""
        _check_module_id(module_id)
        dto = await self._call("GET", f"/ai/module/{module_id}")  # type: ignore[attr-defined]
        return Module.from_json(self._check(dto, AI_MODULE, "GET /ai/module/{id}"))  # type: ignore[attr-defined]

    async def delete_module(self, module_id: str, *, backup: bool = True) -> Module:
        """Delete a module; return it as it was (its loss history included).

        The module as the server describes it is first kept in a local backup (``modules/<id>.json`` under
        ``backup_dir``; ``backup=False`` skips that). The server has no call to upload it again.
        """
        check_bool(backup, "backup")
        _check_module_id(module_id)
        if backup:
            from .backup import write_safety_backup

            current = await self._call("GET", f"/ai/module/{module_id}")  # type: ignore[attr-defined]
            name = f"modules/{re.sub(r'[^A-Za-z0-9._-]+', '_', module_id)}.json"
            await write_safety_backup(self, f"delete-module-{module_id}", extras={name: current})
        dto = await self._call("DELETE", f"/ai/module/{module_id}")  # type: ignore[attr-defined]
        return Module.from_json(self._check(dto, AI_MODULE, "DELETE /ai/module/{id}"))  # type: ignore[attr-defined]

    async def buy_training_steps(self, amount: int) -> Any:
        """Buy ``amount`` training steps (``POST /ai/module/buy-training-steps``); return the server's JSON.

        REF sends this as DELETE with a body, almost certainly a bug; naikit uses POST. Not resent after a
        dropped connection (it spends money).
        """
        if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= 1_000_000:
            raise InputError("amount", amount, "a positive whole number of training steps (at most 1000000)")
        return await self._call(  # type: ignore[attr-defined]
            "POST", "/ai/module/buy-training-steps", json={"amount": amount}
        )

    async def loss_history(self, module_id: str) -> Any:
        """Return a module's loss history as a DataFrame (step, loss)."""
        return (await self.module(module_id)).loss_frame()

    async def wait_for_module(
        self,
        module_id: str | Module,
        *,
        timeout: float = 3600.0,
        interval: float = 2.0,
        max_interval: float = 30.0,
        progress: Any = None,
        callback: Callable[[Module], Any] | None = None,
        raise_on_failure: bool = True,
    ) -> Module:
        """Poll a module until it is ready (or failed); return it. Time-based ``timeout``, growing interval.

        Raises TaskFailed on failure (unless ``raise_on_failure`` is False) and TaskTimeout after
        ``timeout`` seconds; both carry ``task_id`` = the module id.
        """
        from .._poll import poll

        mid = _check_module_id(module_id.id if isinstance(module_id, Module) else module_id)
        return await poll(
            lambda: self.module(mid),
            mid,
            timeout=timeout,
            interval=interval,
            max_interval=max_interval,
            progress=progress,
            callback=callback,
            raise_on_failure=raise_on_failure,
            what="module",
            now=getattr(self, "poll_clock", None) or _monotonic,
            sleep=getattr(self, "poll_sleep", None) or _sleep,
        )


def _monotonic() -> float:
    import time

    return time.monotonic()


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
