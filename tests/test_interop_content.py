"""Interop with `novelai-api` 0.34.1 (throwaway venv): what it encrypts naikit decrypts and the reverse,
keystores round-trip byte-identically both ways, it reads the sandbox demo account's content, and its
msgpackr unpacker reads documents naikit packs."""

from __future__ import annotations

import base64
import json

import pytest
from refclients import run_script

from naikit import sandbox
from naikit.novelai import crypto
from naikit.novelai.account import UserObject
from naikit.novelai.auth import encryption_key
from naikit.novelai.content import decode_object
from naikit.novelai.document import MsgSet, Tagged, pack, unpack

pytestmark = pytest.mark.interop

EMAIL, PASSWORD = "Interop@Example.com", "interop-password"

REF_ENCRYPTS = r"""
import json, sys
from nacl.utils import random
from novelai_api.Keystore import Keystore
from novelai_api.utils import get_encryption_key, encrypt_user_data, compress_user_data

email, password = sys.argv[1:3]
key = get_encryption_key(email, password)
ks = Keystore({"keystore": None})
ks.decrypt(key)
ks["meta-a"] = random(32)
ks["meta-b"] = random(32)
ks.encrypt(key)
raw = ks.data["keystore"]
def item(meta, id_, type_, data, compressed):
    return {"meta": meta, "id": id_, "type": type_, "data": data, "nonce": random(24),
            "compressed": compressed, "decrypted": True}

story = {"story": {"fragments": [{"data": "x" * 500, "origin": "ai"}]}}
items = [item("meta-a", "A1", "stories", {"title": "Ünïcode ✓", "n": 1}, True),
         item("meta-b", "B1", "storycontent", story, False)]
ks2 = Keystore({"keystore": raw}); ks2.decrypt(key)
encrypt_user_data(items, ks2)
preset = {"meta": "", "id": "P1", "type": "presets", "data": {"name": "ref preset"}, "decrypted": True,
          "compressed": True}
compress_user_data(preset)
print(json.dumps({"keystore": raw, "items": items + [preset]}))
"""

REF_DECRYPTS = r"""
import json, sys
from novelai_api.Keystore import Keystore
from novelai_api.utils import decrypt_user_data, decompress_user_data

payload = json.loads(sys.stdin.read()) if len(sys.argv) < 3 else json.loads(open(sys.argv[2]).read())
key = bytes.fromhex(sys.argv[1])
ks = Keystore({"keystore": payload["keystore"]})
ks.decrypt(key)
before = payload["keystore"]
ks.encrypt(key)
items = payload["items"]
enc = [i for i in items if i["type"] != "presets"]
decrypt_user_data(enc, ks)
pre = [i for i in items if i["type"] == "presets"]
decompress_user_data(pre)
print(json.dumps({
    "same_keystore": ks.data["keystore"] == before,
    "metas": sorted(ks._keystore),
    "items": [{"id": i["id"], "decrypted": i["decrypted"], "data": i["data"]} for i in enc + pre],
}))
"""

REF_READS_SANDBOX = r"""
import asyncio, json, sys
from aiohttp import ClientSession
from novelai_api import NovelAIAPI
from novelai_api.utils import get_encryption_key, decrypt_user_data, decompress_user_data

async def main(url, email, password):
    async with ClientSession() as session:
        api = NovelAIAPI(session)
        api.BASE_ADDRESS = url
        await api.high_level.login(email, password)
        ks = await api.high_level.get_keystore(get_encryption_key(email, password))
        stories = await api.high_level.download_user_stories()
        decrypt_user_data(stories, ks)
        contents = await api.high_level.download_user_story_contents()
        decrypt_user_data(contents, ks)
        presets = await api.high_level.download_user_presets()
        decompress_user_data(presets)
        print(json.dumps({
            "titles": sorted(s["data"]["title"] for s in stories if s["decrypted"]),
            "contents": sum(1 for c in contents if c["decrypted"]),
            "presets": sorted(p["data"]["name"] for p in presets if p["decrypted"]),
        }))

asyncio.run(main(*sys.argv[1:4]))
"""

REF_UNPACKS = r"""
import base64, json, sys
from novelai_api.utils import unpacker, unpacker_state
unpacker.restore_state(unpacker_state)
print(json.dumps(unpacker.unpack(base64.b64decode(sys.argv[1]))))
"""


def test_naikit_decrypts_what_novelai_api_encrypts():
    out = json.loads(run_script("novelai-api", REF_ENCRYPTS, EMAIL, PASSWORD))
    key = encryption_key(EMAIL, PASSWORD, email_case="verbatim")  # novelai-api keeps the email's case
    ks = crypto.Keystore.decrypt(out["keystore"], key)
    assert sorted(ks.metas) == ["meta-a", "meta-b"] and all(len(ks[m]) == 32 for m in ks)
    assert ks.encrypt(key) == out["keystore"]  # unchanged: byte-identical
    got = {i["id"]: decode_object(UserObject.from_json(i), ks) for i in out["items"]}
    assert got["A1"].data == {"title": "Ünïcode ✓", "n": 1} and got["A1"].payload.compressed
    assert not got["B1"].payload.compressed and got["B1"].data["story"]["fragments"][0]["data"] == "x" * 500
    assert got["P1"].data == {"name": "ref preset"}
    # unchanged objects re-encode to the same bytes novelai-api wrote
    from naikit.novelai.content import _encode

    for item in got.values():
        assert _encode(item, ks[item.meta] if item.meta else None)[0] == item.payload.data


def test_novelai_api_decrypts_what_naikit_encrypts(tmp_path):
    key = encryption_key(EMAIL, PASSWORD)
    ks = crypto.Keystore.new()
    a, b = ks.add(), ks.add()
    raw = ks.encrypt(key)
    items = []
    for i, (meta, data, compressed) in enumerate(
        [(a, {"title": "naïve ✓", "tags": ["x"]}, True), (b, {"story": {"fragments": []}}, False)]
    ):
        payload = crypto.encrypt_payload(crypto.dumps_compact(data), ks[meta], compressed=compressed)
        items.append({"id": f"N{i}", "meta": meta, "type": "stories", "data": payload})
    preset = crypto.compress_payload(crypto.dumps_compact({"name": "naikit preset"}))
    items.append({"id": "P", "meta": "", "type": "presets", "data": preset})
    path = tmp_path / "payload.json"
    path.write_text(json.dumps({"keystore": raw, "items": items}))
    out = json.loads(run_script("novelai-api", REF_DECRYPTS, key.hex(), str(path)))
    assert out["same_keystore"] is True  # their decrypt -> encrypt reproduces naikit's bytes
    assert out["metas"] == sorted([a, b])
    by_id = {i["id"]: i for i in out["items"]}
    assert all(i["decrypted"] for i in out["items"])
    assert by_id["N0"]["data"] == {"title": "naïve ✓", "tags": ["x"]}
    assert by_id["N1"]["data"] == {"story": {"fragments": []}}
    assert by_id["P"]["data"] == {"name": "naikit preset"}


def test_novelai_api_reads_the_sandbox_demo_content():
    with sandbox.start() as sb:
        out = json.loads(
            run_script("novelai-api", REF_READS_SANDBOX, sb.url, sandbox.DEMO_EMAIL, sandbox.DEMO_PASSWORD)
        )
    assert out["titles"] == ["Clockwork Orchard", "Letters from the Salt Road", "The Lighthouse Keeper"]
    assert out["contents"] == 3 and out["presets"] == ["Lantern (demo)", "Still Water (demo)"]


def test_novelai_api_unpacks_naikit_documents():
    value = Tagged(
        20,
        {
            "sections": {
                1641454468422109: Tagged(30, {"type": 1, "text": "Première ligne ✓", "source": 0}),
                7: Tagged(30, {"type": 1, "text": "second", "source": 0}),
            },
            "order": [1641454468422109, 7],
            "history": Tagged(
                40, {"root": 1, "nodes": {1: Tagged(41, {"children": MsgSet([2, 3]), "n": 100})}}
            ),
            "step": 2,
            "mixed": [64, 127, -33, 1.5, 2**40, None, True, "x" * 300],
        },
    )
    data = base64.b64encode(pack(value)).decode()
    theirs = json.loads(run_script("novelai-api", REF_UNPACKS, data))
    ours = json.loads(json.dumps(unpack(pack(value), tags=False)))
    assert theirs["order"] == ours["order"] and theirs["mixed"] == ours["mixed"]
    # novelai-api leaves a float64 key as a float ("1641454468422109.0"); JavaScript and naikit see an integer
    assert {str(int(float(k))): v for k, v in theirs["sections"].items()} == ours["sections"]
    assert theirs["step"] == 2
