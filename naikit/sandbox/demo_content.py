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
import hashlib
from typing import Any

from ..novelai.crypto import Keystore, compress_payload, dumps_compact, encrypt_payload, seal
from ..novelai.document import UNDEFINED, MsgSet, Tagged, encode_document

__all__ = ["seed_demo_content", "DEMO_STORIES", "demo_objects", "demo_story_file"]

_SEED = b"naikit-demo-content-v1"
# 2024-03-01T12:00:00Z: fixed, so the demo's dates never change
_T0 = 1_709_294_400


def _derive(label: str, n: int) -> bytes:
    return hashlib.blake2b(label.encode(), digest_size=n, key=_SEED).digest()


def _meta(label: str) -> str:
    h = _derive("meta:" + label, 16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _id(label: str) -> str:
    return base64.urlsafe_b64encode(_derive("id:" + label, 21)).decode()[:21]


def _ms(minutes: int) -> int:
    return (_T0 + 60 * minutes) * 1000


DEMO_STORIES = ("The Lighthouse Keeper", "Clockwork Orchard", "Letters from the Salt Road")


def _context(memory: str, note: str) -> list[dict]:
    def cfg(prefix: str, budget: int, priority: int, position: int) -> dict:
        return {
            "prefix": prefix,
            "suffix": "\n",
            "tokenBudget": budget,
            "reservedTokens": 0,
            "budgetPriority": priority,
            "trimDirection": "trimBottom",
            "insertionType": "newline",
            "maximumTrimType": "sentence",
            "insertionPosition": position,
        }

    return [
        {"text": memory, "contextConfig": cfg("", 1, 800, 0)},
        {"text": note, "contextConfig": cfg("", 1, -400, -4)},
    ]


def _lore(entries: list[tuple[str, list[str], str]], minutes: int) -> dict:
    return {
        "lorebookVersion": 5,
        "entries": [
            {
                "text": text,
                "contextConfig": {
                    "prefix": "",
                    "suffix": "\n",
                    "tokenBudget": 1,
                    "reservedTokens": 0,
                    "budgetPriority": 400,
                    "trimDirection": "trimBottom",
                    "insertionType": "newline",
                    "maximumTrimType": "sentence",
                    "insertionPosition": -1,
                },
                "lastUpdatedAt": _ms(minutes + i),
                "displayName": name,
                "id": _meta(f"lore:{name}"),
                "keys": keys,
                "searchRange": 1000,
                "enabled": True,
                "forceActivation": False,
                "keyRelative": False,
                "nonStoryActivatable": False,
                "category": "",
                "loreBiasGroups": [],
            }
            for i, (name, keys, text) in enumerate(entries)
        ],
        "settings": {"orderByKeyLocations": False},
        "categories": [],
    }


def _settings(model: str, preset: str) -> dict:
    return {
        "parameters": {
            "temperature": 1.0,
            "max_length": 40,
            "min_length": 1,
            "top_p": 0.95,
            "repetition_penalty": 1.5,
            "bad_words_ids": [],
            "logit_bias_groups": [],
        },
        "preset": preset,
        "trimResponses": True,
        "banBrackets": True,
        "prefix": "vanilla",
        "dynamicPenaltyRange": False,
        "prefixMode": 0,
        "mode": 0,
        "model": model,
    }


def _blocks(steps: list[tuple[str, str, int, str | None]]) -> dict:
    """Build a datablock history from (origin, text, prev block, replaced text or None to append) steps."""
    fragments = [{"data": "", "origin": "root"}]
    blocks: list[dict[str, Any]] = [
        {
            "nextBlock": [],
            "prevBlock": -1,
            "origin": "root",
            "startIndex": 0,
            "endIndex": 0,
            "dataFragment": fragments[0],
            "fragmentIndex": 0,
            "removedFragments": [],
            "chain": False,
        }
    ]
    texts = [""]
    for origin, text, prev, replaced in steps:
        before = texts[prev]
        start = len(before) if replaced is None else before.index(replaced)
        end = start if replaced is None else start + len(replaced)
        frag = {"data": text, "origin": origin}
        fragments.append(frag)
        blocks[prev]["nextBlock"].append(len(blocks))
        removed = [] if replaced is None else [{"data": replaced, "origin": "edit"}]
        blocks.append(
            {
                "nextBlock": [],
                "prevBlock": prev,
                "origin": origin,
                "startIndex": start,
                "endIndex": end,
                "dataFragment": frag,
                "fragmentIndex": len(fragments) - 1,
                "removedFragments": removed,
                "chain": False,
            }
        )
        texts.append(before[:start] + text + before[end:])
    return {
        "version": 2,
        "step": len(blocks) - 1,
        "datablocks": blocks,
        "currentBlock": len(blocks) - 1,
        "fragments": fragments,
    }


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


# ------------------------------------------------------------------------------------------------ .story file


def _cfg(prefix: str = "", suffix: str = "\n", priority: float = 400, position: int = -1, **kw: Any) -> dict:
    out = {
        "prefix": prefix,
        "suffix": suffix,
        "tokenBudget": 1,
        "reservedTokens": 0,
        "budgetPriority": priority,
        "trimDirection": "trimBottom",
        "insertionType": "newline",
        "maximumTrimType": "sentence",
        "insertionPosition": position,
    }
    out.update(kw)
    return out


def _entry(name: str, keys: list[str], text: str, minutes: int, **kw: Any) -> dict:
    cfg = kw.pop("contextConfig", _cfg())
    out = {
        "text": text,
        "contextConfig": cfg,
        "lastUpdatedAt": _ms(minutes),
        "displayName": name,
        "id": _meta(f"cartographer:{name}"),
        "keys": keys,
        "searchRange": 1000,
        "enabled": True,
        "forceActivation": False,
        "keyRelative": False,
        "nonStoryActivatable": False,
        "category": "",
        "loreBiasGroups": [],
    }
    out.update(kw)
    return out


_CARTOGRAPHER = (
    "The old maps of Vell were drawn on goatskin, and Mira kept them rolled in oilcloth under her bed.\n"
    "Her brother laughed at them. The coast has moved, he said, the rivers too.\n"
    "But the maps were not of the coast. They were of the places under it, where the tide went when it "
    "left.\n"
    "At dusk she took the smallest one down to the harbour and unrolled it on the wet stones.\n"
    "The ink began to move."
)


def demo_story_file() -> dict:
    """Return "The Cartographer", a ``.story`` file (the site's story container) whose lorebook exercises
    the context rules: a plain key, a regex key, an entry only another entry's text activates
    (cascading), a disabled entry, an entry in a disabled category, an always-on entry, a key outside
    its search range, an ephemeral entry and a budget-limited memory. Not part of the demo account."""
    people = {"name": "People", "id": _meta("cartographer:cat:people"), "enabled": True,
              "createSubcontext": False, "subcontextSettings": {}, "useCategoryDefaults": False,
              "categoryDefaults": {}, "categoryBiasGroups": [], "open": True}  # fmt: skip
    hidden = dict(people, name="Drafts", id=_meta("cartographer:cat:drafts"), enabled=False)
    entries = [
        _entry(
            "Mira",
            ["mira"],
            "Mira: a mapmaker's daughter, 19, stubborn; she owns a brass compass.",
            1,
            category=people["id"],
        ),  # fmt: skip
        _entry(
            "Goatskin maps",
            ["/\\bmaps?\\b/i"],
            "The goatskin maps show the drowned country under the tide.",
            2,
        ),
        _entry(
            "Compass",
            ["compass"],
            "The brass compass points to whatever its holder has lost.",
            3,
            nonStoryActivatable=True,
        ),  # fmt: skip
        _entry("Vell", ["vell"], "Vell: a fishing town on a coast that moves.", 4),
        _entry("The lighthouse", ["lighthouse"], "The lighthouse of Vell has been dark for ten years.", 5),
        _entry("Old draft", ["mira"], "Mira was once called Mirren.", 6, category=hidden["id"]),
        _entry("Unused", ["tide"], "(unused note)", 7, enabled=False),
        _entry(
            "World",
            [],
            "The world: a low coast of salt marsh and shifting sandbars.",
            8,
            forceActivation=True,
            contextConfig=_cfg(priority=600, position=0),
        ),  # fmt: skip
        _entry("Oilcloth", ["oilcloth"], "Oilcloth keeps the damp out.", 9, searchRange=100),
    ]
    lorebook = {
        "lorebookVersion": 6,
        "entries": entries,
        "settings": {"orderByKeyLocations": False},
        "categories": [people, hidden],
        "order": [],
    }
    story_cfg = _cfg("", "", 0, -1, reservedTokens=512, trimDirection="trimTop", allowInsertionInside=True)
    content = {
        "storyContentVersion": 6,
        "settings": _settings("llama-3-erato-v1", "default-erato"),
        "story": _blocks([("prompt", _CARTOGRAPHER, 0, None)]),
        "context": [
            {
                "text": "Title: The Cartographer\nTags: fantasy, sea\nMira lives with her brother in Vell.",
                "contextConfig": _cfg("", "\n", 800, 0, tokenBudget=40),
            },  # fmt: skip
            {
                "text": "[ Style: quiet, uncanny ]",
                "contextConfig": _cfg("", "\n", -400, -4, reservedTokens=1),
            },
        ],
        "lorebook": lorebook,
        "storyContextConfig": story_cfg,
        "ephemeralContext": [
            {
                "text": "It is raining.",
                "contextConfig": _cfg(
                    "",
                    "\n",
                    -10000,
                    -2,
                    reservedTokens=1,
                    trimDirection="doNotTrim",
                    maximumTrimType="newline",
                ),  # fmt: skip
                "startingStep": 1,
                "delay": 0,
                "duration": 3,
                "repeat": False,
                "reverse": False,
            },  # fmt: skip
        ],
        "contextDefaults": {},
        "phraseBiasGroups": [],
        "bannedSequenceGroups": [],
    }
    meta = {"storyMetadataVersion": 1, "id": _id("cartographer"), "remoteId": "", "remoteStoryId": "",
            "title": "The Cartographer", "description": "A demo story for the context rules.",
            "textPreview": _CARTOGRAPHER[:100], "isTA": False, "favorite": False, "tags": ["demo"],
            "createdAt": _ms(0), "lastUpdatedAt": _ms(10), "isModified": False,
            "hasDocument": False}  # fmt: skip
    return {"storyContainerVersion": 1, "metadata": meta, "content": content}
