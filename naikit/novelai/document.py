"""The ``document`` of newer NovelAI stories: a base64 msgpackr buffer, decoded to its sections and text.

NovelAI's web app packs the editor-v2 document with the JavaScript library msgpackr, which extends
MessagePack in ways a plain decoder (the ``msgpack`` package) misreads:

* **records** (ext type 0x72 ``"r"``): ``d4 72 <id>`` (or ``d5 72 <id> <high byte>``) followed by an array of
  keys defines a record; its values follow at once. Later a single byte 0x40–0x7F (a positive fixint in
  plain MessagePack) names that record again and its values follow. Integers 64–127 are then written as
  uint8, so the range is free.
* **tag extensions** (NovelAI's types 20, 30, 31, 40, 41, 42 and msgpackr's own Set 0x73, Error 0x65,
  RegExp 0x78): ``d4 <type> 00`` followed by one ordinary value, which the extension wraps (class
  instances of the editor's document, history nodes and changes).
* **bundled strings** (ext 0x62 with 0xC1 references), **undefined** (``d4 00 00``), **timestamps** (-1),
  **BigInt** (0x42), **typed arrays** (0x74) and structured-clone ids/pointers (0x69/0x70).
* Numbers: JavaScript has one number type, so a large integer such as a 16-digit section id arrives as a
  float64; integral floats become ``int`` here (as map keys too), which is the value JavaScript sees.

:func:`unpack` decodes all of that (tags kept as :class:`Tagged` or stripped); :func:`pack` writes the
subset NovelAI uses (records, tags, Map, Set, Date, undefined), so the sandbox can ship real documents.
:func:`decode_document` returns a :class:`Document` whose ``text`` is the story: the ``text`` of each
section in ``order``, joined with newlines (each section is one paragraph of the editor).

Layout: the msgpackr codec (:func:`unpack`, :func:`pack`) is in ``_msgpackr``; every public name is
imported from here.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from ._msgpackr import NOVELAI_TAGS, UNDEFINED, DocumentError, MsgSet, Tagged, _key, pack, strip_tags, unpack

__all__ = [
    "Tagged",
    "MsgSet",
    "UNDEFINED",
    "DocumentError",
    "NOVELAI_TAGS",
    "unpack",
    "pack",
    "strip_tags",
    "Document",
    "decode_document",
    "encode_document",
]

# ------------------------------------------------------------------------------------------------ documents


@dataclass(frozen=True, repr=False)
class Document:
    """A decoded story document: its sections in order, the edit history and the decoded value.

    ``sections`` maps section id → section dict (``type``, ``text``, ``meta``, ``source``); ``order`` lists
    section ids top to bottom; ``text`` joins the sections' texts with newlines.
    """

    sections: dict[Any, dict]
    order: list[Any]
    history: Any
    step: Any
    value: Any = field(compare=False)

    @property
    def paragraphs(self) -> list[str]:
        """Return the text of each section in document order (ids missing from ``sections`` are skipped)."""
        out = []
        for sid in self.order:
            sec = self.sections.get(sid)
            if isinstance(sec, dict):
                text = sec.get("text")
                out.append(text if isinstance(text, str) else "")
        return out

    @property
    def text(self) -> str:
        """Return the story text: the sections' texts in order, one paragraph per line."""
        return "\n".join(self.paragraphs)

    def __repr__(self) -> str:
        return f"Document({len(self.order)} sections, {len(self.text)} characters)"


def decode_document(document: str | bytes) -> Document:
    """Return the :class:`Document` of a storycontent's ``document`` (base64 text or the raw bytes).

    Raises :class:`DocumentError` if it is not base64, not msgpackr, or lacks ``sections``/``order``.
    """
    if isinstance(document, str):
        try:
            raw = base64.b64decode(document, validate=True)
        except (binascii.Error, ValueError):
            raise DocumentError("the document is not base64") from None
    else:
        raw = document  # unpack refuses what is not bytes
    value = strip_tags(unpack(raw))
    if not isinstance(value, dict) or not isinstance(value.get("sections"), dict):
        raise DocumentError("the document has no 'sections' map")
    order = value.get("order")
    if not isinstance(order, list):
        raise DocumentError("the document has no 'order' list")
    order = [_key(k) for k in order]
    return Document(value["sections"], order, value.get("history"), value.get("step"), value)


def encode_document(value: Any) -> str:
    """Return base64 text of ``value`` packed like the web app packs a document (see :func:`pack`)."""
    return base64.b64encode(pack(value)).decode("ascii")
