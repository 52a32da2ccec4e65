"""The API's base64 token strings: little-endian uint16 per token, uint32 for Erato (llama3)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..errors import InputError
from .targets import resolve, token_width

if TYPE_CHECKING:  # pragma: no cover
    from ..novelai.models import TextModel

__all__ = ["tokens_to_b64", "b64_to_tokens"]


def tokens_to_b64(ids: Iterable[int], model: str | TextModel) -> str:
    """Return the API's base64 form of ``ids``: little-endian uint16 per token, uint32 for Erato."""
    width = token_width(model)
    target = resolve(model)
    out = list(ids) if not isinstance(ids, (str, bytes)) and isinstance(ids, Iterable) else None
    top = 1 << (8 * width)
    if out is None or any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < top for i in out):
        raise InputError(
            "ids", ids, f"a list of token ids from 0 to {top - 1} ({width}-byte tokens for {target.label})"
        )
    raw = b"".join(i.to_bytes(width, "little") for i in out)
    return base64.b64encode(raw).decode("ascii")


def b64_to_tokens(b64: str | bytes, model: str | TextModel) -> list[int]:
    """Return the token ids in the API's base64 string ``b64`` (uint16 little-endian; uint32 for Erato)."""
    width = token_width(model)
    target = resolve(model)
    allowed = f"standard base64 of {width}-byte little-endian token ids for {target.label}"
    if not isinstance(b64, (str, bytes)):
        raise InputError("b64", b64, allowed)
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise InputError("b64", b64, allowed, hint="It is not valid base64") from None
    if len(raw) % width:
        hint = f"It decodes to {len(raw)} bytes, which is not a multiple of {width}"
        if width == 4 and len(raw) % 2 == 0:
            hint += "; was it made for a 2-byte model rather than Erato?"
        elif width == 2:
            hint += "; Erato (llama-3-erato-v1) is the model with 4-byte tokens"
        raise InputError("b64", b64, allowed, hint=hint)
    return [int.from_bytes(raw[i : i + width], "little") for i in range(0, len(raw), width)]
