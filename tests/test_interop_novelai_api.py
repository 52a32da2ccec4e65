"""`novelai-api` from PyPI (throwaway venv), pointed at `naikit serve`, works against the sandbox:
login with the demo account, subscription, keystore, and an object created, read and deleted.
"""

from __future__ import annotations

import json

import pytest
from served import naikit_serve

from naikit.novelai.client import NovelAI
from naikit.sandbox import DEMO_EMAIL, DEMO_PASSWORD

pytestmark = pytest.mark.interop

REF_SCRIPT = r"""
import asyncio, json, sys
from aiohttp import ClientSession
from novelai_api import NovelAIAPI

async def main(url, email, password):
    out = {}
    async with ClientSession() as session:
        api = NovelAIAPI(session)
        api.BASE_ADDRESS = url
        token = await api.high_level.login(email, password)
        out["token_prefix"] = token[:2]
        sub = await api.low_level.get_subscription()
        out["tier"] = sub["tier"]
        steps = sub["trainingStepsLeft"]
        out["anlas"] = steps["fixedTrainingStepsLeft"] + steps["purchasedTrainingSteps"]
        ks = await api.low_level.get_keystore()
        out["keystore"] = ks["keystore"]
        created = await api.low_level.upload_objects("presets", "interop-meta", "eyJoZWxsbyI6ICJ3b3JsZCJ9")
        out["created"] = created
        got = await api.low_level.download_object("presets", created["id"])
        out["got"] = got
        listed = await api.low_level.download_objects("presets")
        out["listed_ids"] = [o["id"] for o in listed["objects"]]
        deleted = await api.low_level.delete_object("presets", created["id"])
        out["deleted"] = deleted
        listed = await api.low_level.download_objects("presets")
        out["listed_after"] = [o["id"] for o in listed["objects"]]
        info = await api.low_level.get_information()
        out["info_keys"] = sorted(info)
    print(json.dumps(out))

asyncio.run(main(*sys.argv[1:4]))
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Return the URL of a `naikit serve` process (the real CLI) with a data directory."""
    with naikit_serve("--data", str(tmp_path_factory.mktemp("serve-data"))) as url:
        yield url


def test_novelai_api_against_naikit_serve(served):
    from refclients import run_script

    out = json.loads(
        run_script("novelai-api", REF_SCRIPT, served, DEMO_EMAIL, DEMO_PASSWORD).strip().splitlines()[-1]
    )
    assert out["token_prefix"] == "ey"
    assert out["tier"] == 3
    assert out["keystore"] is None or isinstance(out["keystore"], str)
    created, got, deleted = out["created"], out["got"], out["deleted"]
    assert created["meta"] == "interop-meta" and created["type"] == "presets"
    assert got["id"] == created["id"] and got["data"] == "eyJoZWxsbyI6ICJ3b3JsZCJ9"
    assert created["id"] in out["listed_ids"]
    assert deleted["id"] == created["id"] and created["id"] not in out["listed_after"]
    assert {"emailVerified", "accountCreatedAt"} <= set(out["info_keys"])

    # naikit sees the same account state the other client left behind.
    with NovelAI(base_url=served, email=DEMO_EMAIL, password=DEMO_PASSWORD) as nai:
        sub = nai.subscription()
        assert sub.tier == 3 and sub.anlas == out["anlas"]
        assert created["id"] not in [o.id for o in nai.list_objects("presets")]
