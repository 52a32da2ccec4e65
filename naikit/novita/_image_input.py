"""Images given to Novita's request builders (PIL, bytes, a path, base64 text) as checked base64."""

from __future__ import annotations

import base64
import binascii
import io
import os
from typing import Any

from .._novita_limits import MB
from ..errors import InputError

__all__ = ["image_to_base64"]


def image_to_base64(
    image: Any,
    name: str = "image",
    *,
    max_bytes: int = 10 * MB,
    max_pixels: int = 16_000_000,
    max_side: int | None = None,
) -> tuple[str, tuple[int, int]]:
    """Return ``(base64 text, (width, height))`` for a PIL image, bytes, a path or base64 text.

    Raises InputError when the input is not an image, is larger than ``max_bytes`` once encoded, has
    more than ``max_pixels`` pixels, or a side over ``max_side``. PIL images are encoded as PNG (alpha
    kept); bytes and files are sent as they are.
    """
    from PIL import Image

    raw: bytes
    if isinstance(image, Image.Image):
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        raw = buf.getvalue()
    elif isinstance(image, (bytes, bytearray, memoryview)):
        raw = bytes(image)
    elif isinstance(image, os.PathLike) or (
        isinstance(image, str) and len(image) < 4096 and os.path.isfile(image)
    ):
        with open(image, "rb") as fh:
            raw = fh.read()
    elif isinstance(image, str):
        text = image.split(",", 1)[1] if image.startswith("data:") else image
        if text.startswith(("http://", "https://")):
            raise InputError(
                name, image, "a PIL image, bytes, a file path or base64 text", "Download URLs yourself."
            )
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(
                name,
                image,
                "a PIL image, bytes, a file path or base64 text",
                "It is neither a file nor base64.",
            ) from None
    else:
        raise InputError(name, type(image).__name__, "a PIL image, bytes, a file path or base64 text")
    if len(raw) > max_bytes:
        raise InputError(
            name,
            f"<{len(raw) / MB:.1f} MB image>",
            f"an image of at most {max_bytes // MB} MB",
            "Downscale it or save it as JPEG/WebP first.",
        )
    try:
        with Image.open(io.BytesIO(raw)) as im:
            size = im.size
    except Exception:  # PIL raises several types for non-images
        raise InputError(
            name, f"<{len(raw)} bytes>", "an image PIL can read (png, jpeg, webp, ...)"
        ) from None
    w, h = size
    if w * h > max_pixels:
        raise InputError(
            name,
            f"<{w}x{h} image, {w * h / 1e6:.1f} MP>",
            f"an image of at most {max_pixels / 1e6:g} megapixels",
            "Downscale it first (PIL: image.thumbnail((4096, 4096))).",
        )
    if max_side is not None and max(w, h) > max_side:
        raise InputError(name, f"<{w}x{h} image>", f"an image of at most {max_side}x{max_side} pixels")
    return base64.b64encode(raw).decode("ascii"), size
