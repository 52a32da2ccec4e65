"""The sandbox's image endpoints over real HTTP: deterministic pictures, img2img and inpainting, ZIP type,
metadata, 429 on a concurrent generation, Anlas deducted, validation, streaming and the other tools;
and the client against it (results, budgets, vibe cache, batches waiting out 429s)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import urllib.error
import urllib.request
import zipfile

import pytest

from naikit import sandbox
from naikit.errors import InputError
from naikit.novelai.async_client import AsyncNovelAI
from naikit.novelai.client import NovelAI
from naikit.novelai.image import BudgetExceeded
from naikit.novelai.image_models import ImagePreset
from naikit.novelai.vibes import VibeCache, read_naiv4vibe


@pytest.fixture(scope="module")
def srv():
    s = sandbox.start(test_hooks=True)
    yield s
    s.stop()


@pytest.fixture
def nai(srv):
    c = NovelAI(base_url=srv.url, email=sandbox.DEMO_EMAIL, password=sandbox.DEMO_PASSWORD)
    yield c
    c.close()


def _settings(srv, **kw):
    req = urllib.request.Request(
        srv.url + "/_sandbox/image",
        data=json.dumps(kw).encode(),
        method="PUT",
        headers={"Content-Type": "application/json", **srv.admin_headers},
    )
    return json.loads(urllib.request.urlopen(req).read())


def _tok(nai) -> str:
    nai.subscription()  # logs in (the client resolves credentials on first use)
    return nai.token.value


def _png(size=(512, 768), color=(200, 30, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


SMALL = dict(width=512, height=768, steps=10)


def test_generation_is_deterministic_and_varies_by_seed_and_parameter(nai):
    a = nai.generate_image("1girl", seed=5, **SMALL)[0].image.convert("RGB").tobytes()
    b = nai.generate_image("1girl", seed=5, **SMALL)[0].image.convert("RGB").tobytes()
    c = nai.generate_image("1girl", seed=6, **SMALL)[0].image.convert("RGB").tobytes()
    d = nai.generate_image("1girl", seed=5, scale=9.0, width=512, height=768, steps=10)[0].image.convert(
        "RGB"
    )
    assert a == b and a != c and a != d.tobytes()


def test_zip_content_type_metadata_and_anlas(nai, srv):
    before = nai.subscription().anlas
    preset = ImagePreset.default("v4.5").replace(seed=9, width=1024, height=1536, n_samples=2)
    body = nai.build_image_request("cat", preset)
    url = srv.url + "/ai/generate-image"
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json",
                                          "Authorization": "Bearer " + _tok(nai)})  # fmt: skip
    resp = urllib.request.urlopen(req)
    assert resp.headers["Content-Type"].startswith("application/x-zip-compressed")
    names = zipfile.ZipFile(io.BytesIO(resp.read())).namelist()
    assert names == ["image_0.png", "image_1.png"]
    cost = nai.estimate_image_cost("cat", preset)
    assert cost.total > 0
    assert nai.subscription().anlas == before - cost.total
    res = nai.generate_image("cat", preset)
    assert [g.metadata.seed for g in res] == [9, 10]
    assert res[0].image.info["Software"] == "NovelAI"


def test_img2img_follows_strength_and_inpaint_stays_inside_the_mask(nai):
    from PIL import Image, ImageChops

    src = _png()
    weak = nai.img2img("x", src, strength=0.1, seed=3, **SMALL)[0].image.convert("RGB")
    strong = nai.img2img("x", src, strength=0.9, seed=3, **SMALL)[0].image.convert("RGB")
    red = Image.open(io.BytesIO(src)).convert("RGB")

    def diff(im):
        hist = ImageChops.difference(im, red).convert("L").histogram()
        return sum(i * n for i, n in enumerate(hist))

    assert diff(weak) < diff(strong)
    mask = Image.new("L", (512, 768), 0)
    mask.paste(255, (128, 128, 256, 256))
    out = nai.inpaint("x", src, mask, seed=4, **SMALL)[0].image.convert("RGB")
    changed = ImageChops.difference(out, red).convert("L").point(lambda v: 255 if v else 0)
    assert changed.getbbox() is not None
    bx = changed.getbbox()
    assert bx[0] >= 128 and bx[1] >= 128 and bx[2] <= 256 and bx[3] <= 256


def test_second_concurrent_generation_gets_429_and_client_waits(srv):
    _settings(srv, latency=0.3, concurrency=1)
    try:

        async def main():
            creds = dict(email=sandbox.DEMO_EMAIL, password=sandbox.DEMO_PASSWORD)
            async with AsyncNovelAI(base_url=srv.url, max_concurrent_generations=2, **creds) as c:
                await c.login(sandbox.DEMO_EMAIL, sandbox.DEMO_PASSWORD)
                c.transport.retry = type(c.transport.retry)(backoff=0.05, max_backoff=0.2, attempts=40)
                res = await asyncio.gather(*[c.generate_image("x", seed=i + 1, **SMALL) for i in range(3)])
                return res, c.stats

        res, stats = asyncio.run(main())
        assert [r.seeds[0] for r in res] == [1, 2, 3]
        assert stats.get("retry_429", 0) >= 1  # the sandbox refused the overlapping one; the client waited
    finally:
        _settings(srv, latency=0, concurrency=1)


def test_validation_refuses_before_spending(nai):
    before = nai.subscription().anlas
    for kw in ({"width": 500}, {"steps": 60}, {"sampler": "ddim"}):
        with pytest.raises(InputError):
            nai.generate_image("x", seed=1, **kw)
    with pytest.raises(InputError):
        nai.inpaint("x", _png(), _png((64, 64)), seed=1, **SMALL)
    with pytest.raises(InputError):
        nai.img2img("x", b"\x89PNG broken", seed=1, **SMALL)
    with pytest.raises(BudgetExceeded):
        nai.generate_image("x", seed=1, width=1024, height=1536, n_samples=2, max_anlas=5)
    with pytest.raises(BudgetExceeded):
        nai.generate_images("x", [ImagePreset.default().replace(seed=1, steps=40)] * 3, max_anlas=10)
    assert nai.subscription().anlas == before


def test_sandbox_rejects_bad_bodies_like_the_service(nai, srv):
    body = nai.build_image_request("x", ImagePreset.default().replace(seed=1))
    body["parameters"]["width"] = 100
    url = srv.url + "/ai/generate-image"
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json",
                                          "Authorization": "Bearer " + _tok(nai)})  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 400 and "width" in json.loads(err.value.read())["message"]


@pytest.mark.parametrize("mode", ["msgpack", "sse"])
def test_stream_previews_then_final(nai, mode):
    events = list(nai.generate_image_stream("dog", seed=5, stream=mode, n_samples=2, **SMALL))
    finals = [e for e in events if e.is_final]
    assert [e.sample for e in finals] == [0, 1]
    assert finals[0].image.startswith(b"\x89PNG") and events[0].image.startswith(b"\xff\xd8")
    assert all(not e.is_final for e in events[:3])


def test_vibe_encode_cache_and_naiv4vibe_roundtrip(nai, tmp_path):
    cache = VibeCache(tmp_path / "vibes")
    before = nai.subscription().anlas
    v1 = nai.encode_vibe(_png(), cache=cache)
    v2 = nai.encode_vibe(_png(), cache=cache)
    assert (v1.cached, v2.cached) == (False, True) and v1.encoding == v2.encoding
    assert nai.subscription().anlas == before - 2
    fresh = VibeCache(tmp_path / "vibes")  # a new process would find it on disk
    assert (
        fresh.get(__import__("hashlib").sha256(_png()).hexdigest(), "nai-diffusion-4-5-full", 1.0)
        == v1.encoding
    )
    files = list((tmp_path / "vibes").glob("*.naiv4vibe"))
    assert [v.encoding for v in read_naiv4vibe(files[0], "nai-diffusion-4-5-full")] == [v1.encoding]
    res = nai.generate_image("x", seed=2, vibes=[v1], **SMALL)
    assert res.request["parameters"]["reference_strength_multiple"] == [0.6]


def test_director_tools_upscale_annotate_suggest(nai):
    bg = nai.augment_image("bg-removal", _png((256, 256)))
    assert len(bg) == 3
    emo = nai.augment_image("emotion", _png((256, 256)), emotion="happy", prompt="smile")
    assert emo.request["prompt"] == "happy;;smile"
    with pytest.raises(InputError):
        nai.augment_image("emotion", _png((256, 256)), emotion="bliss")
    up = nai.upscale(_png((128, 96)), scale=4)
    assert up.size == (512, 384)
    assert nai.annotate_image(_png((128, 128)), annotator="midas").size == (128, 128)
    tags = nai.suggest_tags("1girl, ca")
    assert list(tags.columns) == ["tag", "count", "confidence"] and "cat" in set(tags["tag"])
    jp = nai.suggest_tags("cat", lang="jp")
    assert jp.iloc[0]["en_tag"] == "cat"


def test_results_convert_and_save_without_overwriting(nai, tmp_path):
    res = nai.generate_image("x", seed=8, n_samples=2, **SMALL)
    frame = res.to_frame()
    assert list(frame["seed"]) == [8, 9]
    paths = res.save(tmp_path)
    assert paths[0].read_bytes() == res[0].png
    with pytest.raises(InputError):
        res.save(tmp_path)
    assert "<img" in res._repr_html_() and "base64" in res._repr_html_()
    assert base64.b64encode(res[0].png).decode()[:50] not in repr(res.request)


def test_sandbox_admin_settings_validate(srv):
    with pytest.raises(urllib.error.HTTPError):
        _settings(srv, concurrency=0)
    assert _settings(srv, concurrency=1)["concurrency"] == 1


def test_v3_vibes_and_v5_vibe_refused_server_side(nai, srv):
    res = nai.generate_image("x", model="v3", seed=3, vibes=[_png((64, 64))], width=512, height=768)
    assert res.request["parameters"]["reference_information_extracted_multiple"] == [1.0]
    body = nai.build_image_request("x", ImagePreset.default("v5").replace(seed=1))
    body["parameters"]["reference_image_multiple"] = ["AAAA"]
    url = srv.url + "/ai/generate-image"
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json",
                                          "Authorization": "Bearer " + _tok(nai)})  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 400


# Hand-worked from the cost formula (spec §6.10), not from naikit's cost function: for 832x1216,
# r = 1,011,712; per = ceil(2.951823174884865e-6*r + 5.753298233447344e-7*r*steps)
# -> 28 steps: ceil(19.284) = 20, 29 steps: ceil(19.866) = 20, 30 steps: ceil(20.449) = 21;
# SMEA x1.2 -> ceil(25.2) = 26, SMEA+DYN x1.4 -> ceil(29.4) = 30. The demo account is Opus:
# at <= 28 steps and <= 1024x1024 pixels one sample per request is free.
@pytest.mark.parametrize(
    ("model", "steps", "n", "smea", "dyn", "anlas"),
    [
        ("nai-diffusion-3", 28, 2, False, False, 20),
        ("nai-diffusion-3", 29, 1, False, False, 20),
        ("nai-diffusion-3", 30, 1, True, False, 26),
        ("nai-diffusion-3", 30, 2, True, True, 60),
        ("nai-diffusion-4-5-full", 28, 1, False, False, 0),
        ("nai-diffusion-4-5-full", 29, 2, False, False, 40),
    ],
)
def test_sandbox_charges_the_hand_worked_cost(nai, model, steps, n, smea, dyn, anlas):
    preset = ImagePreset.default(model).replace(
        width=832, height=1216, steps=steps, n_samples=n, smea=smea, smea_dyn=dyn, auto_smea=False, seed=3
    )
    before = nai.subscription().anlas
    nai.generate_image("cat", preset)
    assert before - nai.subscription().anlas == anlas
    assert nai.estimate_image_cost("cat", preset).total == anlas


# More sizes, samplers, SMEA and batches, each worked out by hand from the website's own price function
# (January 2026 bundle, chunks/pages/_app-*.js, the function after the sampler lists): for the V3 and V4
# families the sampler plays no part; r = width*height, per image
#   ceil(ceil(2.951823174884865e-6*r + 5.753298233447344e-7*r*steps) * (1.4 SMEA+DYN | 1.2 SMEA | 1)),
# at least 2; an Opus account pays one sample less when r <= 1048576 and steps <= 28. Worked:
#   1024x1024, 28 steps: 3.0952 + 16.8917 = 19.987 -> 20; three samples, one free -> 40
#   1024x1024, 28 steps, one sample -> free -> 0
#   1024x1536, 28 steps: 4.6428 + 25.3377 = 29.980 -> 30 (1,572,864 pixels: not free) -> 30
#   512x512, 50 steps: 0.7738 + 7.5409 = 8.315 -> 9; SMEA 10.8 -> 11; two samples -> 22
#   128x128, 29 steps: 0.0484 + 0.2734 = 0.322 -> 1; the floor of 2 -> 2
#   1024x1024, 40 steps: 3.0952 + 24.1310 = 27.226 -> 28; SMEA+DYN 39.2 -> 40; four samples -> 160
#   832x1216, 30 steps: 2.9864 + 17.4620 = 20.448 -> 21, whatever the sampler -> 21
#   1536x1024, 29 steps: 4.6428 + 26.2426 = 30.885 -> 31; SMEA 37.2 -> 38
#   640x640, 28 steps: 1.2091 + 6.5983 = 7.807 -> 8; four samples, one free -> 24
@pytest.mark.parametrize(
    ("model", "width", "height", "steps", "sampler", "smea", "dyn", "n", "anlas"),
    [
        ("nai-diffusion-3", 1024, 1024, 28, "k_euler_ancestral", False, False, 3, 40),
        ("nai-diffusion-4-5-full", 1024, 1024, 28, "k_euler", False, False, 1, 0),
        ("nai-diffusion-4-5-full", 1024, 1536, 28, "k_euler_ancestral", False, False, 1, 30),
        ("nai-diffusion-3", 512, 512, 50, "k_dpmpp_2m", True, False, 2, 22),
        ("nai-diffusion-3", 128, 128, 29, "k_euler", False, False, 1, 2),
        ("nai-diffusion-3", 1024, 1024, 40, "k_euler", True, True, 4, 160),
        ("nai-diffusion-4-full", 832, 1216, 30, "k_dpmpp_2m", False, False, 1, 21),
        ("nai-diffusion-4-full", 832, 1216, 30, "k_dpmpp_2s_ancestral", False, False, 1, 21),
        ("nai-diffusion-3", 1536, 1024, 29, "k_dpmpp_sde", True, False, 1, 38),
        ("nai-diffusion-4-5-curated", 640, 640, 28, "k_euler_ancestral", False, False, 4, 24),
    ],
)
def test_sandbox_charges_the_websites_price_worked_by_hand(
    nai, model, width, height, steps, sampler, smea, dyn, n, anlas
):
    preset = ImagePreset.default(model).replace(
        width=width, height=height, steps=steps, sampler=sampler, n_samples=n, smea=smea, smea_dyn=dyn,
        auto_smea=False, seed=5,
    )  # fmt: skip
    before = nai.subscription().anlas
    nai.generate_image("cat", preset)
    assert before - nai.subscription().anlas == anlas


# ---- V5: the website's multipart request and the msgpack stream -----------------------------------------


def _frames(raw: bytes) -> list[dict]:
    import msgpack

    out = []
    while raw:
        n = int.from_bytes(raw[:4], "big")
        out.append(msgpack.unpackb(raw[4 : 4 + n], raw=False))
        raw = raw[4 + n :]
    return out


def test_v5_multipart_request_streams_msgpack_frames(nai, srv):
    from naikit.novelai import image_models as im

    body = im.build_request("fox", ImagePreset.default("v5").replace(seed=9, width=512, height=512))
    body["parameters"]["stream"] = "msgpack"
    data, ctype = im.v5_multipart(body)
    auth = "Bearer " + _tok(nai)
    req = urllib.request.Request(srv.url + "/ai/generate-image-stream", data=data, method="POST",
                                 headers={"Content-Type": ctype, "Authorization": auth})  # fmt: skip
    with urllib.request.urlopen(req) as resp:
        assert resp.headers["Content-Type"].startswith("application/x-msgpack")
        frames = _frames(resp.read())
    kinds = [f["event_type"] for f in frames]
    assert kinds[-1] == "final" and set(kinds[:-1]) == {"intermediate"}
    assert frames[-1]["samp_ix"] == 0 and frames[-1]["image"].startswith(b"\x89PNG")
    # a multipart body without the request part, and V5 asked for SSE, are refused with a 400
    bad, bad_type = im.v5_multipart(body)
    bad = bad.replace(b'name="request"', b'name="other"')
    req = urllib.request.Request(srv.url + "/ai/generate-image-stream", data=bad, method="POST",
                                 headers={"Content-Type": bad_type, "Authorization": auth})  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 400 and b"request" in err.value.read()
    with pytest.raises(InputError) as e:
        list(nai.generate_image_stream("fox", model="v5", stream="sse", seed=1))
    assert e.value.field == "stream"


def test_v5_generate_img2img_inpaint_and_stream_through_the_client(nai):
    size = dict(width=512, height=512)
    res = nai.generate_image("fox", model="v5", seed=11, n_samples=2, **size)
    assert len(res.images) == 2 and res.request["parameters"]["ucPresetId"] == "heavy"
    p = res.request["parameters"]
    assert p["params_version"] == 4 and p["stream"] == "msgpack"
    i2i = nai.img2img("fox", _png((512, 512)), model="v5", seed=12, strength=0.5, **size)
    assert len(i2i.images) == 1 and i2i.request["parameters"]["color_correct"] is False
    inp = nai.inpaint("fox", _png((512, 512)), _png((512, 512), (255, 255, 255)), model="v5", seed=13, **size)
    assert inp.request["model"] == "nai-diffusion-5-full-inpainting" and len(inp.images) == 1
    events = list(nai.generate_image_stream("fox", model="v5-curated", seed=14, **size))
    assert events[-1].is_final and events[-1].image.startswith(b"\x89PNG")


def test_sandbox_png_looks_like_a_real_v45_image(nai):
    """The sandbox's PNG passes the reader checks a real V4.5 image passes (tests/test_metadata.py)."""
    from test_metadata import V45_COMMENT, V45_TEXT, independent_read

    from naikit.metadata import read_metadata

    preset = ImagePreset.default("v4.5").replace(seed=11, width=512, height=768, steps=10)
    png = nai.generate_image("1girl, cherry blossoms", preset)[0].png
    from PIL import Image

    im = Image.open(io.BytesIO(png))
    assert im.mode == "RGBA" and list(im.text) == list(V45_TEXT)  # same chunks, same order
    assert im.text["Source"] == "NovelAI Diffusion V4.5 4BDE2A90" and im.text["Software"] == "NovelAI"
    assert float(im.text["Generation_time"]) > 0
    meta = read_metadata(png)
    assert meta.found_in == "text+stealth" and independent_read(png) == dict(im.text)
    # every key a real (non-streamed) V4.5 comment has, in the same order, with the same value types
    real = [k for k in V45_COMMENT if k != "stream"]
    assert list(meta.parameters) == real
    for k in real:
        assert type(meta.parameters[k]) is type(V45_COMMENT[k]) or V45_COMMENT[k] is None, k
    assert meta.parameters["request_type"] == "PromptGenerateRequest"
    assert meta.parameters["uncond_scale"] == 0.0
    assert len(base64.b64decode(meta.parameters["signed_hash"])) == 64 and meta.seed == 11
