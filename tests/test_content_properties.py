"""Property test: 1,000 random edit/upload/download cycles against the sandbox with faults on (429, 500,
dropped connections) leave every object decryptable and equal to its last written version; a deliberately
corrupted keystore is refused before upload, every time."""

from __future__ import annotations

import random
import string

import pytest

from naikit import sandbox
from naikit._settings import RetryPolicy
from naikit.novelai.client import NovelAI
from naikit.novelai.crypto import UnsafeWrite

CYCLES = 1000
TYPES = ("stories", "storycontent", "presets", "aimodules", "shelf")
FAST_RETRY = RetryPolicy(attempts=25, backoff=0.0005, max_backoff=0.002, max_retry_after=0.002)


def _edit(rng: random.Random, data: dict, i: int) -> None:
    alphabet = string.ascii_letters + 'äöü—✓🌊 \n"\\'
    choice = rng.random()
    if choice < 0.4:
        data["note"] = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
    elif choice < 0.7:
        data.setdefault("counter", 0)
        data["counter"] += 1
    elif choice < 0.9:
        data["cycle"] = {"i": i, "f": rng.random(), "list": [rng.randint(-5, 5) for _ in range(3)]}
    else:
        data.pop("note", None)


def _check_all(nai, expected: dict) -> None:
    for t in TYPES:
        listed = nai.content(t)
        assert not listed.errors, listed.errors
        for item in listed:
            assert item.data == expected[(t, item.id)], (t, item.id)


def test_random_cycles_with_faults(tmp_path):
    rng = random.Random(20240301)
    with sandbox.start() as sb, NovelAI(base_url=sb.url, retry=FAST_RETRY, **_demo()) as nai:
        nai.set_backup_dir(tmp_path)
        cache = {(t, o.id): o for t in TYPES for o in nai.content(t)}
        expected = {k: o.data for k, o in cache.items()}
        keys = sorted(cache)
        sb.faults = "429=0.04,500=0.04,drop=0.03,retry_after=0.001,seed=11"
        refused = saves = downloads = 0
        for i in range(CYCLES):
            r = rng.random()
            key = rng.choice(keys)
            if r < 0.5:
                item = cache[key]
                _edit(rng, item.data, i)
                cache[key] = nai.save_content(item, backup=rng.random() < 0.1)
                expected[key] = cache[key].data
                saves += 1
            elif r < 0.98:
                item = nai.content_item(*key)
                assert item.ok and item.data == expected[key]
                cache[key] = item
                downloads += 1
            else:
                raw = nai.keystore_raw()
                ks = nai.keystore()
                ks._keys[ks.metas[rng.randrange(len(ks))]] = bytes(rng.randrange(256) for _ in range(32))
                with pytest.raises(UnsafeWrite):
                    nai.set_keystore(ks)
                assert nai.keystore_raw() == raw
                refused += 1
            if i % 250 == 249:
                _check_all(nai, expected)
        stats = sb.stats()
        sb.faults = None
        _check_all(nai, expected)
        assert nai.sanity_check().ok
    assert sum(stats["injected"].values()) > 100, stats  # the faults really happened
    assert saves > 400 and downloads > 400 and refused > 5


def _demo() -> dict:
    return {"email": sandbox.DEMO_EMAIL, "password": sandbox.DEMO_PASSWORD}
