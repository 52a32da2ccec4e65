"""NovelAI PNG metadata: naikit's writer read back by naikit and by an independent reader written here
from the published format (alpha-channel LSBs, column-major, magic, 32-bit bit length, gzip JSON), and
the reverse: pictures made by an independent writer read by naikit."""

from __future__ import annotations

import gzip
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# -- real V4.5 images: every key, Generation_time, A1111's stealth variants ----------------------------

# A V4.5 image's Comment, built by hand with the 44 keys, order and value shapes that public readers of
# real images document (an ImageLoader RawParameters class modelled on V4.5 PNG comments; novelai-python
# issue #119's V4.5 defaults; imgutils' test of a real NovelAI comment for the signed_hash form).
V45_COMMENT = json.loads(
    (__import__("pathlib").Path(__file__).parent / "data" / "nai_v45_comment.json").read_text("utf-8")
)
V45_TEXT = {
    "Title": "NovelAI generated image",
    "Description": V45_COMMENT["prompt"],
    "Software": "NovelAI",
    "Source": "NovelAI Diffusion V4.5 4BDE2A90",
    "Generation_time": "6.494704299024306",
    "Comment": json.dumps(V45_COMMENT),
}


def independent_png(text: dict, size=(64, 48)) -> bytes:
    """A PNG with these tEXt chunks, written with PIL alone (how a V4.5 image arrives)."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for k, v in text.items():
        info.add_text(k, v)
    buf = io.BytesIO()
    Image.new("RGBA", size, (10, 20, 30, 255)).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def test_every_key_of_a_v45_comment_round_trips():
    assert len(V45_COMMENT) == 44
    meta = read_metadata(independent_png({**V45_TEXT, "parameters": "kept too"}))
    assert meta.found_in == "text" and list(meta.parameters) == list(V45_COMMENT)
    assert meta.parameters == V45_COMMENT
    assert meta.fields["Generation_time"] == "6.494704299024306" and meta.fields["parameters"] == "kept too"
    # written by naikit (text and alpha copy) and read back: every key, in order, with its value
    png = embed(_picture((128, 96)), V45_TEXT)
    for got in (read_metadata(png), read_metadata(_strip_text(png))):
        assert list(got.parameters) == list(V45_COMMENT) and got.parameters == V45_COMMENT
        assert got.fields == V45_TEXT
    assert independent_read(png) == V45_TEXT


def _strip_text(png: bytes) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.open(io.BytesIO(png)).save(buf, format="PNG")
    return buf.getvalue()


def test_generation_time_key_follows_the_model():
    v45 = novelai_fields("x", {"seed": 1}, model="nai-diffusion-4-5-full", generation_time=1.25)
    v3 = novelai_fields("x", {"seed": 1}, model="nai-diffusion-3", generation_time=1.25)
    assert v45["Generation_time"] == "1.25" and "Generation time" not in v45
    assert v3["Generation time"] == "1.25" and "Generation_time" not in v3
    assert v45["Source"] == "NovelAI Diffusion V4.5 4BDE2A90"
    # titles as real images carry them: V4+ "NovelAI generated image", V1-V3 "AI generated image"
    assert v45["Title"] == "NovelAI generated image" and v3["Title"] == "AI generated image"


def _rgb_stealth(size, payload_text: str, compressed: bool) -> bytes:
    """A1111's RGB variant, written from its description: 3 bits a pixel (R, G, B low bits), column-major."""
    from PIL import Image

    data = payload_text.encode()
    if compressed:
        data = gzip.compress(data)
    magic = b"stealth_rgbcomp" if compressed else b"stealth_rgbinfo"
    payload = magic + (len(data) * 8).to_bytes(4, "big") + data
    bits = [(byte >> (7 - i)) & 1 for byte in payload for i in range(8)]
    im = Image.new("RGB", size, (201, 100, 57))
    px = im.load()
    w, h = size
    bits += [0] * (-len(bits) % 3)
    for k in range(0, len(bits), 3):
        x, y = divmod(k // 3, h)
        r, g, b = px[x, y]
        px[x, y] = ((r & 0xFE) | bits[k], (g & 0xFE) | bits[k + 1], (b & 0xFE) | bits[k + 2])
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("compressed", [True, False])
def test_a1111_rgb_stealth_with_plain_text(compressed):
    text = "1girl, solo\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, Seed: 5"
    png = _rgb_stealth((90, 70), text, compressed)
    assert read_stealth(png) == {"parameters": text}
    meta = read_metadata(png)
    assert meta.found_in == "stealth" and meta.fields == {"parameters": text} and meta.parameters == {}


def test_rgb_stealth_with_novelai_json_and_alpha_plain_text():
    png = _rgb_stealth((120, 90), json.dumps(V45_TEXT), True)
    meta = read_metadata(png)
    assert meta.fields == V45_TEXT and meta.parameters == V45_COMMENT
    # alpha mode with a plain-text payload (A1111 writes its parameters string, not JSON)
    from PIL import Image

    im = Image.new("RGBA", (60, 60), (1, 2, 3, 255))
    data = b"plain words"
    payload = b"stealth_pnginfo" + (len(data) * 8).to_bytes(4, "big") + data
    bits = [(byte >> (7 - i)) & 1 for byte in payload for i in range(8)]
    px = im.load()
    for k, bit in enumerate(bits):
        x, y = divmod(k, 60)
        r, g, b, a = px[x, y]
        px[x, y] = (r, g, b, (a & 0xFE) | bit)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    assert read_stealth(buf.getvalue()) == {"parameters": "plain words"}


@settings(max_examples=60, deadline=None)
@given(
    magic=st.sampled_from([b"stealth_pngcomp", b"stealth_pnginfo", b"stealth_rgbcomp", b"stealth_rgbinfo"]),
    nbits=st.integers(0, 2**32 - 1),
    body=st.binary(max_size=150),  # 19 + 150 bytes fit in 48x48 low bits
    rgb=st.booleans(),
)
def test_stealth_reader_never_raises_on_damaged_payloads(magic, nbits, body, rgb):
    """A valid magic followed by any length and bytes gives fields or None, never an exception."""
    from PIL import Image

    payload = magic + nbits.to_bytes(4, "big") + body
    bits = [(byte >> (7 - i)) & 1 for byte in payload for i in range(8)]
    size = (48, 48)
    im = Image.new("RGBA", size, (7, 8, 9, 255))
    px = im.load()
    per = 3 if rgb else 1
    bits += [0] * (-len(bits) % per)
    for k in range(0, len(bits), per):
        x, y = divmod(k // per, size[1])
        r, g, b, a = px[x, y]
        if rgb:
            px[x, y] = ((r & 0xFE) | bits[k], (g & 0xFE) | bits[k + 1], (b & 0xFE) | bits[k + 2], a)
        else:
            px[x, y] = (r, g, b, (a & 0xFE) | bits[k])
    got = read_stealth(im if not rgb else im.convert("RGB"))
    assert got is None or all(isinstance(k, str) and isinstance(v, str) for k, v in got.items())
