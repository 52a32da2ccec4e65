"""The kit every Novita route of the sandbox uses: Novita's error envelope, the key check, the JSON body,
field checks that answer 400 like Novita (``INVALID_REQUEST_BODY`` naming the field), base64 images,
billing, and the presigned S3-style URLs of result files and uploads."""

from __future__ import annotations

import base64
import binascii
import functools
import io
import math
import secrets
from typing import Any

from aiohttp import web

from .._novita_limits import MB
from . import novita_store as ns
from .http import STATE, ApiError, json_response, parse_json, read_body
from .store import Store

__all__ = [
    "MB",
    "NovitaError",
    "bad",
    "handler",
    "store_of",
    "auth",
    "json_body",
    "get_field",
    "int_field",
    "num_field",
    "text_field",
    "image_field",
    "charge",
    "file_url",
    "s3_error",
    "check_signature",
    "pagination",
]


class NovitaError(Exception):
    """Raise in a Novita handler to answer Novita's error envelope."""

    def __init__(self, status: int, reason: str, message: str, metadata: dict[str, Any] | None = None):
        self.status, self.reason, self.message, self.metadata = status, reason, message, metadata or {}
        super().__init__(f"{status} {reason}: {message}")


def bad(message: str, reason: str = "INVALID_REQUEST_BODY") -> NovitaError:
    """Return a 400 NovitaError with ``reason`` (``INVALID_REQUEST_BODY`` unless told) and ``message``."""
    return NovitaError(400, reason, message)


def handler(fn: Any) -> Any:
    """Return ``fn`` wrapped so a NovitaError it raises is answered in Novita's error envelope."""

    @functools.wraps(fn)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await fn(request)
        except NovitaError as exc:
            body = {
                "code": exc.status,
                "reason": exc.reason,
                "message": exc.message,
                "metadata": exc.metadata,
            }
            return json_response(body, status=exc.status)

    return wrapper


def store_of(request: web.Request) -> Store:
    """Return the sandbox's store, with the Novita tables made on first use."""
    store = request.app[STATE].store
    ns.ensure(store)
    return store


def auth(request: web.Request) -> dict[str, Any]:
    """Return the account of the request's key (``Bearer <key>`` or the bare key); 400/403 otherwise."""
    header = request.headers.get("Authorization", "").strip()
    if not header:
        raise NovitaError(400, "MISSING_API_KEY", "missing API key: send 'Authorization: Bearer <key>'")
    scheme, _, rest = header.partition(" ")
    key = rest.strip() if scheme.lower() == "bearer" else header
    account = ns.key_account(store_of(request), key) if key else None
    if account is None:
        raise NovitaError(403, "INVALID_API_KEY", "invalid API key")
    return account


async def json_body(request: web.Request) -> dict[str, Any]:
    """Return the request's JSON object; 400 in Novita's envelope when it is not one."""
    raw = await read_body(request)
    try:
        body = parse_json(raw) if raw.strip() else None
    except ApiError as exc:  # invalid JSON, NaN, lone surrogates: Novita's envelope, same reasons
        raise bad(exc.message) from None
    if not isinstance(body, dict):
        raise bad("request body must be a JSON object")
    return body


def get_field(d: dict[str, Any], name: str, default: Any = None) -> Any:
    # the official SDK sends explicit nulls for unset fields: null means absent
    """Return ``d[name]``, or ``default`` when it is missing or null."""
    v = d.get(name)
    return default if v is None else v


def int_field(
    d: dict, name: str, lo: int | None, hi: int | None, default: Any = None, *, where: str = ""
) -> Any:
    """Return the integer field ``name`` (an integral float counts) within [lo, hi]; 400 otherwise."""
    v = get_field(d, name, default)
    if v is None:
        raise bad(f"{where}{name} is required")
    if isinstance(v, bool) or not isinstance(v, int) and not (isinstance(v, float) and v.is_integer()):
        raise bad(f"{where}{name} must be an integer")
    v = int(v)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise bad(f"{where}{name} must be between {lo} and {hi}, got {v}")
    return v


def num_field(
    d: dict, name: str, lo: float, hi: float, default: Any = None, *, where: str = "", lo_open: bool = False
) -> Any:
    """Return the finite number field ``name`` within [lo, hi] (``lo`` excluded when ``lo_open``)."""
    v = get_field(d, name, default)
    if v is None:
        raise bad(f"{where}{name} is required")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise bad(f"{where}{name} must be a number")
    if v < lo or v > hi or (lo_open and v == lo):
        raise bad(f"{where}{name} must be between {lo} and {hi}, got {v}")
    return v


def text_field(
    d: dict, name: str, lo: int = 1, hi: int = 1024, *, required: bool = True, where: str = ""
) -> Any:
    """Return the string field ``name`` of ``lo`` to ``hi`` characters (None when optional and unset)."""
    v = get_field(d, name)
    if v is None or v == "":
        if required:
            raise bad(f"{where}{name} is required")
        return None
    if not isinstance(v, str) or not lo <= len(v) <= hi:
        raise bad(f"{where}{name} must be a string of {lo} to {hi} characters")
    return v


def image_field(
    d: dict, name: str, *, max_bytes: int, max_pixels: int = 16_000_000, max_side: int | None = None
) -> bytes:
    """Return the decoded bytes of the base64 image field ``name``, within the size limits."""
    text = get_field(d, name)
    if not isinstance(text, str) or not text:
        raise bad(f"{name} is required")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NovitaError(400, "INVALID_IMAGE_FORMAT", f"{name} is not valid base64") from None
    if len(raw) > max_bytes:
        raise NovitaError(400, "IMAGE_FILE_EXCEEDS_MAX_SIZE", f"{name} exceeds {max_bytes // MB} MB")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(raw)) as im:
            w, h = im.size
    except Exception:
        raise NovitaError(400, "INVALID_IMAGE_FORMAT", f"{name} is not an image") from None
    if w * h > max_pixels or (max_side is not None and max(w, h) > max_side):
        raise NovitaError(400, "IMAGE_EXCEEDS_MAX_RESOLUTION", f"{name} is {w}x{h}, over the limit")
    return raw


def charge(store: Store, account: dict, cost: int) -> None:
    """Take ``cost`` credits from the account's balance; 400 ``BILLING_BALANCE_NOT_ENOUGH`` if short."""
    with store.transaction() as conn:
        row = conn.execute(
            "SELECT credit_balance FROM novita_keys WHERE key_hash = ?", (account["key_hash"],)
        ).fetchone()
        if row["credit_balance"] < cost:
            raise NovitaError(
                400, "BILLING_BALANCE_NOT_ENOUGH", f"balance {row['credit_balance']} is below the cost {cost}"
            )
        conn.execute(
            "UPDATE novita_keys SET credit_balance = credit_balance - ? WHERE key_hash = ?",
            (cost, account["key_hash"]),
        )


def file_url(request: web.Request, path: str, signed_at: int, ttl: int) -> str:
    """Return a presigned-looking URL for ``path``, valid ``ttl`` seconds from ``signed_at``."""
    store = store_of(request)
    expires = signed_at + ttl
    sig = ns.sign(store, path, expires)
    origin = str(request.url.origin())
    return (
        f"{origin}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={signed_at}&X-Amz-Expires={ttl}"
        f"&X-Amz-Signature={sig}"
    )


def s3_error(status: int, code: str, message: str) -> web.Response:
    """Return S3's XML error answer."""
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return web.Response(status=status, text=xml, content_type="application/xml")


def check_signature(request: web.Request) -> int | None:
    """Return the expiry of a valid presigned URL, or None if its signature does not match."""
    q = request.query
    try:
        expires = int(q["X-Amz-Date"]) + int(q["X-Amz-Expires"])
    except (KeyError, ValueError):
        return None
    expected = ns.sign(store_of(request), request.path, expires)
    return expires if secrets.compare_digest(expected, q.get("X-Amz-Signature", "")) else None


def pagination(query: Any, default_limit: int) -> tuple[int, int]:
    """Return ``(limit, offset)`` of a list request: ``pagination.limit`` (1 to 100, ``default_limit``
    when absent) and the offset its ``pagination.cursor`` stands for; 400 when either is not valid."""
    limit = query.get("pagination.limit", str(default_limit))
    if not limit.isdigit() or not 0 < int(limit) <= 100:
        raise bad("pagination.limit must be in (0, 100]")
    cursor = query.get("pagination.cursor")
    offset = ns.decode_cursor(cursor)
    if offset is None:
        raise bad(f"pagination.cursor {cursor!r} is not a cursor this server gave out")
    return int(limit), offset
