"""Novita's model catalogue and account in the sandbox: ``GET /v3/model`` (filters, cursor pages;
trained LoRAs join once they serve) and ``GET /v3/user``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import novita_store as ns
from .http import STATE, json_response
from .novita_http import (
    NovitaError,
    auth,
    bad,
    handler,
    pagination,
    store_of,
)
from .store import Store

__all__ = ["routes", "models_of", "model_names"]

routes = web.RouteTableDef()


def models_of(store: Store, key_hash: str, now: float) -> list[dict[str, Any]]:
    """Return the public catalogue plus this key's trained models that are SERVING."""
    out = list(ns.CATALOGUE)
    for i, row in enumerate(
        store.query("SELECT * FROM novita_trainings WHERE key_hash = ? ORDER BY seq", (key_hash,))
    ):
        st = ns.train_state(row["created_at"], row["train_s"], row["fail_reason"], now)
        if st.model_status == "SERVING":
            sd = row["model_name"]
            out.append(
                {
                    **ns._model(
                        900_000 + i,
                        row["name"],
                        sd,
                        "lora",
                        "SDXL 1.0" if "xl" in row["base_model"].lower() else "SD 1.5",
                        "xl" in row["base_model"].lower(),
                    ),
                    "sd_name_in_api": sd,
                    "source": "training",
                    "visibility": "private",
                }
            )
    return out


def model_names(models: list[dict[str, Any]], type_: str) -> set[str]:
    """Return every name (``sd_name`` and ``sd_name_in_api``) of the models of type ``type_``."""
    out: set[str] = set()
    for m in models:
        if m["type"]["name"] == type_:
            out |= {m["sd_name"], m["sd_name_in_api"]}
    return out


def _bool_param(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise bad(f"boolean expected, got {value!r}")


@routes.get("/v3/model")
@handler
async def models(request: web.Request) -> web.Response:
    """List models with filters and cursor pagination (opaque cursors; the SDK's ``c_<n>`` works too)."""
    account = auth(request)
    q = request.query
    limit, offset = pagination(q, 100)
    items = models_of(store_of(request), account["key_hash"], request.app[STATE].now())
    types = q.get("filter.types") or q.get("filter.type")
    if types:
        items = [m for m in items if m["type"]["name"] in types.split(",")]
    for key in ("visibility", "source"):
        if q.get(f"filter.{key}"):
            items = [m for m in items if m[key] == q[f"filter.{key}"]]
    sdxl = _bool_param(q.get("filter.is_sdxl"))
    if sdxl is not None:
        items = [m for m in items if m["is_sdxl"] == sdxl]
    inpainting = _bool_param(q.get("filter.is_inpainting"))
    if inpainting:
        items = [m for m in items if m["base_model_type"] == "Inpainting"]
    if q.get("filter.query"):
        needle = q["filter.query"].lower()
        items = [
            m
            for m in items
            if needle in m["sd_name"].lower()
            or needle in m["name"].lower()
            or any(needle in t for t in m["tags"])
        ]
    page = items[offset : offset + limit]
    more = offset + limit < len(items)
    return json_response(
        {"models": page, "pagination": {"next_cursor": ns.encode_cursor(offset + limit) if more else ""}}
    )


@routes.get("/v3/user")
@handler
async def user(request: web.Request) -> web.Response:
    """Answer the key's features and credit balance."""
    account = auth(request)
    row = store_of(request).query_one(
        "SELECT credit_balance FROM novita_keys WHERE key_hash = ?", (account["key_hash"],)
    )
    if row is None:  # the key was removed since _auth read it
        raise NovitaError(403, "INVALID_API_KEY", "invalid API key")
    return json_response(
        {
            "allow_features": ["txt2img", "img2img", "inpainting", "upscale", "training", "video"],
            "credit_balance": row["credit_balance"],
            "free_trial": {},
        }
    )
