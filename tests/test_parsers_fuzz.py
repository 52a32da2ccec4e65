"""Every parser of outside data is total: a valid result or a naikit error, never a raw exception.

Each test feeds one parser hypothesis-generated input: mostly *mutations* of real, valid input (a shipped
official preset, a sandbox PNG with NovelAI metadata, the msgpackr documents packed by the real msgpackr,
the demo account's storycontent, a keystore, a ZIP answer, stream events, Novita task bodies), with bytes
flipped, inserted, deleted or truncated and JSON values replaced by hostile ones (NaN, 1e308, 10**400, a
float where a list belongs, lone surrogates, deep nesting); plus plain random input. A test fails on any
exception that is not a :class:`naikit.errors.NaikitError` with a message.

Profiles (tests/conftest.py): ``ci`` (default, derandomized, 2,000 examples per test) and ``nightly``
(``HYPOTHESIS_PROFILE=nightly``, 20,000, random). ``NAIKIT_FUZZ_COUNT=1`` counts unexpected exceptions per
parser instead of failing at the first one, and appends the table to the file it names.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import os
import random
import struct
import tempfile
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from naikit.errors import NaikitError

# ------------------------------------------------------------------------------------------ the oracle

_COUNT = bool(os.environ.get("NAIKIT_FUZZ_COUNT"))  # a file path
_CALLS: Counter[str] = Counter()
_BAD: Counter[str] = Counter()
_KINDS: dict[str, Counter[str]] = {}


def total(name: str, fn: Any, *args: Any, **kw: Any) -> Any:
    """Return ``fn(*args)`` or the NaikitError it raised; any other exception fails the test."""
    _CALLS[name] += 1
    try:
        return fn(*args, **kw)
    except NaikitError as exc:
        assert str(exc).strip(), f"{name}: a naikit error without a message"
        return exc
    except Exception as exc:
        if not _COUNT:
            raise
        _BAD[name] += 1
        _KINDS.setdefault(name, Counter())[type(exc).__name__] += 1
        return exc


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    if _COUNT:
        lines = ["parser                 calls  unexpected  kinds"]
        for name in sorted(_CALLS):
            kinds = ", ".join(f"{k} {n}" for k, n in _KINDS.get(name, Counter()).most_common())
            lines.append(f"{name:22} {_CALLS[name]:6} {_BAD[name]:10}  {kinds}")
        with open(os.environ["NAIKIT_FUZZ_COUNT"], "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")


# ------------------------------------------------------------------------------------------ mutations
# Inputs are built by a seeded PRNG from a hypothesis-drawn seed: one draw per example keeps hypothesis's
# own cost near a millisecond, so 2,000 cases per parser fit the CI budget. The built input (not the seed)
# is what hypothesis reports for a failure.

_NASTY: list[Any] = [
    None, True, False, 0, -1, 1, 255, 256, 2**31, 2**63, 2**64, 10**400, -(10**400), 1e308, -1e308,
    1.5, -0.0, float("nan"), float("inf"), float("-inf"), "", "x", "\ud800", "ey", "AAAA", "{}", "[]",
    [], {}, [None], [1.5], [[]], [[[]]], {"": None}, "A" * 200, [0] * 40, {"a": {"b": {"c": []}}},
]  # fmt: skip


def random_json(rng: random.Random, depth: int = 0) -> Any:
    """Return a random JSON value: hostile leaves (NaN, 1e308, 10**400, lone surrogates, ...) and small
    lists and objects, at most four levels deep."""
    roll = rng.random()
    if depth < 4 and roll < 0.15:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    if depth < 4 and roll < 0.3:
        return {
            rng.choice(["", "a", "id", "0", "\ud800"]): random_json(rng, depth + 1)
            for _ in range(rng.randrange(4))
        }
    if roll < 0.75:
        return copy.deepcopy(rng.choice(_NASTY))
    if roll < 0.85:
        return rng.randint(-(2**70), 2**70)
    if roll < 0.93:
        return rng.uniform(-1e6, 1e6)
    return "".join(
        chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x10FFFF)])) for _ in range(rng.randrange(8))
    )


def _nodes(value: Any) -> list[tuple]:
    """Return the path of every node of a JSON value (containers and leaves), root first."""
    out, stack = [], [((), value)]
    while stack:
        path, v = stack.pop()
        out.append(path)
        if isinstance(v, dict):
            stack += [(path + (k,), c) for k, c in v.items()]
        elif isinstance(v, list):
            stack += [(path + (i,), c) for i, c in enumerate(v)]
    return out


def mutate_json(value: Any, seed: int) -> Any:
    """Return a copy of ``value`` with 1-4 nodes replaced by random JSON, deleted, wrapped in a list or given
    a sibling."""
    rng = random.Random(seed)
    value = copy.deepcopy(value)
    for _ in range(rng.randint(1, 4)):
        path = rng.choice(_nodes(value))
        op = rng.choice(["replace", "replace", "replace", "delete", "wrap", "add"])
        if not path:
            value = random_json(rng) if op == "replace" else value
            continue
        parent = value
        for step in path[:-1]:
            parent = parent[step]
        key = path[-1]
        if op == "replace":
            parent[key] = random_json(rng)
        elif op == "delete":
            del parent[key]
        elif op == "wrap":
            parent[key] = [parent[key]]
        elif isinstance(parent, dict):
            parent[rng.choice(["x", "id", "", "final"])] = random_json(rng)
        else:
            parent.insert(key, random_json(rng))
    return value


def mutate_bytes(data: bytes, seed: int, max_ops: int = 4) -> bytes:
    """Return ``data`` with 1-``max_ops`` bytes flipped, set, inserted, deleted, repeated, or the tail cut."""
    rng = random.Random(seed)
    buf = bytearray(data)
    for _ in range(rng.randint(1, max_ops)):
        i = rng.randrange(len(buf) + 1)
        op = rng.choice(["flip", "flip", "flip", "set", "insert", "delete", "truncate", "repeat"])
        if op == "flip" and buf:
            buf[i % len(buf)] ^= 1 << rng.randrange(8)
        elif op == "set" and buf:
            buf[i % len(buf)] = rng.choice([0, 0xFF, 0x7F, 0x80, rng.randrange(256)])
        elif op == "insert":
            buf[i:i] = rng.randbytes(rng.randint(1, 6))
        elif op == "delete":
            del buf[i : i + rng.randint(1, 8)]
        elif op == "truncate":
            del buf[i:]
        elif op == "repeat":
            buf[i:i] = buf[i : i + 64] * rng.randint(1, 3)
    return bytes(buf)


SEED = st.integers(0, 2**64 - 1)


def mutated_json(seeds: list[Any]) -> st.SearchStrategy[Any]:
    """Return a strategy of JSON values: a seed value mutated (mostly) or a random value."""

    def build(i: int, seed: int) -> Any:
        if seed % 10 == 0:
            return random_json(random.Random(seed))
        return mutate_json(seeds[i], seed)

    return st.tuples(st.integers(0, len(seeds) - 1), SEED).map(lambda args: build(*args))


def mutated_bytes(seeds: list[bytes], max_ops: int = 4) -> st.SearchStrategy[bytes]:
    """Return a strategy of byte strings: a seed with bytes mutated (mostly) or random bytes."""

    def build(i: int, seed: int) -> bytes:
        if seed % 20 == 0:
            return random.Random(seed).randbytes(seed % 97)
        return mutate_bytes(seeds[i], seed, max_ops)

    return st.tuples(st.integers(0, len(seeds) - 1), SEED).map(lambda args: build(*args))


def text_of(seeds: list[Any]) -> st.SearchStrategy[str]:
    """JSON text of mutated seeds, or the seeds' text with bytes mutated (decoded leniently)."""
    texts = [json.dumps(s).encode() for s in seeds]

    def build(i: int, seed: int) -> str:
        if seed % 3 == 0:
            return mutate_bytes(texts[i], seed).decode("utf-8", "surrogateescape")
        if seed % 10 == 1:
            return json.dumps(random_json(random.Random(seed)))
        return json.dumps(mutate_json(seeds[i], seed))

    return st.tuples(st.integers(0, len(seeds) - 1), SEED).map(lambda args: build(*args))


DEEP = ["[" * 5000 + "]" * 5000, '{"a":' * 3000 + "1" + "}" * 3000, "[" * 100000]

# ------------------------------------------------------------------------------------------ seeds

ROOT = Path(__file__).parent
DATA = ROOT.parent / "naikit" / "data"


def _preset_seeds() -> list[Any]:
    files = sorted((DATA / "presets").glob("*/*.preset"))
    return [json.loads(p.read_text("utf-8")) for p in files[::4]]


PRESETS = _preset_seeds()


@given(text_of(PRESETS).map(lambda t: t.encode("utf-8", "surrogateescape") if len(t) % 4 == 0 else t))
@example(DEEP[0])
@example(DEEP[1])
@example('{"presetVersion": 1e400, "name": "x", "model": "kayra-v1", "parameters": {}}')
@example(b"\xff\xfe{")
def test_preset(text):
    """A .preset file's text (a quarter as bytes): a Preset that serializes, or a naikit error."""
    from naikit.novelai.presets import Preset

    out = total("preset", Preset.from_json, text)
    if isinstance(out, Preset):
        total("preset", out.to_json)
        total("preset", out.to_parameters)


def test_preset_load_refuses_what_is_not_a_file(tmp_path):
    from naikit.novelai.presets import Preset

    for bad in (1, None, tmp_path, tmp_path / "missing.preset"):
        total("preset", Preset.load, bad)
    (tmp_path / "bad.preset").write_bytes(b"\xff{")
    total("preset", Preset.load, tmp_path / "bad.preset")


# -- PNG metadata -----------------------------------------------------------------------------------


def _png_seeds() -> list[bytes]:
    from PIL import Image

    from naikit.metadata import embed, novelai_fields

    pic = Image.new("RGBA", (40, 40), (10, 120, 200, 255))
    fields = novelai_fields(
        "a lighthouse", {"seed": 7, "steps": 28, "scale": 5.0}, model="nai-diffusion-4-5-full"
    )
    buf = io.BytesIO()
    pic.convert("RGB").save(buf, format="PNG")
    return [
        embed(pic, fields),
        embed(pic, fields, text=False),
        embed(pic, fields, stealth=False),
        buf.getvalue(),
    ]


PNGS = _png_seeds()


def _stealth_payload(magic: bytes, body: bytes) -> bytes:
    return magic + (len(body) * 8).to_bytes(4, "big") + body


def _stealth_seeds() -> list[bytes]:
    import gzip

    comment = json.dumps({"Comment": json.dumps({"prompt": "x", "seed": 1}), "Software": "NovelAI"}).encode()
    return [
        _stealth_payload(b"stealth_pngcomp", gzip.compress(comment, mtime=0)),
        _stealth_payload(b"stealth_pnginfo", comment),
    ]


def _with_alpha_bits(payload: bytes) -> Any:
    import numpy as np
    from PIL import Image

    side = 48
    bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8))[: side * side]
    alpha = np.full(side * side, 254, dtype=np.uint8)
    alpha[: bits.size] |= bits
    arr = np.zeros((side, side, 4), dtype=np.uint8)
    arr[..., 3] = alpha.reshape(side, side).T
    return Image.fromarray(arr, "RGBA")


@given(mutated_bytes(PNGS + _stealth_seeds()))
def test_png_metadata(data):
    """PNG bytes (text chunks, stealth alpha) or a stealth payload hidden in an image's alpha channel."""
    from naikit.metadata import ImageMetadata, read_metadata, read_stealth
    from naikit.novelai.image_models import load_image

    if data.startswith(b"\x89PNG"):
        out = total("png_metadata", read_metadata, data)
        total("load_image", load_image, data)
    else:
        pic = _with_alpha_bits(data)
        total("png_metadata", read_stealth, pic)
        out = total("png_metadata", read_metadata, pic)
    if isinstance(out, ImageMetadata):
        total("png_metadata", lambda: (out.to_dict(), out.prompt, out.seed, out._repr_html_()))


# -- msgpackr documents --------------------------------------------------------------------------------


def _document_seeds() -> list[bytes]:
    from naikit.sandbox.demo_content import _document

    fixture = json.loads((ROOT / "data" / "content" / "msgpackr_document.json").read_text())
    texts = list(fixture["variants"].values()) + [_document()]
    return [base64.b64decode(t) for t in texts]


DOCUMENTS = _document_seeds()


def _nested_msgpack(depth: int) -> bytes:
    return b"\x91" * depth + b"\xc0"


@given(mutated_bytes(DOCUMENTS, max_ops=3) | mutated_bytes([base64.b64encode(d) for d in DOCUMENTS]))
@example(_nested_msgpack(100000))
@example(b"\xd4\x72\x40\x91\xa1k" + b"\x40" * 5)
def test_document(raw):
    """A story document: msgpackr bytes, or its base64 text (a storycontent's ``document``)."""
    from naikit.novelai.document import Document, decode_document, unpack

    if raw[:1].isalnum():  # a mutated base64 text
        out = total("document", decode_document, raw.decode("latin-1"))
    else:
        out = total("document", decode_document, raw)
        total("document", unpack, raw)
    if isinstance(out, Document):
        total("document", lambda: (out.text, out.paragraphs, repr(out)))


# -- .naiv4vibe ------------------------------------------------------------------------------------------

_VIBE = {
    "identifier": "novelai-vibe-transfer",
    "version": 1,
    "type": "encoding",
    "id": "ab" * 32,
    "encodings": {
        "v4-5full": {"k1": {"encoding": "AAAA", "params": {"information_extracted": 0.7}}},
        "v4full": {"k2": {"encoding": "AAAB", "params": {"information_extracted": 1.0}}},
    },
    "name": "vibe",
    "importInfo": {"model": "nai-diffusion-4-5-full", "information_extracted": 0.7, "strength": 0.6},
}
_VIBE_DIR = Path(tempfile.mkdtemp(prefix="naikit-fuzz-"))


@given(text_of([_VIBE]))
@example("[" * 100000)
def test_naiv4vibe(text):
    from naikit.novelai.vibes import read_naiv4vibe

    model = [None, "nai-diffusion-4-5-full", "nai-diffusion-4-full"][len(text) % 3]
    path = _VIBE_DIR / "fuzz.naiv4vibe"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    out = total("naiv4vibe", read_naiv4vibe, path, model)
    if isinstance(out, list):
        assert out and all(isinstance(v.encoding, str) for v in out)


# -- image ZIP answers ------------------------------------------------------------------------------------


def _zip(method: int, names=("image_0.png", "image_1.png")) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for i, n in enumerate(names):
            zf.writestr(n, PNGS[i % 2])
    return buf.getvalue()


def _patch_zip(raw: bytes, *, flags: int = 0, method: int | None = None) -> bytes:
    """Set flag bits (1 = encrypted) or a compression method in every local and central header."""
    buf = bytearray(raw)
    for sig, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        i = buf.find(sig)
        while i >= 0:
            buf[i + flag_at] |= flags
            if method is not None:
                struct.pack_into("<H", buf, i + method_at, method)
            i = buf.find(sig, i + 4)
    return bytes(buf)


ZIPS = [
    _zip(zipfile.ZIP_DEFLATED),
    _zip(zipfile.ZIP_STORED),
    _zip(zipfile.ZIP_LZMA),
    _zip(zipfile.ZIP_BZIP2),
    _patch_zip(_zip(zipfile.ZIP_DEFLATED), flags=1),
    _patch_zip(_zip(zipfile.ZIP_DEFLATED), method=99),
    _patch_zip(_zip(zipfile.ZIP_STORED), method=zipfile.ZIP_LZMA),
]


@given(mutated_bytes(ZIPS))
@example(ZIPS[4])
@example(ZIPS[5])
@example(ZIPS[6])
def test_image_zip(raw):
    from naikit.novelai.images_result import GeneratedImage, unzip_images

    out = total("image_zip", unzip_images, raw, "POST /ai/generate-image")
    if isinstance(out, list):
        for _, png in out:
            g = GeneratedImage(png, {"seed": 1})
            total("image_zip", lambda g=g: g.image)
            total("image_zip", lambda g=g: g.metadata)


# -- storycontent JSON ---------------------------------------------------------------------------------------


def _storycontent_seeds() -> list[Any]:
    from naikit.sandbox.demo_content import demo_objects

    _, objects = demo_objects()
    return [o["json"] for o in objects if o["type"] == "storycontent"]


STORYCONTENT = _storycontent_seeds()


@given(mutated_json(STORYCONTENT))
def test_storycontent(content):
    from naikit.novelai.content import ContentObject, _content_row, lorebook_rows, story_text_of

    total("storycontent", story_text_of, content)
    total("storycontent", lorebook_rows, content)
    item = ContentObject("storycontent", "id", "meta", content)
    total("storycontent", _content_row, item, False)
    total("storycontent", lambda: item.text)


# -- encrypted objects and the keystore -------------------------------------------------------------------

_KEY = bytes(range(32))


def _keystore_seeds() -> list[str]:
    from naikit.novelai.crypto import Keystore

    out = []
    for compressed in (False, True):
        ks = Keystore.new()
        ks.add("meta-1", bytes(32))
        ks.add("meta-2", b"\x07" * 32)
        ks.compressed = compressed
        out.append(ks.encrypt(_KEY))
    return out


KEYSTORES = _keystore_seeds()


def _keystore_json_seeds() -> list[Any]:
    return [json.loads(base64.b64decode(k)) for k in KEYSTORES]


@given(
    mutated_bytes([k.encode() for k in KEYSTORES]).map(lambda b: b.decode("latin-1"))
    | text_of(_keystore_json_seeds()).map(
        lambda t: base64.b64encode(t.encode("utf-8", "surrogateescape")).decode()
    )
    | mutated_bytes([base64.b64decode(k) for k in KEYSTORES]).map(lambda b: base64.b64encode(b).decode())
)
@example(base64.b64encode(b"[" * 100000).decode())
def test_keystore(raw):
    from naikit.novelai.crypto import Keystore

    out = total("keystore", Keystore.decrypt, raw, _KEY)
    if isinstance(out, Keystore):
        total("keystore", lambda: (out.metas, repr(out)))


def _object_seeds() -> list[bytes]:
    from naikit.novelai.crypto import compress_payload, encrypt_payload

    plain = json.dumps(STORYCONTENT[0]).encode()
    return [
        base64.b64decode(encrypt_payload(plain, bytes(32), nonce=bytes(24))),
        base64.b64decode(encrypt_payload(plain, bytes(32), compressed=False, nonce=bytes(24))),
        base64.b64decode(compress_payload(plain)),
    ]


@given(mutated_bytes(_object_seeds()))
def test_encrypted_object(raw):
    """An object's data: encrypted (compressed or not) or compressed-only, with bytes mutated."""
    from naikit.novelai.account import UserObject
    from naikit.novelai.content import decode_object
    from naikit.novelai.crypto import Keystore, decompress_payload, decrypt_payload

    data = base64.b64encode(raw).decode()
    object_type = "presets" if len(raw) % 2 else "storycontent"
    ks = Keystore({"meta-1": bytes(32)})
    obj = UserObject("id", object_type, "meta-1", data, None, 0, {})
    out = total("content_object", decode_object, obj, ks)
    assert out.error is None or isinstance(out.error, NaikitError)
    total("content_object", decrypt_payload, data, bytes(32))
    total("content_object", decompress_payload, data)


@pytest.mark.parametrize("data", [None, 1, b"x", "[" * 100000, "{", "{\ud800", "AAAA", ""])
def test_decompress_payload_text(data):
    from naikit.novelai.crypto import decompress_payload

    total("content_object", decompress_payload, data)


# -- logprobs ----------------------------------------------------------------------------------------------

_LOGPROBS = [
    {
        "chosen": [[[49], [-0.5, -0.1]]],
        "before": [[[49], [-0.5, -0.1]], [[50], [-1.25, None]], [[51, 52], [-3.0, None]]],
        "after": [[[49], [-0.1, -0.1]]],
    },
    {"chosen": [[[262], [-0.01, 0.0]]], "before": [[[262], [-0.01, 0.0]]], "after": [[[262], [0.0, 0.0]]]},
]


@given(mutated_json([_LOGPROBS, {"logprobs": _LOGPROBS}]))
@example([{"chosen": [[[49], [1e308, 1e308]]], "before": [], "after": []}])
@example([{"chosen": [[[49], [float("nan"), None]]], "before": 1.5, "after": []}])
@example([{"chosen": [[[10**30], [-1.0, None]]]}])
def test_logprobs(value):
    from naikit.novelai.generation import Generation

    gen = Generation("text", [49], "kayra-v1", "p", "preset", {}, raw_logprobs=value)
    steps = total("logprobs", lambda: gen.logprobs)
    if isinstance(steps, list):
        for s in steps:
            for c in (s.chosen, *s.before, *s.after):
                total("logprobs", lambda c=c: (c.p_before, c.p_after))
        total("logprobs", lambda: gen.mean_logprob)
        total("logprobs", gen._repr_html_)


# -- text stream events --------------------------------------------------------------------------------------

_TEXT_EVENTS = [
    {"token": "MQA=", "ptr": 0, "final": False},
    {"token": "MgA=", "ptr": 1, "final": True, "logprobs": _LOGPROBS[0]},
    {"error": "Concurrent generation is locked", "statusCode": 429, "message": "locked"},
    {"token": " the", "ptr": 3, "final": False},
]


@given(text_of(_TEXT_EVENTS))
@example('{"error": "x", "statusCode": "abc"}')
@example('{"token": "MQA=", "ptr": "abc"}')
@example('{"token": "MQA=", "ptr": 1e308}')
def test_text_stream_event(data):
    from naikit.novelai.text import decode_stream_event

    use_string, validate = len(data) % 2 == 1, len(data) % 3 != 1

    total(
        "text_stream_event", decode_stream_event, data, "kayra-v1", use_string=use_string, validate=validate
    )


# -- image stream events -------------------------------------------------------------------------------------


def _image_events() -> list[dict[str, Any]]:
    return [
        {"event_type": "intermediate", "samp_ix": 0, "step_ix": 6, "gen_id": 42, "sigma": 9.1,
         "image": b"\xff\xd8jpg"},
        {"event_type": "final", "samp_ix": 1, "step_ix": 27, "gen_id": 42, "sigma": 0.0, "image": PNGS[3]},
        {"event_type": "error", "message": "generation failed"},
    ]  # fmt: skip


def _msgpack_frames() -> list[bytes]:
    import msgpack

    return [msgpack.packb(e, use_bin_type=True) for e in _image_events()]


def _sse_events() -> list[Any]:
    return [
        dict(e, image=base64.b64encode(e["image"]).decode()) if "image" in e else e for e in _image_events()
    ]


@given(mutated_bytes(_msgpack_frames()) | text_of(_sse_events()))
@example(b"\x91" * 100000)
def test_image_stream_event(event):
    """One image-stream event: a msgpack frame, or the JSON data of a server-sent event."""
    from naikit.novelai.image_stream import decode_stream_frame, decode_stream_sse

    if isinstance(event, bytes):
        total("image_stream_event", decode_stream_frame, event)
    else:
        total("image_stream_event", decode_stream_sse, event)


# -- Novita task and training answers -----------------------------------------------------------------------

_TASK = {
    "extra": {"seed": "7", "enable_nsfw_detection": True},
    "task": {
        "task_id": "t-1",
        "status": "TASK_STATUS_SUCCEED",
        "reason": "",
        "task_type": "TXT_TO_IMG",
        "eta": 0,
        "progress_percent": 100,
    },
    "images": [
        {
            "image_url": "https://x/0.png",
            "image_url_ttl": "3600",
            "image_type": "png",
            "nsfw_detection_result": {"valid": True, "confidence": 1.5},
        }
    ],
    "videos": [{"video_url": "https://x/0.mp4", "video_url_ttl": "3600", "video_type": "mp4"}],
    "audios": [],
}
_TRAINING = {
    "task_id": "t-2",
    "task_status": "SUCCESS",
    "model_type": "lora",
    "models": [{"model_name": "m.safetensors", "model_status": "SERVING"}],
    "extra": {"eta_relative": 0, "progress_percent": 100},
}
_MODEL = {"id": 1, "name": "m", "sd_name": "m.safetensors", "type": {"name": "checkpoint"}, "status": 1,
          "base_model": "SDXL", "is_sdxl": True, "source": "civitai", "cover_url": "u"}  # fmt: skip
_USER = {"allow_features": ["a"], "credit_balance": 1000, "free_trial": {"x": 1}}


@given(mutated_json([_TASK, _TRAINING, _MODEL, _USER]))
def test_novita_json(body):
    """Novita's task-result, training status, training task, model and user answers."""
    from naikit.novita.tasks import TaskResult
    from naikit.novita.training import ModelInfo, TrainingStatus, TrainingTask, UserInfo

    out = total("novita_json", TaskResult.from_json, body)
    if isinstance(out, TaskResult):
        total("novita_json", lambda: (out.rows(), repr(out), out.progress, out.image_urls))
    parsers = (TrainingTask.from_json, ModelInfo.from_json, UserInfo.from_json)
    for parse in (lambda b: TrainingStatus.from_json(b, "subject"), *parsers):
        out = total("novita_json", parse, body)
        if not isinstance(out, BaseException):
            total("novita_json", repr, out)
            if hasattr(out, "rows"):
                total("novita_json", out.rows)


# -- login tokens and backup folders ----------------------------------------------------------------------


def _jwt(claims_text: str) -> str:
    def part(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return (
        "ey"
        + part(b'{"alg":"HS256"}')[2:]
        + "."
        + part(claims_text.encode("utf-8", "surrogatepass"))
        + ".sig"
    )


@given(text_of([{"id": "x", "nc": "y", "iat": 1700000000, "exp": 1702592000}]))
@example('{"exp": -1e300}')
@example('{"exp": 1e400}')
def test_token_claims(claims):
    """A login JWT's claims (exp: NaN, -1e300, 10**400, text, deep nesting)."""
    from naikit.novelai.auth import Token

    token = total("token", Token, _jwt(claims))
    if isinstance(token, Token):
        total("token", lambda: token.expires_at)
        total("token", token.check_not_expired, 1_700_000_000.0)
        total("token", repr, token)


def _backup_folder() -> tuple[Path, dict[str, Any], dict[str, Any]]:
    from naikit.novelai.account import UserObject
    from naikit.novelai.backup import _write_folder

    base = Path(tempfile.mkdtemp(prefix="naikit-fuzz-backup-"))
    raw = {"id": "obj1", "type": "presets", "meta": "m", "data": "AAAA", "lastUpdatedAt": 1, "changeIndex": 2}
    obj = UserObject.from_json(raw)
    folder, manifest = _write_folder(base / "backup", "fuzz", KEYSTORES[0], [obj], True, fresh_name=False)
    return folder, manifest, raw


BACKUP, BACKUP_MANIFEST, BACKUP_OBJECT = _backup_folder()
# the object file as the writer wrote it, so a mutated manifest is read beside an intact object
BACKUP_OBJECT_BYTES = {
    n: (BACKUP / n).read_bytes() for n in BACKUP_MANIFEST["files"] if n.startswith("objects/")
}


@given(text_of([BACKUP_MANIFEST]) | text_of([BACKUP_OBJECT]).map(lambda t: ("object", t)))
def test_backup_folder(change):
    """A backup folder whose manifest, or one object file (its digest kept right), was mutated."""
    import hashlib

    from naikit.novelai.backup import MANIFEST, read_backup

    manifest = copy.deepcopy(BACKUP_MANIFEST)
    name = next(n for n in manifest["files"] if n.startswith("objects/"))
    if isinstance(change, tuple):
        data = change[1].encode("utf-8", "surrogateescape")
        (BACKUP / name).write_bytes(data)
        manifest["files"][name] = hashlib.sha256(data).hexdigest()
        (BACKUP / MANIFEST).write_text(json.dumps(manifest))
    else:
        (BACKUP / name).write_bytes(BACKUP_OBJECT_BYTES[name])
        (BACKUP / MANIFEST).write_bytes(change.encode("utf-8", "surrogateescape"))
    total("backup", read_backup, BACKUP)


# -- deep JSON everywhere JSON arrives --------------------------------------------------------------------


@pytest.mark.parametrize("text", DEEP)
def test_deep_json(text):
    from naikit.novelai.content import story_text_of
    from naikit.novelai.presets import Preset
    from naikit.novelai.text import decode_stream_event

    total("deep_json", Preset.from_json, text)
    total("deep_json", decode_stream_event, text, "kayra-v1", use_string=False, validate=True)
    total("deep_json", story_text_of, {"document": base64.b64encode(_nested_msgpack(50000)).decode()})
