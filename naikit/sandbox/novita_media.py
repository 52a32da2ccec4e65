"""Deterministic pictures and clips for the Novita emulation (PIL only, no model).

Every output depends only on its inputs (seed, size, prompt, source image), so a notebook with pinned
seeds stores the same result every run.
"""

from __future__ import annotations

import hashlib
import io
import random
from typing import Any

__all__ = ["procedural", "encode", "img2img", "inpaint", "upscale", "case_op", "animated_gif", "describe"]

_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
MAX_SIDE = 4096


def _rng(*parts: Any) -> random.Random:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def procedural(seed: int, width: int, height: int, prompt: str = "") -> Any:
    """Return an RGB PIL image of ``width`` x ``height``: a gradient with shapes chosen by seed and prompt."""
    from PIL import Image, ImageDraw

    width, height = max(1, min(width, MAX_SIDE)), max(1, min(height, MAX_SIDE))
    rng = _rng(seed, prompt)
    c1 = tuple(rng.randrange(40, 220) for _ in range(3))
    c2 = tuple(rng.randrange(40, 220) for _ in range(3))
    # draw small and scale up: fast at any size
    sw, sh = max(1, min(width, 256)), max(1, min(height, 256))
    im = Image.new("RGB", (sw, sh))
    for y in range(sh):
        t = y / max(1, sh - 1)
        row = tuple(int(a + (b - a) * t) for a, b in zip(c1, c2, strict=True))
        im.paste(row, (0, y, sw, y + 1))
    draw = ImageDraw.Draw(im)
    for _ in range(rng.randrange(3, 8)):
        x0, y0 = rng.randrange(sw), rng.randrange(sh)
        r = rng.randrange(max(2, min(sw, sh) // 10), max(3, min(sw, sh) // 3))
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), fill=colour)
        else:
            draw.rectangle((x0 - r, y0 - r // 2, x0 + r, y0 + r // 2), fill=colour)
    return im.resize((width, height), Image.Resampling.BILINEAR) if (sw, sh) != (width, height) else im


def encode(im: Any, image_type: str) -> bytes:
    """Return ``im`` encoded as png, jpeg or webp (alpha dropped for jpeg)."""
    fmt = _FORMATS.get(image_type, "PNG")
    if fmt == "JPEG" and im.mode not in ("RGB", "L"):
        im = im.convert("RGB")
    buf = io.BytesIO()
    im.save(buf, format=fmt, **({"quality": 90} if fmt in ("JPEG", "WEBP") else {}))
    return buf.getvalue()


def _open(data: bytes) -> Any:
    from PIL import Image

    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def img2img(source: bytes, seed: int, width: int, height: int, prompt: str, strength: float) -> Any:
    """Return the source resized to width x height, blended with a procedural picture by ``strength``."""
    from PIL import Image

    base = _open(source).convert("RGB").resize((min(width, MAX_SIDE), min(height, MAX_SIDE)))
    return Image.blend(base, procedural(seed, base.width, base.height, prompt), max(0.0, min(1.0, strength)))


def inpaint(source: bytes, mask: bytes, seed: int, prompt: str) -> Any:
    """Return the source with the white part of ``mask`` replaced by a procedural picture."""
    from PIL import Image

    base = _open(source).convert("RGB")
    m = _open(mask).convert("L").resize(base.size)
    return Image.composite(procedural(seed, base.width, base.height, prompt), base, m)


def upscale(source: bytes, factor: float) -> Any:
    """Return the source scaled by ``factor`` (capped at 4096 pixels a side)."""
    from PIL import Image

    im = _open(source)
    w, h = (min(MAX_SIDE, max(1, round(im.width * factor))), min(MAX_SIDE, max(1, round(im.height * factor))))
    return im.resize((w, h), Image.Resampling.LANCZOS)


def case_op(endpoint: str, images: dict[str, bytes], prompt: str = "") -> Any:
    """Return the result picture of a synchronous case endpoint (a cheap stand-in for each operation)."""
    from PIL import Image, ImageFilter, ImageOps

    im = _open(images["image_file"])
    if endpoint == "remove-background":
        rgba = im.convert("RGBA")
        # "foreground": everything brighter than the border average
        grey = ImageOps.grayscale(im)
        # one byte per pixel in mode L: the top row's bytes are its grey values
        threshold = sum(grey.crop((0, 0, grey.width, 1)).tobytes()) / max(1, grey.width)
        rgba.putalpha(grey.point(lambda v: 255 if v > threshold else 0))
        return rgba
    if endpoint == "replace-background":
        bg = procedural(len(prompt), im.width, im.height, prompt).convert("RGBA")
        fg = case_op("remove-background", images)
        bg.alpha_composite(fg)
        return bg.convert("RGB")
    if endpoint == "cleanup":
        m = _open(images["mask_file"]).convert("L").resize(im.size)
        return Image.composite(im.convert("RGB").filter(ImageFilter.GaussianBlur(8)), im.convert("RGB"), m)
    if endpoint == "remove-text":
        return im.convert("RGB").filter(ImageFilter.MedianFilter(5))
    if endpoint == "reimagine":
        return ImageOps.mirror(im.convert("RGB"))
    if endpoint == "merge-face":
        face = _open(images["face_image_file"]).convert("RGB")
        out = im.convert("RGB")
        size = (max(1, out.width // 3), max(1, out.height // 3))
        out.paste(face.resize(size), (out.width // 3, out.height // 6))
        return out
    raise KeyError(endpoint)


def describe(data: bytes) -> str:
    """Return a prompt-like description of an image (size, orientation, dominant colour)."""
    im = _open(data).convert("RGB")
    r, g, b = im.resize((1, 1)).getpixel((0, 0))
    colour = max((r, "red"), (g, "green"), (b, "blue"))[1]
    shape = "landscape" if im.width > im.height else "portrait" if im.height > im.width else "square"
    return f"a {shape} picture, mostly {colour}, {im.width}x{im.height}, sandbox description"


def animated_gif(
    seed: int, width: int, height: int, frames: int, prompt: str = "", source: bytes | None = None
) -> bytes:
    """Return an animated GIF: ``frames`` frames drifting from the source (or a procedural picture)."""
    from PIL import Image, ImageChops

    width, height = max(16, min(width, 512)), max(16, min(height, 512))
    first = (
        _open(source).convert("RGB").resize((width, height))
        if source
        else procedural(seed, width, height, prompt)
    )
    pics = []
    for i in range(max(1, min(frames, 64))):
        dx = (i * 3) % width
        pics.append(ImageChops.offset(first, dx, 0).convert("P", palette=Image.Palette.ADAPTIVE, colors=64))
    buf = io.BytesIO()
    pics[0].save(buf, format="GIF", save_all=True, append_images=pics[1:], duration=166, loop=0)
    return buf.getvalue()
