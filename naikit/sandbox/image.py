"""Sandbox route table for NovelAI's image area (spec §3.2, §6): generation (ZIP and streaming),
encode-vibe, director tools, upscale, ControlNet annotation and tag suggestions.

Like the service: bodies are validated (400 naming the field), a second generation on an account while
one runs answers 429 "Concurrent generation is locked", Anlas are checked before (402) and deducted
after a generation, and images come back as a ZIP (``application/x-zip-compressed``) of ``image_N.png``
carrying NovelAI metadata (text chunks and the alpha-channel copy).

Sandbox-only knobs (``PUT /_sandbox/image``): ``concurrency`` (generations one account may run at once,
default 1) and ``latency`` (seconds a generation takes while it holds its slot, default 0).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..errors import InputError
from ..metadata import novelai_fields
from ..novelai import image_tables as tables
from ..novelai.image_cost import estimate_augment_cost, estimate_cost
from ..novelai.models import ImageModel, image_model
from . import imagegen
from .access_tokens import authenticate
from .http import STATE, ApiError, SandboxState, json_body, json_response

__all__ = ["routes", "ImageSettings", "settings_for"]

routes = web.RouteTableDef()

ZIP_TYPE = "application/x-zip-compressed"
CONTROLNET_ANNOTATORS = ("hed", "midas", "fake_scribble", "mlsd", "uniformer")
VIBE_ANLAS = 2


@dataclass
class ImageSettings:
    """Per-sandbox image knobs (the running generations are counted by generation_lock)."""

    concurrency: int = 1
    latency: float = 0.0


def settings_for(state: SandboxState) -> ImageSettings:
    """Return the image settings of one sandbox (created on first use, kept on its state object)."""
    s = state.extras.get("image_settings")
    if not isinstance(s, ImageSettings):
        s = state.extras["image_settings"] = ImageSettings()
    return s


@routes.get("/_sandbox/image")
async def get_image_settings(request: web.Request) -> web.Response:
    """Answer the image knobs."""
    s = settings_for(request.app[STATE])
    return json_response({"concurrency": s.concurrency, "latency": s.latency})


@routes.put("/_sandbox/image")
async def put_image_settings(request: web.Request) -> web.Response:
    """Set ``concurrency`` (>= 1) and/or ``latency`` (seconds >= 0)."""
    body = await json_body(request)
    s = settings_for(request.app[STATE])
    if "concurrency" in body:
        c = body["concurrency"]
        if not isinstance(c, int) or isinstance(c, bool) or c < 1:
            raise ApiError(400, "concurrency must be an integer >= 1")
        s.concurrency = c
    if "latency" in body:
        lat = body["latency"]
        if not isinstance(lat, (int, float)) or isinstance(lat, bool) or lat < 0:
            raise ApiError(400, "latency must be a number >= 0")
        s.latency = float(lat)
    return json_response({"concurrency": s.concurrency, "latency": s.latency})


# ---------------------------------------------------------------------------------------------- helpers


def _decode_image(value: Any, name: str) -> Any:
    from PIL import Image

    if not isinstance(value, str) or not value:
        raise ApiError(400, f"{name} should not be empty")
    try:
        raw = base64.b64decode(value, validate=True)
        pil = Image.open(io.BytesIO(raw))
        pil.load()
    except (binascii.Error, ValueError, OSError):
        raise ApiError(400, f"{name} must be a base64-encoded image") from None
    return pil


def _image_model(value: object, message: str) -> ImageModel:
    """Return the image model ``value`` names; ApiError 400 with ``message`` for anything else."""
    if isinstance(value, str):
        try:
            return image_model(value)
        except InputError:
            pass
    raise ApiError(400, message)


def _zip(pngs: list[bytes]) -> web.Response:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for i, png in enumerate(pngs):
            info = zipfile.ZipInfo(f"image_{i}.png", date_time=(2024, 1, 1, 0, 0, 0))
            zf.writestr(info, png)
    return web.Response(body=buf.getvalue(), content_type=ZIP_TYPE)


def _num(params: dict[str, Any], name: str, lo: float, hi: float, *, integer: bool = False) -> Any:
    v = params.get(name)
    kind = int if integer else (int, float)
    if not isinstance(v, kind) or isinstance(v, bool) or not lo <= v <= hi:
        raise ApiError(
            400, f"parameters.{name} must be {'an integer' if integer else 'a number'} in [{lo}, {hi}]"
        )
    return v


@dataclass
class _Job:
    account: Any
    prompt: str
    model: str
    action: str
    params: dict[str, Any]
    cost: int
    source: Any = None
    mask: Any = None


async def _multipart_request(request: web.Request) -> dict[str, Any]:
    """Return the JSON of the ``request`` part of a multipart body (how the V5 website posts a generation)."""
    try:
        form = await request.post()
    except ValueError:
        raise ApiError(400, "multipart body could not be read") from None
    part = form.get("request")
    if part is None:
        raise ApiError(400, "multipart body needs a part named request holding the JSON")
    raw = part.file.read() if hasattr(part, "file") else str(part).encode("utf-8")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the request part is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the request part must be a JSON object")
    return body


async def _parse_generation(request: web.Request, *, stream: bool = False) -> _Job:
    account = authenticate(request)
    if stream and request.content_type == "multipart/form-data":
        body = await _multipart_request(request)
    else:
        body = await json_body(request)
    prompt = body.get("input")
    if not isinstance(prompt, str) or not prompt:
        raise ApiError(400, "input should not be empty")
    model = body.get("model")
    spec = _image_model(model, f"model must be one of the image models (got {model!r})")
    action = body.get("action", "generate")
    if action not in tables.ACTIONS:
        raise ApiError(400, "action must be one of generate, img2img, infill")
    params = body.get("parameters")
    if not isinstance(params, dict):
        raise ApiError(400, "parameters must be an object")
    for name in ("width", "height"):
        v = _num(params, name, 64, tables.MAX_SIDE, integer=True)
        if v % 64:
            raise ApiError(400, f"parameters.{name} must be a multiple of 64")
    w, h = params["width"], params["height"]
    if w * h > tables.MAX_PIXELS:
        raise ApiError(400, "image resolution is too large")
    _num(params, "steps", 1, 50, integer=True)
    _num(params, "n_samples", 1, max(1, tables.max_n_samples(w, h)), integer=True)
    _num(params, "scale", 0, 25 if spec.generation in ("v1", "v2") else 10)
    seed = params.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ApiError(400, "parameters.seed must be an unsigned 32-bit integer")
    sampler = params.get("sampler")
    if sampler not in (*tables.samplers_for(spec), "ddim_v3"):
        raise ApiError(400, f"sampler {sampler!r} is not supported by {spec.value}")
    job = _Job(account, prompt, spec.value, action, params, 0)
    if action in ("img2img", "infill"):
        job.source = _decode_image(params.get("image"), "parameters.image")
        if job.source.size != (w, h):
            raise ApiError(
                400, f"parameters.image must be {w}x{h} (got {job.source.size[0]}x{job.source.size[1]})"
            )
    if action == "infill":
        if not spec.inpainting:
            raise ApiError(400, f"infill needs an inpainting model, not {spec.value}")
        job.mask = _decode_image(params.get("mask"), "parameters.mask")
        if job.mask.size not in ((w, h), (w // 8, h // 8)):
            raise ApiError(
                400, f"parameters.mask must be {w}x{h} (got {job.mask.size[0]}x{job.mask.size[1]})"
            )
    if params.get("director_reference_images") and spec.generation != "v4.5":
        raise ApiError(400, "character reference is only available on V4.5")
    if params.get("reference_image_multiple") and spec.generation == "v5":
        raise ApiError(400, "vibe transfer is not available on V5")
    opus = account.tier == 3 and account.active
    job.cost = estimate_cost({"model": spec.value, "action": action, "parameters": params}, opus=opus).total
    if job.cost > account.anlas:
        raise ApiError(
            402, f"Not enough Anlas: this generation costs {job.cost}, the balance is {account.anlas}"
        )
    return job


def spec_generation(model: str) -> str:
    """Return the generation ("v1" ... "v5") of a validated model value."""
    return image_model(model).generation


def _slot(state: SandboxState, account_id: str):
    """Return the account's image-generation slot (429 when none is free), shared with the text area's
    mechanism in :mod:`naikit.sandbox.generation_lock`."""
    from .generation_lock import generation_slot

    return generation_slot(state, account_id, "image", limit=settings_for(state).concurrency)


def _render_sample(job: _Job, i: int) -> tuple[Any, int]:
    p = job.params
    seed = p.get("seed", 0) + i
    v4 = p.get("v4_prompt") or {}
    prompt = (v4.get("caption") or {}).get("base_caption") or job.prompt
    pic = imagegen.render(prompt, seed, p["width"], p["height"], p)
    if job.action == "img2img":
        pic = imagegen.img2img(job.source, pic, float(p.get("strength", 0.7)))
    elif job.action == "infill":
        pic = imagegen.inpaint(job.source, pic, job.mask)
    return pic, seed


_COMMENT_KEYS = (
    "steps", "height", "width", "scale", "uncond_scale", "cfg_rescale", "seed", "n_samples", "noise_schedule",
    "legacy_v3_extend", "reference_information_extracted_multiple", "reference_strength_multiple", "sampler",
    "controlnet_strength", "dynamic_thresholding", "sm", "sm_dyn", "skip_cfg_above_sigma", "v4_prompt",
    "v4_negative_prompt", "strength", "noise",
)  # fmt: skip

# The Comment of a V4/V4.5/V5 image, key by key in the order real images carry them (public readers that
# model real V4.5 comments list these 44 keys), with the value the service writes when the request left it
# out. "prompt", "seed", "uc", "request_type" and "signed_hash" are filled per image.
_V4_COMMENT: tuple[tuple[str, Any], ...] = (
    ("prompt", None),
    ("steps", 28),
    ("height", 1216),
    ("width", 832),
    ("scale", 5.0),
    ("uncond_scale", 0.0),
    ("cfg_rescale", 0.0),
    ("seed", 0),
    ("n_samples", 1),
    ("noise_schedule", "karras"),
    ("legacy_v3_extend", False),
    ("reference_information_extracted_multiple", []),
    ("reference_strength_multiple", []),
    (
        "extra_passthrough_testing",
        {
            "prompt": None,
            "uc": None,
            "hide_debug_overlay": False,
            "r": 0.0,
            "eta": 1.0,
            "negative_momentum": 0.0,
            "director_reference_images": None,
            "director_reference_descriptions": None,
            "director_reference_information_extracted": None,
            "director_reference_strengths": None,
            "director_reference_secondary_strengths": None,
        },
    ),
    ("v4_prompt", None),
    ("v4_negative_prompt", None),
    ("director_reference_strengths", None),
    ("director_reference_descriptions", None),
    ("director_reference_information_extracted", None),
    ("director_reference_secondary_strengths", None),
    ("sampler", "k_euler_ancestral"),
    ("controlnet_strength", 1.0),
    ("controlnet_model", None),
    ("dynamic_thresholding", False),
    ("dynamic_thresholding_percentile", 0.999),
    ("dynamic_thresholding_mimic_scale", 10.0),
    ("sm", False),
    ("sm_dyn", False),
    ("skip_cfg_above_sigma", None),
    ("skip_cfg_below_sigma", 0.0),
    ("lora_unet_weights", None),
    ("lora_clip_weights", None),
    ("deliberate_euler_ancestral_bug", False),
    ("prefer_brownian", True),
    ("cfg_sched_eligibility", "enable_for_post_summer_samplers"),
    ("explike_fine_detail", False),
    ("minimize_sigma_inf", False),
    ("uncond_per_vibe", True),
    ("wonky_vibe_correlation", True),
    ("version", 1),
    ("uc", ""),
    ("request_type", ""),
    ("signed_hash", ""),
)
_REQUEST_TYPES = {
    "generate": "PromptGenerateRequest",
    "img2img": "Img2ImgRequest",
    "infill": "NativeInfillingRequest",
}


def _signed_hash(comment: dict[str, Any]) -> str:
    """Return a stand-in for NovelAI's signature (64 bytes, base64), fixed for the same parameters."""
    import base64
    import hashlib
    import json

    digest = hashlib.sha512(json.dumps(comment, sort_keys=True).encode("utf-8")).digest()
    return base64.b64encode(digest).decode("ascii")


def _fields(job: _Job, seed: int) -> dict[str, str]:
    if "v4_prompt" in job.params:
        comment = {}
        for key, default in _V4_COMMENT:
            value = job.params.get(key, default)
            comment[key] = float(value) if isinstance(default, float) and isinstance(value, int) else value
        comment["prompt"] = job.prompt
        comment["uncond_scale"] = 0.0  # the service writes 0 whatever the request sent
        comment["seed"] = seed
        comment["uc"] = job.params.get("negative_prompt", "")
        comment["request_type"] = _REQUEST_TYPES[job.action]
        if job.action != "generate":
            comment["strength"] = job.params.get("strength", 0.7)
            comment["noise"] = job.params.get("noise", 0.0)
        comment["signed_hash"] = _signed_hash(comment)
    else:
        comment = {k: job.params[k] for k in _COMMENT_KEYS if k in job.params}
        comment["seed"] = seed
        comment["uc"] = job.params.get("negative_prompt", "")
        comment["request_type"] = _REQUEST_TYPES[job.action]
    # deterministic stand-in for the time the service reports
    gen_time = round(
        0.05 * job.params["steps"] * job.params["width"] * job.params["height"] / (832 * 1216), 3
    )
    return novelai_fields(job.prompt, comment, model=job.model, generation_time=gen_time)


def _charge(state: SandboxState, account_id: str, cost: int) -> None:
    if cost:
        try:
            state.store.adjust_anlas(account_id, -cost)
        except ValueError:
            raise ApiError(402, "Not enough Anlas") from None


@routes.post("/ai/generate-image")
async def generate_image(request: web.Request) -> web.Response:
    """Generate ``n_samples`` pictures; answer a ZIP of PNGs with NovelAI metadata."""
    state = request.app[STATE]
    job = await _parse_generation(request)
    with _slot(state, job.account.id):
        if settings_for(state).latency:
            await asyncio.sleep(settings_for(state).latency)

        def work() -> list[bytes]:
            out = []
            for i in range(job.params["n_samples"]):
                pic, seed = _render_sample(job, i)
                out.append(imagegen.to_png(pic, _fields(job, seed)))
            return out

        pngs = await asyncio.get_running_loop().run_in_executor(None, work)
        _charge(state, job.account.id, job.cost)
    return _zip(pngs)


def _msgpack_frame(event: dict[str, Any]) -> bytes:
    import msgpack

    packed = msgpack.packb(event, use_bin_type=True)
    return len(packed).to_bytes(4, "big") + packed


@routes.post("/ai/generate-image-stream")
async def generate_image_stream(request: web.Request) -> web.StreamResponse:
    """Stream previews and finals: ``parameters.stream`` = "msgpack" (length-prefixed frames) or "sse"."""
    state = request.app[STATE]
    job = await _parse_generation(request, stream=True)
    mode = job.params.get("stream", "msgpack")
    if spec_generation(job.model) == "v5" and mode != "msgpack":
        raise ApiError(400, "parameters.stream must be msgpack on V5")
    if mode not in ("msgpack", "sse"):
        raise ApiError(400, "parameters.stream must be msgpack or sse")
    with _slot(state, job.account.id):
        resp = web.StreamResponse(status=200)
        resp.content_type = "text/event-stream" if mode == "sse" else "application/x-msgpack"
        await resp.prepare(request)
        steps = job.params["steps"]
        preview_steps = sorted({max(0, steps * k // 4 - 1) for k in (1, 2, 3)})
        loop = asyncio.get_running_loop()
        for i in range(job.params["n_samples"]):
            pic, seed = await loop.run_in_executor(None, _render_sample, job, i)
            events: list[dict[str, Any]] = []
            for s in preview_steps:
                prev = imagegen.thumbnail_preview(pic, s, steps)
                events.append({"event_type": "intermediate", "samp_ix": i, "step_ix": s, "gen_id": seed,
                               "sigma": round(14.6 * (1 - (s + 1) / steps), 4), "image": prev})  # fmt: skip
            final = await loop.run_in_executor(None, imagegen.to_png, pic, _fields(job, seed))
            events.append({"event_type": "final", "samp_ix": i, "step_ix": steps - 1, "gen_id": seed,
                           "sigma": 0.0, "image": final})  # fmt: skip
            for ev in events:
                if mode == "sse":
                    ev = dict(ev, image=base64.b64encode(ev["image"]).decode("ascii"))
                    await resp.write(b"data: " + json.dumps(ev).encode() + b"\n\n")
                else:
                    await resp.write(_msgpack_frame(ev))
            if settings_for(state).latency:
                await asyncio.sleep(settings_for(state).latency / job.params["n_samples"])
        _charge(state, job.account.id, job.cost)
        await resp.write_eof()
    return resp


# ------------------------------------------------------------------------------------------ other tools


@routes.post("/ai/encode-vibe")
async def encode_vibe(request: web.Request) -> web.Response:
    """Answer the (opaque, deterministic) vibe encoding of an image; costs 2 Anlas."""
    state = request.app[STATE]
    account = authenticate(request)
    body = await json_body(request)
    pic = _decode_image(body.get("image"), "image")
    spec = _image_model(body.get("model"), "model must be an image model")
    if spec.generation not in ("v4", "v4.5"):
        raise ApiError(400, f"vibe encoding is only available for V4 and V4.5 models, not {spec.value}")
    info = body.get("information_extracted", body.get("informationExtracted", 1.0))
    if not isinstance(info, (int, float)) or isinstance(info, bool) or not 0 < info <= 1:
        raise ApiError(400, "information_extracted must be a number in (0, 1]")
    buf = io.BytesIO()
    pic.convert("RGB").save(buf, format="PNG")
    _charge(state, account.id, VIBE_ANLAS)
    data = imagegen.vibe_encoding(buf.getvalue(), spec.value, float(info))
    return web.Response(body=data, content_type="application/binary")


@routes.post("/ai/augment-image")
async def augment_image(request: web.Request) -> web.Response:
    """Director tools: answer a ZIP (bg-removal: masked, generated and blend pictures)."""
    state = request.app[STATE]
    account = authenticate(request)
    body = await json_body(request)
    tool = body.get("req_type")
    if tool not in tables.DIRECTOR_TOOLS:
        raise ApiError(400, "req_type must be one of " + ", ".join(tables.DIRECTOR_TOOLS))
    pic = _decode_image(body.get("image"), "image")
    w, h = body.get("width"), body.get("height")
    if (w, h) != pic.size:
        raise ApiError(400, f"width/height must be the image's size {pic.size[0]}x{pic.size[1]}")
    w, h = pic.size  # the same numbers, as ints
    if tool in ("colorize", "emotion"):
        defry = body.get("defry", 0)
        if not isinstance(defry, int) or isinstance(defry, bool) or not 0 <= defry <= 5:
            raise ApiError(400, "defry must be an integer in [0, 5]")
        if tool == "emotion":
            mood, sep, _ = str(body.get("prompt", "")).partition(";;")
            if not sep or mood not in tables.EMOTIONS:
                raise ApiError(400, "prompt must be '<emotion>;;<prompt>' with a known emotion")
    opus = account.tier == 3 and account.active
    cost = estimate_augment_cost(tool, w, h, opus=opus).total
    if cost > account.anlas:
        raise ApiError(402, "Not enough Anlas")
    out = imagegen.derived(pic, tool)
    pngs = [imagegen.to_png(out)]
    if tool == "bg-removal":
        pngs += [imagegen.to_png(pic.convert("RGB")), imagegen.to_png(imagegen.derived(pic, "declutter"))]
    _charge(state, account.id, cost)
    return _zip(pngs)


@routes.post("/ai/upscale")
async def upscale(request: web.Request) -> web.Response:
    """Upscale ×2 or ×4 (``{image, width, height, scale}``) or ×2 (``{image, model}``); answer a ZIP."""
    from PIL import Image

    authenticate(request)
    body = await json_body(request)
    pic = _decode_image(body.get("image"), "image")
    scale = body.get("scale", 2)
    if scale not in (2, 4):
        raise ApiError(400, "scale must be 2 or 4")
    if "width" in body and (body.get("width"), body.get("height")) != pic.size:
        raise ApiError(400, "width/height must be the image's size")
    if pic.size[0] * pic.size[1] > 1024 * 1024:
        raise ApiError(400, "image is too large to upscale (max 1024x1024 pixels)")
    big = pic.convert("RGB").resize((pic.size[0] * scale, pic.size[1] * scale), Image.Resampling.LANCZOS)
    return _zip([imagegen.to_png(big)])


@routes.post("/ai/annotate-image")
async def annotate_image(request: web.Request) -> web.Response:
    """ControlNet condition image for V1/V2 (``{model, parameters: {image}}``); answer a ZIP of one PNG."""
    authenticate(request)
    body = await json_body(request)
    model = body.get("model")
    if model not in CONTROLNET_ANNOTATORS:
        raise ApiError(400, "model must be one of " + ", ".join(CONTROLNET_ANNOTATORS))
    params = body.get("parameters")
    if not isinstance(params, dict):
        raise ApiError(400, "parameters must be an object")
    pic = _decode_image(params.get("image"), "parameters.image")
    return _zip([imagegen.to_png(imagegen.derived(pic, model))])


# A small tag vocabulary with made-up counts: enough for suggestions to behave like the service's.
_TAGS = (
    ("1girl", 10000), ("1boy", 10000), ("solo", 10000), ("long hair", 10000), ("looking at viewer", 10000),
    ("smile", 10000), ("short hair", 9800), ("blush", 9700), ("blue eyes", 9300), ("brown hair", 9100),
    ("black hair", 9000), ("blonde hair", 8800), ("red eyes", 8200), ("hat", 7900), ("holding", 7600),
    ("outdoors", 7400), ("sky", 7100), ("cloud", 6900), ("day", 6800), ("night", 5400), ("starry sky", 2600),
    ("landscape", 2400), ("lake", 2100), ("mountain", 3300), ("forest", 3100), ("flower", 6200),
    ("cherry blossoms", 2900), ("cat", 4100), ("cat ears", 5200), ("dog", 2500), ("dress", 7000),
    ("school uniform", 6600), ("sword", 3600), ("city", 2800), ("cityscape", 1900), ("rain", 1700),
    ("snow", 2300), ("sunset", 2000), ("night sky", 1800), ("portrait", 2200), ("upper body", 8000),
    ("full body", 7300), ("scenery", 4000), ("smiling", 900), ("sitting", 6400), ("standing", 7200),
)  # fmt: skip
_JP = {
    "1girl": "女の子",
    "1boy": "男の子",
    "smile": "笑顔",
    "cat": "猫",
    "sky": "空",
    "flower": "花",
    "night": "夜",
}


@routes.get("/ai/generate-image/suggest-tags")
async def suggest_tags(request: web.Request) -> web.Response:
    """Answer tags that start with the prompt's last term, most used first."""
    authenticate(request)
    model = request.query.get("model", "")
    try:
        image_model(model)
    except InputError:
        raise ApiError(400, "model must be an image model") from None
    prompt = request.query.get("prompt", "")
    term = prompt.split(",")[-1].strip().lower()
    if not term:
        raise ApiError(400, "prompt should not be empty")
    hits = [(t, c) for t, c in _TAGS if t.startswith(term) or (" " + term) in (" " + t)]
    hits.sort(key=lambda tc: (tc[0] != term, not tc[0].startswith(term), -tc[1], tc[0]))
    if request.query.get("lang") == "jp":
        return json_response([{"jp_tag": _JP.get(t, t), "en_tag": t, "power": c} for t, c in hits[:10]])
    total = sum(c for _, c in hits) or 1
    tags = [{"tag": t, "count": c, "confidence": round(c / total, 6)} for t, c in hits[:10]]
    return json_response({"tags": tags})
