"""The NovelAI clients against the sandbox over loopback: every account endpoint, credentials,
validation before sending, shape checks, faults and retries."""

from __future__ import annotations

import asyncio
import base64
import json
import socket

import pytest
from sandbox_fixtures import DEMO, demo_client_fixture

from naikit import errors, sandbox
from naikit._settings import Hosts, RetryPolicy
from naikit.novelai.account import ObjectList, Subscription
from naikit.novelai.async_client import AsyncNovelAI
from naikit.novelai.auth import access_key
from naikit.novelai.client import NovelAI
from naikit.sandbox.clock import FakeClock
from naikit.sandbox.faults import FaultPlan

nai = demo_client_fixture(scope="function")


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _keystore_b64(sdata=(1, 2, 3)) -> str:
    doc = {"version": 2, "nonce": list(range(24)), "sdata": list(sdata)}
    return base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


# -- account endpoints ---------------------------------------------------------------------------
def test_information_priority_subscription(nai):
    info = nai.information()
    assert isinstance(info.email_verified, bool) and info.created_at is not None
    assert nai.priority().raw.keys() >= {"maxPriorityActions", "nextRefillAt", "taskPriority"}
    sub = nai.subscription()
    assert isinstance(sub, Subscription) and sub.tier == 3 and sub.tier_name == "Opus" and sub.active
    assert sub.anlas == sub.fixed_training_steps_left + sub.purchased_training_steps > 0
    frame = sub.to_frame()
    assert frame.loc["tier", "value"] == "3 (Opus)" and frame.loc["anlas", "value"] == sub.anlas
    assert "perks.contextTokens" in frame.index


def test_subscription_uses_image_host(sb):
    dead = _dead_url()
    hosts = Hosts(api=sb.url, image=sb.url, text=dead)
    with NovelAI(hosts=hosts, **DEMO) as c:
        assert c.subscription().tier == 3
    hosts = Hosts(api=sb.url, image=dead, text=sb.url)
    with NovelAI(hosts=hosts, retry=RetryPolicy(attempts=1), **DEMO) as c:
        with pytest.raises(errors.TransportError):
            c.subscription()


def test_user_data(nai):
    data = nai.user_data()
    assert data.subscription.tier == 3
    frame = data.to_frame()
    assert set(frame["section"]) == {"information", "priority", "subscription", "keystore"}


def test_object_lifecycle_and_change_index(nai):
    created = nai.create_object("stories", "meta-1", "ZGF0YQ==")
    assert created.type == "stories" and created.meta == "meta-1" and len(created.id) == 21
    assert created.data == "ZGF0YQ=="
    got = nai.get_object("stories", created.id)
    assert got.id == created.id and got.change_index == created.change_index
    updated = nai.update_object("stories", created.id, "meta-2", "bmV3")
    assert updated.change_index == created.change_index + 1 and updated.meta == "meta-2"
    listed = nai.list_objects("stories")
    assert isinstance(listed, ObjectList) and created.id in [o.id for o in listed]
    frame = listed.to_frame()
    assert list(frame.columns) == ["id", "type", "meta", "change_index", "last_updated_at", "data_chars"]
    deleted = nai.delete_object("stories", created.id)
    assert deleted.id == created.id
    assert created.id not in [o.id for o in nai.list_objects("stories")]
    with pytest.raises(errors.NotFound):
        nai.get_object("stories", created.id)


def test_keystore_raw_round_trip(sb):
    with NovelAI(base_url=sb.url, **DEMO) as c:
        email = "keystore-user@naikit.dev"
        c.register(email, "pw-keystore", "recaptcha-ok")
        assert c.keystore_raw() is None
        ks = _keystore_b64()
        c.set_keystore_raw(ks, check=False)
        assert c.keystore_raw() == ks


def test_client_settings_round_trip(nai):
    nai.set_client_settings({"theme": "dark", "fontSize": 14, "ünïcode": "✓"})
    assert nai.client_settings() == {"theme": "dark", "fontSize": 14, "ünïcode": "✓"}
    nai.set_client_settings("plain text settings")
    assert nai.client_settings() == "plain text settings"


def test_register_login_change_key(sb):
    c = NovelAI(base_url=sb.url)
    tok = c.register("New.User@Naikit.dev", "first-password", "recaptcha-ok")
    assert tok.kind == "jwt" and c.information().email_verified is False
    # login again with a fresh client; the email's case does not matter by default
    with NovelAI(base_url=sb.url, email="new.user@naikit.dev", password="first-password") as d:
        assert d.subscription().tier == 0
    old = access_key("new.user@naikit.dev", "first-password")
    new = access_key("new.user@naikit.dev", "second-password")
    c.change_access_key(old, new)
    with pytest.raises(errors.AccessKeyRejected, match="access key was rejected"):
        NovelAI(base_url=sb.url, email="new.user@naikit.dev", password="first-password").information()
    with NovelAI(base_url=sb.url, email="new.user@naikit.dev", password="second-password") as d:
        assert d.information() is not None
    c.close()


def test_change_access_key_refused_with_keystore(sb):
    with NovelAI(base_url=sb.url) as c:
        c.register("ks-guard@naikit.dev", "pw-guard-1", "recaptcha-ok")
        c.set_keystore_raw(_keystore_b64(), check=False)
        old = access_key("ks-guard@naikit.dev", "pw-guard-1")
        new = access_key("ks-guard@naikit.dev", "pw-guard-2")
        with pytest.raises(errors.InputError, match="keystore"):
            c.change_access_key(old, new)
        # nothing changed: the old credentials still work
        with NovelAI(base_url=sb.url, email="ks-guard@naikit.dev", password="pw-guard-1") as d:
            assert d.keystore_raw() == _keystore_b64()


def test_email_verification_recovery_subscription_calls(sb):
    with NovelAI(base_url=sb.url) as c:
        c.register("flows@naikit.dev", "pw-flows-1", "recaptcha-ok")
        assert c.resend_email_verification("flows@naikit.dev") is True
        assert c.request_account_recovery("flows@naikit.dev") is True
        assert c.bind_subscription("paddle", "sub_123") is True
        assert c.change_subscription("opus") is True
        with pytest.raises(errors.APIError) as e:
            c.verify_email("x" * 64)
        assert e.value.status in (400, 404)
        with pytest.raises(errors.APIError):
            c.recover_account("not-a-real-recovery-token", "flows@naikit.dev", "pw-flows-2")


def test_email_flows_with_tokens_from_outbox(sb):
    with NovelAI(base_url=sb.url) as c:
        c.register("outbox@naikit.dev", "pw-outbox-1", "recaptcha-ok")
        c.resend_email_verification("outbox@naikit.dev")
        mails = [m for m in sb.outbox if m.get("to") == "outbox@naikit.dev"]
        verify = [m for m in mails if m.get("kind") == "verify-email"]
        assert verify, mails
        assert c.verify_email(verify[-1]["token"]) is True
        assert c.information().email_verified is True
        c.set_keystore_raw(_keystore_b64(), check=False)
        c.create_object("stories", "m", "ZGF0YQ==")
        c.request_account_recovery("outbox@naikit.dev")
        rec = [m for m in sb.outbox if m.get("to") == "outbox@naikit.dev" and m.get("kind") == "recovery"]
        assert rec
        c.recover_account(rec[-1]["token"], "outbox@naikit.dev", "pw-outbox-2", delete_content=False)
        # content kept, new password works
        with NovelAI(base_url=sb.url, email="outbox@naikit.dev", password="pw-outbox-2") as d:
            assert len(d.list_objects("stories")) == 1


def test_delete_account_needs_confirm(sb):
    with NovelAI(base_url=sb.url) as c:
        c.register("to-delete@naikit.dev", "pw-delete-1", "recaptcha-ok")
        with pytest.raises(errors.InputError, match="confirm"):
            c.delete_account()
        assert c.delete_account(confirm=True) is True
    with pytest.raises(errors.AccessKeyRejected):
        NovelAI(base_url=sb.url, email="to-delete@naikit.dev", password="pw-delete-1").information()


def test_persistent_token_login(sb):
    pst = sb.create_persistent_token(sandbox.DEMO_EMAIL)
    with NovelAI(pst, base_url=sb.url) as c:
        assert c.token.kind == "persistent" and c.subscription().tier == 3


def test_login_with_key_and_token(sb):
    key = access_key(**DEMO)
    with NovelAI(base_url=sb.url) as c:
        tok = c.login_with_key(key)
        with NovelAI(base_url=sb.url) as d:
            d.login_with_token(tok.value)
            assert d.information() is not None
        assert c.is_reachable() is True


def test_async_client_same_results(sb):
    async def main():
        async with AsyncNovelAI(base_url=sb.url, **DEMO) as c:
            sub, info = await asyncio.gather(c.subscription(), c.information())
            return sub.tier, info.email_verified

    tier, _ = asyncio.run(main())
    assert tier == 3


# -- credentials and errors ------------------------------------------------------------------------
def test_embedded_sandbox_when_no_credentials(fresh_env, capsys):
    c = NovelAI()
    assert c.subscription().tier == 3
    assert c.is_sandbox
    out = capsys.readouterr().out
    assert out.count("offline sandbox") <= 1
    c2 = NovelAI()
    c2.information()
    assert "offline sandbox" not in capsys.readouterr().out  # announced once per process
    c.close()
    c2.close()


def test_env_credentials_take_precedence(fresh_env, sb):
    fresh_env.setenv("NAI_BASE_URL", sb.url)
    fresh_env.setenv("NAI_USERNAME", sandbox.DEMO_EMAIL)
    fresh_env.setenv("NAI_PASSWORD", sandbox.DEMO_PASSWORD)
    with NovelAI() as c:
        assert c.subscription().tier == 3 and not c.is_sandbox and c.hosts.api == sb.url


def test_env_half_credentials_refused(fresh_env, sb):
    fresh_env.setenv("NAI_BASE_URL", sb.url)
    fresh_env.setenv("NAI_USERNAME", sandbox.DEMO_EMAIL)
    with pytest.raises(errors.CredentialsError, match="NAI_PASSWORD"):
        NovelAI().information()


def test_wrong_password_says_access_key_rejected(sb):
    with pytest.raises(errors.AccessKeyRejected) as e:
        NovelAI(base_url=sb.url, email=sandbox.DEMO_EMAIL, password="wrong").information()
    assert e.value.status == 401 and "email and password" in str(e.value)


def test_unknown_token_says_rejected(sb):
    with pytest.raises(errors.TokenRejected):
        NovelAI("pst-not-a-real-token-123", base_url=sb.url).information()


def test_server_side_expiry_says_expired():
    clock = FakeClock()
    with sandbox.start(clock=clock) as server:
        with NovelAI(base_url=server.url, **DEMO) as c:
            c.information()
            clock.advance(31 * 24 * 3600)  # the server's clock passes the token's 30 days
            with pytest.raises(errors.TokenExpired, match="expired"):
                c.information()


def test_locally_expired_token_refused_before_sending(sb):
    def enc(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    jwt = f"{enc({'alg': 'HS256'})}.{enc({'id': 'x', 'exp': 1000})}.sig"
    c = NovelAI(jwt, base_url=sb.url)
    with pytest.raises(errors.CredentialsError, match="expired"):
        c.information()
    assert c.stats.get("attempts", 0) == 0


@pytest.mark.parametrize(
    "call,field",
    [
        (lambda c: c.list_objects("novels"), "object_type"),
        (lambda c: c.create_object("stories", "m" * 129, "ZGF0YQ=="), "meta"),
        (lambda c: c.create_object("stories", "m", ""), "data"),
        (lambda c: c.get_object("stories", "../../user/delete"), "object_id"),
        (lambda c: c.update_object("shelves", "abc", "m", "d"), "object_type"),
        (lambda c: c.set_keystore_raw(""), "keystore"),
        (lambda c: c.set_keystore_raw(base64.b64encode(b'{"version":2}').decode()), "keystore"),
        (lambda c: c.change_access_key("short", "x" * 64), "current_access_key"),
        (lambda c: c.login_with_key("not-a-key"), "access_key"),
        (lambda c: c.delete_account(), "confirm"),
    ],
)
def test_bad_input_refused_before_any_request(call, field):
    c = NovelAI("pst-some-token-value", base_url=_dead_url())
    with pytest.raises(errors.InputError) as e:
        call(c)
    assert e.value.field == field and "expected" in str(e.value)
    assert c.stats.get("attempts", 0) == 0, "nothing may be sent for bad input"


def test_bad_base_url_and_credentials_combinations():
    for bad in ["api.novelai.net", "ftp://x", "http://"]:
        with pytest.raises(errors.InputError, match="base_url"):
            NovelAI(base_url=bad)
    with pytest.raises(errors.CredentialsError):
        NovelAI(email="a@b.c")
    with pytest.raises(errors.CredentialsError):
        NovelAI("pst-abcdefgh", email="a@b.c", password="p")
    with pytest.raises(errors.CredentialsError, match="access key"):
        NovelAI(access_key("a@b.c", "p"))  # an access key passed as a token


# -- shape checks ------------------------------------------------------------------------------------
def test_shape_drift_names_the_field(sb):
    from aiohttp import web

    async def main(validate):
        app = web.Application()

        async def sub(request):
            return web.json_response({"tier": 3, "active": True, "expiresAt": 0, "trainingStepsLeft": {}})

        app.router.add_get("/user/subscription", sub)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            async with AsyncNovelAI(
                "pst-abcdefgh", base_url=f"http://127.0.0.1:{port}", validate=validate
            ) as c:
                return await c.subscription()
        finally:
            await runner.cleanup()

    with pytest.raises(errors.ResponseShapeError) as e:
        asyncio.run(main(True))
    assert e.value.field == "perks" and "missing" in str(e.value)
    assert asyncio.run(main(False)).tier == 3


# -- faults -----------------------------------------------------------------------------------------------
def test_200_calls_with_faults_all_correct():
    plan = FaultPlan(rate_429=0.2, retry_after=0.01, rate_500=0.1, rate_drop=0.05, seed=1234)
    with sandbox.start() as server:
        with NovelAI(base_url=server.url, **DEMO) as c:
            made = [c.create_object("presets", f"p{i}", f"ZGF0YS0{i}") for i in range(5)]
            server.reset_stats()
            server.faults = plan
            c._async.transport.retry = RetryPolicy(attempts=12, backoff=0.01, max_backoff=0.05)
            results = []
            for i in range(200):
                kind = i % 5
                obj = made[i % len(made)]
                if kind == 0:
                    results.append(c.subscription().tier == 3)
                elif kind == 1:
                    results.append(c.get_object("presets", obj.id).data == obj.data)
                elif kind == 2:
                    ids = {o.id for o in c.list_objects("presets")}
                    results.append({m.id for m in made} <= ids)
                elif kind == 3:
                    upd = c.update_object("presets", obj.id, f"meta{i}", obj.data)
                    results.append(upd.meta == f"meta{i}" and upd.data == obj.data)
                else:
                    results.append(c.information().created_at is not None)
            stats = c.stats
            server_stats = server.stats()
            server.faults = None
    assert len(results) == 200 and all(results)
    injected = server_stats["injected"]
    assert injected["429"] > 10 and injected["500"] > 5 and injected["drop"] > 2, injected
    assert stats["retries"] == injected["429"] + injected["500"] + injected["drop"]
    assert stats["retry_429"] == injected["429"] and stats["retry_500"] == injected["500"]
