"""Novita's LoRA training in the sandbox: presigned uploads of training images, subject and style tasks
that move with the sandbox clock (``sandbox:fail`` in the name fails one), their status and their list."""

from __future__ import annotations

import json
import math
import secrets
import uuid
from typing import Any

from aiohttp import web

from .. import _novita_limits as limits
from . import novita_store as ns
from .http import STATE, json_response, read_body
from .novita_http import (
    MB,
    NovitaError,
    auth,
    bad,
    charge,
    check_signature,
    file_url,
    get_field,
    handler,
    int_field,
    json_body,
    pagination,
    s3_error,
    store_of,
    text_field,
)
from .store import secret_hash

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.post("/v3/assets/training_dataset")
@handler
async def training_asset(request: web.Request) -> web.Response:
    """Hand out a presigned PUT URL for one training image."""
    account = auth(request)
    body = await json_body(request)
    ext = get_field(body, "file_extension", "png")
    if ext not in ("png", "jpeg", "webp"):
        raise bad("file_extension must be png, jpeg or webp")
    assets_id = secrets.token_hex(16)
    store = store_of(request)
    now = request.app[STATE].now()
    store.execute(
        "INSERT INTO novita_assets (assets_id, key_hash, ext, created_at) VALUES (?, ?, ?, ?)",
        (assets_id, account["key_hash"], ext, now),
    )
    url = file_url(request, f"/novita-s3/training/{assets_id}.{ext}", int(now), int(ns.TIMING["upload_ttl"]))
    return json_response(
        {
            "assets_id": assets_id,
            "upload_url": url,
            "method": "PUT",
            "headers": {"Host": {"values": [request.host]}},
        }
    )


@routes.put("/novita-s3/training/{name}")
async def upload_asset(request: web.Request) -> web.Response:
    """Store the bytes of a training image at its presigned URL (no Authorization, like S3)."""
    expires = check_signature(request)
    if expires is None:
        return s3_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match")
    if request.app[STATE].now() > expires:
        return s3_error(403, "AccessDenied", "Request has expired")
    assets_id = request.match_info["name"].split(".", 1)[0]
    data = bytes(await read_body(request))
    if len(data) > 30 * MB:
        return s3_error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
    store_of(request).execute("UPDATE novita_assets SET data = ? WHERE assets_id = ?", (data, assets_id))
    return web.Response(status=200, headers={"ETag": '"' + secret_hash(data.hex())[:32] + '"'})


def _expert(body: dict[str, Any], kind: str) -> int:
    es = get_field(body, "expert_setting", {})
    if not isinstance(es, dict):
        raise bad("expert_setting must be an object")
    w = "expert_setting."
    if kind == "subject":
        text_field(es, "instance_prompt", 1, 1024, where=w)
        if get_field(es, "class_prompt") != "person":
            raise bad("expert_setting.class_prompt must be 'person'")
    if get_field(es, "train_batch_size") is not None:
        int_field(es, "train_batch_size", 1, 4, where=w)
    lr = get_field(es, "learning_rate")
    if lr is not None:
        try:
            rate = float(lr)
        except (TypeError, ValueError):
            rate = -1.0
        if not any(math.isclose(rate, r, rel_tol=1e-9) for r in limits.LEARNING_RATES):
            raise bad(f"expert_setting.learning_rate must be one of 1e-4, 1e-5, 1e-6, 2e-4, 5e-5, got {lr!r}")
    if get_field(es, "lr_scheduler") is not None and es["lr_scheduler"] not in limits.LR_SCHEDULERS:
        raise bad("expert_setting.lr_scheduler is unknown")
    for name in ("lora_r", "lora_alpha", "lora_text_encoder_r", "lora_text_encoder_alpha"):
        if get_field(es, name) is not None:
            int_field(es, name, 4, 128, where=w)
    if get_field(es, "seed") is not None:
        int_field(es, "seed", 1, None, where=w)
    return (
        int_field(es, "max_train_steps", 1, 100_000, 500, where=w)
        if get_field(es, "max_train_steps") is not None
        else 500
    )


def _training_route(kind: str) -> None:
    async def create(request: web.Request) -> web.Response:
        account = auth(request)
        body = await json_body(request)
        name = text_field(body, "name", 1, 256)
        if get_field(body, "base_model") not in limits.TRAINING_BASE_MODELS:
            raise bad(f"base_model {body.get('base_model')!r} is not one of the training base models")
        int_field(body, "width", 1, None)
        int_field(body, "height", 1, None)
        items = get_field(body, "image_dataset_items")
        if not isinstance(items, list) or not 1 <= len(items) <= limits.MAX_TRAINING_IMAGES:
            raise bad(f"image_dataset_items needs 1 to {limits.MAX_TRAINING_IMAGES} items")
        store = store_of(request)
        for i, item in enumerate(items):
            aid = get_field(item, "assets_id") if isinstance(item, dict) else None
            row = store.query_one(
                "SELECT data FROM novita_assets WHERE assets_id = ? AND key_hash = ?",
                (str(aid), account["key_hash"]),
            )
            if row is None or row["data"] is None:
                raise bad(f"image_dataset_items[{i}].assets_id {aid!r} was never uploaded")
            if kind == "style":
                text_field(item, "caption", 1, 1024, where=f"image_dataset_items[{i}].")
        for i, comp in enumerate(get_field(body, "components", []) or []):
            if not isinstance(comp, dict) or comp.get("name") not in limits.TRAINING_COMPONENTS:
                raise bad(f"components[{i}].name must be one of {', '.join(limits.TRAINING_COMPONENTS)}")
        steps = _expert(body, kind)
        now = request.app[STATE].now()
        task_id = str(uuid.uuid4())
        model_name = f"model_{int(now)}_{secrets.token_hex(5).upper()}.safetensors"
        train_s = max(ns.TIMING["train_min"], steps * ns.TIMING["train_per_step"])
        fail = "sandbox: the training name asked for a failure" if ns.FAIL_MARK in name else ""
        with store.transaction() as conn:
            charge(store, account, ns.COST_TRAINING)
            conn.execute(
                "INSERT INTO novita_trainings (task_id, key_hash, kind, name, base_model, created_at, "
                "train_s, "
                "fail_reason, model_name, request) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    task_id,
                    account["key_hash"],
                    kind,
                    name,
                    body["base_model"],
                    now,
                    train_s,
                    fail,
                    model_name,
                    json.dumps({k: v for k, v in body.items() if k != "image_dataset_items"}),
                ),
            )
        return json_response({"task_id": task_id})

    async def status(request: web.Request) -> web.Response:
        account = auth(request)
        task_id = request.query.get("task_id", "")
        row = store_of(request).query_one(
            "SELECT * FROM novita_trainings WHERE task_id = ? AND key_hash = ? AND kind = ?",
            (task_id, account["key_hash"], kind),
        )
        if row is None:
            raise NovitaError(404, "TASK_NOT_FOUND", f"training task {task_id!r} not found")
        st = ns.train_state(row["created_at"], row["train_s"], row["fail_reason"], request.app[STATE].now())
        body = {
            "task_id": task_id,
            "task_status": st.status,
            "model_type": "lora",
            "models": [{"model_name": row["model_name"], "model_status": st.model_status}]
            if st.model_status
            else [],
            "extra": {"eta_relative": st.eta, "progress_percent": st.progress},
        }
        if st.status == "FAILED":
            body["reason"] = row["fail_reason"]
        return json_response(body)

    create.__doc__ = f"Start a {kind} LoRA training."
    status.__doc__ = f"Answer a {kind} training's status."
    routes.post(f"/v3/training/{kind}")(handler(create))
    routes.get(f"/v3/training/{kind}")(handler(status))


for _kind in ("subject", "style"):
    _training_route(_kind)


@routes.get("/v3/training")
@handler
async def trainings(request: web.Request) -> web.Response:
    """List training tasks, newest first, ``c_<offset>`` cursors."""
    account = auth(request)
    q = request.query
    limit, offset = pagination(q, 10)
    task_type = q.get("task_type")
    if task_type and task_type not in ("subject", "style"):
        raise bad("task_type must be subject or style")
    sql = (
        "SELECT * FROM novita_trainings WHERE key_hash = ?"
        + (" AND kind = ?" if task_type else "")
        + " ORDER BY seq DESC"
    )
    rows = store_of(request).query(
        sql, (account["key_hash"], task_type) if task_type else (account["key_hash"],)
    )
    now = request.app[STATE].now()
    tasks = []
    for row in rows[offset : offset + limit]:
        st = ns.train_state(row["created_at"], row["train_s"], row["fail_reason"], now)
        tasks.append(
            {
                "task_name": row["name"],
                "task_id": row["task_id"],
                "task_type": row["kind"],
                "task_status": st.status,
                "created_at": int(row["created_at"]),
                "models": [{"model_name": row["model_name"], "model_status": st.model_status}]
                if st.model_status
                else [],
            }
        )
    more = offset + limit < len(rows)
    return json_response(
        {"tasks": tasks, "pagination": {"next_cursor": f"c_{offset + limit}" if more else ""}}
    )
