"""Fault injection of the sandbox over loopback: rates, reproducibility, drops, timing, admin endpoints."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

import naikit.sandbox as sb
from naikit.errors import InputError
from naikit.sandbox.faults import FaultInjector, FaultPlan


@pytest.fixture(scope="module")
def box():
    with sb.start(test_hooks=True) as running:
        yield running


@pytest.fixture(autouse=True)
def _clean(box):
    box.faults = None
    box.reset_stats()
    yield
    box.faults = None


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def outcomes(url: str, n: int, path: str = "/", method: str = "GET", **kw: Any) -> list[str]:
    """Send n sequential requests; return the status ("200", "429", …) or "drop" for each.

    aiohttp itself resends an idempotent request (GET, PUT, DELETE…) once when the server disconnects, so
    to see every drop use a POST (see ``posts``).
    """
    seen: list[str] = []
    async with aiohttp.ClientSession() as session:
        for _ in range(n):
            try:
                async with session.request(method, url + path, **kw) as r:
                    await r.read()
                    seen.append(str(r.status))
            except aiohttp.ServerDisconnectedError:
                seen.append("drop")
    return seen


async def posts(url: str, n: int) -> list[str]:
    """n logins (POST, never resent by aiohttp): "201" when handled, else the fault."""
    return await outcomes(url, n, "/user/login", "POST", json={"key": sb.demo_access_key()})


async def login_token(url: str) -> str:
    async with aiohttp.ClientSession() as s:
        async with s.post(url + "/user/login", json={"key": sb.demo_access_key()}) as r:
            assert r.status == 201
            return (await r.json())["accessToken"]


# ----------------------------------------------------------------------------------------------- the plan


def test_parse_string_form():
    plan = FaultPlan.parse("429=0.2,500=0.1,drop=0.05,latency=0.01,retry_after=1,seed=7")
    assert plan == FaultPlan(
        latency=0.01, rate_429=0.2, retry_after=1, rate_500=0.1, rate_drop=0.05, seed=7, paths=("/",)
    )
    assert FaultPlan.parse(str(plan)) == plan
    assert FaultPlan.parse("drop=0.5,paths=/ai/|/user/objects").paths == ("/ai/", "/user/objects")
    assert FaultPlan.parse("rate_429=0.3,5xx=0.1").rate_500 == 0.1
    for empty in ("", "none", None):
        assert not FaultPlan.parse(empty).active
    assert FaultPlan.from_dict(plan.to_dict()) == plan
    assert json.loads(json.dumps(plan.to_dict()))["paths"] == ["/"]


@pytest.mark.parametrize(
    "text,field",
    [
        ("429=1.5", "rate_429"),
        ("429=0.6,500=0.6", "rate_429+rate_500+rate_drop"),
        ("latency=-1", "latency"),
        ("bogus=1", "faults"),
        ("429", "faults"),
        ("seed=x", "seed"),
        ("paths=ai", "paths"),
    ],
)
def test_parse_rejects_bad_plans(text, field):
    with pytest.raises(InputError) as err:
        FaultPlan.parse(text)
    assert err.value.field == field
    assert isinstance(err.value, ValueError)


def test_admin_paths_are_never_faulted():
    plan = FaultPlan(rate_drop=1.0)
    assert plan.applies_to("/user/login") and not plan.applies_to("/_sandbox/stats")
    injector = FaultInjector(plan)
    assert injector.decide("/_sandbox/faults")[1] is None
    assert injector.decide("/user/login")[1] == "drop"


# ------------------------------------------------------------------------------------------ over the wire


def test_each_fault_happens_at_its_rate_and_stats_count_it(box):
    box.faults = "429=0.2,500=0.1,drop=0.1,retry_after=1,seed=7"
    n = 400
    seen = run(posts(box.url, n))
    counts = {k: seen.count(k) for k in ("201", "429", "500", "drop")}
    # binomial sd at n=400 is at most 10; allow about 4 sd
    assert abs(counts["429"] - 0.2 * n) < 40
    assert abs(counts["500"] - 0.1 * n) < 30
    assert abs(counts["drop"] - 0.1 * n) < 30
    assert abs(counts["201"] - 0.6 * n) < 40
    stats = box.stats()
    assert stats["requests"] == n
    assert stats["injected"] == {
        "429": counts["429"],
        "500": counts["500"],
        "drop": counts["drop"],
        "524": 0,
        "drop_after": 0,
    }
    assert stats["handled"] == counts["201"]


def test_injected_responses_look_like_novelai(box):
    box.faults = FaultPlan(rate_429=1.0, retry_after=3)

    async def one() -> tuple[int, dict, str, str]:
        async with aiohttp.ClientSession() as s:
            async with s.get(box.url + "/user/subscription") as r:
                return r.status, await r.json(), r.headers["Retry-After"], r.content_type

    assert run(one()) == (429, {"statusCode": 429, "message": "Too many requests"}, "3", "application/json")
    box.faults = FaultPlan(rate_500=1.0)

    async def two() -> tuple[int, dict]:
        async with aiohttp.ClientSession() as s:
            async with s.get(box.url + "/") as r:
                return r.status, await r.json()

    assert run(two()) == (500, {"statusCode": 500, "message": "Internal server error"})


def test_same_seed_same_faults(box):
    plan = "429=0.25,500=0.15,drop=0.15,seed=1234"
    box.faults = plan
    first = run(posts(box.url, 60))
    box.faults = plan  # setting a plan restarts its random stream
    second = run(posts(box.url, 60))
    assert first == second
    assert set(first) == {"201", "429", "500", "drop"}  # every kind happened
    box.faults = plan.replace("seed=1234", "seed=99")
    assert run(posts(box.url, 60)) != first


def test_aiohttp_resends_a_dropped_get_once(box):
    # Worth knowing for a client's retry budget: aiohttp itself repeats an idempotent request once after
    # a disconnect, so one GET under drop=1 reaches the server twice before the error surfaces.
    box.faults = FaultPlan(rate_drop=1.0)
    assert run(outcomes(box.url, 1)) == ["drop"]
    assert box.stats()["injected"]["drop"] == 2


def test_drop_is_a_connection_error_for_aiohttp(box):
    box.faults = FaultPlan(rate_drop=1.0)

    async def main() -> BaseException:
        async with aiohttp.ClientSession() as s:
            try:
                async with s.post(box.url + "/user/login", json={"key": "x" * 64}) as r:
                    await r.read()
            except aiohttp.ClientError as exc:
                return exc
        raise AssertionError("the request got an answer")

    exc = run(main())
    assert isinstance(exc, aiohttp.ServerDisconnectedError)
    assert isinstance(exc, aiohttp.ClientConnectionError)
    assert box.stats()["injected"]["drop"] == 1


@pytest.mark.parametrize("fault", ["drop=1", "429=1", "500=1"])
def test_faults_hit_before_the_handler(box, fault):
    async def main() -> tuple[list[str], dict, dict]:
        token = await login_token(box.url)
        auth = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=auth) as s:
            async with s.put(box.url + "/user/objects/stories", json={"meta": "m", "data": "before"}) as r:
                obj = await r.json()
        path = f"/user/objects/stories/{obj['id']}"
        box.faults = f"{fault},paths=/user/objects"
        seen = await outcomes(box.url, 3, path, "PATCH", json={"data": "after"}, headers=auth)
        box.faults = None
        async with aiohttp.ClientSession(headers=auth) as s:
            async with s.get(box.url + path) as r:
                now = await r.json()
        return seen, obj, now

    seen, before, after = run(main())
    expected = fault.split("=")[0]
    assert seen == [expected] * 3
    assert after == before  # data, changeIndex and lastUpdatedAt untouched
    assert after["changeIndex"] == 1


def test_latency_is_added(box):
    box.faults = FaultPlan(latency=0.05)
    t0 = time.perf_counter()
    assert run(outcomes(box.url, 3)) == ["200"] * 3
    assert time.perf_counter() - t0 >= 0.15
    assert box.stats()["delayed"] == 3


def test_paths_limit_the_plan(box):
    box.faults = FaultPlan(rate_429=1.0, paths=("/user/",))
    assert run(outcomes(box.url, 2, "/")) == ["200", "200"]
    assert run(outcomes(box.url, 2, "/user/information")) == ["429", "429"]
    stats = box.stats()
    assert (stats["requests"], stats["faulted_paths"], stats["injected"]["429"]) == (4, 2, 2)


def test_retries_show_in_stats(box):
    box.faults = "429=0.3,500=0.2,drop=0.1,retry_after=0,seed=5"

    async def main() -> tuple[int, int]:
        successes = attempts = 0
        async with aiohttp.ClientSession() as s:
            for _ in range(20):
                while True:  # a naive client that retries every failure
                    attempts += 1
                    try:
                        # POST: aiohttp would silently resend a dropped GET once, hiding an attempt
                        async with s.post(box.url + "/user/login", json={"key": sb.demo_access_key()}) as r:
                            await r.read()
                            if r.status == 201:
                                successes += 1
                                break
                    except aiohttp.ClientConnectionError:
                        pass
        return successes, attempts

    successes, attempts = run(main())
    stats = box.stats()
    assert successes == 20 and attempts > 20
    assert stats["requests"] == attempts and stats["handled"] == 20
    assert sum(stats["injected"].values()) == attempts - 20


def test_admin_endpoints(box):
    async def main() -> None:
        async with aiohttp.ClientSession(headers=box.admin_headers) as s:
            plan = {"rate_429": 1.0, "retry_after": 2, "paths": ["/user/"]}
            async with s.put(box.url + "/_sandbox/faults", json=plan) as r:
                assert r.status == 200
                assert (await r.json())["rate_429"] == 1.0
            async with s.get(box.url + "/_sandbox/faults") as r:
                assert (await r.json())["paths"] == ["/user/"]
            async with s.get(box.url + "/user/information") as r:
                assert (r.status, r.headers["Retry-After"]) == (429, "2")
            # a plan on every path still leaves the admin area alone
            async with s.put(box.url + "/_sandbox/faults", json="drop=1,seed=3") as r:
                assert (await r.json())["rate_drop"] == 1.0
            async with s.get(box.url + "/_sandbox/stats") as r:
                stats = await r.json()
                assert stats["injected"]["429"] == 1 and stats["plan"]["rate_drop"] == 1.0
            async with s.put(box.url + "/_sandbox/faults", json={"rate_429": 2}) as r:
                assert r.status == 400
                body = await r.json()
                assert body["statusCode"] == 400 and "rate_429" in body["message"]
            async with s.delete(box.url + "/_sandbox/faults") as r:
                assert (await r.json())["rate_drop"] == 0
            async with s.get(box.url + "/") as r:
                assert r.status == 200
            async with s.delete(box.url + "/_sandbox/stats") as r:
                assert (await r.json())["requests"] == 0

    run(main())
    assert not box.faults.active


def test_start_accepts_a_string_plan():
    with sb.start(faults="500=1,seed=1") as box:
        assert box.faults.rate_500 == 1.0
        assert run(outcomes(box.url, 2)) == ["500", "500"]


@pytest.mark.parametrize("fault", ["524=1", "drop_after=1"])
def test_faults_after_the_handler_acted_lose_only_the_answer(fault):
    """``524`` and ``drop_after`` let the handler store the object, then lose the answer: naikit's client
    must not store it twice, and finds the object it made."""
    import secrets

    from naikit.novelai.client import NovelAI

    with sb.start() as box:
        token = box.create_persistent_token()
        box.faults = fault + ",paths=/user/objects/stories,methods=PUT"  # the listing still works
        meta = "after-" + secrets.token_hex(4)
        with NovelAI(base_url=box.url, token=token) as c:
            obj = c.create_object("stories", meta, '{"x": 1}')
            assert c.stats["recovered"] == 1
            assert box.stats()["injected"][fault.split("=")[0]] == 1
            box.faults = None
            assert [o.id for o in c.list_objects("stories") if o.meta == meta] == [obj.id]
