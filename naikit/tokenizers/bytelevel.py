"""Byte-level pieces: GPT-2's byte <-> character table and readable text for partial UTF-8.

Byte-level BPE (GPT-2, pile, llama3, CLIP) spells every byte as one printable character, so a token's
raw bytes come back through :data:`BYTE_DECODER`. A token may hold only part of a character (half of
a CJK character, a piece of an emoji): :func:`readable_bytes` shows such bytes marked, as ``⟨e5 a4⟩``.
"""

from __future__ import annotations

import codecs

__all__ = ["BYTE_DECODER", "BYTE_ENCODER", "readable_bytes", "own_text"]


def _byte_decoder() -> dict[str, int]:
    # GPT-2's reversible byte <-> printable-character table: printable Latin-1 bytes stand for
    # themselves, the rest are shifted to U+0100 and up in byte order.
    keep = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {chr(b): b for b in keep}
    shift = 0
    for b in range(256):
        if b not in table.values():
            table[chr(256 + shift)] = b
            shift += 1
    return table


#: Byte-level piece character -> byte.
BYTE_DECODER = _byte_decoder()
#: Byte -> byte-level piece character.
BYTE_ENCODER = {b: c for c, b in BYTE_DECODER.items()}


def _marked_bytes(err: UnicodeError) -> tuple[str, int]:
    # Only registered for decoding, so ``err`` is a UnicodeDecodeError with ``object``/``start``/``end``.
    assert isinstance(err, UnicodeDecodeError)
    bad = err.object[err.start : err.end]
    return "⟨" + " ".join(f"{b:02x}" for b in bad) + "⟩", err.end


codecs.register_error("naikit.marked_bytes", _marked_bytes)


def readable_bytes(raw: bytes) -> str:
    """Return the UTF-8 text of ``raw`` with bytes that do not make a whole character shown as ``⟨e5 a4⟩``
    (one mark per run), so a token holding half of a CJK character or an emoji reads as what it is."""
    return raw.decode("utf-8", "naikit.marked_bytes")


def own_text(raw: bytes) -> str:
    """Return a token's own text: its UTF-8, or, when it holds part of a character, escapes (``\\xe5``)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # part of a character: show the bytes
        return raw.decode("utf-8", "backslashreplace")
