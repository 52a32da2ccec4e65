"""Novita.ai emulation (spec: novita.md §2–4, §8): v3 async generation and task results, case endpoints,
video, training (presigned uploads, subject/style tasks, list), the model catalogue and user info.

Paths live under ``/v3/`` (and ``/novita-s3/`` for the emulated S3 bucket), so they never collide with
NovelAI's. Errors use Novita's envelope ``{"code", "reason", "message", "metadata"}``; a missing key is
400 ``MISSING_API_KEY``, an unknown one 403 ``INVALID_API_KEY``; both ``Bearer <key>`` and the bare key
are accepted. The demo key is :data:`~naikit.sandbox.novita_store.DEMO_KEY` (``naikit-demo-key``).

Results are files served at presigned-looking URLs that expire ``url_ttl`` seconds (sandbox clock) after
the task finished; S3's own XML 403 answers an expired or tampered URL. Tasks move with the sandbox clock
(:mod:`naikit.sandbox.novita_store`); put ``sandbox:fail`` in a prompt or training name to see a failure.
Webhooks are not called. This module holds generation, task results, result files and the case endpoints;
the catalogue and account are in :mod:`.novita_models`, training in :mod:`.novita_training`, the shared kit in
:mod:`.novita_http`.
"""

from __future__ import annotations

import base64
import io
import json
import random
import uuid
from typing import Any

from aiohttp import web

from .. import _novita_limits as limits
from . import novita_media as media
from . import novita_store as ns
from .http import STATE, json_response
from .novita_http import (
    MB,
    NovitaError,
    auth,
    bad,
    charge,
    check_signature,
    file_url,
    get_field,
    handler,
    image_field,
    int_field,
    json_body,
    num_field,
    s3_error,
    store_of,
    text_field,
)
from .novita_models import model_names, models_of
from .store import Store

__all__ = ["routes", "NovitaError"]

routes = web.RouteTableDef()


def _check_generation(
    store: Store, account: dict, req: dict[str, Any], now: float, *, checkpoint: bool = True
) -> None:
    models = models_of(store, account["key_hash"], now)
    if checkpoint:
        name = text_field(req, "model_name", 1, 512)
        if name not in model_names(models, "checkpoint"):
            raise bad(f"model_name: unknown checkpoint {name!r} (see GET /v3/model?filter.types=checkpoint)")
    text_field(req, "prompt", 1, 1024)
    text_field(req, "negative_prompt", 1, 1024, required=False)
    int_field(req, "image_num", 1, 8, 1)
    int_field(req, "steps", 1, 100, 20)
    num_field(req, "guidance_scale", 1, 30, 7.5)
    sampler = get_field(req, "sampler_name", "Euler a")
    if sampler not in limits.SAMPLERS:
        raise bad(f"sampler_name: unknown sampler {sampler!r}")
    if get_field(req, "seed") is not None:
        int_field(req, "seed", -1, 2**32 - 1)
    if get_field(req, "clip_skip") is not None:
        int_field(req, "clip_skip", 1, 12)
    vae = get_field(req, "sd_vae")
    if vae and vae not in model_names(models, "vae"):
        raise bad(f"sd_vae: unknown VAE {vae!r}")
    loras = get_field(req, "loras", [])
    if not isinstance(loras, list) or len(loras) > limits.MAX_LORAS:
        raise bad(f"loras: at most {limits.MAX_LORAS} LoRAs")
    lora_names = model_names(models, "lora")
    trained = {
        r["model_name"]: r
        for r in store.query("SELECT * FROM novita_trainings WHERE key_hash = ?", (account["key_hash"],))
    }
    for i, lora in enumerate(loras):
        if not isinstance(lora, dict):
            raise bad(f"loras[{i}] must be an object")
        name = text_field(lora, "model_name", 1, 512, where=f"loras[{i}].")
        num_field(lora, "strength", 0, 1, 1.0, where=f"loras[{i}].")
        if name not in lora_names:
            exact = trained.get(name)
            t = exact or trained.get(f"{name}.safetensors")
            if t is not None:
                st = ns.train_state(t["created_at"], t["train_s"], t["fail_reason"], now)
                full = t["model_name"]
                if st.model_status != "SERVING":
                    hint = "" if exact else f"; once it serves, name it {full!r}"
                    raise bad(
                        f"loras[{i}].model_name: model {full!r} is not serving yet "
                        f"({st.status}, {st.model_status}){hint}"
                    )
                # Serving, but asked for without its file extension: say the one name that works.
                raise bad(
                    f"loras[{i}].model_name: unknown LoRA {name!r}; the trained model is named {full!r}"
                )
            raise bad(f"loras[{i}].model_name: unknown LoRA {name!r}")
    embs = get_field(req, "embeddings", [])
    if not isinstance(embs, list) or len(embs) > limits.MAX_EMBEDDINGS:
        raise bad(f"embeddings: at most {limits.MAX_EMBEDDINGS} embeddings")
    for i, e in enumerate(embs):
        if not isinstance(e, dict) or text_field(
            e, "model_name", 1, 512, where=f"embeddings[{i}]."
        ) not in model_names(models, "textualinversion"):
            raise bad(f"embeddings[{i}].model_name: unknown embedding")


def _extra(body: dict[str, Any]) -> dict[str, Any]:
    extra = get_field(body, "extra", {})
    if not isinstance(extra, dict):
        raise bad("extra must be an object")
    image_type = get_field(extra, "response_image_type", "png")
    if image_type not in limits.IMAGE_TYPES:
        raise bad(f"extra.response_image_type must be one of png, webp, jpeg, got {image_type!r}")
    level = get_field(extra, "nsfw_detection_level", 0)
    if level not in (0, 1, 2):
        raise bad("extra.nsfw_detection_level must be 0, 1 or 2")
    storage = get_field(extra, "custom_storage", {})
    if storage:
        s3 = storage.get("aws_s3") if isinstance(storage, dict) else None
        if not isinstance(s3, dict) or not all(
            isinstance(s3.get(k), str) and s3.get(k) for k in ("region", "bucket", "path")
        ):
            raise NovitaError(
                400, "INVALID_CUSTOM_OUTPUT_PATH", "custom_storage.aws_s3 needs region, bucket and path"
            )
    return {
        "image_type": image_type,
        "nsfw": bool(get_field(extra, "enable_nsfw_detection", False)),
        "custom_storage": bool(storage),
    }


def _create_task(
    request: web.Request,
    account: dict,
    task_type: str,
    params: dict[str, Any],
    *,
    images: int,
    duration: float,
    fail: str = "",
    inputs: dict[str, str] | None = None,
) -> web.Response:
    state = request.app[STATE]
    store = store_of(request)
    task_id = str(uuid.uuid4())
    with store.transaction() as conn:
        charge(store, account, ns.COST_PER_IMAGE * max(1, images))
        conn.execute(
            "INSERT INTO novita_tasks "
            "(task_id, key_hash, task_type, created_at, duration, fail_reason, params, input) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                task_id,
                account["key_hash"],
                task_type,
                state.now(),
                duration,
                fail,
                json.dumps(params),
                json.dumps(inputs).encode() if inputs else None,
            ),
        )
    return json_response({"task_id": task_id})


def _image_task(
    request: web.Request,
    account: dict[str, Any],
    task_type: str,
    params: dict[str, Any],
    inputs: dict[str, str] | None = None,
) -> web.Response:
    """Start an image generation task of ``params["n"]`` images; it fails when its prompt asks to."""
    n = params["n"]
    return _create_task(
        request,
        account,
        task_type,
        params,
        images=n,
        duration=ns.TIMING["run"] + ns.TIMING["per_image"] * n,
        fail=_fail_reason(params["prompt"]),
        inputs=inputs,
    )


def _video_task(
    request: web.Request,
    account: dict[str, Any],
    task_type: str,
    body: dict[str, Any],
    frames: int,
    prompt: str,
    size: tuple[int, int],
    inputs: dict[str, str] | None = None,
) -> web.Response:
    """Start a video task of ``frames`` frames (a GIF of ``size``); it fails when its prompt asks to."""
    params = {
        "kind": "video",
        "frames": frames,
        "seed": _seed(body),
        "prompt": prompt,
        "video_type": "gif",
        "w": size[0],
        "h": size[1],
    }
    return _create_task(
        request,
        account,
        task_type,
        params,
        images=frames,
        duration=ns.TIMING["run"] * 2,
        fail=_fail_reason(prompt),
        inputs=inputs,
    )


def _seed(req: dict[str, Any]) -> int:
    seed = get_field(req, "seed", -1)
    return random.randrange(2**32) if seed == -1 else int(seed)


def _fail_reason(prompt: str | None) -> str:
    return "sandbox: the prompt asked for a failure" if prompt and ns.FAIL_MARK in prompt else ""


# ------------------------------------------------------------------------------------------ generation


async def _task_request(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the ``request`` part of a v3 async body (400 if missing) and its checked ``extra``."""
    body = await json_body(request)
    req = get_field(body, "request")
    if not isinstance(req, dict):
        raise bad("request is required")
    return req, _extra(body)


@routes.post("/v3/async/txt2img")
@handler
async def txt2img(request: web.Request) -> web.Response:
    """Start a text-to-image task."""
    account = auth(request)
    req, extra = await _task_request(request)
    now = request.app[STATE].now()
    _check_generation(store_of(request), account, req, now)
    width, height = int_field(req, "width", 128, 2048, 512), int_field(req, "height", 128, 2048, 512)
    hf = get_field(req, "hires_fix")
    if hf:
        width = int_field(hf, "target_width", 128, 4096, where="hires_fix.")
        height = int_field(hf, "target_height", 128, 4096, where="hires_fix.")
        num_field(hf, "strength", 0, 1, 0.5, where="hires_fix.")
        if get_field(hf, "upscaler", "Latent") not in limits.HIRES_UPSCALERS:
            raise bad("hires_fix.upscaler is unknown")
    if get_field(req, "refiner"):
        num_field(req["refiner"], "switch_at", 0, 1, where="refiner.")
    if get_field(req, "enable_transparent_background") and extra["image_type"] != "png":
        raise bad("enable_transparent_background needs response_image_type png")
    n = int_field(req, "image_num", 1, 8, 1)
    params = {
        "kind": "image",
        "n": n,
        "w": width,
        "h": height,
        "seed": _seed(req),
        "prompt": req["prompt"],
        **extra,
    }
    return _image_task(request, account, "TXT_TO_IMG", params)


@routes.post("/v3/async/img2img")
@handler
async def img2img(request: web.Request) -> web.Response:
    """Start an image-to-image task (16 MP / 10 MB source; ControlNet units in either form)."""
    account = auth(request)
    req, extra = await _task_request(request)
    now = request.app[STATE].now()
    source = image_field(req, "image_base64", max_bytes=10 * MB)
    _check_generation(store_of(request), account, req, now)
    strength = num_field(req, "strength", 0, 1, 0.5, lo_open=True)
    cn = get_field(req, "controlnet")
    units = cn.get("units") if isinstance(cn, dict) else (sum(cn, []) if isinstance(cn, list) else [])
    for i, unit in enumerate(units or []):
        if not isinstance(unit, dict):
            raise bad(f"controlnet.units[{i}] must be an object")
        text_field(unit, "model_name", 1, 256, where=f"controlnet.units[{i}].")
        image_field(unit, "image_base64", max_bytes=10 * MB)
        num_field(unit, "strength", 0, 1, 1.0, where=f"controlnet.units[{i}].")
    ads = get_field(req, "ip_adapters", [])
    if len(ads) > 1:
        raise bad("ip_adapters: at most 1")
    n = int_field(req, "image_num", 1, 8, 1)
    params = {
        "kind": "image",
        "n": n,
        "w": int_field(req, "width", 128, 2048, 512),
        "h": int_field(req, "height", 128, 2048, 512),
        "seed": _seed(req),
        "prompt": req["prompt"],
        "strength": strength,
        **extra,
    }
    inputs = {"image": base64.b64encode(source).decode()}
    return _image_task(request, account, "IMG_TO_IMG", params, inputs)


@routes.post("/v3/async/inpainting")
@handler
async def inpainting(request: web.Request) -> web.Response:
    """Start an inpainting task (image and same-size mask, 16 MP / 30 MB each)."""
    account = auth(request)
    req, extra = await _task_request(request)
    image = image_field(req, "image_base64", max_bytes=30 * MB)
    mask = image_field(req, "mask_image_base64", max_bytes=30 * MB)
    from PIL import Image

    with Image.open(io.BytesIO(image)) as a, Image.open(io.BytesIO(mask)) as b:
        if a.size != b.size:
            raise bad(f"mask_image_base64 is {b.size[0]}x{b.size[1]}, the image {a.size[0]}x{a.size[1]}")
    _check_generation(store_of(request), account, req, request.app[STATE].now())
    if get_field(req, "mask_blur") is not None:
        int_field(req, "mask_blur", 0, 64)
    num_field(req, "initial_noise_multiplier", 0, 1.5, 0.5)
    n = int_field(req, "image_num", 1, 8, 1)
    params = {"kind": "image", "n": n, "seed": _seed(req), "prompt": req["prompt"], **extra}
    inputs = {"image": base64.b64encode(image).decode(), "mask": base64.b64encode(mask).decode()}
    return _image_task(request, account, "INPAINTING", params, inputs)


@routes.post("/v3/async/upscale")
@handler
async def upscale(request: web.Request) -> web.Response:
    """Start an upscale task (source at most 2048x2048 and 30 MB, factor in (1, 4])."""
    account = auth(request)
    req, extra = await _task_request(request)
    if get_field(req, "model_name") not in limits.UPSCALERS:
        raise bad(f"model_name must be one of {', '.join(limits.UPSCALERS)}")
    image = image_field(req, "image_base64", max_bytes=30 * MB, max_side=2048)
    factor = num_field(req, "scale_factor", 1, 4, lo_open=True)
    params = {"kind": "image", "n": 1, "seed": 0, "prompt": "", "scale": factor, **extra}
    return _create_task(
        request,
        account,
        "UPSCALE",
        params,
        images=1,
        duration=ns.TIMING["run"],
        inputs={"image": base64.b64encode(image).decode()},
    )


@routes.post("/v3/async/img2video")
@handler
async def img2video(request: web.Request) -> web.Response:
    """Start an image-to-video task (SVD / SVD-XT)."""
    account = auth(request)
    body = await json_body(request)
    model = get_field(body, "model_name")
    if model not in limits.IMG2VIDEO_MODELS:
        raise bad("model_name must be SVD or SVD-XT")
    frames = int_field(body, "frames_num", 1, 25)
    if frames != limits.IMG2VIDEO_MODELS[model]:
        raise bad(f"frames_num must be {limits.IMG2VIDEO_MODELS[model]} for {model}")
    image = image_field(body, "image_file", max_bytes=30 * MB, max_side=2048)
    int_field(body, "steps", 1, 50)
    inputs = {"image": base64.b64encode(image).decode()}
    return _video_task(request, account, "IMG_TO_VIDEO", body, frames, "", (256, 256), inputs=inputs)


@routes.post("/v3/async/txt2video")
@handler
async def txt2video(request: web.Request) -> web.Response:
    """Start a text-to-video task."""
    account = auth(request)
    body = await json_body(request)
    text_field(body, "model_name", 1, 512)
    prompts = get_field(body, "prompts")
    if not isinstance(prompts, list) or not prompts:
        raise bad("prompts is required")
    total = 0
    for i, p in enumerate(prompts):
        text_field(p, "prompt", 1, 1024, where=f"prompts[{i}].")
        total += int_field(p, "frames", 8, 64, where=f"prompts[{i}].")
    if total > 128:
        raise bad("prompts: at most 128 frames in all")
    w, h = int_field(body, "width", 256, 1024), int_field(body, "height", 256, 1024)
    text = " ".join(p["prompt"] for p in prompts)
    return _video_task(request, account, "TXT_TO_VIDEO", body, total, text, (w, h))


@routes.get("/v3/async/task-result")
@handler
async def task_result(request: web.Request) -> web.Response:
    """Answer a task's status, progress and (once done) its files."""
    account = auth(request)
    task_id = request.query.get("task_id", "")
    if not task_id:
        raise bad("task_id is required")
    store = store_of(request)
    row = store.query_one(
        "SELECT * FROM novita_tasks WHERE task_id = ? AND key_hash = ?", (task_id, account["key_hash"])
    )
    if row is None:
        raise NovitaError(404, "TASK_NOT_FOUND", f"task {task_id} not found")
    p = json.loads(row["params"])
    st = ns.gen_state(row["created_at"], row["duration"], row["fail_reason"], request.app[STATE].now())
    images: list[dict[str, Any]] = []
    videos: list[dict[str, Any]] = []
    if st.status == "TASK_STATUS_SUCCEED" and not p.get("custom_storage"):
        ttl = int(ns.TIMING["url_ttl"])
        done = int(st.finished_at or 0)
        if p["kind"] == "video":
            url = file_url(request, f"/novita-s3/output/{task_id}/0.gif", done, ttl)
            videos.append({"video_url": url, "video_url_ttl": str(ttl), "video_type": p["video_type"]})
        else:
            for i in range(p["n"]):
                url = file_url(request, f"/novita-s3/output/{task_id}/{i}.{p['image_type']}", done, ttl)
                nsfw = (
                    {"valid": True, "confidence": round(random.Random(f"{task_id}{i}").uniform(0, 10), 2)}
                    if p["nsfw"]
                    else None
                )
                images.append(
                    {
                        "image_url": url,
                        "image_url_ttl": str(ttl),
                        "image_type": p["image_type"],
                        "nsfw_detection_result": nsfw,
                    }
                )
    body = {
        "extra": {"seed": str(p.get("seed", 0)), "enable_nsfw_detection": bool(p.get("nsfw"))},
        "task": {
            "task_id": task_id,
            "status": st.status,
            "reason": row["fail_reason"] if st.status.endswith("FAILED") else "",
            "task_type": row["task_type"],
            "eta": st.eta,
            "progress_percent": st.progress,
        },
        "images": images,
        "videos": videos,
        "audios": [],
    }
    return json_response(body)


@routes.get("/novita-s3/output/{task_id}/{name}")
async def output_file(request: web.Request) -> web.Response:
    """Serve one result file at its presigned URL until the URL expires."""
    expires = check_signature(request)
    if expires is None:
        return s3_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match")
    if request.app[STATE].now() > expires:
        return s3_error(403, "AccessDenied", "Request has expired")
    store = store_of(request)
    row = store.query_one("SELECT * FROM novita_tasks WHERE task_id = ?", (request.match_info["task_id"],))
    if row is None:
        return s3_error(404, "NoSuchKey", "The specified key does not exist.")
    p = json.loads(row["params"])
    index_text, _, ext = request.match_info["name"].partition(".")
    inputs = json.loads(row["input"]) if row["input"] else {}
    src = base64.b64decode(inputs["image"]) if "image" in inputs else None
    if p["kind"] == "video":
        data = media.animated_gif(p["seed"], p["w"], p["h"], p["frames"], p["prompt"], src)
        return web.Response(body=data, content_type="image/gif")
    i = int(index_text) if index_text.isdigit() else -1
    if not 0 <= i < p["n"]:
        return s3_error(404, "NoSuchKey", "The specified key does not exist.")
    seed = (p["seed"] + i) % 2**32
    if src is None:  # txt2img (upscale, inpainting and img2img tasks always keep their source)
        im = media.procedural(seed, p["w"], p["h"], p["prompt"])
    elif row["task_type"] == "UPSCALE":
        im = media.upscale(src, p["scale"])
    elif row["task_type"] == "INPAINTING":
        im = media.inpaint(src, base64.b64decode(inputs["mask"]), seed, p["prompt"])
    else:
        im = media.img2img(src, seed, p["w"], p["h"], p["prompt"], p["strength"])
    mime = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}[p["image_type"]]
    return web.Response(body=media.encode(im, p["image_type"]), content_type=mime)


# ------------------------------------------------------------------------------------------ case endpoints


def _case_route(endpoint: str) -> None:
    spec = limits.CASE_ENDPOINTS[endpoint]

    async def answer(request: web.Request) -> web.Response:
        account = auth(request)
        body = await json_body(request)
        images = {
            k: image_field(body, k, max_bytes=spec["max_bytes"], max_side=spec["max_side"])
            for k in spec["images"]
        }
        prompt = text_field(body, "prompt", 1, 1024) if spec.get("prompt") else ""
        store = store_of(request)
        charge(store, account, ns.COST_PER_IMAGE)
        if endpoint == "img2prompt":
            return json_response({"prompt": media.describe(images["image_file"])})
        extra = _extra(body)
        image_type = extra["image_type"]
        if endpoint == "remove-background" and image_type == "jpeg":
            raise bad("remove-background answers png or webp (a JPEG has no transparency)")
        im = media.case_op(endpoint, images, prompt)
        return json_response(
            {"image_file": base64.b64encode(media.encode(im, image_type)).decode(), "image_type": image_type}
        )

    answer.__doc__ = f"Answer /v3/{endpoint} synchronously with a base64 image."
    routes.post(f"/v3/{endpoint}")(handler(answer))


for _endpoint in limits.CASE_ENDPOINTS:
    _case_route(_endpoint)
