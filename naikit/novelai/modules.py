"""NovelAI endpoints for custom AI module training (spec §7.2).

``ModulesAPI`` is an area of :class:`naikit.novelai.async_client.AsyncNovelAI` (built on the typed core
:class:`~naikit.novelai._base.ClientCore`): its public coroutine methods use the client's ``_call`` and
appear on the sync ``NovelAI`` automatically.

A module trains on a text dataset for ``steps`` steps, paid in training steps (Anlas), and reports a loss
per step in ``lossHistory``. The status values are undocumented; naikit treats ``ready`` as success and
``error``/``failed`` as failure, and anything else as still running.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._decode import finite
from .._records import Listing, Record, record, to_float, to_int, to_str, wire
from .._validate import check_bool, check_text, has_lone_surrogate
from ..errors import InputError
from ._base import ClientCore

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["ModulesAPI", "Module", "ModuleList", "AI_MODULE", "loss_svg", "MAX_DATASET_BYTES"]

MAX_DATASET_BYTES = 10 * 1024 * 1024
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FINISHED = {"ready", "error", "failed"}
FAILED = {"error", "failed"}


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


def _losses(v: Any) -> tuple[float, ...]:
    return tuple(x for x in map(finite, v) if x is not None) if isinstance(v, list) else ()


@record(frozen=True)
class Module(Record):
    """A custom AI module (``AiModuleDto``): status, steps, learning rate and the loss per step so far."""

    WHAT = "GET /ai/module/{id}"
    EXTRA_SHAPE = {"data": str}  # the dataset travels back too; naikit does not keep a copy
    ROWS = ("id", "name", "status", "model", "steps", "lr", "final_loss")
    HTML_CLASS = None

    # AiModuleDto: every field is required by REF's schema.
    id: str = wire("id", str, to_str)
    name: str = wire("name", str, to_str)
    description: str = wire("description", str, to_str)
    status: str = wire("status", str, to_str)
    model: str = wire("model", str, to_str)
    lr: float = wire("lr", (int, float), to_float)
    steps: int = wire("steps", (int, float), to_int, show=lambda m: f"{m.steps_done}/{m.steps}")
    loss_history: tuple[float, ...] = wire("lossHistory", [(int, float)], _losses)
    last_updated_at: float = wire("lastUpdatedAt", (int, float), to_float)
    raw: dict = field(compare=False, repr=False)

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

    def loss_frame(self) -> pd.DataFrame:
        """Return the loss history as a DataFrame (step, loss)."""
        import pandas as pd

        return pd.DataFrame({"step": range(1, len(self.loss_history) + 1), "loss": list(self.loss_history)})

    def _repr_html_(self) -> str:
        curve = loss_svg(self.loss_history, total=self.steps)
        return f"<div class='naikit-module'>{self._html_table()}{curve}</div>"

    def __repr__(self) -> str:
        return f"Module({self.id}, {self.name!r}, {self.status}, {self.steps_done}/{self.steps} steps)"


AI_MODULE = Module.shape()


@dataclass(frozen=True)
class ModuleList(Listing):
    """Every module of the account (``GET /ai/module/all``); as a frame, one row per module: id, name,
    status, model, steps, steps_done, lr, final_loss."""

    COLUMNS = ("id", "name", "status", "model", "steps", "steps_done", "lr", "final_loss")

    modules: tuple[Module, ...]

    def _entries(self) -> tuple[Module, ...]:
        return self.modules

    def __iter__(self) -> Iterator[Module]:
        return iter(self.modules)

    def __repr__(self) -> str:
        return f"ModuleList({len(self.modules)} module(s))"


def _check_module_id(module_id: Any) -> str:
    if not isinstance(module_id, str) or not _ID_RE.match(module_id):
        raise InputError("module_id", module_id, "a module id: 1-64 characters of A-Z a-z 0-9 - _")
    return module_id


class ModulesAPI(ClientCore):
    """Area: NovelAI custom AI module training."""

    #: the clock and sleep ``wait_for_module`` polls with (None: the real ones); tests drive them
    poll_clock: Callable[[], float] | None = None
    poll_sleep: Callable[[float], Awaitable[None]] | None = None

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
        dto = await self._call("POST", "/ai/module/train", json=body)
        return Module.from_json(self._check(dto, AI_MODULE, "POST /ai/module/train"))

    async def modules(self) -> ModuleList:
        """Return every module of the account (``GET /ai/module/all``)."""
        data = await self._call("GET", "/ai/module/all")
        data = self._check(data, [AI_MODULE], "GET /ai/module/all")
        return ModuleList(tuple(Module.from_json(d) for d in data))

    async def module(self, module_id: str) -> Module:
        """Return one module with its status and loss history (``GET /ai/module/{id}``)."""
        _check_module_id(module_id)
        dto = await self._call("GET", f"/ai/module/{module_id}")
        return Module.from_json(self._check(dto, AI_MODULE, "GET /ai/module/{id}"))

    async def delete_module(self, module_id: str, *, backup: bool = True) -> Module:
        """Delete a module; return it as it was (its loss history included).

        The module as the server describes it is first kept in a local backup (``modules/<id>.json`` under
        ``backup_dir``; ``backup=False`` skips that). The server has no call to upload it again.
        """
        check_bool(backup, "backup")
        _check_module_id(module_id)
        if backup:
            from .backup import write_safety_backup

            current = await self._call("GET", f"/ai/module/{module_id}")
            name = f"modules/{re.sub(r'[^A-Za-z0-9._-]+', '_', module_id)}.json"
            await write_safety_backup(self, f"delete-module-{module_id}", extras={name: current})
        dto = await self._call("DELETE", f"/ai/module/{module_id}")
        return Module.from_json(self._check(dto, AI_MODULE, "DELETE /ai/module/{id}"))

    async def buy_training_steps(self, amount: int) -> Any:
        """Buy ``amount`` training steps (``POST /ai/module/buy-training-steps``); return the server's JSON.

        REF sends this as DELETE with a body, almost certainly a bug; naikit uses POST. Not resent after a
        dropped connection (it spends money).
        """
        if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= 1_000_000:
            raise InputError("amount", amount, "a positive whole number of training steps (at most 1000000)")
        return await self._call("POST", "/ai/module/buy-training-steps", json={"amount": amount})

    async def loss_history(self, module_id: str) -> pd.DataFrame:
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
            now=self.poll_clock or _monotonic,
            sleep=self.poll_sleep or _sleep,
        )


def _monotonic() -> float:
    import time

    return time.monotonic()


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
