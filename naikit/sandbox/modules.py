"""NovelAI custom AI module training (spec §7.2): train, list, get, delete, buy training steps.

The lifecycle is not documented anywhere; the sandbox uses the working assumption of the spec:
``pending`` (for ``pending`` seconds) -> ``training`` (``lossHistory`` grows by one value per step) ->
``ready``, or ``error`` half-way when the module's name contains ``sandbox:fail``. State is computed
from the sandbox clock, so a FakeClock drives a whole training at once. Training costs one training step
(Anlas) per step, taken when the training starts; 402 when the account has too few.

``data`` of a module is empty until it is ready, then a short base64 stand-in for the trained weights
(the dataset itself is kept but never echoed: it can be megabytes and the real DTO's ``data`` is unknown).
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import secrets
from typing import Any

from aiohttp import web

from .access_tokens import authenticate
from .accounts import subscription_json
from .http import STATE, ApiError, field, json_body, json_response
from .store import Store

__all__ = ["routes", "TIMING", "FAIL_MARK", "MAX_DATA", "loss_curve"]

routes = web.RouteTableDef()

TIMING = {"pending": 1.0, "per_step": 0.004, "min": 2.0}
FAIL_MARK = "sandbox:fail"
MAX_DATA = 10 * 1024 * 1024
DEFAULT_MODEL = "euterpe-v2"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nai_modules (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    dataset TEXT NOT NULL,
    lr REAL NOT NULL,
    steps INTEGER NOT NULL,
    model TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


def _store(request: web.Request) -> Store:
    store = request.app[STATE].store
    store.add_schema("nai_modules", _SCHEMA)
    return store


def loss_curve(seed: str, steps: int) -> list[float]:
    """Return a whole loss history: a noisy decay from about 3.4 towards 0.9, fixed by ``seed``."""
    rng = random.Random(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))
    return [
        round(0.9 + 2.5 * math.exp(-4 * i / max(1, steps)) + rng.uniform(-0.06, 0.06), 4)
        for i in range(steps)
    ]


def _dto(row: Any, now: float) -> dict[str, Any]:
    t = now - row["created_at"]
    train_s = max(TIMING["min"], row["steps"] * TIMING["per_step"])
    failing = FAIL_MARK in row["name"]
    if t < TIMING["pending"]:
        status, done, updated = "pending", 0, row["created_at"]
    elif t < TIMING["pending"] + train_s and not (failing and t >= TIMING["pending"] + train_s / 2):
        status = "training"
        done = int(row["steps"] * (t - TIMING["pending"]) / train_s)
        updated = now
    elif failing:
        status, done = "error", row["steps"] // 2
        updated = row["created_at"] + TIMING["pending"] + train_s / 2
    else:
        status, done = "ready", row["steps"]
        updated = row["created_at"] + TIMING["pending"] + train_s
    data = ""
    if status == "ready":
        data = base64.b64encode(hashlib.sha256(f"{row['id']}:{row['dataset']}".encode()).digest()).decode()
    return {
        "data": data,
        "lr": row["lr"],
        "steps": row["steps"],
        "model": row["model"],
        "lastUpdatedAt": int(updated),
        "status": status,
        # the same dataset, name and settings give the same curve (reproducible notebooks)
        "lossHistory": loss_curve(f"{row['name']}|{row['lr']}|{row['dataset']}", row["steps"])[:done],
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
    }


@routes.post("/ai/module/train")
async def train(request: web.Request) -> web.Response:
    """Start training a module on a dataset; 201 with the new module."""
    account = authenticate(request)
    body = await json_body(request)
    data = field(body, "data", str, min_length=1)
    if len(data.encode("utf-8")) > MAX_DATA:
        raise ApiError(400, "data must be at most 10 MB")
    lr = field(body, "lr", (int, float))
    if not 0 < lr <= 1:
        raise ApiError(400, "lr must be a number above 0 and at most 1")
    steps = field(body, "steps", int)
    if not 1 <= steps <= 50_000:
        raise ApiError(400, "steps must be between 1 and 50000")
    name = field(body, "name", str, min_length=1, max_length=64)
    description = field(body, "description", str, required=False, max_length=256, default="")
    model = field(body, "model", str, required=False, default=DEFAULT_MODEL)
    store = _store(request)
    state = request.app[STATE]
    module_id = secrets.token_urlsafe(16)
    with store.transaction() as conn:
        try:
            store.adjust_anlas(account.id, -steps)
        except ValueError:
            raise ApiError(402, f"Not enough training steps: {account.anlas} left, {steps} needed") from None
        conn.execute(
            "INSERT INTO nai_modules "
            "(id, account_id, name, description, dataset, lr, steps, model, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (module_id, account.id, name, description, data, float(lr), steps, model, state.now()),
        )
    row = store.query_one("SELECT * FROM nai_modules WHERE id = ?", (module_id,))
    return json_response(_dto(row, state.now()), status=201)


@routes.get("/ai/module/all")
async def list_modules(request: web.Request) -> web.Response:
    """Answer every module of the account, oldest first."""
    account = authenticate(request)
    rows = _store(request).query("SELECT * FROM nai_modules WHERE account_id = ? ORDER BY seq", (account.id,))
    now = request.app[STATE].now()
    return json_response([_dto(r, now) for r in rows])


async def _buy(request: web.Request) -> web.Response:
    account = authenticate(request)
    body = await json_body(request)
    amount = field(body, "amount", int)
    if not 1 <= amount <= 1_000_000:
        raise ApiError(400, "amount must be between 1 and 1000000")
    updated = request.app[STATE].store.adjust_anlas(account.id, amount)
    return json_response(subscription_json(updated, request.app[STATE].now()))


# REF sends DELETE with a body (spec §3.2, probably a bug); POST is what a client should use. Both work.
# Registered before /ai/module/{id} so that the literal path wins.
routes.post("/ai/module/buy-training-steps")(_buy)
routes.delete("/ai/module/buy-training-steps")(_buy)


def _own(request: web.Request) -> tuple[Any, Any]:
    account = authenticate(request)
    row = _store(request).query_one(
        "SELECT * FROM nai_modules WHERE id = ? AND account_id = ?", (request.match_info["id"], account.id)
    )
    if row is None:
        raise ApiError(404, "Module not found")
    return account, row


@routes.get("/ai/module/{id}")
async def get_module(request: web.Request) -> web.Response:
    """Answer one module."""
    _, row = _own(request)
    return json_response(_dto(row, request.app[STATE].now()))


@routes.delete("/ai/module/{id}")
async def delete_module(request: web.Request) -> web.Response:
    """Delete a module; answer it as it was."""
    _, row = _own(request)
    dto = _dto(row, request.app[STATE].now())
    _store(request).execute("DELETE FROM nai_modules WHERE id = ?", (row["id"],))
    return json_response(dto)
