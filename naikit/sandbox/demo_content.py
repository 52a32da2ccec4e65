"""The demo account's content: a keystore and encrypted stories, presets, a module and a shelf.

Seeded once, when the demo account is created (:func:`seed_demo_content`, called by ``seed_demo_account``):

* a keystore (version 2) encrypted with the key derived from the demo email and password, exactly as the
  web app would store it, holding one 32-byte key per story meta and one for the module;
* "The Lighthouse Keeper": an older story (datablocks with an edit, memory, author's note and a lorebook of
  three entries), Kayra;
* "Clockwork Orchard": an older story whose history branches (a retried generation), Kayra;
* "Letters from the Salt Road": a newer story whose text lives in a msgpack ``document`` (editor v2),
  Erato, with a lorebook of two entries;
* two text presets (one compressed, one plain base64 JSON), one encrypted AI module and one shelf.

Everything is deterministic (keys, nonces, ids and dates come from fixed seeds), so notebook outputs do
not change between runs. These keys are not secret: the demo password is published. Nonces are derived
per object, so no nonce is used for two different plaintexts.
"""

from __future__ import annotations

import base64
import datetime as _dt
from typing import Any

from ..novelai.crypto import Keystore, compress_payload, dumps_compact, encrypt_payload, seal
from ..novelai.document import UNDEFINED, MsgSet, Tagged, encode_document
from .demo_builders import _T0, _blocks, _context, _derive, _id, _lore, _meta, _ms, _settings
from .demo_story import demo_story_file

__all__ = ["seed_demo_content", "DEMO_STORIES", "demo_objects", "demo_story_file"]

DEMO_STORIES = ("The Lighthouse Keeper", "Clockwork Orchard", "Letters from the Salt Road")


_SALT_ROAD = [
    "Dear Ines,",
    "The caravan reached the salt flats at dawn. The ground is white as paper and it squeaks under the "
    "wheels, which the mules hate.",
    "Tomorrow we cross to Qasr Malih. The guide says the wells there are sweet — I will believe it when I "
    "taste it. Keep the lamp lit for me.",
    "Yours, on the white road,",
    "Tomas",
]


def _document() -> str:
    """The newer story's editor-v2 document, packed like the web app packs it (msgpackr)."""
    sections: dict[int, Any] = {}
    order = []
    for i, text in enumerate(_SALT_ROAD):
        sid = int.from_bytes(_derive(f"section:{i}", 6), "big") + 10**15  # 16 digits, like the web app's
        marks = {1: [Tagged(31, {"position": 0, "data": 1, "length": min(4, len(text))})], 2: []}
        sections[sid] = Tagged(30, {"type": 1, "text": text, "meta": marks, "source": 0 if i else UNDEFINED})
        order.append(sid)
    root, node = (int.from_bytes(_derive(f"node:{k}", 6), "big") + 10**15 for k in (0, 1))
    change = Tagged(42, {"type": 0, "section": sections[order[-1]], "after": order[-2]})
    nodes = {
        root: Tagged(
            41,
            {
                "id": root,
                "parent": UNDEFINED,
                "children": MsgSet([node]),
                "route": UNDEFINED,
                "changes": {},
                "date": _dt.datetime.fromtimestamp(_T0, _dt.timezone.utc),
                "genPosition": UNDEFINED,
            },
        ),
        node: Tagged(
            41,
            {
                "id": node,
                "parent": root,
                "children": MsgSet(),
                "route": UNDEFINED,
                "changes": {order[-1]: change},
                "date": _dt.datetime.fromtimestamp(_T0 + 600, _dt.timezone.utc),
                "genPosition": UNDEFINED,
            },
        ),
    }
    doc = {
        "sections": sections,
        "order": order,
        "history": Tagged(40, {"root": root, "current": node, "nodes": nodes}),
        "dirtySections": {},
        "step": len(order),
    }
    return encode_document(Tagged(20, doc))


def demo_objects() -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """Return (meta → key, objects) of the demo content; objects are dicts type/id/meta/json/encrypted."""
    stories: list[tuple[str, dict, dict]] = []

    lighthouse = _blocks(
        [
            ("prompt", "The lighthouse keeper counted the ships again. Seven, not six.", 0, None),
            (
                "ai",
                " He climbed the stairs with the log under his arm, and the lamp hummed above him like a "
                "hive.",
                1,
                None,
            ),
            ("edit", "droned", 2, "hummed"),  # the writer replaced one word
            ("ai", " Nobody answered the radio.", 3, None),
        ]
    )
    stories.append(
        (
            DEMO_STORIES[0],
            {
                "description": "A keeper, a storm and one ship too many.",
                "tags": ["mystery", "sea"],
                "favorite": True,
            },
            {
                "story": lighthouse,
                "context": _context(
                    "Elias keeps the Farol Norte lighthouse alone.", "[ Style: quiet, tense ]"
                ),
                "lorebook": _lore(
                    [
                        (
                            "Elias",
                            ["Elias", "keeper"],
                            "Elias: the lighthouse keeper, sixty, careful, counts everything.",
                        ),
                        (
                            "Farol Norte",
                            ["lighthouse", "Farol"],
                            "Farol Norte: a lighthouse on a basalt spit.",
                        ),
                        (
                            "The seventh ship",
                            ["seventh", "ship"],
                            "The seventh ship carries no lights and no name.",
                        ),
                    ],
                    5,
                ),
                "settings": _settings("kayra-v1", "Carefree"),
            },
        )
    )
    orchard = _blocks(
        [
            ("prompt", "In the clockwork orchard the apples ticked as they ripened.", 0, None),
            ("ai", " Mara wound the oldest tree first.", 1, None),
            ("ai", " Mara listened for the one that had stopped.", 1, None),  # a retry: a second branch
        ]
    )
    stories.append(
        (
            DEMO_STORIES[1],
            {"description": "Gears, fruit and a missing beat.", "tags": ["fantasy"], "favorite": False},
            {
                "story": orchard,
                "context": _context("", ""),
                "lorebook": _lore([], 0),
                "settings": _settings("kayra-v1", "Fresh Coffee"),
            },
        )
    )
    stories.append(
        (
            DEMO_STORIES[2],
            {
                "description": "Letters home from a salt caravan.",
                "tags": ["letters", "travel"],
                "favorite": False,
            },
            {
                "document": _document(),
                "context": _context("Tomas writes to his sister Ines.", ""),
                "lorebook": _lore(
                    [
                        ("Ines", ["Ines"], "Ines: Tomas's sister, keeps the family inn."),
                        (
                            "Qasr Malih",
                            ["Qasr Malih", "wells"],
                            "Qasr Malih: an oasis town with sweet wells.",
                        ),
                    ],
                    20,
                ),
                "settings": _settings("llama-3-erato-v1", "Golden Arrow"),
            },
        )
    )

    keys: dict[str, bytes] = {}
    objects: list[dict[str, Any]] = []
    for n, (title, extra, content) in enumerate(stories):
        meta = _meta(f"story:{title}")
        keys[meta] = _derive(f"key:{meta}", 32)
        content_id, story_id = _id(f"content:{title}"), _id(f"story:{title}")
        story = {
            "storyMetadataVersion": 1,
            "id": meta,
            "remoteId": "",
            "remoteStoryId": content_id,
            "title": title,
            "description": extra["description"],
            "textPreview": "",
            "favorite": extra["favorite"],
            "tags": extra["tags"],
            "createdAt": _ms(10 * n),
            "lastUpdatedAt": _ms(10 * n + 7),
            "isModified": False,
            "hasDocument": "document" in content,
        }
        body = {
            "storyContentVersion": 6 if "document" in content else 4,
            **content,
            "storyContextConfig": {
                "prefix": "",
                "suffix": "",
                "tokenBudget": 1,
                "reservedTokens": 512,
                "budgetPriority": 0,
                "trimDirection": "trimTop",
                "insertionType": "newline",
                "maximumTrimType": "sentence",
                "insertionPosition": -1,
                "allowInsertionInside": True,
            },
            "ephemeralContext": [],
            "settingsDirty": False,
        }
        objects.append(
            {"type": "storycontent", "id": content_id, "meta": meta, "json": body, "encrypted": True}
        )
        objects.append({"type": "stories", "id": story_id, "meta": meta, "json": story, "encrypted": True})

    mod_meta = _meta("module:Salt Road Letters")
    keys[mod_meta] = _derive(f"key:{mod_meta}", 32)
    objects.append(
        {
            "type": "aimodules",
            "id": _id("module"),
            "meta": mod_meta,
            "encrypted": True,
            "json": {
                "id": _id("module"),
                "name": "Salt Road Letters",
                "description": "Epistolary travel writing (demo module).",
                "model": "kayra-v1",
                "remoteId": "",
            },
        }
    )
    for name, model, temp, compressed in (
        ("Lantern (demo)", "kayra-v1", 1.1, True),
        ("Still Water (demo)", "llama-3-erato-v1", 0.8, False),
    ):
        preset = {
            "presetVersion": 3,
            "name": name,
            "id": _meta(f"preset:{name}"),
            "remoteId": "",
            "parameters": {
                "textGenerationSettingsVersion": 3,
                "temperature": temp,
                "max_length": 40,
                "min_length": 1,
                "top_p": 0.95,
                "repetition_penalty": 1.4,
                "order": [{"id": "temperature", "enabled": True}, {"id": "top_p", "enabled": True}],
            },
            "model": model,
            "description": "A demo preset.",
        }
        objects.append(
            {
                "type": "presets",
                "id": _id(f"preset:{name}"),
                "meta": "",
                "json": preset,
                "encrypted": False,
                "compressed": compressed,
            }
        )
    stories_meta = [o["meta"] for o in objects if o["type"] == "stories"]
    shelf = {
        "title": "Favourites",
        "description": "Stories worth rereading.",
        "children": [{"type": "story", "id": m} for m in (stories_meta[0], stories_meta[2])],
        "origin": "user",
        "createdAt": _ms(30),
    }
    objects.append(
        {
            "type": "shelf",
            "id": _id("shelf"),
            "meta": _meta("shelf:Favourites"),
            "json": shelf,
            "encrypted": False,
            "compressed": True,
        }
    )
    return keys, objects


def seed_demo_content(store: Any, account_id: str, email: str, password: str) -> None:
    """Store the demo keystore (encrypted with the key of ``email``/``password``) and the demo objects for
    ``account_id``; returns None. Skipped if the account already has a keystore."""
    from ..novelai.auth import encryption_key

    if store.get_keystore(account_id) is not None:
        return
    keys, objects = demo_objects()
    ks = Keystore(keys)
    # deterministic nonce: the demo keystore's plaintext never changes, so it is never reused for another
    nonce = _derive("keystore-nonce", 24)
    sdata = seal(encryption_key(email, password), nonce, ks.plaintext())
    outer = {"version": 2, "nonce": list(nonce), "sdata": list(sdata)}
    raw_keystore = base64.b64encode(dumps_compact(outer)).decode("ascii")
    rows = []
    for i, o in enumerate(objects):
        plaintext = dumps_compact(o["json"])
        if o["encrypted"]:
            data = encrypt_payload(plaintext, keys[o["meta"]], nonce=_derive("nonce:" + o["id"], 24))
        else:
            data = compress_payload(plaintext, compressed=o.get("compressed", True))
        rows.append((account_id, o["type"], o["id"], o["meta"], data, _T0 + 60 * i))
    with store.transaction() as conn:
        for row in rows:
            conn.execute(
                "INSERT INTO objects (account_id, type, id, meta, data, last_updated_at, change_index) "
                "VALUES (?, ?, ?, ?, ?, ?, 1)",
                row,
            )
    store.set_keystore(account_id, raw_keystore)
