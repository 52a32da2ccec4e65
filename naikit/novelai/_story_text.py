"""The text of a storycontent, as the website replays it: its editor-v2 ``document`` decoded (newer
stories) or its datablock chain replayed up to the current block (older ones), and the same content with
text appended as the site records a generation.

Pure functions of the storycontent dict, kept apart from :mod:`naikit.novelai.story` so that
:mod:`naikit.novelai.content` (the account's objects) reads story text without importing the story model
and its context builder; both import from here. ``story_text_of`` is public through both of them.
"""

from __future__ import annotations

import copy
from typing import Any, TypeGuard

from ..errors import CorruptData, InputError
from ._story_parts import _err
from .document import decode_document

__all__ = ["story_text_of", "append_story_text"]


def _datablock_text(story: dict) -> str:
    """Replay the datablock chain from the root to ``currentBlock``; return the resulting text.

    Raises CorruptData (stage "storycontent") when a block on the chain is not an object, its indices are
    not integers or its fragment's data is not text.
    """
    blocks = story.get("datablocks") or []
    fragments = story.get("fragments") or []
    blocks = blocks if isinstance(blocks, list) else []
    fragments = fragments if isinstance(fragments, list) else []
    cur = story.get("currentBlock")
    if not blocks or not _is_index(cur, blocks):
        return "".join(f["data"] for f in fragments if isinstance(f, dict) and isinstance(f.get("data"), str))
    path, seen, i = [], set(), cur
    while _is_index(i, blocks) and i not in seen:
        seen.add(i)
        if not isinstance(blocks[i], dict):
            raise CorruptData("storycontent", f"datablocks[{i}] is not an object")
        path.append((i, blocks[i]))
        i = blocks[i].get("prevBlock", -1)
    text = ""
    for i, block in reversed(path):
        frag = block.get("dataFragment")
        if not isinstance(frag, dict):
            idx = block.get("fragmentIndex")
            frag = fragments[idx] if _is_index(idx, fragments) else {}
        data = frag.get("data", "") if isinstance(frag, dict) else ""
        start = block.get("startIndex", len(text))
        end = block.get("endIndex", start)
        if not isinstance(data, str) or not _is_int(start) or not _is_int(end):
            raise CorruptData("storycontent", f"datablocks[{i}] has non-text data or non-integer indices")
        start = min(max(start, 0), len(text))
        end = min(max(end, start), len(text))
        text = text[:start] + data + text[end:]
    return text


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_index(value: Any, items: list) -> TypeGuard[int]:
    return _is_int(value) and 0 <= value < len(items)


def story_text_of(content: dict) -> str:
    """Return the full text of a storycontent's data: its ``document`` decoded (newer stories) or its
    datablocks replayed up to the current block (older ones).

    Raises CorruptData (DocumentError for the document) when the data cannot give a text.
    """
    if not isinstance(content, dict):
        raise CorruptData("storycontent", f"the storycontent is {type(content).__name__}, not an object")
    doc = content.get("document")
    if isinstance(doc, str) and doc:
        return decode_document(doc).text
    story = content.get("story")
    return _datablock_text(story) if isinstance(story, dict) else ""


def append_story_text(content: dict, addition: str, *, origin: str = "ai") -> dict:
    """Return a copy of storycontent ``content`` whose story text has ``addition`` appended.

    Older stories get a new datablock (and fragment) after the current one, as the site records a
    generation; newer ones (an editor-v2 ``document``) get the text added to the last section, one new
    section per further line. The result is checked: its text must be the old text plus ``addition``
    (else :class:`StoryFileError`, before anything is uploaded).
    """
    if not isinstance(addition, str) or not addition:
        raise InputError("addition", addition, "the non-empty text to append")
    old = story_text_of(content)
    out = copy.deepcopy(content)
    doc = out.get("document")
    if isinstance(doc, str) and doc:
        out["document"] = _append_to_document(doc, addition)
    else:
        story = out.get("story")
        if not isinstance(story, dict):
            raise _err("storycontent", "has neither a document nor a datablock story")
        blocks = story.setdefault("datablocks", [])
        frags = story.setdefault("fragments", [])
        cur = story.get("currentBlock", len(blocks) - 1)
        frag = {"data": addition, "origin": origin}
        frags.append(frag)
        if isinstance(cur, int) and 0 <= cur < len(blocks):
            blocks[cur].setdefault("nextBlock", []).append(len(blocks))
        blocks.append(
            {
                "nextBlock": [],
                "prevBlock": cur if isinstance(cur, int) else -1,
                "origin": origin,
                "startIndex": len(old),
                "endIndex": len(old),
                "dataFragment": frag,
                "fragmentIndex": len(frags) - 1,
                "removedFragments": [],
                "chain": False,
            }
        )
        story["currentBlock"] = len(blocks) - 1
        story["step"] = int(story.get("step", 0) or 0) + 1
    if story_text_of(out) != old + addition:
        raise _err(
            "storycontent", "appending the text did not give the expected story text; nothing was changed"
        )
    return out


def _append_to_document(doc: str, addition: str) -> str:
    import base64

    from .document import Tagged, encode_document, unpack

    value = unpack(base64.b64decode(doc))
    inner = value.value if isinstance(value, Tagged) else value
    sections, order = inner["sections"], inner["order"]
    lines = addition.split("\n")
    last_id = order[-1]
    last = sections[last_id]
    sec = last.value if isinstance(last, Tagged) else last
    sec["text"] = sec.get("text", "") + lines[0]
    next_id = max(k for k in sections if isinstance(k, int)) + 1 if sections else 1
    for line in lines[1:]:
        new = copy.deepcopy(sec)
        new["text"] = line
        new["meta"] = {}
        sections[next_id] = Tagged(last.tag, new) if isinstance(last, Tagged) else new
        order.append(next_id)
        next_id += 1
    return encode_document(value)
