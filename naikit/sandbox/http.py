"""What every sandbox handler uses: the shared state, the error to raise, responses, and bodies read safely.

:data:`STATE` (``request.app[STATE]``: store, clock, token issuer, fault injector, outbox) holds what handlers
share; raise :class:`ApiError` to answer with NovelAI's ``{"statusCode", "message"}`` envelope; answer with
:func:`json_response`. Bodies are read through :func:`read_body` only: at most :data:`MAX_BODY` bytes (413
before reading when the Content-Length says more), within the sandbox's read timeout (408 and the connection
closed otherwise), into one buffer, and all bodies being received at once share a budget of
:data:`BODY_BUDGET` bytes (503 with Retry-After beyond it). :func:`json_body`, :func:`parse_json` and
:func:`field` check what they contain the way NovelAI's validation does.

The application itself (middlewares, admin hooks, route tables) is assembled in :mod:`naikit.sandbox.app`;
this module imports no other part of the sandbox at run time, so the areas, the token issuer and the fault
injector all import from here without a circle.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

if TYPE_CHECKING:
    from .access_tokens import TokenIssuer
    from .clock import Clock
    from .faults import FaultInjector
    from .store import Store

__all__ = [
    "STATE",
    "SandboxState",
    "ApiError",
    "json_response",
    "empty_response",
    "error_response",
    "json_body",
    "parse_json",
    "read_body",
    "request_text",
    "field",
    "choice_field",
    "apply_settings",
    "token_delay_setting",
    "MAX_BODY",
    "ADMIN_HEADER",
    "READ_TIMEOUT",
    "BODY_BUDGET",
]

# The largest request a real client sends: an image request with base64 images (a 2048x1536 source, its mask,
# vibe and character references) or a large story upload. NovelAI publishes no limit (its website only shows
# that a story save can fail with "body is too large"); Novita's documented images are at most 30 MB each.
# 64 MiB holds all of these; anything larger is refused with 413.
MAX_BODY = 64 * 1024 * 1024
# Seconds a client has to send a request's headers (after connecting or after the previous response) and,
# separately, its body; an idle keep-alive connection is closed after as long.
READ_TIMEOUT = 60.0
# Bytes of request bodies the sandbox holds at once, summed over the requests in progress.
BODY_BUDGET = 4 * MAX_BODY
# Header carrying the admin token that the /_sandbox/ test hooks require (when they are on at all).
ADMIN_HEADER = "X-Naikit-Admin-Token"


class ApiError(Exception):
    """Raise in a handler to answer ``{"statusCode": status, "message": message}`` with that status."""

    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None, *, close: bool = False
    ):
        self.status = status
        self.message = message
        self.headers = headers or {}
        # close the connection after answering (a body was left unread, or the client is too slow)
        self.close = close
        super().__init__(f"{status}: {message}")


@dataclass
class SandboxState:
    """Everything handlers share, reachable as ``request.app[STATE]``."""

    store: Store
    clock: Clock
    tokens: TokenIssuer
    faults: FaultInjector
    # None: the /_sandbox/ test hooks are off (404). Else the token they require in ADMIN_HEADER.
    admin_token: str | None = None
    read_timeout: float = READ_TIMEOUT
    max_body: int = MAX_BODY
    body_budget: int = BODY_BUDGET
    # bytes of bodies held by requests in progress, in all and per request (id); the loop's thread only
    bodies_held: int = 0
    held_by: dict[int, int] = dc_field(default_factory=dict)
    # "Mails" the sandbox would have sent (verification and recovery tokens), newest last. Memory only.
    outbox: list[dict[str, Any]] = dc_field(default_factory=list)
    outbox_lock: threading.Lock = dc_field(default_factory=threading.Lock)
    # Each area's own knobs and registries (image settings, generation locks), made on first use by the area
    # that owns them, so this shared state names no area's types.
    extras: dict[str, object] = dc_field(default_factory=dict)

    def now(self) -> float:
        """Return the sandbox clock's current time (unix seconds)."""
        return self.clock.now()

    def send_mail(self, kind: str, to: str, token: str) -> None:
        """Record a mail in the outbox (what a real server would have emailed); returns None."""
        with self.outbox_lock:
            self.outbox.append({"kind": kind, "to": to, "token": token, "at": int(self.now())})


STATE: web.AppKey[SandboxState] = web.AppKey("naikit_sandbox_state", SandboxState)


def _dumps(obj: Any) -> str:
    # Node's JSON.stringify: compact, non-ASCII kept as is
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Return a JSON response (``application/json``, compact like NovelAI's)."""
    return web.Response(status=status, text=_dumps(obj), content_type="application/json", headers=headers)


def empty_response(status: int = 200) -> web.Response:
    """Return a bodiless success for endpoints clients treat as booleans (``text/plain``: REF parses it)."""
    return web.Response(status=status, body=b"", content_type="text/plain", charset="utf-8")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """Return NovelAI's error envelope ``{"statusCode": n, "message": "..."}`` with that status."""
    return json_response({"statusCode": status, "message": message}, status=status, headers=headers)


async def read_body(request: web.Request) -> bytearray:
    """Return the request body (read once: a second call returns what is left, nothing).

    Raises ApiError 413 when it is larger than the sandbox's limit (at once if the Content-Length says so)
    and 408 when it does not arrive within the read timeout; both close the connection.
    """
    state = request.app[STATE]
    limit = state.max_body
    too_large = ApiError(413, f"Request entity too large (the limit is {limit} bytes)", close=True)
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    buf = bytearray()

    async def fill() -> None:
        while True:
            chunk = await request.content.readany()
            if not chunk:
                return
            if len(buf) + len(chunk) > limit:
                raise too_large
            if state.bodies_held + len(chunk) > state.body_budget:
                raise ApiError(
                    503,
                    "the sandbox is receiving too many large requests at once; retry in a moment",
                    {"Retry-After": "1"},
                    close=True,
                )
            # held until the request is answered (body_budget_middleware gives it back)
            state.bodies_held += len(chunk)
            state.held_by[id(request)] = state.held_by.get(id(request), 0) + len(chunk)
            buf.extend(chunk)

    try:
        await asyncio.wait_for(fill(), state.read_timeout)
    except asyncio.TimeoutError:
        raise ApiError(
            408, f"request body not received within {state.read_timeout:g} s", close=True
        ) from None
    return buf


async def json_body(request: web.Request) -> dict[str, Any]:
    """Return the request body parsed as a JSON object; raise ApiError 400 otherwise."""
    raw = await read_body(request)
    if not raw.strip():
        raise ApiError(400, "request body must be a JSON object")
    try:
        # decode, then drop the bytes before parsing: a 60 MB story then needs two copies at a time, not three
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "request body is not valid JSON") from None
    del raw
    body = parse_json(text)
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes | bytearray | str) -> Any:
    """Return ``raw`` parsed as strict JSON, as NovelAI's server (JSON.parse, then validation) would take it.

    Raises ApiError 400 for what it refuses: invalid JSON or UTF-8, NaN/Infinity, numbers beyond a double
    (1e400), text holding lone surrogates (``"\\ud800"``: not a character any field can store), nesting
    deeper than any request has.
    """
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "request body is not valid JSON") from None
    problem = _json_problem(body, "", 0)
    if problem:
        raise ApiError(400, problem)
    return body


def _json_problem(value: Any, where: str, depth: int) -> str | None:
    """Return why a parsed JSON value cannot be accepted (or None): see :func:`parse_json`."""
    if depth > 100:
        return "request body is nested too deeply"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where or 'value'} must be a finite number"
    if isinstance(value, str):
        return f"{where or 'value'} must be valid Unicode text" if _has_surrogate(value) else None
    if isinstance(value, dict):
        for k, v in value.items():
            if _has_surrogate(k):
                return "object keys must be valid Unicode text"
            problem = _json_problem(v, k, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for v in value:
            problem = _json_problem(v, where, depth + 1)
            if problem:
                return problem
    return None


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


def request_text(raw: bytes) -> str:
    """Return a request body as UTF-8 text; raise ApiError 400 when it is not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "request body must be UTF-8 text") from None


_TYPE_NAMES = {
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    dict: "an object",
    list: "an array",
}
_MISSING = object()


def field(
    body: dict[str, Any],
    name: str,
    kind: type | tuple[type, ...],
    *,
    required: bool = True,
    length: int | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    default: Any = None,
) -> Any:
    """Return ``body[name]`` checked like NovelAI's validation, or ``default`` if optional and absent.

    Raises ApiError 400 naming the field when it is missing, null when required, of the wrong type, or of the
    wrong length (strings).
    """
    value = body.get(name, _MISSING)
    if value is _MISSING or (value is None and required):
        if required:
            raise ApiError(400, f"{name} should not be empty")
        return default
    if value is None:
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # bool is an int in Python but not a number in JSON
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok:
        expected = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
        raise ApiError(400, f"{name} must be {expected}")
    if isinstance(value, str):
        if length is not None and len(value) != length:
            raise ApiError(400, f"{name} must be exactly {length} characters long (got {len(value)})")
        if min_length is not None and len(value) < min_length:
            raise ApiError(400, f"{name} must be longer than or equal to {min_length} characters")
        if max_length is not None and len(value) > max_length:
            raise ApiError(400, f"{name} must be shorter than or equal to {max_length} characters")
    return value


_T = TypeVar("_T")


def choice_field(body: dict[str, Any], name: str, choices: Mapping[str, _T]) -> _T:
    """Return ``choices[body[name]]``; ApiError 400 when the field is empty, not a string or not a key of
    ``choices`` (naming every allowed value, as NovelAI's enum validation does)."""
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ApiError(400, f"{name} should not be empty")
    chosen = choices.get(value)
    if chosen is None:
        raise ApiError(400, f"{name} must be one of the following values: {', '.join(choices)}")
    return chosen


def apply_settings(
    body: dict[str, Any], settings: dict[str, Any], checks: Mapping[str, Callable[[Any], Any]]
) -> dict[str, Any]:
    """Store the keys of a ``PUT /_sandbox/...`` body in ``settings``, each through its check (in the order
    of ``checks``; a check returns the value to keep or raises ApiError 400); return ``settings``.
    ApiError 400 for a key ``checks`` does not know; keys not given keep their value."""
    unknown = sorted(set(body) - set(checks))
    if unknown:
        raise ApiError(400, f"unknown setting {unknown[0]}: {' and '.join(checks)} are known")
    for key, check in checks.items():
        if key in body:
            settings[key] = check(body[key])
    return settings


def token_delay_setting(value: Any) -> float:
    """Return the seconds each generated token takes (a number from 0 to 5) as a float; ApiError 400
    for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 5:
        raise ApiError(400, "token_delay must be a number of seconds from 0 to 5")
    return float(value)
