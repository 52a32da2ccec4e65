"""What an image request takes besides the prompt: characters with positions, character references,
vibes, and the pictures themselves (read, checked, letterboxed and resized as the service wants them)."""

from __future__ import annotations

import base64
import binascii
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .._decode import open_image
from ..errors import InputError

# ------------------------------------------------------------------------------------- input dataclasses

Position = str | tuple[float, float] | None


def grid_position(position: Position, field_name: str = "position") -> tuple[float, float]:
    """Return (x, y) for a grid cell "A1".."E5" (letter = x, digit = y; C3 = centre) or an (x, y) pair."""
    if position is None or position == "":
        return (0.5, 0.5)
    if isinstance(position, str):
        p = position.strip().upper()
        if len(p) == 2 and p[0] in "ABCDE" and p[1] in "12345":
            return (round(0.1 + 0.2 * "ABCDE".index(p[0]), 1), round(0.1 + 0.2 * "12345".index(p[1]), 1))
    elif isinstance(position, (tuple, list)) and len(position) == 2:
        x, y = position
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1 for v in (x, y)):
            return (float(x), float(y))
    raise InputError(field_name, position, 'a grid cell "A1" to "E5" (letter = column x) or (x, y) in 0..1')


def _snap(v: float) -> float:
    return (0.1, 0.3, 0.5, 0.7, 0.9)[min(4, int(v * 5))]


@dataclass(frozen=True)
class Character:
    """A V4+ character prompt: its own prompt and UC, and where it stands (None = the AI chooses)."""

    prompt: str
    uc: str = ""
    position: Position = None
    enabled: bool = True


@dataclass(frozen=True)
class CharacterReference:
    """A V4.5 character / style reference image (precise reference, spec §6.5)."""

    image: Any
    kind: Literal["character&style", "character", "style"] = "character&style"
    strength: float = 1.0
    fidelity: float = 1.0


@dataclass(frozen=True)
class Vibe:
    """A vibe-transfer reference.

    V4+: ``encoding`` is the base64 of a ``/ai/encode-vibe`` answer (``naikit.novelai.vibes``); V3: ``image``
    is the picture itself and ``information_extracted`` is sent with it. ``cached`` says whether the encoding
    was already paid for (an uncached one costs 2 Anlas to encode).
    """

    encoding: str | None = None
    strength: float = 0.6
    information_extracted: float = 1.0
    image: Any = None
    cached: bool = True


# ----------------------------------------------------------------------------------------------- images


def load_image(image: Any, field_name: str = "image") -> tuple[bytes, tuple[int, int], Any]:
    """Return (PNG bytes, (width, height), PIL image) for bytes, a path, base64 text or a PIL image.

    Raises InputError naming ``field_name`` when the input cannot be read as an image.
    """

    allowed = "PNG/JPEG/WebP bytes, a file path, base64 text or a PIL image"
    if hasattr(image, "save") and hasattr(image, "size") and hasattr(image, "mode"):
        pil = image
    else:
        raw: bytes | None = None
        if isinstance(image, (bytes, bytearray, memoryview)):
            raw = bytes(image)
        elif isinstance(image, os.PathLike) or (isinstance(image, str) and len(image) < 1024 and
                                                 os.path.exists(image)):  # fmt: skip
            try:
                raw = Path(image).read_bytes()
            except OSError as exc:
                raise InputError(
                    field_name, str(image), allowed, f"The file cannot be read ({exc})."
                ) from None
        elif isinstance(image, str):
            text = image.split(",", 1)[1] if image.startswith("data:") else image
            try:
                raw = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise InputError(field_name, image, allowed, "It is neither a file nor base64.") from None
        else:
            raise InputError(field_name, type(image).__name__, allowed)
        size = len(raw)
        pil = open_image(
            raw,
            lambda reason: InputError(
                field_name, f"<{size} bytes>", allowed, f"The data is not a readable image ({reason})."
            ),
        )
        if pil.format == "PNG":
            return raw, pil.size, pil
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue(), pil.size, pil


def _png(pil: Any) -> bytes:
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


#: Canvases the website letterboxes a character reference into (portrait, landscape, square).
REFERENCE_CANVASES: tuple[tuple[int, int], ...] = ((1024, 1536), (1536, 1024), (1472, 1472))


def letterbox(image: Any, canvas: tuple[int, int] | None = None) -> tuple[bytes, tuple[int, int]]:
    """Return (PNG bytes, canvas size) of ``image`` scaled to fit a canvas, centred on black.

    Without ``canvas``, the one of :data:`REFERENCE_CANVASES` closest in aspect ratio is used (the
    website's rule: the smallest difference of width/height ratios, the first on a tie; the scaled size is
    rounded to the nearest pixel).
    """
    from PIL import Image

    _, (w, h), pil = load_image(image, "character_references")
    ratio = w / h
    if canvas is None:
        canvas = min(REFERENCE_CANVASES, key=lambda c: abs(c[0] / c[1] - ratio))
    cw, ch = canvas
    if ratio > cw / ch:
        nw, nh = cw, math.floor(cw / ratio + 0.5)
    else:
        nw, nh = math.floor(ch * ratio + 0.5), ch
    resized = pil.convert("RGB").resize((nw, nh), Image.Resampling.LANCZOS)
    bg = Image.new("RGB", canvas, (0, 0, 0))
    bg.paste(resized, ((cw - nw) // 2, (ch - nh) // 2))
    return _png(bg), canvas


def _fit(pil: Any, size: tuple[int, int], mask: bool) -> bytes:
    from PIL import Image

    if mask:
        gray = pil.split()[-1] if pil.mode in ("RGBA", "LA") else pil.convert("L")
        gray = gray.resize(size, Image.Resampling.NEAREST).point(lambda v: 255 if v > 127 else 0)
        return _png(gray.convert("RGB"))
    return _png(pil.convert("RGB").resize(size, Image.Resampling.LANCZOS))
