"""The sandbox's aiohttp application, assembled from route tables.

Each service area lives in its own module exposing ``routes`` (an ``aiohttp.web.RouteTableDef``);
:data:`AREAS` lists them, and :func:`build_app` adds every table to one application. The three NovelAI
hosts (api, image, text) share one port: their paths do not collide. A new endpoint is one handler in the
right table; a new area is one module and one line in :data:`AREAS`.

Shared by every handler: :data:`STATE` (``request.app[STATE]``: store, clock, token issuer, fault injector,
outbox), :class:`ApiError` (raise it to answer with NovelAI's ``{"statusCode", "message"}`` envelope),
:func:`json_response`, and the body checks (:func:`json_body`, :func:`field`).

Middlewares, outermost first: the body budget (gives back what a request's body held once it is answered),
faults (so a fault happens before anything else), then errors (turns ApiError,
aiohttp's own 404/405/413 and unexpected exceptions into the envelope, never echoing a body or a header), then
the test-hook gate (:data:`ADMIN_PREFIX` paths answer 404 unless the sandbox was started with test hooks, and
401 without the admin token in :data:`ADMIN_HEADER`).

Bodies are read through :func:`read_body` only: at most :data:`MAX_BODY` bytes (413 before reading when the
Content-Length says more), within the sandbox's read timeout (408 and the connection closed otherwise), into
one buffer (no second copy), and all bodies being received at once share a budget of :data:`BODY_BUDGET`
bytes (503 with Retry-After beyond it), so many large uploads at once cannot exhaust memory either.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import importlib
import json
import logging
import math
import threading
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from aiohttp import web

from . import DEMO_EMAIL, DEMO_PASSWORD
from .access_tokens import TokenIssuer
from .clock import Clock, FakeClock, SystemClock
from .faults import ADMIN_PREFIX, FaultInjector, FaultPlan, as_plan, fault_middleware
from .store import Store, StoreConflict

__all__ = [
    "AREAS",
    "STATE",
    "SandboxState",
    "ApiError",
    "build_app",
    "json_response",
    "empty_response",
    "error_response",
    "json_body",
    "parse_json",
    "read_body",
    "request_text",
    "field",
    "seed_demo_account",
    "demo_access_keys",
    "DEMO_EMAIL",
    "DEMO_PASSWORD",
    "MAX_BODY",
    "ADMIN_HEADER",
    "READ_TIMEOUT",
    "BODY_BUDGET",
]

log = logging.getLogger("naikit.sandbox")


# Modules (relative to this package) whose ``routes`` make up the application. Later areas: content, text,
# image, modules (NovelAI); novita_tasks, novita_training, novita_models.
AREAS: tuple[str, ...] = ("accounts", "text", "oa", "image", "modules", "voice", "novita")

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


def parse_json(raw: bytes | str) -> Any:
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


_INVALID = {
    "UnicodeEncodeError": "text must be valid Unicode (no lone surrogates)",
    "UnicodeDecodeError": "text must be UTF-8",
    "OverflowError": "a number is out of range",
    "RecursionError": "nested too deeply",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn every failure into NovelAI's JSON error envelope."""
    try:
        return await handler(request)
    except ApiError as exc:
        response = error_response(exc.status, exc.message, exc.headers)
        if exc.close:
            response.force_close()
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            message = f"Cannot {request.method} {request.path}"
        elif exc.status == 405:
            message = f"Method {request.method} not allowed on {request.path}"
        elif exc.status == 413:
            message = "Request entity too large"
        else:
            message = exc.reason
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return error_response(exc.status, message, headers)
    except StoreConflict as exc:
        return error_response(409, f"{exc.what.capitalize()} already in use")
    except (UnicodeError, OverflowError, RecursionError) as exc:
        # Only client input reaches these (text UTF-8 cannot carry, numbers beyond range, absurd nesting):
        # NovelAI answers such input with a validation error, never a server error.
        log.info("sandbox refused input on %s %s: %s", request.method, request.path, type(exc).__name__)
        return error_response(400, "invalid input: " + _INVALID.get(type(exc).__name__, "bad value"))
    except Exception:
        # method and path only: bodies and headers can carry keys and tokens
        log.exception("sandbox handler failed on %s %s", request.method, request.path)
        return error_response(500, "Internal server error")


@web.middleware
async def body_budget_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Give the bytes a request's body took from the shared budget back once it has been answered."""
    try:
        return await handler(request)
    finally:
        state = request.app[STATE]
        state.bodies_held -= state.held_by.pop(id(request), 0)


@web.middleware
async def hooks_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Gate every ``/_sandbox/`` path: 404 when test hooks are off, 401 without the admin token."""
    if request.path.startswith(ADMIN_PREFIX):
        token = request.app[STATE].admin_token
        if token is None:
            raise ApiError(
                404,
                f"Cannot {request.method} {request.path} (the sandbox's test hooks are off: start it with "
                "test_hooks=True or `naikit serve --test-hooks`)",
            )
        given = request.headers.get(ADMIN_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8")):
            raise ApiError(
                401,
                f"the sandbox's test hooks need the admin token in the {ADMIN_HEADER} header "
                "(`naikit serve --test-hooks` prints it at start; Sandbox.admin_token in Python)",
            )
    return await handler(request)


# --------------------------------------------------------------------------------------------- admin area

admin = web.RouteTableDef()


@admin.get("/_sandbox/faults")
async def get_faults(request: web.Request) -> web.Response:
    """Answer the fault plan in force."""
    return json_response(request.app[STATE].faults.plan.to_dict())


@admin.put("/_sandbox/faults")
async def put_faults(request: web.Request) -> web.Response:
    """Replace the fault plan from a JSON object (field names) or a JSON string in the CLI form."""
    raw = await read_body(request)
    try:
        data = json.loads(raw) if raw.strip() else None
    except ValueError:
        raise ApiError(400, "request body is not valid JSON") from None
    if data is not None and not isinstance(data, (dict, str)):
        raise ApiError(
            400, "body must be a JSON object of FaultPlan fields or a string like '429=0.2,seed=7'"
        )
    try:
        plan = as_plan(data)
    except (ValueError, TypeError) as exc:
        raise ApiError(400, str(exc)) from None
    request.app[STATE].faults.plan = plan
    return json_response(plan.to_dict())


@admin.delete("/_sandbox/faults")
async def delete_faults(request: web.Request) -> web.Response:
    """Turn fault injection off."""
    request.app[STATE].faults.plan = FaultPlan()
    return json_response(FaultPlan().to_dict())


@admin.get("/_sandbox/stats")
async def get_stats(request: web.Request) -> web.Response:
    """Answer the request and injected-fault counters."""
    return json_response(request.app[STATE].faults.stats())


@admin.delete("/_sandbox/stats")
async def reset_stats(request: web.Request) -> web.Response:
    """Zero the counters and answer them."""
    state = request.app[STATE]
    state.faults.reset_stats()
    return json_response(state.faults.stats())


@admin.get("/_sandbox/outbox")
async def get_outbox(request: web.Request) -> web.Response:
    """Answer the mails the sandbox would have sent (``?kind=`` and ``?to=`` filter them)."""
    state = request.app[STATE]
    kind, to = request.query.get("kind"), request.query.get("to")
    with state.outbox_lock:
        mails = [
            m for m in state.outbox if (kind is None or m["kind"] == kind) and (to is None or m["to"] == to)
        ]
    return json_response({"mails": mails})


@admin.get("/_sandbox/clock")
async def get_clock(request: web.Request) -> web.Response:
    """Answer the sandbox time and whether it is a fake clock."""
    clock = request.app[STATE].clock
    return json_response({"now": clock.now(), "fake": isinstance(clock, FakeClock)})


@admin.post("/_sandbox/clock")
async def move_clock(request: web.Request) -> web.Response:
    """Move a fake clock: ``{"advance": seconds}`` or ``{"set": timestamp}``; 409 on a real clock."""
    clock = request.app[STATE].clock
    if not isinstance(clock, FakeClock):
        raise ApiError(
            409, "the sandbox runs on the real clock; start it with clock=FakeClock() to move time"
        )
    body = await json_body(request)
    advance = field(body, "advance", (int, float), required=False)
    to = field(body, "set", (int, float), required=False)
    if advance is None and to is None:
        raise ApiError(400, "advance should not be empty (or give set)")
    if advance is not None:
        if advance < 0:
            raise ApiError(400, "advance must not be negative")
        clock.advance(advance)
    if to is not None:
        clock.set(to)
    return json_response({"now": clock.now(), "fake": True})


# ----------------------------------------------------------------------------------------------- assembly


@functools.lru_cache(maxsize=1)
def demo_access_keys() -> tuple[str, ...]:
    """Return the demo account's access keys: email lower-cased and as typed (one for this email).

    Argon2 costs ~20 ms, so this runs once per process.
    """
    from ..novelai.auth import access_key

    keys = (
        access_key(DEMO_EMAIL, DEMO_PASSWORD, email_case="lower"),
        access_key(DEMO_EMAIL, DEMO_PASSWORD, email_case="verbatim"),
    )
    return tuple(dict.fromkeys(keys))


def seed_demo_account(store: Store, clock: Clock) -> str:
    """Create the demo account (Opus, active, some Anlas) unless it exists; return its account id."""
    from ..novelai.auth import hashed_email

    email_hash = hashed_email(DEMO_EMAIL)
    existing = store.account_by_email_hash(email_hash)
    if existing is not None:
        return existing.id
    now = int(clock.now())
    account = store.create_account(
        demo_access_keys(),
        created_at=now,
        email_hash=email_hash,
        email_verified=True,
        email_letter_sent=True,
        trial_activated=True,
        trial_actions_left=0,
        trial_images_left=0,
        tier=3,
        active=True,
        expires_at=now + 365 * 24 * 3600,
        fixed_training_steps=10_000,
        purchased_training_steps=2_500,
        payment_processor_data=None,
    )
    from .demo_content import seed_demo_content

    seed_demo_content(store, account.id, DEMO_EMAIL, DEMO_PASSWORD)
    return account.id


def build_app(
    store: Store,
    *,
    faults: FaultPlan | str | FaultInjector | None = None,
    clock: Clock | None = None,
    admin_token: str | None = None,
    read_timeout: float = READ_TIMEOUT,
) -> web.Application:
    """Return the sandbox ``web.Application`` on ``store`` (demo account seeded if missing).

    ``faults`` is a plan (or its string form) or an existing injector; ``clock`` defaults to real time.
    ``admin_token`` turns the ``/_sandbox/`` test hooks on, each request needing it in :data:`ADMIN_HEADER`
    (None: they answer 404). ``read_timeout`` bounds how long a request body may take to arrive. The caller
    owns ``store`` and closes it after the application has stopped.
    """
    clock = clock or SystemClock()
    injector = faults if isinstance(faults, FaultInjector) else FaultInjector(as_plan(faults))
    state = SandboxState(
        store=store,
        clock=clock,
        tokens=TokenIssuer(store, clock),
        faults=injector,
        admin_token=admin_token,
        read_timeout=read_timeout,
    )
    seed_demo_account(store, clock)

    app = web.Application(
        # the budget outermost: a dropped-connection fault reads the body too, and must give it back
        middlewares=[body_budget_middleware, fault_middleware(injector), error_middleware, hooks_middleware],
        client_max_size=MAX_BODY,
    )
    app[STATE] = state
    app.add_routes(admin)
    for area in AREAS:
        module = importlib.import_module(f".{area}", __package__)
        app.add_routes(module.routes)
    return app
