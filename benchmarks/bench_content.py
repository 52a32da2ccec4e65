"""Decrypting, decompressing and parsing 2,000 stories: naikit vs novelai-api 0.34.1, on the same data.

Builds 2,000 story objects (1,000 compressed, 1,000 not; a few KB of JSON each) encrypted under one
keystore, then times, in the same run, naikit's ``decode_object`` and novelai-api's ``decrypt_user_data``
(in its throwaway venv, see tests/refclients.py) over identical bytes. Prints seconds and the ratio.

    .venv/bin/python benchmarks/bench_content.py [N]
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from refclients import run_script  # noqa: E402

from naikit.novelai import crypto  # noqa: E402
from naikit.novelai.account import UserObject  # noqa: E402
from naikit.novelai.content import decode_object, story_text_of  # noqa: E402

REF = r"""
import json, sys, time
from novelai_api.Keystore import Keystore
from novelai_api.utils import decrypt_user_data
payload = json.load(open(sys.argv[2]))
key = bytes.fromhex(sys.argv[1])
best = None
for _ in range(3):
    items = [dict(o) for o in payload["items"]]
    t = time.perf_counter()
    ks = Keystore({"keystore": payload["keystore"]}); ks.decrypt(key)
    decrypt_user_data(items, ks)
    text = sum(len("".join(f["data"] for f in i["data"]["story"]["fragments"])) for i in items)
    dt = time.perf_counter() - t
    best = dt if best is None else min(best, dt)
assert all(i["decrypted"] for i in items)
print(json.dumps({"seconds": best, "chars": text}))
"""


def build(n: int) -> tuple[bytes, str, list[dict]]:
    rng = random.Random(7)
    account_key = bytes(rng.randrange(256) for _ in range(32))
    ks = crypto.Keystore.new()
    items = []
    words = "the keeper counted ships lamp radio salt road letter orchard gear apple".split()
    for i in range(n):
        meta = ks.add()
        frags = [{"data": " ".join(rng.choice(words) for _ in range(60)), "origin": "ai"} for _ in range(8)]
        body = {
            "storyContentVersion": 4,
            "story": {"version": 2, "fragments": frags, "datablocks": []},
            "lorebook": {"entries": [{"text": "x" * 100, "keys": ["k"]}] * 3},
            "settings": {"model": "kayra-v1"},
        }
        data = crypto.encrypt_payload(crypto.dumps_compact(body), ks[meta], compressed=i % 2 == 0)
        items.append(
            {
                "id": f"S{i:05d}",
                "meta": meta,
                "type": "storycontent",
                "data": data,
                "lastUpdatedAt": 0,
                "changeIndex": 1,
            }
        )
    return account_key, ks.encrypt(account_key), items


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    key, raw, items = build(n)
    best = None
    for _ in range(3):
        t = time.perf_counter()
        ks = crypto.Keystore.decrypt(raw, key)
        decoded = [decode_object(UserObject.from_json(o), ks) for o in items]
        chars = sum(len(story_text_of(o.data)) for o in decoded)
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    assert all(o.ok for o in decoded)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"keystore": raw, "items": items}, f)
    ref = json.loads(run_script("novelai-api", REF, key.hex(), f.name))
    assert ref["chars"] == chars, (ref["chars"], chars)
    print(f"{n} stories, {chars} characters of text, best of 3")
    print(f"naikit      {best:8.3f} s")
    print(f"novelai-api {ref['seconds']:8.3f} s")
    print(f"ratio naikit / novelai-api = {best / ref['seconds']:.2f}")


if __name__ == "__main__":
    main()
