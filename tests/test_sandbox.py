"""The sandbox server over loopback: every account endpoint, auth, the store, starting and stopping.

The client here is plain stdlib ``urllib`` (proxies disabled, so nothing leaves 127.0.0.1) and, where aiohttp
matters, ``aiohttp.ClientSession`` — never naikit's own client.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import pytest

import naikit.sandbox as sb
from naikit.novelai.auth import access_key, hashed_email
from naikit.sandbox.clock import FakeClock
from naikit.sandbox.store import OBJECT_TYPES, Store

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
MONTH = 30 * 24 * 3600


@dataclass
class Resp:
    status: int
    headers: Any
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip()

    def json(self) -> Any:
        assert self.content_type == "application/json", self.content_type
        return json.loads(self.body)


def call(
    box: Any,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Resp:
    """Send one request to the sandbox; return status, headers and body (errors included)."""
    assert box.url.startswith("http://127.0.0.1:")
    hdrs = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(box.url + path, data=data, method=method, headers=hdrs)
    try:
        with _OPENER.open(req, timeout=10) as r:
            return Resp(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Resp(e.code, e.headers, e.read())


def assert_error(resp: Resp, status: int, *words: str) -> str:
    """Check NovelAI's error envelope; return its message."""
    assert resp.status == status, (resp.status, resp.body)
    env = resp.json()
    assert set(env) == {"statusCode", "message"}
    assert env["statusCode"] == status
    for w in words:
        assert w.lower() in env["message"].lower(), (w, env["message"])
    return env["message"]


def b64url_json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock(start=1_750_000_000.0)


@pytest.fixture(scope="module")
def box(clock: FakeClock):
    with sb.start(clock=clock, test_hooks=True) as running:
        yield running


@pytest.fixture(scope="module")
def demo_token(box) -> str:
    return call(box, "POST", "/user/login", {"key": sb.demo_access_key()}).json()["accessToken"]


def new_account(box, email: str | None = None) -> tuple[str, str]:
    """Register a fresh account; return (access key, token)."""
    key = secrets.token_urlsafe(48)[:64]
    body: dict[str, Any] = {"recapcha": "sandbox", "key": key}
    if email is not None:
        body["email"] = hashed_email(email)
    r = call(box, "POST", "/user/register", body)
    assert r.status == 201, r.body
    return key, r.json()["accessToken"]


# ------------------------------------------------------------------------------------------------- basics


def test_import_is_light():
    code = (
        "import sys, naikit.sandbox as s; "
        "print(sorted(m for m in ('aiohttp', 'pandas', 'PIL', 'argon2') if m in sys.modules)); "
        "print(s.DEMO_EMAIL, s.DEMO_PASSWORD)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "demo@naikit.dev naikit-demo"]


def test_root_and_unknown_paths(box):
    r = call(box, "GET", "/")
    assert r.status == 200 and r.body
    assert_error(call(box, "GET", "/no/such/path"), 404, "cannot get /no/such/path")
    r = call(box, "DELETE", "/user/login")
    assert_error(r, 405)
    assert "POST" in r.headers.get("Allow", "")


def test_url_and_context_manager():
    with sb.start() as box:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", box.url)
        assert box.running
        assert call(box, "GET", "/").status == 200
        url = box.url
    assert not box.running
    box.stop()  # idempotent
    with pytest.raises(urllib.error.URLError):
        _OPENER.open(url + "/", timeout=2)


def test_embedded_is_a_singleton():
    a = sb.embedded()
    b = sb.embedded()
    assert a is b and a.running and a.data_dir is None
    assert call(a, "GET", "/").status == 200


def test_build_app_runs_under_aiohttp_test_server():
    from aiohttp.test_utils import TestClient, TestServer

    async def main() -> tuple[int, int]:
        store = Store.open()
        try:
            async with TestClient(TestServer(sb.build_app(store), host="127.0.0.1")) as client:
                r1 = await client.get("/")
                r2 = await client.post("/user/login", json={"key": sb.demo_access_key()})
                return r1.status, r2.status
        finally:
            store.close()

    assert asyncio.run(main()) == (200, 201)


# --------------------------------------------------------------------------------------- login and tokens


def test_demo_login_issues_a_jwt(box, clock):
    lower = access_key(sb.DEMO_EMAIL, sb.DEMO_PASSWORD, email_case="lower")
    verbatim = access_key(sb.DEMO_EMAIL, sb.DEMO_PASSWORD, email_case="verbatim")
    for key in (lower, verbatim):
        r = call(box, "POST", "/user/login", {"key": key})
        assert r.status == 201 and r.content_type == "application/json"
        body = r.json()
        assert set(body) == {"accessToken"}
        header, payload, sig = body["accessToken"].split(".")
        assert b64url_json(header) == {"alg": "HS256", "typ": "JWT"}
        claims = b64url_json(payload)
        assert isinstance(claims["id"], str) and claims["id"]
        assert claims["exp"] == int(clock.now()) + MONTH
        assert len(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))) == 32


def test_login_validation(box):
    assert_error(call(box, "POST", "/user/login", {"key": "A" * 64}), 401, "access key")
    assert_error(call(box, "POST", "/user/login", {"key": "A" * 63}), 400, "key", "64")
    assert_error(call(box, "POST", "/user/login", {"key": 12}), 400, "key", "string")
    assert_error(call(box, "POST", "/user/login", {}), 400, "key")
    assert_error(call(box, "POST", "/user/login", raw=b"{not json"), 400, "json")
    assert_error(call(box, "POST", "/user/login", ["key"]), 400, "object")


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/user/information"),
        ("GET", "/user/data"),
        ("GET", "/user/priority"),
        ("GET", "/user/subscription"),
        ("GET", "/user/keystore"),
        ("PUT", "/user/keystore"),
        ("GET", "/user/objects/stories"),
        ("PUT", "/user/objects/stories"),
        ("GET", "/user/objects/stories/abc"),
        ("PATCH", "/user/objects/stories/abc"),
        ("DELETE", "/user/objects/stories/abc"),
        ("GET", "/user/clientsettings"),
        ("PUT", "/user/clientsettings"),
        ("POST", "/user/subscription/bind"),
        ("POST", "/user/subscription/change"),
        ("POST", "/user/change-access-key"),
        ("POST", "/user/delete"),
    ],
)
def test_protected_endpoints_need_a_token(box, method, path):
    body = {} if method in ("PUT", "PATCH", "POST") else None
    assert_error(call(box, method, path, body), 401, "missing")
    assert_error(call(box, method, path, body, token="not-a-token"), 401, "unknown", "malformed")
    assert_error(call(box, method, path, body, token="pst-" + "x" * 64), 401, "unknown")
    assert_error(call(box, method, path, body, headers={"Authorization": "Basic abc"}), 401, "bearer")


def test_forged_and_foreign_tokens_are_unknown(box, demo_token):
    header, payload, _ = demo_token.split(".")
    forged = f"{header}.{payload}.{'A' * 43}"
    assert_error(call(box, "GET", "/user/information", token=forged), 401, "unknown")
    # a token signed by another sandbox (another secret) is unknown here
    with sb.start() as other:
        foreign = call(other, "POST", "/user/login", {"key": sb.demo_access_key()}).json()["accessToken"]
    assert_error(call(box, "GET", "/user/information", token=foreign), 401, "unknown")


def test_expired_token_via_fake_clock():
    clock = FakeClock(start=1_700_000_000)
    with sb.start(clock=clock) as box:
        token = call(box, "POST", "/user/login", {"key": sb.demo_access_key()}).json()["accessToken"]
        pst = box.create_persistent_token()
        assert call(box, "GET", "/user/information", token=token).status == 200
        clock.advance(MONTH - 1)
        assert call(box, "GET", "/user/information", token=token).status == 200
        clock.advance(1)
        msg = assert_error(call(box, "GET", "/user/information", token=token), 401, "expired")
        assert "unknown" not in msg
        # persistent tokens do not expire
        assert call(box, "GET", "/user/information", token=pst).status == 200
        # a fresh login works again
        token2 = call(box, "POST", "/user/login", {"key": sb.demo_access_key()}).json()["accessToken"]
        assert call(box, "GET", "/user/information", token=token2).status == 200


def test_persistent_token(box):
    token = box.create_persistent_token(sb.DEMO_EMAIL)
    assert re.fullmatch(r"pst-[A-Za-z0-9_-]{64}", token)
    assert call(box, "GET", "/user/subscription", token=token).json()["tier"] == 3
    assert token != box.create_persistent_token()
    with pytest.raises(KeyError):
        box.create_persistent_token("nobody@example.com")


def test_register_login_and_conflicts(box):
    key, token = new_account(box, email="Reg.Test@Example.com")
    assert call(box, "GET", "/user/information", token=token).status == 200
    r = call(box, "POST", "/user/login", {"key": key})
    assert r.status == 201 and r.json()["accessToken"].count(".") == 2
    # same key again
    assert_error(call(box, "POST", "/user/register", {"recapcha": "x", "key": key}), 409)
    # same email, other key
    body = {"recapcha": "x", "key": "B" * 64, "email": hashed_email("reg.test@example.com")}
    assert_error(call(box, "POST", "/user/register", body), 409, "email")
    assert_error(call(box, "POST", "/user/register", {"key": "C" * 64}), 400, "recapcha")
    assert_error(call(box, "POST", "/user/register", {"recapcha": "x", "key": "C" * 10}), 400, "key")
    bad_email = {"recapcha": "x", "key": "C" * 64, "email": "me@example.com"}
    assert_error(call(box, "POST", "/user/register", bad_email), 400, "email")
    bad_gift = {"recapcha": "x", "key": "C" * 64, "giftkey": 5}
    assert_error(call(box, "POST", "/user/register", bad_gift), 400, "giftkey")
    # a new account starts empty and unsubscribed
    assert call(box, "GET", "/user/keystore", token=token).json() == {"keystore": None, "changeIndex": 0}
    sub = call(box, "GET", "/user/subscription", token=token).json()
    assert sub["tier"] == 0 and sub["active"] is False
    info = call(box, "GET", "/user/information", token=token).json()
    assert info["emailVerified"] is False and info["emailVerificationLetterSent"] is True


# ------------------------------------------------------------------------------------------------- shapes


def test_information_priority_subscription_data_shapes(box, clock, demo_token):
    now = clock.now()
    info = call(box, "GET", "/user/information", token=demo_token).json()
    assert set(info) >= {
        "emailVerified",
        "emailVerificationLetterSent",
        "trialActivated",
        "trialActionsLeft",
        "accountCreatedAt",
    }
    assert info["emailVerified"] is True and isinstance(info["trialActionsLeft"], int)
    assert isinstance(info["accountCreatedAt"], int) and info["accountCreatedAt"] <= now

    prio = call(box, "GET", "/user/priority", token=demo_token).json()
    assert set(prio) == {"maxPriorityActions", "nextRefillAt", "taskPriority"}
    assert all(isinstance(v, int) for v in prio.values())

    sub = call(box, "GET", "/user/subscription", token=demo_token).json()
    assert sub["tier"] == 3 and sub["active"] is True
    assert isinstance(sub["expiresAt"], int) and now < sub["expiresAt"] < now * 2  # seconds, not ms
    perks = sub["perks"]
    for name in ("maxPriorityActions", "startPriority", "contextTokens", "moduleTrainingSteps"):
        assert isinstance(perks[name], int)
    for name in ("unlimitedMaxPriority", "voiceGeneration", "imageGeneration", "unlimitedImageGeneration"):
        assert isinstance(perks[name], bool)
    assert all(set(x) == {"resolution", "maxPrompts"} for x in perks["unlimitedImageGenerationLimits"])
    steps = sub["trainingStepsLeft"]
    assert set(steps) == {"fixedTrainingStepsLeft", "purchasedTrainingSteps"}
    assert steps["fixedTrainingStepsLeft"] + steps["purchasedTrainingSteps"] > 0
    assert isinstance(sub["accountType"], int) and sub["isGracePeriod"] is False
    assert "paymentProcessorData" in sub

    data = call(box, "GET", "/user/data", token=demo_token).json()
    assert set(data) == {"priority", "subscription", "keystore", "settings", "information"}
    assert data["subscription"] == sub and data["information"] == info
    assert set(data["keystore"]) == {"keystore", "changeIndex"} and isinstance(data["settings"], str)


def test_subscription_bind_and_change(box):
    _, token = new_account(box)
    bind = {"paymentProcessor": "paddle", "subscriptionId": "sub_123"}
    r = call(box, "POST", "/user/subscription/bind", bind, token=token)
    assert r.status == 201
    assert_error(
        call(box, "POST", "/user/subscription/bind", {"paymentProcessor": "x"}, token=token), 400, "id"
    )
    sub = call(box, "GET", "/user/subscription", token=token).json()
    assert sub["paymentProcessorData"] == bind
    r = call(box, "POST", "/user/subscription/change", {"newSubscriptionPlan": "scroll"}, token=token)
    assert r.status == 200
    sub = call(box, "GET", "/user/subscription", token=token).json()
    assert sub["tier"] == 2 and sub["active"] is True
    bad = {"newSubscriptionPlan": "platinum"}
    assert_error(call(box, "POST", "/user/subscription/change", bad, token=token), 400, "newSubscriptionPlan")


# -------------------------------------------------------------------------------------- keystore, objects


def test_keystore_round_trip(box):
    _, token = new_account(box)
    r = call(box, "GET", "/user/keystore", token=token)
    # changeIndex: the website reads it on GET and sends it back on PUT (a stale one is refused)
    assert r.status == 200 and r.json() == {"keystore": None, "changeIndex": 0}
    value = base64.b64encode(b'{"version":2,"nonce":[1,2,3],"sdata":[4,5]}').decode()
    r = call(box, "PUT", "/user/keystore", {"keystore": value}, token=token)
    assert r.status == 200 and r.json()["keystore"] == value
    assert call(box, "GET", "/user/keystore", token=token).json() == {"keystore": value, "changeIndex": 1}
    assert_error(call(box, "PUT", "/user/keystore", {"keystore": value, "changeIndex": 0}, token=token), 409)
    r = call(box, "PUT", "/user/keystore", {"keystore": value, "changeIndex": 1}, token=token)
    assert r.status == 200 and r.json()["changeIndex"] == 2
    assert_error(call(box, "PUT", "/user/keystore", {}, token=token), 400, "keystore")
    assert_error(call(box, "PUT", "/user/keystore", {"keystore": 1}, token=token), 400, "keystore", "string")
    assert_error(call(box, "PUT", "/user/keystore", {"keystore": "%%%"}, token=token), 400, "base64")
    assert call(box, "GET", "/user/keystore", token=token).json() == {"keystore": value, "changeIndex": 2}


@pytest.mark.parametrize("type_", OBJECT_TYPES)
def test_object_crud_change_index_and_seconds(box, clock, type_):
    _, token = new_account(box)
    base = f"/user/objects/{type_}"
    assert call(box, "GET", base, token=token).json() == {"objects": []}
    meta = "m" * 128
    r = call(box, "PUT", base, {"meta": meta, "data": "payload-1"}, token=token)
    assert r.status == 200
    obj = r.json()
    assert set(obj) == {"id", "type", "meta", "data", "lastUpdatedAt", "changeIndex"}
    assert re.fullmatch(r"[A-Za-z0-9_-]{21}", obj["id"])
    assert (obj["type"], obj["meta"], obj["data"], obj["changeIndex"]) == (type_, meta, "payload-1", 1)
    assert obj["lastUpdatedAt"] == int(clock.now())
    assert call(box, "GET", base, token=token).json() == {"objects": [obj]}
    assert call(box, "GET", f"{base}/{obj['id']}", token=token).json() == obj

    clock.advance(5)
    r = call(box, "PATCH", f"{base}/{obj['id']}", {"meta": "n", "data": "payload-2"}, token=token)
    assert r.status == 200
    upd = r.json()
    assert upd["changeIndex"] == 2 and upd["lastUpdatedAt"] == obj["lastUpdatedAt"] + 5
    assert (upd["id"], upd["meta"], upd["data"]) == (obj["id"], "n", "payload-2")
    upd3 = call(box, "PATCH", f"{base}/{obj['id']}", {"data": "payload-3"}, token=token).json()
    assert upd3["changeIndex"] == 3 and upd3["meta"] == "n"

    r = call(box, "DELETE", f"{base}/{obj['id']}", token=token)
    assert r.status == 200 and r.json() == upd3
    assert_error(call(box, "GET", f"{base}/{obj['id']}", token=token), 404)
    assert call(box, "GET", base, token=token).json() == {"objects": []}


def test_object_errors_and_isolation(box):
    _, token = new_account(box)
    _, other = new_account(box)
    r = call(box, "GET", "/user/objects/novels", token=token)
    assert_error(r, 400, "type", "stories", "shelf")
    assert_error(call(box, "PUT", "/user/objects/novels", {"meta": "", "data": ""}, token=token), 400, "type")
    put = "/user/objects/stories"
    assert_error(call(box, "PUT", put, {"meta": "m" * 129, "data": "x"}, token=token), 400, "meta", "128")
    assert_error(call(box, "PUT", put, {"meta": "m"}, token=token), 400, "data")
    assert_error(call(box, "PUT", put, {"meta": "m", "data": 5}, token=token), 400, "data", "string")
    assert_error(call(box, "PUT", put, {"data": "x"}, token=token), 400, "meta")
    obj = call(box, "PUT", put, {"meta": "m", "data": "x"}, token=token).json()
    path = f"{put}/{obj['id']}"
    assert_error(call(box, "PATCH", path, {"meta": "m" * 129}, token=token), 400, "meta")
    assert_error(call(box, "PATCH", path, {}, token=token), 400)
    assert_error(call(box, "PATCH", f"{put}/nope", {"data": "y"}, token=token), 404)
    assert_error(call(box, "DELETE", f"{put}/nope", token=token), 404)
    # same id under another type, or another account: not found
    assert_error(call(box, "GET", f"/user/objects/storycontent/{obj['id']}", token=token), 404)
    assert_error(call(box, "GET", path, token=other), 404)
    assert_error(call(box, "DELETE", path, token=other), 404)
    assert call(box, "GET", path, token=token).json() == obj


def test_clientsettings_are_raw(box):
    _, token = new_account(box)
    r = call(box, "GET", "/user/clientsettings", token=token)
    assert r.status == 200 and r.body == b""
    raw = 'not json — {"théme": 1}\n'.encode()
    r = call(box, "PUT", "/user/clientsettings", raw=raw, token=token, headers={"Content-Type": "text/plain"})
    assert r.status == 200
    r = call(box, "GET", "/user/clientsettings", token=token)
    assert r.body == raw and r.content_type == "text/plain"
    js = b'{"a":1}'
    headers = {"Content-Type": "application/json"}
    assert call(box, "PUT", "/user/clientsettings", raw=js, token=token, headers=headers).status == 200
    assert call(box, "GET", "/user/clientsettings", token=token).body == js
    assert call(box, "GET", "/user/data", token=token).json()["settings"] == '{"a":1}'


# ------------------------------------------------------------------------------------------- account life


def test_email_verification_flow(box):
    email = "verify.me@example.com"
    _, token = new_account(box, email=email)
    mail = box.outbox[-1]
    assert mail["kind"] == "verify-email" and mail["to"] == hashed_email(email)
    r = call(box, "POST", "/user/resend-email-verification", {"email": email})
    assert r.status == 200 and r.body == b""
    resent = call(
        box, "GET", f"/_sandbox/outbox?kind=verify-email&to={email}", headers=box.admin_headers
    ).json()["mails"]
    assert len(resent) == 1 and len(resent[0]["token"]) == 64
    # unknown address: same answer, no mail
    before = len(box.outbox)
    assert call(box, "POST", "/user/resend-email-verification", {"email": "nobody@x.org"}).status == 200
    assert len(box.outbox) == before
    assert_error(call(box, "POST", "/user/resend-email-verification", {}), 400, "email")

    assert_error(call(box, "POST", "/user/verify-email", {"verificationToken": "f" * 64}), 400, "invalid")
    assert_error(call(box, "POST", "/user/verify-email", {"verificationToken": "f" * 10}), 400, "64")
    r = call(box, "POST", "/user/verify-email", {"verificationToken": resent[0]["token"]})
    assert r.status == 200
    assert call(box, "GET", "/user/information", token=token).json()["emailVerified"] is True
    # one use only
    assert_error(call(box, "POST", "/user/verify-email", {"verificationToken": resent[0]["token"]}), 400)


@pytest.mark.parametrize("delete_content", [True, False])
def test_recovery_flow(box, delete_content):
    email = f"lost-{delete_content}@example.com"
    old_key, token = new_account(box, email=email)
    call(box, "PUT", "/user/objects/stories", {"meta": "m", "data": "kept?"}, token=token)
    call(box, "PUT", "/user/keystore", {"keystore": "AAAA"}, token=token)

    r = call(box, "POST", "/user/recovery/request", {"email": email})
    assert r.status == 202
    before = len(box.outbox)
    assert call(box, "POST", "/user/recovery/request", {"email": "ghost@example.com"}).status == 202
    assert len(box.outbox) == before
    rec = [m for m in box.outbox if m["kind"] == "recovery" and m["to"] == email][-1]

    new_key = "N" * 63 + str(int(delete_content))
    bad = {"recoveryToken": "short", "newAccessKey": new_key, "deleteContent": delete_content}
    assert_error(call(box, "POST", "/user/recovery/recover", bad), 400, "recoveryToken")
    unknown = {"recoveryToken": "z" * 32, "newAccessKey": new_key, "deleteContent": delete_content}
    assert_error(call(box, "POST", "/user/recovery/recover", unknown), 400, "invalid")
    wrong_type = {"recoveryToken": rec["token"], "newAccessKey": new_key, "deleteContent": "yes"}
    assert_error(call(box, "POST", "/user/recovery/recover", wrong_type), 400, "deleteContent", "boolean")
    body = {"recoveryToken": rec["token"], "newAccessKey": new_key, "deleteContent": delete_content}
    r = call(box, "POST", "/user/recovery/recover", body)
    assert r.status == 201
    new_token = r.json()["accessToken"]

    assert_error(call(box, "POST", "/user/login", {"key": old_key}), 401)
    assert call(box, "POST", "/user/login", {"key": new_key}).status == 201
    objects = call(box, "GET", "/user/objects/stories", token=new_token).json()["objects"]
    keystore = call(box, "GET", "/user/keystore", token=new_token).json()["keystore"]
    if delete_content:
        assert objects == [] and keystore is None
    else:
        assert [o["data"] for o in objects] == ["kept?"] and keystore == "AAAA"
    # the token was used up
    assert_error(call(box, "POST", "/user/recovery/recover", body), 400)


def test_change_access_key(box):
    old_key, token = new_account(box)
    new_key = secrets.token_urlsafe(48)[:64]
    wrong = {"currentAccessKey": "W" * 64, "newAccessKey": new_key}
    assert_error(call(box, "POST", "/user/change-access-key", wrong, token=token), 401, "current")
    short = {"currentAccessKey": old_key, "newAccessKey": "x"}
    assert_error(call(box, "POST", "/user/change-access-key", short, token=token), 400, "newAccessKey")
    taken = {"currentAccessKey": old_key, "newAccessKey": sb.demo_access_key()}
    assert_error(call(box, "POST", "/user/change-access-key", taken, token=token), 409)
    body = {"currentAccessKey": old_key, "newAccessKey": new_key, "newEmail": "changed@example.com"}
    r = call(box, "POST", "/user/change-access-key", body, token=token)
    assert r.status == 200 and r.json()["accessToken"].count(".") == 2
    assert_error(call(box, "POST", "/user/login", {"key": old_key}), 401)
    assert call(box, "POST", "/user/login", {"key": new_key}).status == 201
    assert call(box, "POST", "/user/recovery/request", {"email": "changed@example.com"}).status == 202
    assert box.outbox[-1]["to"] == "changed@example.com"


def test_delete_account(box):
    key, token = new_account(box)
    pst_owner_objects = call(box, "PUT", "/user/objects/shelf", {"meta": "", "data": "x"}, token=token)
    assert pst_owner_objects.status == 200
    r = call(box, "POST", "/user/delete", token=token)
    assert r.status == 200
    assert_error(call(box, "GET", "/user/information", token=token), 401, "unknown")
    assert_error(call(box, "POST", "/user/login", {"key": key}), 401)


# -------------------------------------------------------------------------------------------------- store


def test_data_dir_persists_across_restart(tmp_path):
    data = json.dumps({"text": "héllo ✓ " * 2000, "n": [1, 2, 3]})
    with sb.start(data_dir=tmp_path) as box:
        token = call(box, "POST", "/user/login", {"key": sb.demo_access_key()}).json()["accessToken"]
        created = call(
            box, "PUT", "/user/objects/storycontent", {"meta": "uuid-1", "data": data}, token=token
        )
        path = f"/user/objects/storycontent/{created.json()['id']}"
        first = call(box, "GET", path, token=token).body
        call(box, "PUT", "/user/clientsettings", raw=b"\x00raw\xff", token=token)
        pst = box.create_persistent_token()
    assert (tmp_path / "sandbox.sqlite3").is_file()
    with sb.start(data_dir=tmp_path) as box:
        again = call(box, "GET", path, token=token)  # the login token survives: the secret is stored
        assert again.status == 200 and again.body == first
        assert json.loads(again.body)["data"] == data
        assert call(box, "GET", "/user/clientsettings", token=pst).body == b"\x00raw\xff"
        # the demo account was not seeded twice
        assert call(box, "POST", "/user/login", {"key": sb.demo_access_key()}).status == 201


def test_store_transactions_are_atomic():
    store = Store.open()
    try:
        acct = store.create_account(["K" * 64], created_at=1)
        with pytest.raises(RuntimeError):
            with store.transaction():
                store.create_object(acct.id, "stories", "m", "d", now=1)
                store.update_account(acct.id, tier=3)
                raise RuntimeError("boom")
        assert store.list_objects(acct.id, "stories") == []
        assert store.account_by_id(acct.id).tier == 0
        assert store.add_schema("extra", "CREATE TABLE IF NOT EXISTS extra (x INTEGER);") is True
        assert store.add_schema("extra", "CREATE TABLE IF NOT EXISTS extra (x INTEGER);") is False
        assert store.execute("INSERT INTO extra (x) VALUES (?)", (5,)) == 1
        assert [r["x"] for r in store.query("SELECT x FROM extra")] == [5]
        assert store.get_or_create_value("k", lambda: "v1") == "v1"
        assert store.get_or_create_value("k", lambda: "v2") == "v1"
        acct = store.adjust_anlas(acct.id, 100)
        acct = store.adjust_anlas(acct.id, -30)
        assert acct.anlas == 70
        with pytest.raises(ValueError):
            store.adjust_anlas(acct.id, -71)
        # access keys are stored hashed, never as given
        assert not store.query("SELECT 1 FROM access_keys WHERE key_hash = ?", ("K" * 64,))
    finally:
        store.close()
        store.close()
    assert store.closed


# -------------------------------------------------------------------------------------------- serve, logs


def test_serve_prints_one_line_and_stops_on_ctrl_c():
    code = "import naikit.sandbox as s; s.serve(port=0)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NAI_", "NOVITA_"))}
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env) as proc:
        try:
            line = proc.stdout.readline()
            found = re.search(r"http://127\.0\.0\.1:\d+", line)
            assert found, line
            assert sb.DEMO_EMAIL in line and sb.DEMO_PASSWORD in line
            with _OPENER.open(found.group(0) + "/", timeout=5) as r:
                assert r.status == 200
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=10) == 0
            assert proc.stdout.read() == ""
        finally:
            if proc.poll() is None:
                proc.kill()


def test_logs_never_hold_secrets(box, caplog):
    key = sb.demo_access_key()
    with caplog.at_level(logging.DEBUG):
        token = call(box, "POST", "/user/login", {"key": key}).json()["accessToken"]
        call(box, "GET", "/user/information", token=token)
        call(box, "GET", "/user/information", token=token + "x")
        call(box, "PUT", "/user/objects/stories", {"meta": "secret-meta", "data": "secret-data"}, token=token)
    text = caplog.text
    for secret in (key, token, token.split(".")[2], "secret-data"):
        assert secret not in text
