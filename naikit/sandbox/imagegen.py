"""Deterministic procedural pictures for the sandbox's image endpoints.

Same prompt, seed, size and parameters give the same pixels, byte for byte; a different seed moves and
recolours the shapes, and each parameter changes something you can see (scale: contrast, steps: detail,
sampler: stripe angle, cfg_rescale: saturation, noise schedule: background curve, smea: blur, characters:
one disc per character at its position, vibes/references: a tint). img2img blends the input with the
generated picture by ``strength``; inpainting changes only the pixels under the mask.

Rendering happens at 1/8 scale in numpy and is upscaled, so a 832×1216 picture takes milliseconds.
"""

from __future__ import annotations

import hashlib
import io
import struct
from typing import Any

__all__ = ["render", "img2img", "inpaint", "to_png", "thumbnail_preview", "derived"]


def _h(*parts: Any) -> int:
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "big")


def _rng(*parts: Any) -> Any:
    import numpy as np

    return np.random.default_rng(_h(*parts))


def render(prompt: str, seed: int, width: int, height: int, params: dict[str, Any] | None = None) -> Any:
    """Return an RGB PIL image drawn from the prompt, seed, size and parameters."""
    import numpy as np
    from PIL import Image, ImageFilter

    p = params or {}
    sw, sh = max(8, width // 8), max(8, height // 8)
    palette_rng = _rng("palette", prompt)
    palette = palette_rng.integers(30, 226, size=(4, 3)).astype(np.float32)
    rng = _rng("shapes", prompt, seed)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    xx /= sw
    yy /= sh
    curve = {"karras": 1.0, "exponential": 1.6, "polyexponential": 0.6, "native": 2.2}.get(
        str(p.get("noise_schedule")), 1.3
    )
    t = np.clip(yy, 0, 1) ** curve
    img = palette[0] * (1 - t)[..., None] + palette[1] * t[..., None]
    # stripes: the sampler sets their angle, steps their frequency
    angle = (_h("sampler", p.get("sampler")) % 180) * np.pi / 180
    freq = 2 + int(p.get("steps", 28)) / 4
    stripes = 0.5 + 0.5 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * freq * np.pi)
    img = img * (0.85 + 0.15 * stripes[..., None])
    # blobs: the seed places and colours them
    for _ in range(3 + int(p.get("steps", 28)) // 10):
        cx, cy, r = rng.random(), rng.random(), 0.08 + 0.2 * rng.random()
        col = palette[2 + int(rng.integers(0, 2))] * (0.6 + 0.8 * rng.random())
        d = ((xx - cx) ** 2 + ((yy - cy) * sh / sw) ** 2) ** 0.5
        w = np.clip(1 - d / r, 0, 1)[..., None] ** 1.5
        img = img * (1 - w) + col * w
    # one disc per character at its centre
    for i, ch in enumerate(p.get("characterPrompts") or []):
        c = ch.get("center") or {"x": 0.5, "y": 0.5}
        col = _rng("char", ch.get("prompt", ""), i).integers(0, 256, size=3).astype(np.float32)
        d = ((xx - float(c["x"])) ** 2 + ((yy - float(c["y"])) * sh / sw) ** 2) ** 0.5
        img = np.where((d < 0.07)[..., None], col, img)
    tint = len(p.get("reference_image_multiple") or []) + len(p.get("director_reference_images") or [])
    if tint:
        img = img * 0.8 + np.array([200, 120, 220], dtype=np.float32) * 0.2 * min(1.0, tint / 2)
    scale = float(p.get("scale", 5) or 0)
    img = 128 + (img - 128) * (0.6 + 0.08 * scale)
    rescale = float(p.get("cfg_rescale") or 0)
    if rescale:
        gray = img.mean(axis=2, keepdims=True)
        img = gray + (img - gray) * (1 - 0.8 * rescale)
    arr = np.clip(img, 0, 255).astype(np.uint8)
    out = Image.fromarray(arr, "RGB").resize((width, height), Image.Resampling.BILINEAR)
    if p.get("sm"):
        out = out.filter(ImageFilter.BoxBlur(3 if p.get("sm_dyn") else 2))
    return out


def img2img(source: Any, generated: Any, strength: float) -> Any:
    """Return ``generated`` blended over ``source`` by ``strength`` (0 = the input, 1 = all new)."""
    from PIL import Image

    return Image.blend(source.convert("RGB").resize(generated.size), generated, max(0.0, min(1.0, strength)))


def inpaint(source: Any, generated: Any, mask: Any) -> Any:
    """Return ``source`` with only the pixels under the white part of ``mask`` taken from ``generated``."""
    from PIL import Image

    m = mask.convert("L").resize(generated.size, Image.Resampling.NEAREST)
    m = m.point(lambda v: 255 if v > 127 else 0)
    return Image.composite(generated, source.convert("RGB").resize(generated.size), m)


def derived(image: Any, kind: str, seed: int = 0) -> Any:
    """Return a deterministic transformation of ``image`` for the director tools and annotators."""
    from PIL import ImageFilter, ImageOps

    rgb = image.convert("RGB")
    if kind in ("lineart", "hed", "mlsd", "scribble", "fake_scribble"):
        return ImageOps.invert(rgb.convert("L").filter(ImageFilter.FIND_EDGES)).convert("RGB")
    if kind in ("sketch",):
        return rgb.convert("L").filter(ImageFilter.CONTOUR).convert("RGB")
    if kind in ("midas", "depth", "uniformer", "seg"):
        return ImageOps.posterize(rgb.convert("L").convert("RGB"), 2)
    if kind == "colorize":
        return ImageOps.colorize(rgb.convert("L"), (20, 10, 60), (250, 220, 160))
    if kind in ("declutter", "declutter-keep-bubbles"):
        return rgb.filter(ImageFilter.MedianFilter(5))
    if kind == "emotion":
        return ImageOps.mirror(rgb)
    if kind == "bg-removal":
        mask = rgb.convert("L").point(lambda v: 255 if v > 100 else 0)
        out = rgb.convert("RGBA")
        out.putalpha(mask)
        return out
    return rgb


def to_png(image: Any, fields: dict[str, str] | None = None) -> bytes:
    """Return PNG bytes (fast compression), with NovelAI metadata when ``fields`` are given."""
    if fields:
        from ..errors import InputError
        from ..metadata import embed

        try:
            return embed(image, fields)
        except InputError:
            # a picture too small for the alpha-channel copy (64x64 holds 512 bytes): text chunks only
            return embed(image, fields, stealth=False)
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def thumbnail_preview(image: Any, step: int, steps: int) -> bytes:
    """Return a small JPEG preview of ``image`` as it would look after ``step`` of ``steps``."""
    from PIL import Image, ImageFilter

    small = image.convert("RGB").copy()
    small.thumbnail((256, 256))
    import numpy as np

    noise_arr = _rng("preview", step, small.size).integers(0, 256, size=(small.size[1], small.size[0], 3))
    noise = Image.fromarray(noise_arr.astype(np.uint8), "RGB")
    frac = (step + 1) / max(1, steps)
    mixed = Image.blend(noise, small, frac).filter(ImageFilter.GaussianBlur(2 * (1 - frac)))
    buf = io.BytesIO()
    mixed.save(buf, format="JPEG", quality=70)
    return buf.getvalue()


def vibe_encoding(image_png: bytes, model: str, information_extracted: float) -> bytes:
    """Return deterministic opaque bytes standing for a ``.naiv4vibe`` encoding of the image."""
    digest = hashlib.sha256(image_png).digest()
    head = b"NKVB" + struct.pack(">f", float(information_extracted)) + model.encode()[:40].ljust(40, b"\0")
    body = hashlib.shake_256(digest + head).digest(1024)
    return head + body
