"""The sandbox's aiohttp application, assembled from route tables.

Each service area lives in its own module exposing ``routes`` (an ``aiohttp.web.RouteTableDef``);
:data:`AREAS` lists them, and :func:`build_app` adds every table to one application. The three NovelAI
hosts (api, image, text) share one port: their paths do not collide. A new endpoint is one handler in the
right table; a new area is one module and one line in :data:`AREAS`.

What every handler shares (the state, ApiError, responses, reading bodies) is in :mod:`naikit.sandbox.http`.

Middlewares, outermost first: the body budget (gives back what a request's body held once it is answered),
faults (so a fault happens before anything else), then errors (turns ApiError,
aiohttp's own 404/405/413 and unexpected exceptions into the envelope, never echoing a body or a header), then
the test-hook gate (:data:`ADMIN_PREFIX` paths answer 404 unless the sandbox was started with test hooks, and
401 without the admin token in :data:`ADMIN_HEADER`).
"""

from __future__ import annotations

import functools
import hmac
import importlib
import json
import logging
from typing import Any

from aiohttp import web

from .access_tokens import TokenIssuer
from .clock import Clock, FakeClock, SystemClock
from .demo_account import DEMO_EMAIL, DEMO_PASSWORD
from .faults import ADMIN_PREFIX, FaultInjector, FaultPlan, as_plan, fault_middleware
from .http import (
    ADMIN_HEADER,
    MAX_BODY,
    READ_TIMEOUT,
    STATE,
    ApiError,
    SandboxState,
    error_response,
    field,
    json_body,
    json_response,
    read_body,
)
from .store import Store, StoreConflict

__all__ = ["AREAS", "build_app", "seed_demo_account", "demo_access_keys"]

log = logging.getLogger("naikit.sandbox")


# Modules (relative to this package) whose ``routes`` make up the application. Later areas: content, text,
# image, modules (NovelAI); novita_tasks, novita_training, novita_models.
AREAS: tuple[str, ...] = (
    "accounts",
    "text",
    "oa",
    "image",
    "modules",
    "voice",
    "novita",
    "novita_models",
    "novita_training",
)

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
