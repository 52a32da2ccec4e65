"""NovelAI PNG metadata: read and write both forms NovelAI uses.

* **tEXt chunks**: ``Title``, ``Description`` (the prompt), ``Software``, ``Source`` (the model),
  ``Generation time`` (V4 and later write ``Generation_time``) and ``Comment`` (JSON of the generation
  parameters, some 44 keys on a V4.5 image). Every text chunk and every Comment key is kept as read.
* **stealth pnginfo** in the alpha channel: the least significant bit of each pixel's alpha, read column
  by column (x outer, y inner), packed most significant bit first into bytes. The bytes are the magic
  ``stealth_pngcomp`` (gzip) or ``stealth_pnginfo`` (plain), a 32-bit big-endian length *in bits*, and
  then the UTF-8 JSON of the same fields (``Comment`` as a JSON string). It survives tools that drop
  text chunks (but not JPEG conversion or an alpha flattening).
* **A1111's stealth variants** (the stealth-pnginfo extension), read too: the RGB modes
  ``stealth_rgbinfo`` / ``stealth_rgbcomp`` keep three bits per pixel (the low bits of R, G and B, in
  that order, same pixel order), and a payload that is plain text rather than JSON (A1111's
  ``parameters`` string) comes back as the field ``parameters``.

``read_metadata(path_or_image)`` tries the text chunks and the alpha channel and returns an
:class:`ImageMetadata` (None when neither is there). ``embed(image, fields)`` returns PNG bytes with both.
numpy and PIL are imported on first use.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._decode import decoding, json_or, open_image
from .errors import InputError
from .novelai.models import image_model

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import PIL.Image

__all__ = [
    "ImageMetadata",
    "read_metadata",
    "embed",
    "novelai_fields",
    "read_stealth",
    "write_stealth",
    "MAGIC",
]

MAGIC = {"stealth_pngcomp": True, "stealth_pnginfo": False}
#: A1111's RGB variants: three bits per pixel from the low bits of R, G and B.
RGB_MAGIC = {"stealth_rgbcomp": True, "stealth_rgbinfo": False}
#: The text chunks NovelAI writes; a PNG with none of them (and no stealth copy) has no NovelAI metadata.
TEXT_KEYS = ("Title", "Description", "Software", "Source", "Generation time", "Generation_time", "Comment")
#: Models from V4 on write the generation time under this key (with an underscore).
_GENERATION_TIME_V4 = "Generation_time"

# Model -> the "Source" string NovelAI writes (hash suffixes as seen on the website's images).
_SOURCES = {
    "v1": "Stable Diffusion 1D44365E",
    "v2": "Stable Diffusion F64BA557",
    "v3": "Stable Diffusion XL C1E1DE52",
    "v4": "NovelAI Diffusion V4 F6302A9D",
    "v4.5": "NovelAI Diffusion V4.5 4BDE2A90",
    "v5": "NovelAI Diffusion V5",
}


@dataclass(frozen=True)
class ImageMetadata:
    """NovelAI metadata of one image: the text fields and the parsed ``Comment`` parameters.

    ``found_in`` is ``"text"``, ``"stealth"`` or ``"text+stealth"``.
    """

    fields: dict[str, str]
    parameters: dict[str, Any] = field(default_factory=dict)
    found_in: str = "text"

    @property
    def prompt(self) -> str | None:
        """Return the prompt (``Comment.prompt``, else ``Description``)."""
        return self.parameters.get("prompt", self.fields.get("Description"))

    @property
    def seed(self) -> int | None:
        """Return the seed of this image, if recorded."""
        return self.parameters.get("seed")

    @property
    def source(self) -> str | None:
        """Return the ``Source`` field (NovelAI's model label)."""
        return self.fields.get("Source")

    def to_dict(self) -> dict[str, Any]:
        """Return the fields with ``Comment`` parsed, as NovelAI's own reader shows them."""
        out: dict[str, Any] = dict(self.fields)
        if "Comment" in out:
            out["Comment"] = self.parameters
        return out

    def to_frame(self) -> pd.DataFrame:
        """Return the parameters as a two-column pandas DataFrame (parameter, value)."""
        import pandas as pd

        rows = [(k, v if isinstance(v, (str, int, float, bool)) or v is None else json.dumps(v))
                for k, v in self.parameters.items()]  # fmt: skip
        return pd.DataFrame(rows, columns=["parameter", "value"])

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><th style='text-align:left'>{escape(str(k))}</th><td>{escape(str(v))[:300]}</td></tr>"
            for k, v in self.parameters.items()
        )
        return f"<table><caption>NovelAI metadata ({escape(self.found_in)})</caption>{rows}</table>"


def novelai_fields(
    prompt: str,
    parameters: dict[str, Any],
    *,
    model: str | None = None,
    generation_time: float | None = None,
    request_type: str | None = None,
) -> dict[str, str]:
    """Return the tEXt fields NovelAI writes for an image made from ``parameters`` (strings only)."""
    comment = dict(parameters)
    comment.setdefault("prompt", prompt)
    if request_type is not None:
        comment.setdefault("request_type", request_type)
    source = "NovelAI"
    if model is not None:
        try:
            source = _SOURCES.get(image_model(model).generation, model)
        except InputError:
            source = model
    # V4 and later write "NovelAI generated image" and "Generation_time"; V1-V3 images
    # "AI generated image" and "Generation time".
    v4_on = model is not None and source.startswith("NovelAI Diffusion")
    out = {
        "Title": "NovelAI generated image" if v4_on else "AI generated image",
        "Description": prompt,
        "Software": "NovelAI",
        "Source": source,
    }
    if generation_time is not None:
        out[_GENERATION_TIME_V4 if v4_on else "Generation time"] = repr(float(generation_time))
    out["Comment"] = json.dumps(comment, ensure_ascii=False, separators=(", ", ": "))
    return out


# ------------------------------------------------------------------------------------------------ stealth


def _alpha_bits(pil: Any) -> Any:
    import numpy as np

    alpha = np.asarray(pil.getchannel("A"), dtype=np.uint8)
    return alpha.T.reshape(-1) & 1


def _rgb_bits(pil: Any) -> Any:
    import numpy as np

    rgb = np.asarray(pil.convert("RGB"), dtype=np.uint8)  # h, w, 3
    return rgb.transpose(1, 0, 2).reshape(-1) & 1  # x outer, y inner, then R, G, B


def _payload(bits: Any, magics: dict[str, bool]) -> dict[str, str] | None:
    """Return the fields of a stealth payload in ``bits``, or None when there is none or it is damaged
    (a bad length, gzip or UTF-8)."""
    import numpy as np

    head = 15 * 8
    if bits.size < head + 32:
        return None
    magic = np.packbits(bits[:head]).tobytes().decode("latin-1")
    if magic not in magics:
        return None
    nbits = int.from_bytes(np.packbits(bits[head : head + 32]).tobytes(), "big")
    start = head + 32
    if nbits <= 0 or nbits % 8 or start + nbits > bits.size:
        return None
    packed = np.packbits(bits[start : start + nbits]).tobytes()
    payload = _gunzip(packed) if magics[magic] else packed
    if payload is None:
        return None
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
    data = json_or(text)
    if not isinstance(data, dict):
        # A1111 hides its plain "parameters" text, not JSON.
        return {"parameters": text}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


def read_stealth(image: Any) -> dict[str, str] | None:
    """Return the fields hidden in the low bits (alpha, else RGB), or None when there are none.

    JSON payloads give their fields (non-string values as JSON text); a plain-text payload (A1111)
    gives ``{"parameters": text}``.
    """
    pil = _open(image)
    with decoding(_unreadable):  # PIL decodes the pixels lazily: a damaged file fails here
        if "A" in pil.getbands():
            found = _payload(_alpha_bits(pil if pil.mode == "RGBA" else pil.convert("RGBA")), MAGIC)
            if found is not None:
                return found
        if pil.mode not in ("RGB", "RGBA"):
            return None
        return _payload(_rgb_bits(pil), RGB_MAGIC)


def write_stealth(image: Any, fields: dict[str, str], *, compressed: bool = True) -> PIL.Image.Image:
    """Return an RGBA copy of ``image`` with ``fields`` written into the alpha channel's low bits.

    Raises InputError when the image has too few pixels to hold them.
    """
    import numpy as np
    from PIL import Image

    pil = _open(image).convert("RGBA")
    raw = json.dumps(fields, ensure_ascii=False).encode("utf-8")
    if compressed:
        raw = gzip.compress(raw, mtime=0)
    magic = "stealth_pngcomp" if compressed else "stealth_pnginfo"
    payload = magic.encode("ascii") + (len(raw) * 8).to_bytes(4, "big") + raw
    bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8))
    arr = np.array(pil, dtype=np.uint8)
    h, w = arr.shape[:2]
    if bits.size > w * h:
        raise InputError("image", f"{w}x{h}", f"at least {bits.size} pixels to hide {len(payload)} bytes")
    flat = arr[..., 3].T.reshape(-1).copy()
    flat[: bits.size] = (flat[: bits.size] & 0xFE) | bits
    arr[..., 3] = flat.reshape(w, h).T
    return Image.fromarray(arr, "RGBA")


# ------------------------------------------------------------------------------------------ read / embed


def _open(image: Any) -> Any:
    if hasattr(image, "getchannel") and hasattr(image, "mode"):
        return image
    allowed = "a PIL image, PNG bytes or a path to a PNG"
    if isinstance(image, (bytes, bytearray, memoryview)):
        raw = bytes(image)
    elif isinstance(image, (str, os.PathLike)):
        try:
            is_file = Path(image).is_file()
        except (OSError, ValueError):  # a name too long for the file system, a NUL in it
            is_file = False
        if not is_file:
            raise InputError("image", str(image), allowed, "No such file.")
        with decoding(_unreadable):
            raw = Path(image).read_bytes()
    else:
        raise InputError("image", type(image).__name__, allowed)
    return open_image(raw, _unreadable)


def _unreadable(reason: str) -> InputError:
    allowed = "a PIL image, PNG bytes or a path to a PNG"
    return InputError("image", "<unreadable>", allowed, f"It is not a readable image ({reason}).")


#: Largest stealth payload inflated (its JSON); a bigger one is treated as damaged, not read into memory.
_MAX_STEALTH = 8 << 20


def _gunzip(data: bytes) -> bytes | None:
    """Return the gzip member in ``data`` inflated, or None when it is damaged or inflates past the limit."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, _MAX_STEALTH)
    except zlib.error:
        return None
    return out if d.eof and not d.unconsumed_tail else None


def read_metadata(image: Any) -> ImageMetadata | None:
    """Return the NovelAI metadata of a PNG (path, bytes or PIL image), or None if it has none.

    The text chunks are read first; the alpha-channel copy fills in when they were stripped.
    """
    pil = _open(image)
    with decoding(_unreadable):  # PIL reads the text chunks here (zTXt inflates)
        chunks = getattr(pil, "text", None) or pil.info
    # every text chunk is kept (A1111's "parameters", newer keys); NovelAI's own decide that it is one
    text = {k: v for k, v in chunks.items() if isinstance(v, str)}
    if not any(k in TEXT_KEYS for k in text):
        text = {}
    stealth = read_stealth(pil)
    if not text and not stealth:
        return None
    merged = dict(stealth or {})
    merged.update(text)
    where = "text+stealth" if text and stealth else "text" if text else "stealth"
    params: dict[str, Any] = {}
    if "Comment" in merged:
        parsed = json_or(merged["Comment"])
        params = parsed if isinstance(parsed, dict) else {}
    return ImageMetadata(merged, params, where)


def embed(
    image: Any, fields: dict[str, str], *, stealth: bool = True, text: bool = True, compress_level: int = 1
) -> bytes:
    """Return PNG bytes of ``image`` carrying ``fields`` as tEXt chunks and/or in the alpha channel."""
    from PIL.PngImagePlugin import PngInfo

    for k, v in fields.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise InputError("fields", k, "a dict of str -> str (json.dumps the Comment)")
    pil = _open(image)
    if stealth:
        pil = write_stealth(pil, fields)
    info = PngInfo()
    if text:
        for k, v in fields.items():
            info.add_itxt(k, v) if not v.isascii() else info.add_text(k, v)
    buf = io.BytesIO()
    pil.save(buf, format="PNG", pnginfo=info, compress_level=compress_level)
    return buf.getvalue()
