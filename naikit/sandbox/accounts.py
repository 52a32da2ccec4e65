"""NovelAI account and user routes (spec §3.1): registration, login, account data, keystore, objects,
client settings, subscription.

Status codes follow NovelAI's (201 for register/login/recover/subscription bind, 202 for a recovery
request, 200 elsewhere); errors use the ``{"statusCode", "message"}`` envelope. Endpoints that clients
treat as booleans answer an empty ``text/plain`` body. Every ``/user/*`` endpoint needs a Bearer token
except register, login, recovery, verify-email and resend-email-verification.

Mails (email verification and recovery tokens) are not sent anywhere: they land in the sandbox outbox
(``GET /_sandbox/outbox``, ``Sandbox.outbox``), addressed to what the client gave (address or hashed email).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterable
from json.encoder import encode_basestring
from typing import Any, NamedTuple

from aiohttp import web

from ..errors import InputError
from .access_tokens import authenticate
from .http import STATE, ApiError, SandboxState, empty_response, field, json_body, json_response, read_body
from .store import OBJECT_TYPES, Account, StaleChangeIndex, StoreConflict, UserObject

__all__ = ["routes", "PERKS", "PLANS", "subscription_json", "information_json", "priority_json"]

routes = web.RouteTableDef()

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
DAY = 24 * 3600
RECOVERY_TTL = 3600
VERIFY_TTL = 7 * DAY
MAX_META = 128

# Perks per tier (0 Paper/trial, 1 Tablet, 2 Scroll, 3 Opus), as the service reports them. Values are the
# public plan descriptions; the exact image limits are unverified (spec §12).
PERKS: dict[int, dict[str, Any]] = {
    0: {
        "maxPriorityActions": 0,
        "startPriority": 0,
        "contextTokens": 2048,
        "unlimitedMaxPriority": False,
        "moduleTrainingSteps": 0,
        "voiceGeneration": True,
        "imageGeneration": True,
        "unlimitedImageGeneration": False,
        "unlimitedImageGenerationLimits": [],
    },
    1: {
        "maxPriorityActions": 1000,
        "startPriority": 10,
        "contextTokens": 4096,
        "unlimitedMaxPriority": False,
        "moduleTrainingSteps": 1000,
        "voiceGeneration": True,
        "imageGeneration": True,
        "unlimitedImageGeneration": False,
        "unlimitedImageGenerationLimits": [],
    },
    2: {
        "maxPriorityActions": 1000,
        "startPriority": 10,
        "contextTokens": 8192,
        "unlimitedMaxPriority": False,
        "moduleTrainingSteps": 1000,
        "voiceGeneration": True,
        "imageGeneration": True,
        "unlimitedImageGeneration": False,
        "unlimitedImageGenerationLimits": [],
    },
    3: {
        "maxPriorityActions": 1000,
        "startPriority": 10,
        "contextTokens": 8192,
        "unlimitedMaxPriority": True,
        "moduleTrainingSteps": 10000,
        "voiceGeneration": True,
        "imageGeneration": True,
        "unlimitedImageGeneration": True,
        "unlimitedImageGenerationLimits": [
            {"resolution": 4194304, "maxPrompts": 0},
            {"resolution": 1048576, "maxPrompts": 1},
        ],
    },
}

# newSubscriptionPlan values understood by /user/subscription/change -> tier
PLANS = {"paper": 0, "tablet": 1, "scroll": 2, "opus": 3}


# ------------------------------------------------------------------------------------------------- shapes


def information_json(account: Account) -> dict[str, Any]:
    """Return the AccountInformation shape."""
    return {
        "emailVerified": account.email_verified,
        "emailVerificationLetterSent": account.email_letter_sent,
        "trialActivated": account.trial_activated,
        "trialActionsLeft": account.trial_actions_left,
        "trialImagesLeft": account.trial_images_left,
        "accountCreatedAt": account.created_at,
    }


def priority_json(account: Account, now: float) -> dict[str, Any]:
    """Return the (legacy) Priority shape; ``nextRefillAt`` is in milliseconds, like the web app's times."""
    perks = PERKS.get(account.tier, PERKS[0])
    return {
        "maxPriorityActions": perks["maxPriorityActions"],
        "nextRefillAt": (int(now) + DAY) * 1000,
        "taskPriority": perks["startPriority"],
    }


def subscription_json(account: Account, now: float) -> dict[str, Any]:
    """Return the Subscription shape; ``trainingStepsLeft`` sums to the Anlas balance."""
    return {
        "tier": account.tier,
        "active": account.active and account.expires_at > now,
        "expiresAt": account.expires_at,
        "perks": dict(PERKS.get(account.tier, PERKS[0])),
        "paymentProcessorData": account.payment_processor_data,
        "trainingStepsLeft": {
            "fixedTrainingStepsLeft": account.fixed_training_steps,
            "purchasedTrainingSteps": account.purchased_training_steps,
        },
        "accountType": account.account_type,
        "isGracePeriod": False,
    }


# ------------------------------------------------------------------------------------------------ helpers


def _state(request: web.Request) -> SandboxState:
    return request.app[STATE]


def _login_response(state: SandboxState, account_id: str, status: int) -> web.Response:
    return json_response({"accessToken": state.tokens.issue(account_id)}, status=status)


def _email_hash(value: str, name: str) -> str:
    """Return the hashed email for an address or an already hashed (64 hex) email."""
    from ..novelai.auth import hashed_email

    if _HEX64.match(value):
        return value
    try:
        return hashed_email(value)
    except InputError:
        raise ApiError(400, f"{name} must be an email address or its SHA-256 hex digest") from None


def _mail_token(state: SandboxState, email: str, kind: str, ttl: int) -> None:
    """Mail a new ``kind`` token valid ``ttl`` seconds (to the outbox) if ``email`` has an account (a
    verification mail also marks the letter sent); returns None, and says nothing of whether it had one."""
    account = state.store.account_by_email_hash(_email_hash(email, "email"))
    if account is None:
        return
    token = secrets.token_hex(32)
    state.store.add_mail_token(account.id, kind, token, expires_at=int(state.now()) + ttl)
    if kind == "verify-email":
        state.store.update_account(account.id, email_letter_sent=True)
    state.send_mail(kind, email, token)


def _object_type(request: web.Request) -> str:
    type_ = request.match_info["type"]
    if type_ not in OBJECT_TYPES:
        raise ApiError(400, f"type must be one of the following values: {', '.join(OBJECT_TYPES)}")
    return type_


def _not_found(type_: str, object_id: str) -> ApiError:
    return ApiError(404, f"Object {object_id} of type {type_} not found")


class _ObjectRef(NamedTuple):
    """The object a ``/user/objects/{type}/{id}`` request names, and whose account asks."""

    state: SandboxState
    account_id: str
    type: str
    id: str


def _object_ref(request: web.Request) -> _ObjectRef:
    """Return the object the request names (401 without a token, 400 for an unknown type)."""
    state = _state(request)
    account = authenticate(request)
    return _ObjectRef(state, account.id, _object_type(request), request.match_info["id"])


async def _found(request: web.Request, ref: _ObjectRef, obj: UserObject | None) -> web.StreamResponse:
    """Answer the object, or 404 when the store had none by that id."""
    if obj is None:
        raise _not_found(ref.type, ref.id)
    return await object_response(request, obj)


# Objects whose data is longer than this are sent in pieces of _PIECE characters, so answering a 60 MB story
# costs one more megabyte, not two more copies of it.
STREAM_ABOVE = 1 << 20
_PIECE = 1 << 20


async def _write_object(response: web.StreamResponse, obj: UserObject) -> None:
    # the bytes json.dumps(obj.to_json(), separators=(",", ":"), ensure_ascii=False) would give, in pieces
    head = (
        f'{{"id":{encode_basestring(obj.id)},"type":{encode_basestring(obj.type)},'
        f'"meta":{encode_basestring(obj.meta)},"data":"'
    )
    await response.write(head.encode("utf-8"))
    data = obj.data
    for start in range(0, len(data), _PIECE):
        # JSON escapes character by character, so escaping each piece equals escaping the whole
        await response.write(encode_basestring(data[start : start + _PIECE])[1:-1].encode("utf-8"))
    tail = f'","lastUpdatedAt":{int(obj.last_updated_at)},"changeIndex":{int(obj.change_index)}}}'
    await response.write(tail.encode("utf-8"))


async def _json_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(status=200)
    response.content_type = "application/json"
    response.charset = "utf-8"
    await response.prepare(request)
    return response


async def object_response(request: web.Request, obj: UserObject) -> web.StreamResponse:
    """Answer one UserData: in one piece when small, streamed (no copy of its data) when large."""
    if len(obj.data) <= STREAM_ABOVE:
        return json_response(obj.to_json())
    response = await _json_stream(request)
    await _write_object(response, obj)
    await response.write_eof()
    return response


async def objects_response(request: web.Request, objects: Iterable[UserObject]) -> web.StreamResponse:
    """Answer ``{"objects": [UserData…]}`` streamed one object at a time (``objects`` may be lazy)."""
    response = await _json_stream(request)
    await response.write(b'{"objects":[')
    for i, obj in enumerate(objects):
        if i:
            await response.write(b",")
        await _write_object(response, obj)
    await response.write(b"]}")
    await response.write_eof()
    return response


# ------------------------------------------------------------------------------------------------- routes


@routes.get("/")
async def root(request: web.Request) -> web.Response:
    """Reachability check: 200 with a short text."""
    return web.Response(text="NovelAI API (naikit sandbox)", content_type="text/plain")


@routes.post("/user/register")
async def register(request: web.Request) -> web.Response:
    """Create an account for an access key: 201 ``{accessToken}``; 409 if the key or email is taken."""
    state = _state(request)
    body = await json_body(request)
    field(body, "recapcha", str)
    key = field(body, "key", str, length=64)
    email = field(body, "email", str, required=False)
    giftkey = field(body, "giftkey", str, required=False)
    if email is not None and not _HEX64.match(email):
        raise ApiError(
            400, "email must be the SHA-256 hex digest (64 lower-case hex characters) of the address"
        )
    if state.store.key_exists(key):
        raise ApiError(409, "An account with this access key already exists")
    if email is not None and state.store.account_by_email_hash(email) is not None:
        raise ApiError(409, "Email already in use")
    now = int(state.now())
    account = state.store.create_account(
        [key], created_at=now, email_hash=email, giftkey=giftkey, email_letter_sent=email is not None
    )
    if email is not None:
        token = secrets.token_hex(32)
        state.store.add_mail_token(account.id, "verify-email", token, expires_at=now + VERIFY_TTL)
        state.send_mail("verify-email", email, token)
    return _login_response(state, account.id, 201)


@routes.post("/user/login")
async def login(request: web.Request) -> web.Response:
    """Exchange an access key for a 30-day JWT: 201 ``{accessToken}``; 401 for an unknown key."""
    state = _state(request)
    body = await json_body(request)
    key = field(body, "key", str, length=64)
    account = state.store.account_by_key(key)
    if account is None:
        raise ApiError(401, "Access Key is incorrect.")
    return _login_response(state, account.id, 201)


@routes.post("/user/change-access-key")
async def change_access_key(request: web.Request) -> web.Response:
    """Replace the account's access key (and optionally its email): 200 ``{accessToken}``."""
    state = _state(request)
    account = authenticate(request)
    body = await json_body(request)
    current = field(body, "currentAccessKey", str, length=64)
    new = field(body, "newAccessKey", str, length=64)
    new_email = field(body, "newEmail", str, required=False)
    owner = state.store.account_by_key(current)
    if owner is None or owner.id != account.id:
        raise ApiError(401, "Current access key is incorrect.")
    email_hash = _email_hash(new_email, "newEmail") if new_email is not None else None
    with state.store.transaction():
        state.store.replace_access_keys(account.id, [new])
        if email_hash is not None:
            state.store.set_email_hash(account.id, email_hash)
        # a new password: login tokens issued with the old one stop working (the answer carries a new one)
        state.store.revoke_tokens(account.id)
    return _login_response(state, account.id, 200)


@routes.post("/user/resend-email-verification")
async def resend_email_verification(request: web.Request) -> web.Response:
    """Send a new verification mail (to the outbox) if the address has an account; 200 either way."""
    state = _state(request)
    body = await json_body(request)
    _mail_token(state, field(body, "email", str), "verify-email", VERIFY_TTL)
    return empty_response(200)


@routes.post("/user/verify-email")
async def verify_email(request: web.Request) -> web.Response:
    """Mark the email of the token's account verified: 200; 400 for an unknown or expired token."""
    state = _state(request)
    body = await json_body(request)
    token = field(body, "verificationToken", str, length=64)
    account_id = state.store.use_mail_token("verify-email", token, now=state.now())
    if account_id is None:
        raise ApiError(400, "verificationToken is invalid or expired")
    state.store.update_account(account_id, email_verified=True)
    return empty_response(200)


@routes.get("/user/information")
async def information(request: web.Request) -> web.Response:
    """Answer AccountInformation."""
    return json_response(information_json(authenticate(request)))


@routes.post("/user/recovery/request")
async def recovery_request(request: web.Request) -> web.Response:
    """Send a recovery token (to the outbox) if the address has an account; 202 either way."""
    state = _state(request)
    body = await json_body(request)
    _mail_token(state, field(body, "email", str), "recovery", RECOVERY_TTL)
    return empty_response(202)


@routes.post("/user/recovery/recover")
async def recovery_recover(request: web.Request) -> web.Response:
    """Set a new access key with a recovery token: 201 ``{accessToken}``; ``deleteContent`` wipes content."""
    state = _state(request)
    body = await json_body(request)
    token = field(body, "recoveryToken", str, min_length=16)
    new = field(body, "newAccessKey", str, length=64)
    delete_content = field(body, "deleteContent", bool, required=False, default=False)
    # one transaction: a key conflict must not burn the recovery token
    with state.store.transaction():
        account_id = state.store.use_mail_token("recovery", token, now=state.now())
        if account_id is None:
            raise ApiError(400, "recoveryToken is invalid or expired")
        try:
            state.store.replace_access_keys(account_id, [new])
        except StoreConflict:
            raise ApiError(409, "An account with this access key already exists") from None
        # a recovery means the old credentials are not trusted: every token issued before stops working
        state.store.revoke_tokens(account_id, persistent=True)
        if delete_content:
            state.store.delete_content(account_id)
    return _login_response(state, account_id, 201)


@routes.post("/user/delete")
async def delete_account(request: web.Request) -> web.Response:
    """Delete the account with all its content and tokens: 200."""
    state = _state(request)
    account = authenticate(request)
    state.store.delete_account(account.id)
    return empty_response(200)


@routes.get("/user/data")
async def user_data(request: web.Request) -> web.Response:
    """Answer UserAccountData: priority, subscription, keystore, settings, information in one object."""
    state = _state(request)
    account = authenticate(request)
    now = state.now()
    return json_response(
        {
            "priority": priority_json(account, now),
            "subscription": subscription_json(account, now),
            "keystore": {"keystore": account.keystore, "changeIndex": account.keystore_change_index},
            "settings": account.settings.decode("utf-8", "replace"),
            "information": information_json(account),
        }
    )


@routes.get("/user/priority")
async def priority(request: web.Request) -> web.Response:
    """Answer Priority (legacy)."""
    return json_response(priority_json(authenticate(request), _state(request).now()))


@routes.get("/user/subscription")
async def subscription(request: web.Request) -> web.Response:
    """Answer Subscription (the image host serves this path now; one port serves every host here)."""
    return json_response(subscription_json(authenticate(request), _state(request).now()))


@routes.post("/user/subscription/bind")
async def subscription_bind(request: web.Request) -> web.Response:
    """Record payment details for renewals: 201."""
    state = _state(request)
    account = authenticate(request)
    body = await json_body(request)
    processor = field(body, "paymentProcessor", str, min_length=1)
    subscription_id = field(body, "subscriptionId", str, min_length=1)
    field(body, "confirmedReplace", bool, required=False)
    field(body, "confirmedIgnore", bool, required=False)
    state.store.update_account(
        account.id, payment_processor_data={"paymentProcessor": processor, "subscriptionId": subscription_id}
    )
    return empty_response(201)


@routes.post("/user/subscription/change")
async def subscription_change(request: web.Request) -> web.Response:
    """Switch to another plan (``tablet``, ``scroll``, ``opus``): 200; the month's Anlas are granted."""
    state = _state(request)
    account = authenticate(request)
    body = await json_body(request)
    plan = field(body, "newSubscriptionPlan", str)
    tier = next((t for name, t in PLANS.items() if name in plan.lower()), None)
    if tier is None or tier == 0:
        raise ApiError(400, "newSubscriptionPlan must be one of: tablet, scroll, opus")
    now = int(state.now())
    state.store.update_account(
        account.id,
        tier=tier,
        active=True,
        expires_at=max(account.expires_at, now + 30 * DAY),
        fixed_training_steps=max(account.fixed_training_steps, PERKS[tier]["moduleTrainingSteps"]),
    )
    return empty_response(200)


def _stale(exc: StaleChangeIndex, what: str) -> ApiError:
    # The website answers a 409 on a save by re-reading the server's copy and asking the user (its
    # _saveStory / saveKeyStore): the stored index tells a client which version won.
    return ApiError(
        409,
        f"Conflict: {what} was changed by another client (changeIndex {exc.sent} sent, "
        f"{exc.stored} stored); read it again before saving",
    )


def _expected_index(body: dict) -> int | None:
    value = field(body, "changeIndex", (int, float), required=False)
    if value is None:
        return None
    if value != int(value):
        raise ApiError(400, "changeIndex must be an integer")
    return int(value)


@routes.get("/user/keystore")
async def get_keystore(request: web.Request) -> web.Response:
    """Answer ``{"keystore": <base64> | null, "changeIndex": n}`` (the website reads both)."""
    account = authenticate(request)
    return json_response({"keystore": account.keystore, "changeIndex": account.keystore_change_index})


@routes.put("/user/keystore")
async def put_keystore(request: web.Request) -> web.Response:
    """Replace the keystore with ``{"keystore": "<base64>"}``: 200 with the stored value and change index."""
    state = _state(request)
    account = authenticate(request)
    body = await json_body(request)
    keystore = field(body, "keystore", str)
    expect = _expected_index(body)
    try:
        base64.b64decode(keystore, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "keystore must be a base64 string") from None
    try:
        # a changeIndex that is not the stored one is refused (409); none means "overwrite" (the website
        # sends none on the retry after it merged the server's keys)
        change_index = state.store.set_keystore(account.id, keystore, expect=expect)
    except StaleChangeIndex as exc:
        raise _stale(exc, "the keystore") from None
    return json_response({"keystore": keystore, "changeIndex": change_index})


@routes.get("/user/objects/{type}")
async def list_objects(request: web.Request) -> web.StreamResponse:
    """Answer ``{"objects": [UserData…]}`` for one type, oldest first."""
    state = _state(request)
    account = authenticate(request)
    type_ = _object_type(request)
    # one object in memory at a time: a listing of large stories must not hold them all at once
    return await objects_response(request, state.store.iter_objects(account.id, type_))


@routes.put("/user/objects/{type}")
async def create_object(request: web.Request) -> web.StreamResponse:
    """Create an object from ``{meta, data}``: 200 with the new UserData (changeIndex 1)."""
    state = _state(request)
    account = authenticate(request)
    type_ = _object_type(request)
    body = await json_body(request)
    meta = field(body, "meta", str, max_length=MAX_META)
    data = field(body, "data", str)
    field(body, "changeIndex", (int, float), required=False)
    obj = state.store.create_object(account.id, type_, meta, data, now=int(state.now()))
    return await object_response(request, obj)


@routes.get("/user/objects/{type}/{id}")
async def get_object(request: web.Request) -> web.StreamResponse:
    """Answer one UserData; 404 if this account has no such object."""
    ref = _object_ref(request)
    return await _found(request, ref, ref.state.store.get_object(ref.account_id, ref.type, ref.id))


@routes.patch("/user/objects/{type}/{id}")
async def patch_object(request: web.Request) -> web.StreamResponse:
    """Update ``meta`` and/or ``data``: 200 with the object (changeIndex +1, lastUpdatedAt now).

    A ``changeIndex`` in the body must equal the stored one, else 409 and nothing changes (the website sends
    the index it last read and answers a 409 by re-reading); a body without one overwrites (REF sends none).
    """
    ref = _object_ref(request)
    body = await json_body(request)
    meta = field(body, "meta", str, required=False, max_length=MAX_META)
    data = field(body, "data", str, required=False)
    expect = _expected_index(body)
    if meta is None and data is None:
        raise ApiError(400, "meta or data should not be empty")
    try:
        # compare-and-swap: a changeIndex other than the stored one means another write came first
        obj = ref.state.store.update_object(
            ref.account_id, ref.type, ref.id, now=int(ref.state.now()), meta=meta, data=data, expect=expect
        )
    except StaleChangeIndex as exc:
        raise _stale(exc, f"{ref.type} {ref.id}") from None
    return await _found(request, ref, obj)


@routes.delete("/user/objects/{type}/{id}")
async def delete_object(request: web.Request) -> web.StreamResponse:
    """Delete one object: 200 with the object as it was."""
    ref = _object_ref(request)
    return await _found(request, ref, ref.state.store.delete_object(ref.account_id, ref.type, ref.id))


@routes.get("/user/clientsettings")
async def get_clientsettings(request: web.Request) -> web.Response:
    """Answer the client settings exactly as stored (``text/plain``; empty if never set)."""
    state = _state(request)
    account = authenticate(request)
    return web.Response(body=state.store.get_settings(account.id), content_type="text/plain", charset="utf-8")


@routes.put("/user/clientsettings")
async def put_clientsettings(request: web.Request) -> web.Response:
    """Store the raw body (any content type) as the client settings: 200."""
    state = _state(request)
    account = authenticate(request)
    state.store.set_settings(account.id, bytes(await read_body(request)))
    return empty_response(200)
