"""The building blocks of the sandbox's demo content: deterministic ids, metas, keys and dates, and the
pieces of a story's content (context entries, lorebook, settings, datablocks, context configs).

Everything comes from fixed seeds, so the demo account (:mod:`.demo_content`) and the demo ``.story``
file (:mod:`.demo_story`) are the same on every run and notebook outputs do not change.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

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


def _context(memory: str, note: str) -> list[dict]:
    return [
        {"text": memory, "contextConfig": _cfg(priority=800, position=0)},
        {"text": note, "contextConfig": _cfg(priority=-400, position=-4)},
    ]


def _lore(entries: list[tuple[str, list[str], str]], minutes: int) -> dict:
    return {
        "lorebookVersion": 5,
        "entries": [
            _entry(name, keys, text, minutes + i, id_prefix="lore")
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


def _entry(
    name: str, keys: list[str], text: str, minutes: int, *, id_prefix: str = "cartographer", **kw: Any
) -> dict:
    cfg = kw.pop("contextConfig", _cfg())
    out = {
        "text": text,
        "contextConfig": cfg,
        "lastUpdatedAt": _ms(minutes),
        "displayName": name,
        "id": _meta(f"{id_prefix}:{name}"),
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
