"""NovelAI PNG metadata: naikit's writer read back by naikit and by an independent reader written here
from the published format (alpha-channel LSBs, column-major, magic, 32-bit bit length, gzip JSON), and
the reverse: pictures made by an independent writer read by naikit."""

from __future__ import annotations

import gzip
import io
import json

import pytest

from naikit.errors import InputError
from naikit.metadata import embed, novelai_fields, read_metadata, read_stealth


def independent_read(png: bytes) -> dict:
    """Read stealth pnginfo the way the published description says, with plain Python loops."""
    from PIL import Image

    im = Image.open(io.BytesIO(png)).convert("RGBA")
    w, h = im.size
    px = im.load()
    bits = (px[x, y][3] & 1 for x in range(w) for y in range(h))  # column by column

    def take(n: int) -> bytes:
        out = bytearray()
        for _ in range(n):
            b = 0
            for _ in range(8):
                b = (b << 1) | next(bits)
            out.append(b)
        return bytes(out)

    magic = take(15).decode()
    assert magic in ("stealth_pngcomp", "stealth_pnginfo")
    nbits = int.from_bytes(take(4), "big")
    data = take(nbits // 8)
    if magic == "stealth_pngcomp":
        data = gzip.decompress(data)
    return json.loads(data)


def independent_write(size, fields: dict, compressed: bool = True) -> bytes:
    from PIL import Image

    im = Image.new("RGBA", size, (40, 90, 160, 255))
    data = json.dumps(fields).encode()
    if compressed:
        data = gzip.compress(data)
    magic = b"stealth_pngcomp" if compressed else b"stealth_pnginfo"
    payload = magic + (len(data) * 8).to_bytes(4, "big") + data
    bits = [(byte >> (7 - i)) & 1 for byte in payload for i in range(8)]
    px = im.load()
    w, h = size
    for k, bit in enumerate(bits):
        x, y = divmod(k, h)
        r, g, b, a = px[x, y]
        px[x, y] = (r, g, b, (a & 0xFE) | bit)
    buf = io.BytesIO()
    im.save(buf, format="PNG")  # no text chunks at all
    return buf.getvalue()


def _picture(size=(96, 80)):
    from PIL import Image

    im = Image.new("RGB", size)
    im.putdata(
        [((x * 7) % 256, (y * 5) % 256, (x ^ y) % 256) for y in range(size[1]) for x in range(size[0])]
    )
    return im


FIELDS = novelai_fields(
    "1girl, ☀ sky",
    {"seed": 1234, "steps": 23, "sampler": "k_euler", "v4_prompt": {"caption": {"base_caption": "x"}}},
    model="nai-diffusion-4-5-full",
    generation_time=1.25,
)


def test_naikit_written_reads_back_identically_in_naikit_and_independent_reader():
    png = embed(_picture(), FIELDS)
    meta = read_metadata(png)
    assert meta.found_in == "text+stealth"
    assert meta.fields == FIELDS
    assert meta.seed == 1234 and meta.prompt == "1girl, ☀ sky"
    assert meta.source == "NovelAI Diffusion V4.5 4BDE2A90"
    assert independent_read(png) == FIELDS


def test_stealth_survives_when_text_chunks_are_stripped():
    from PIL import Image

    png = embed(_picture(), FIELDS)
    stripped = io.BytesIO()
    Image.open(io.BytesIO(png)).save(stripped, format="PNG")  # PIL drops the text chunks
    meta = read_metadata(stripped.getvalue())
    assert meta.found_in == "stealth" and meta.fields == FIELDS


@pytest.mark.parametrize("compressed", [True, False])
def test_independent_writer_read_by_naikit(compressed):
    fields = {"Title": "NovelAI generated image", "Description": "a cat", "Comment": json.dumps({"seed": 7})}
    png = independent_write((64, 64), fields, compressed)
    assert read_stealth(png) == fields
    meta = read_metadata(png)
    assert meta.found_in == "stealth" and meta.seed == 7 and meta.prompt == "a cat"


def test_text_only_and_pixels_unchanged_in_rgb():
    png = embed(_picture(), FIELDS, stealth=False)
    meta = read_metadata(png)
    assert meta.found_in == "text" and meta.parameters["steps"] == 23
    from PIL import Image

    assert Image.open(io.BytesIO(png)).convert("RGB").tobytes() == _picture().tobytes()


def test_no_metadata_and_bad_input():
    buf = io.BytesIO()
    _picture().save(buf, format="PNG")
    assert read_metadata(buf.getvalue()) is None
    with pytest.raises(InputError):
        read_metadata(b"garbage")
    with pytest.raises(InputError):
        embed(_picture((4, 4)), FIELDS)  # too small to hold the fields
    with pytest.raises(InputError):
        embed(_picture(), {"Comment": {"not": "a string"}})  # type: ignore[dict-item]


def test_read_from_path_and_pil(tmp_path):
    from PIL import Image

    png = embed(_picture(), FIELDS)
    p = tmp_path / "x.png"
    p.write_bytes(png)
    assert read_metadata(p).fields == FIELDS
    assert read_metadata(Image.open(p)).fields == FIELDS
