"""Novita.ai emulation (spec: novita.md §2–4, §8): v3 async generation and task results, case endpoints,
video, training (presigned uploads, subject/style tasks, list), the model catalogue and user info.

Paths live under ``/v3/`` (and ``/novita-s3/`` for the emulated S3 bucket), so they never collide with
NovelAI's. Errors use Novita's envelope ``{"code", "reason", "message", "metadata"}``; a missing key is
400 ``MISSING_API_KEY``, an unknown one 403 ``INVALID_API_KEY``; both ``Bearer <key>`` and the bare key
are accepted. The demo key is :data:`~naikit.sandbox.novita_store.DEMO_KEY` (``naikit-demo-key``).

Results are files served at presigned-looking URLs that expire ``url_ttl`` seconds (sandbox clock) after
the task finished; S3's own XML 403 answers an expired or tampered URL. Tasks move with the sandbox clock
(:mod:`naikit.sandbox.novita_store`); put ``sandbox:fail`` in a prompt or training name to see a failure.
Webhooks are not called.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import json
import math
import random
import secrets
import uuid
from typing import Any

from aiohttp import web

from .. import _novita_limits as limits
from . import novita_media as media
from . import novita_store as ns
from .app import STATE, ApiError, json_response, parse_json, read_body
from .store import Store, secret_hash

__all__ = ["routes", "NovitaError"]

routes = web.RouteTableDef()
MB = 1024 * 1024


class NovitaError(Exception):
    """Raise in a Novita handler to answer Novita's error envelope."""

    def __init__(self, status: int, reason: str, message: str, metadata: dict[str, Any] | None = None):
        self.status, self.reason, self.message, self.metadata = status, reason, message, metadata or {}
        super().__init__(f"{status} {reason}: {message}")


def _bad(message: str, reason: str = "INVALID_REQUEST_BODY") -> NovitaError:
    return NovitaError(400, reason, message)


def _handler(fn: Any) -> Any:
    @functools.wraps(fn)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await fn(request)
        except NovitaError as exc:
            body = {
                "code": exc.status,
                "reason": exc.reason,
                "message": exc.message,
                "metadata": exc.metadata,
            }
            return json_response(body, status=exc.status)

    return wrapper


def _store(request: web.Request) -> Store:
    store = request.app[STATE].store
    ns.ensure(store)
    return store


def _auth(request: web.Request) -> dict[str, Any]:
    header = request.headers.get("Authorization", "").strip()
    if not header:
        raise NovitaError(400, "MISSING_API_KEY", "missing API key: send 'Authorization: Bearer <key>'")
    scheme, _, rest = header.partition(" ")
    key = rest.strip() if scheme.lower() == "bearer" else header
    account = ns.key_account(_store(request), key) if key else None
    if account is None:
        raise NovitaError(403, "INVALID_API_KEY", "invalid API key")
    return account


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await read_body(request)
    try:
        body = parse_json(raw) if raw.strip() else None
    except ApiError as exc:  # invalid JSON, NaN, lone surrogates: Novita's envelope, same reasons
        raise _bad(exc.message) from None
    if not isinstance(body, dict):
        raise _bad("request body must be a JSON object")
    return body


def _get(d: dict[str, Any], name: str, default: Any = None) -> Any:
    # the official SDK sends explicit nulls for unset fields: null means absent
    v = d.get(name)
    return default if v is None else v


def _int(d: dict, name: str, lo: int | None, hi: int | None, default: Any = None, *, where: str = "") -> Any:
    v = _get(d, name, default)
    if v is None:
        raise _bad(f"{where}{name} is required")
    if isinstance(v, bool) or not isinstance(v, int) and not (isinstance(v, float) and v.is_integer()):
        raise _bad(f"{where}{name} must be an integer")
    v = int(v)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise _bad(f"{where}{name} must be between {lo} and {hi}, got {v}")
    return v


def _num(
    d: dict, name: str, lo: float, hi: float, default: Any = None, *, where: str = "", lo_open: bool = False
) -> Any:
    v = _get(d, name, default)
    if v is None:
        raise _bad(f"{where}{name} is required")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _bad(f"{where}{name} must be a number")
    if v < lo or v > hi or (lo_open and v == lo):
        raise _bad(f"{where}{name} must be between {lo} and {hi}, got {v}")
    return v


def _text(d: dict, name: str, lo: int = 1, hi: int = 1024, *, required: bool = True, where: str = "") -> Any:
    v = _get(d, name)
    if v is None or v == "":
        if required:
            raise _bad(f"{where}{name} is required")
        return None
    if not isinstance(v, str) or not lo <= len(v) <= hi:
        raise _bad(f"{where}{name} must be a string of {lo} to {hi} characters")
    return v


def _image(
    d: dict, name: str, *, max_bytes: int, max_pixels: int = 16_000_000, max_side: int | None = None
) -> bytes:
    text = _get(d, name)
    if not isinstance(text, str) or not text:
        raise _bad(f"{name} is required")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NovitaError(400, "INVALID_IMAGE_FORMAT", f"{name} is not valid base64") from None
    if len(raw) > max_bytes:
        raise NovitaError(400, "IMAGE_FILE_EXCEEDS_MAX_SIZE", f"{name} exceeds {max_bytes // MB} MB")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(raw)) as im:
            w, h = im.size
    except Exception:
        raise NovitaError(400, "INVALID_IMAGE_FORMAT", f"{name} is not an image") from None
    if w * h > max_pixels or (max_side is not None and max(w, h) > max_side):
        raise NovitaError(400, "IMAGE_EXCEEDS_MAX_RESOLUTION", f"{name} is {w}x{h}, over the limit")
    return raw


def _models_of(store: Store, key_hash: str, now: float) -> list[dict[str, Any]]:
    """Return the public catalogue plus this key's trained models that are SERVING."""
    out = list(ns.CATALOGUE)
    for i, row in enumerate(
        store.query("SELECT * FROM novita_trainings WHERE key_hash = ? ORDER BY seq", (key_hash,))
    ):
        st = ns.train_state(row["created_at"], row["train_s"], row["fail_reason"], now)
        if st.model_status == "SERVING":
            sd = row["model_name"]
            out.append(
                {
                    **ns._model(
                        900_000 + i,
                        row["name"],
                        sd,
                        "lora",
                        "SDXL 1.0" if "xl" in row["base_model"].lower() else "SD 1.5",
                        "xl" in row["base_model"].lower(),
                    ),
                    "sd_name_in_api": sd,
                    "source": "training",
                    "visibility": "private",
                }
            )
    return out


def _names(models: list[dict[str, Any]], type_: str) -> set[str]:
    out: set[str] = set()
    for m in models:
        if m["type"]["name"] == type_:
            out |= {m["sd_name"], m["sd_name_in_api"]}
    return out


def _check_generation(
    store: Store, account: dict, req: dict[str, Any], now: float, *, checkpoint: bool = True
) -> None:
    models = _models_of(store, account["key_hash"], now)
    if checkpoint:
        name = _text(req, "model_name", 1, 512)
        if name not in _names(models, "checkpoint"):
            raise _bad(f"model_name: unknown checkpoint {name!r} (see GET /v3/model?filter.types=checkpoint)")
    _text(req, "prompt", 1, 1024)
    _text(req, "negative_prompt", 1, 1024, required=False)
    _int(req, "image_num", 1, 8, 1)
    _int(req, "steps", 1, 100, 20)
    _num(req, "guidance_scale", 1, 30, 7.5)
    sampler = _get(req, "sampler_name", "Euler a")
    if sampler not in limits.SAMPLERS:
        raise _bad(f"sampler_name: unknown sampler {sampler!r}")
    if _get(req, "seed") is not None:
        _int(req, "seed", -1, 2**32 - 1)
    if _get(req, "clip_skip") is not None:
        _int(req, "clip_skip", 1, 12)
    vae = _get(req, "sd_vae")
    if vae and vae not in _names(models, "vae"):
        raise _bad(f"sd_vae: unknown VAE {vae!r}")
    loras = _get(req, "loras", [])
    if not isinstance(loras, list) or len(loras) > limits.MAX_LORAS:
        raise _bad(f"loras: at most {limits.MAX_LORAS} LoRAs")
    lora_names = _names(models, "lora")
    trained = {
        r["model_name"]: r
        for r in store.query("SELECT * FROM novita_trainings WHERE key_hash = ?", (account["key_hash"],))
    }
    for i, lora in enumerate(loras):
        if not isinstance(lora, dict):
            raise _bad(f"loras[{i}] must be an object")
        name = _text(lora, "model_name", 1, 512, where=f"loras[{i}].")
        _num(lora, "strength", 0, 1, 1.0, where=f"loras[{i}].")
        if name not in lora_names:
            exact = trained.get(name)
            t = exact or trained.get(f"{name}.safetensors")
            if t is not None:
                st = ns.train_state(t["created_at"], t["train_s"], t["fail_reason"], now)
                full = t["model_name"]
                if st.model_status != "SERVING":
                    hint = "" if exact else f"; once it serves, name it {full!r}"
                    raise _bad(
                        f"loras[{i}].model_name: model {full!r} is not serving yet "
                        f"({st.status}, {st.model_status}){hint}"
                    )
                # Serving, but asked for without its file extension: say the one name that works.
                raise _bad(
                    f"loras[{i}].model_name: unknown LoRA {name!r}; the trained model is named {full!r}"
                )
            raise _bad(f"loras[{i}].model_name: unknown LoRA {name!r}")
    embs = _get(req, "embeddings", [])
    if not isinstance(embs, list) or len(embs) > limits.MAX_EMBEDDINGS:
        raise _bad(f"embeddings: at most {limits.MAX_EMBEDDINGS} embeddings")
    for i, e in enumerate(embs):
        if not isinstance(e, dict) or _text(e, "model_name", 1, 512, where=f"embeddings[{i}].") not in _names(
            models, "textualinversion"
        ):
            raise _bad(f"embeddings[{i}].model_name: unknown embedding")


def _extra(body: dict[str, Any]) -> dict[str, Any]:
    extra = _get(body, "extra", {})
    if not isinstance(extra, dict):
        raise _bad("extra must be an object")
    image_type = _get(extra, "response_image_type", "png")
    if image_type not in limits.IMAGE_TYPES:
        raise _bad(f"extra.response_image_type must be one of png, webp, jpeg, got {image_type!r}")
    level = _get(extra, "nsfw_detection_level", 0)
    if level not in (0, 1, 2):
        raise _bad("extra.nsfw_detection_level must be 0, 1 or 2")
    storage = _get(extra, "custom_storage", {})
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
        "nsfw": bool(_get(extra, "enable_nsfw_detection", False)),
        "custom_storage": bool(storage),
    }


def _charge(store: Store, account: dict, cost: int) -> None:
    with store.transaction() as conn:
        row = conn.execute(
            "SELECT credit_balance FROM novita_keys WHERE key_hash = ?", (account["key_hash"],)
        ).fetchone()
        if row["credit_balance"] < cost:
            raise NovitaError(
                400, "BILLING_BALANCE_NOT_ENOUGH", f"balance {row['credit_balance']} is below the cost {cost}"
            )
        conn.execute(
            "UPDATE novita_keys SET credit_balance = credit_balance - ? WHERE key_hash = ?",
            (cost, account["key_hash"]),
        )


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
    store = _store(request)
    task_id = str(uuid.uuid4())
    with store.transaction() as conn:
        _charge(store, account, ns.COST_PER_IMAGE * max(1, images))
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


def _seed(req: dict[str, Any]) -> int:
    seed = _get(req, "seed", -1)
    return random.randrange(2**32) if seed == -1 else int(seed)


def _fail_reason(prompt: str | None) -> str:
    return "sandbox: the prompt asked for a failure" if prompt and ns.FAIL_MARK in prompt else ""


# ------------------------------------------------------------------------------------------ generation


async def _task_request(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the ``request`` part of a v3 async body (400 if missing) and its checked ``extra``."""
    body = await _body(request)
    req = _get(body, "request")
    if not isinstance(req, dict):
        raise _bad("request is required")
    return req, _extra(body)


@routes.post("/v3/async/txt2img")
@_handler
async def txt2img(request: web.Request) -> web.Response:
    """Start a text-to-image task."""
    account = _auth(request)
    req, extra = await _task_request(request)
    now = request.app[STATE].now()
    _check_generation(_store(request), account, req, now)
    width, height = _int(req, "width", 128, 2048, 512), _int(req, "height", 128, 2048, 512)
    hf = _get(req, "hires_fix")
    if hf:
        width = _int(hf, "target_width", 128, 4096, where="hires_fix.")
        height = _int(hf, "target_height", 128, 4096, where="hires_fix.")
        _num(hf, "strength", 0, 1, 0.5, where="hires_fix.")
        if _get(hf, "upscaler", "Latent") not in limits.HIRES_UPSCALERS:
            raise _bad("hires_fix.upscaler is unknown")
    if _get(req, "refiner"):
        _num(req["refiner"], "switch_at", 0, 1, where="refiner.")
    if _get(req, "enable_transparent_background") and extra["image_type"] != "png":
        raise _bad("enable_transparent_background needs response_image_type png")
    n = _int(req, "image_num", 1, 8, 1)
    params = {
        "kind": "image",
        "n": n,
        "w": width,
        "h": height,
        "seed": _seed(req),
        "prompt": req["prompt"],
        **extra,
    }
    return _create_task(
        request,
        account,
        "TXT_TO_IMG",
        params,
        images=n,
        duration=ns.TIMING["run"] + ns.TIMING["per_image"] * n,
        fail=_fail_reason(req["prompt"]),
    )


@routes.post("/v3/async/img2img")
@_handler
async def img2img(request: web.Request) -> web.Response:
    """Start an image-to-image task (16 MP / 10 MB source; ControlNet units in either form)."""
    account = _auth(request)
    req, extra = await _task_request(request)
    now = request.app[STATE].now()
    source = _image(req, "image_base64", max_bytes=10 * MB)
    _check_generation(_store(request), account, req, now)
    strength = _num(req, "strength", 0, 1, 0.5, lo_open=True)
    cn = _get(req, "controlnet")
    units = cn.get("units") if isinstance(cn, dict) else (sum(cn, []) if isinstance(cn, list) else [])
    for i, unit in enumerate(units or []):
        if not isinstance(unit, dict):
            raise _bad(f"controlnet.units[{i}] must be an object")
        _text(unit, "model_name", 1, 256, where=f"controlnet.units[{i}].")
        _image(unit, "image_base64", max_bytes=10 * MB)
        _num(unit, "strength", 0, 1, 1.0, where=f"controlnet.units[{i}].")
    ads = _get(req, "ip_adapters", [])
    if len(ads) > 1:
        raise _bad("ip_adapters: at most 1")
    n = _int(req, "image_num", 1, 8, 1)
    params = {
        "kind": "image",
        "n": n,
        "w": _int(req, "width", 128, 2048, 512),
        "h": _int(req, "height", 128, 2048, 512),
        "seed": _seed(req),
        "prompt": req["prompt"],
        "strength": strength,
        **extra,
    }
    inputs = {"image": base64.b64encode(source).decode()}
    return _create_task(
        request,
        account,
        "IMG_TO_IMG",
        params,
        images=n,
        duration=ns.TIMING["run"] + ns.TIMING["per_image"] * n,
        fail=_fail_reason(req["prompt"]),
        inputs=inputs,
    )


@routes.post("/v3/async/inpainting")
@_handler
async def inpainting(request: web.Request) -> web.Response:
    """Start an inpainting task (image and same-size mask, 16 MP / 30 MB each)."""
    account = _auth(request)
    req, extra = await _task_request(request)
    image = _image(req, "image_base64", max_bytes=30 * MB)
    mask = _image(req, "mask_image_base64", max_bytes=30 * MB)
    from PIL import Image

    with Image.open(io.BytesIO(image)) as a, Image.open(io.BytesIO(mask)) as b:
        if a.size != b.size:
            raise _bad(f"mask_image_base64 is {b.size[0]}x{b.size[1]}, the image {a.size[0]}x{a.size[1]}")
    _check_generation(_store(request), account, req, request.app[STATE].now())
    if _get(req, "mask_blur") is not None:
        _int(req, "mask_blur", 0, 64)
    _num(req, "initial_noise_multiplier", 0, 1.5, 0.5)
    n = _int(req, "image_num", 1, 8, 1)
    params = {"kind": "image", "n": n, "seed": _seed(req), "prompt": req["prompt"], **extra}
    inputs = {"image": base64.b64encode(image).decode(), "mask": base64.b64encode(mask).decode()}
    return _create_task(
        request,
        account,
        "INPAINTING",
        params,
        images=n,
        duration=ns.TIMING["run"] + ns.TIMING["per_image"] * n,
        fail=_fail_reason(req["prompt"]),
        inputs=inputs,
    )


@routes.post("/v3/async/upscale")
@_handler
async def upscale(request: web.Request) -> web.Response:
    """Start an upscale task (source at most 2048x2048 and 30 MB, factor in (1, 4])."""
    account = _auth(request)
    req, extra = await _task_request(request)
    if _get(req, "model_name") not in limits.UPSCALERS:
        raise _bad(f"model_name must be one of {', '.join(limits.UPSCALERS)}")
    image = _image(req, "image_base64", max_bytes=30 * MB, max_side=2048)
    factor = _num(req, "scale_factor", 1, 4, lo_open=True)
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
@_handler
async def img2video(request: web.Request) -> web.Response:
    """Start an image-to-video task (SVD / SVD-XT)."""
    account = _auth(request)
    body = await _body(request)
    model = _get(body, "model_name")
    if model not in limits.IMG2VIDEO_MODELS:
        raise _bad("model_name must be SVD or SVD-XT")
    frames = _int(body, "frames_num", 1, 25)
    if frames != limits.IMG2VIDEO_MODELS[model]:
        raise _bad(f"frames_num must be {limits.IMG2VIDEO_MODELS[model]} for {model}")
    image = _image(body, "image_file", max_bytes=30 * MB, max_side=2048)
    _int(body, "steps", 1, 50)
    params = {
        "kind": "video",
        "frames": frames,
        "seed": _seed(body),
        "prompt": "",
        "video_type": "gif",
        "w": 256,
        "h": 256,
    }
    return _create_task(
        request,
        account,
        "IMG_TO_VIDEO",
        params,
        images=frames,
        duration=ns.TIMING["run"] * 2,
        inputs={"image": base64.b64encode(image).decode()},
    )


@routes.post("/v3/async/txt2video")
@_handler
async def txt2video(request: web.Request) -> web.Response:
    """Start a text-to-video task."""
    account = _auth(request)
    body = await _body(request)
    _text(body, "model_name", 1, 512)
    prompts = _get(body, "prompts")
    if not isinstance(prompts, list) or not prompts:
        raise _bad("prompts is required")
    total = 0
    for i, p in enumerate(prompts):
        _text(p, "prompt", 1, 1024, where=f"prompts[{i}].")
        total += _int(p, "frames", 8, 64, where=f"prompts[{i}].")
    if total > 128:
        raise _bad("prompts: at most 128 frames in all")
    w, h = _int(body, "width", 256, 1024), _int(body, "height", 256, 1024)
    text = " ".join(p["prompt"] for p in prompts)
    params = {
        "kind": "video",
        "frames": total,
        "seed": _seed(body),
        "prompt": text,
        "video_type": "gif",
        "w": w,
        "h": h,
    }
    return _create_task(
        request,
        account,
        "TXT_TO_VIDEO",
        params,
        images=total,
        duration=ns.TIMING["run"] * 2,
        fail=_fail_reason(text),
    )


def _file_url(request: web.Request, path: str, signed_at: int, ttl: int) -> str:
    store = _store(request)
    expires = signed_at + ttl
    sig = ns.sign(store, path, expires)
    origin = str(request.url.origin())
    return (
        f"{origin}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={signed_at}&X-Amz-Expires={ttl}"
        f"&X-Amz-Signature={sig}"
    )


@routes.get("/v3/async/task-result")
@_handler
async def task_result(request: web.Request) -> web.Response:
    """Answer a task's status, progress and (once done) its files."""
    account = _auth(request)
    task_id = request.query.get("task_id", "")
    if not task_id:
        raise _bad("task_id is required")
    store = _store(request)
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
            url = _file_url(request, f"/novita-s3/output/{task_id}/0.gif", done, ttl)
            videos.append({"video_url": url, "video_url_ttl": str(ttl), "video_type": p["video_type"]})
        else:
            for i in range(p["n"]):
                url = _file_url(request, f"/novita-s3/output/{task_id}/{i}.{p['image_type']}", done, ttl)
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


def _s3_error(status: int, code: str, message: str) -> web.Response:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return web.Response(status=status, text=xml, content_type="application/xml")


def _check_signature(request: web.Request) -> int | None:
    """Return the expiry of a valid presigned URL, or None if its signature does not match."""
    q = request.query
    try:
        expires = int(q["X-Amz-Date"]) + int(q["X-Amz-Expires"])
    except (KeyError, ValueError):
        return None
    expected = ns.sign(_store(request), request.path, expires)
    return expires if secrets.compare_digest(expected, q.get("X-Amz-Signature", "")) else None


@routes.get("/novita-s3/output/{task_id}/{name}")
async def output_file(request: web.Request) -> web.Response:
    """Serve one result file at its presigned URL until the URL expires."""
    expires = _check_signature(request)
    if expires is None:
        return _s3_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match")
    if request.app[STATE].now() > expires:
        return _s3_error(403, "AccessDenied", "Request has expired")
    store = _store(request)
    row = store.query_one("SELECT * FROM novita_tasks WHERE task_id = ?", (request.match_info["task_id"],))
    if row is None:
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    p = json.loads(row["params"])
    index_text, _, ext = request.match_info["name"].partition(".")
    inputs = json.loads(row["input"]) if row["input"] else {}
    src = base64.b64decode(inputs["image"]) if "image" in inputs else None
    if p["kind"] == "video":
        data = media.animated_gif(p["seed"], p["w"], p["h"], p["frames"], p["prompt"], src)
        return web.Response(body=data, content_type="image/gif")
    i = int(index_text) if index_text.isdigit() else -1
    if not 0 <= i < p["n"]:
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
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

    async def handler(request: web.Request) -> web.Response:
        account = _auth(request)
        body = await _body(request)
        images = {
            k: _image(body, k, max_bytes=spec["max_bytes"], max_side=spec["max_side"]) for k in spec["images"]
        }
        prompt = _text(body, "prompt", 1, 1024) if spec.get("prompt") else ""
        store = _store(request)
        _charge(store, account, ns.COST_PER_IMAGE)
        if endpoint == "img2prompt":
            return json_response({"prompt": media.describe(images["image_file"])})
        extra = _extra(body)
        image_type = extra["image_type"]
        if endpoint == "remove-background" and image_type == "jpeg":
            raise _bad("remove-background answers png or webp (a JPEG has no transparency)")
        im = media.case_op(endpoint, images, prompt)
        return json_response(
            {"image_file": base64.b64encode(media.encode(im, image_type)).decode(), "image_type": image_type}
        )

    handler.__doc__ = f"Answer /v3/{endpoint} synchronously with a base64 image."
    routes.post(f"/v3/{endpoint}")(_handler(handler))


for _endpoint in limits.CASE_ENDPOINTS:
    _case_route(_endpoint)


# ------------------------------------------------------------------------------------------ models, user


def _bool_param(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise _bad(f"boolean expected, got {value!r}")


@routes.get("/v3/model")
@_handler
async def models(request: web.Request) -> web.Response:
    """List models with filters and cursor pagination (opaque cursors; the SDK's ``c_<n>`` works too)."""
    account = _auth(request)
    q = request.query
    limit = q.get("pagination.limit", "100")
    if not limit.isdigit() or not 0 < int(limit) <= 100:
        raise _bad("pagination.limit must be in (0, 100]")
    offset = ns.decode_cursor(q.get("pagination.cursor"))
    if offset is None:
        raise _bad(f"pagination.cursor {q.get('pagination.cursor')!r} is not a cursor this server gave out")
    items = _models_of(_store(request), account["key_hash"], request.app[STATE].now())
    types = q.get("filter.types") or q.get("filter.type")
    if types:
        items = [m for m in items if m["type"]["name"] in types.split(",")]
    for key in ("visibility", "source"):
        if q.get(f"filter.{key}"):
            items = [m for m in items if m[key] == q[f"filter.{key}"]]
    sdxl = _bool_param(q.get("filter.is_sdxl"))
    if sdxl is not None:
        items = [m for m in items if m["is_sdxl"] == sdxl]
    inpainting = _bool_param(q.get("filter.is_inpainting"))
    if inpainting:
        items = [m for m in items if m["base_model_type"] == "Inpainting"]
    if q.get("filter.query"):
        needle = q["filter.query"].lower()
        items = [
            m
            for m in items
            if needle in m["sd_name"].lower()
            or needle in m["name"].lower()
            or any(needle in t for t in m["tags"])
        ]
    page = items[offset : offset + int(limit)]
    more = offset + int(limit) < len(items)
    return json_response(
        {"models": page, "pagination": {"next_cursor": ns.encode_cursor(offset + int(limit)) if more else ""}}
    )


@routes.get("/v3/user")
@_handler
async def user(request: web.Request) -> web.Response:
    """Answer the key's features and credit balance."""
    account = _auth(request)
    row = _store(request).query_one(
        "SELECT credit_balance FROM novita_keys WHERE key_hash = ?", (account["key_hash"],)
    )
    if row is None:  # the key was removed since _auth read it
        raise NovitaError(403, "INVALID_API_KEY", "invalid API key")
    return json_response(
        {
            "allow_features": ["txt2img", "img2img", "inpainting", "upscale", "training", "video"],
            "credit_balance": row["credit_balance"],
            "free_trial": {},
        }
    )


# ------------------------------------------------------------------------------------------ training


@routes.post("/v3/assets/training_dataset")
@_handler
async def training_asset(request: web.Request) -> web.Response:
    """Hand out a presigned PUT URL for one training image."""
    account = _auth(request)
    body = await _body(request)
    ext = _get(body, "file_extension", "png")
    if ext not in ("png", "jpeg", "webp"):
        raise _bad("file_extension must be png, jpeg or webp")
    assets_id = secrets.token_hex(16)
    store = _store(request)
    now = request.app[STATE].now()
    store.execute(
        "INSERT INTO novita_assets (assets_id, key_hash, ext, created_at) VALUES (?, ?, ?, ?)",
        (assets_id, account["key_hash"], ext, now),
    )
    url = _file_url(request, f"/novita-s3/training/{assets_id}.{ext}", int(now), int(ns.TIMING["upload_ttl"]))
    return json_response(
        {
            "assets_id": assets_id,
            "upload_url": url,
            "method": "PUT",
            "headers": {"Host": {"values": [request.host]}},
        }
    )


@routes.put("/novita-s3/training/{name}")
async def upload_asset(request: web.Request) -> web.Response:
    """Store the bytes of a training image at its presigned URL (no Authorization, like S3)."""
    expires = _check_signature(request)
    if expires is None:
        return _s3_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match")
    if request.app[STATE].now() > expires:
        return _s3_error(403, "AccessDenied", "Request has expired")
    assets_id = request.match_info["name"].split(".", 1)[0]
    data = bytes(await read_body(request))
    if len(data) > 30 * MB:
        return _s3_error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
    _store(request).execute("UPDATE novita_assets SET data = ? WHERE assets_id = ?", (data, assets_id))
    return web.Response(status=200, headers={"ETag": '"' + secret_hash(data.hex())[:32] + '"'})


def _expert(body: dict[str, Any], kind: str) -> int:
    es = _get(body, "expert_setting", {})
    if not isinstance(es, dict):
        raise _bad("expert_setting must be an object")
    w = "expert_setting."
    if kind == "subject":
        _text(es, "instance_prompt", 1, 1024, where=w)
        if _get(es, "class_prompt") != "person":
            raise _bad("expert_setting.class_prompt must be 'person'")
    if _get(es, "train_batch_size") is not None:
        _int(es, "train_batch_size", 1, 4, where=w)
    lr = _get(es, "learning_rate")
    if lr is not None:
        try:
            rate = float(lr)
        except (TypeError, ValueError):
            rate = -1.0
        if not any(math.isclose(rate, r, rel_tol=1e-9) for r in limits.LEARNING_RATES):
            raise _bad(
                f"expert_setting.learning_rate must be one of 1e-4, 1e-5, 1e-6, 2e-4, 5e-5, got {lr!r}"
            )
    if _get(es, "lr_scheduler") is not None and es["lr_scheduler"] not in limits.LR_SCHEDULERS:
        raise _bad("expert_setting.lr_scheduler is unknown")
    for name in ("lora_r", "lora_alpha", "lora_text_encoder_r", "lora_text_encoder_alpha"):
        if _get(es, name) is not None:
            _int(es, name, 4, 128, where=w)
    if _get(es, "seed") is not None:
        _int(es, "seed", 1, None, where=w)
    return (
        _int(es, "max_train_steps", 1, 100_000, 500, where=w)
        if _get(es, "max_train_steps") is not None
        else 500
    )


def _training_route(kind: str) -> None:
    async def create(request: web.Request) -> web.Response:
        account = _auth(request)
        body = await _body(request)
        name = _text(body, "name", 1, 256)
        if _get(body, "base_model") not in limits.TRAINING_BASE_MODELS:
            raise _bad(f"base_model {body.get('base_model')!r} is not one of the training base models")
        _int(body, "width", 1, None)
        _int(body, "height", 1, None)
        items = _get(body, "image_dataset_items")
        if not isinstance(items, list) or not 1 <= len(items) <= limits.MAX_TRAINING_IMAGES:
            raise _bad(f"image_dataset_items needs 1 to {limits.MAX_TRAINING_IMAGES} items")
        store = _store(request)
        for i, item in enumerate(items):
            aid = _get(item, "assets_id") if isinstance(item, dict) else None
            row = store.query_one(
                "SELECT data FROM novita_assets WHERE assets_id = ? AND key_hash = ?",
                (str(aid), account["key_hash"]),
            )
            if row is None or row["data"] is None:
                raise _bad(f"image_dataset_items[{i}].assets_id {aid!r} was never uploaded")
            if kind == "style":
                _text(item, "caption", 1, 1024, where=f"image_dataset_items[{i}].")
        for i, comp in enumerate(_get(body, "components", []) or []):
            if not isinstance(comp, dict) or comp.get("name") not in limits.TRAINING_COMPONENTS:
                raise _bad(f"components[{i}].name must be one of {', '.join(limits.TRAINING_COMPONENTS)}")
        steps = _expert(body, kind)
        now = request.app[STATE].now()
        task_id = str(uuid.uuid4())
        model_name = f"model_{int(now)}_{secrets.token_hex(5).upper()}.safetensors"
        train_s = max(ns.TIMING["train_min"], steps * ns.TIMING["train_per_step"])
        fail = "sandbox: the training name asked for a failure" if ns.FAIL_MARK in name else ""
        with store.transaction() as conn:
            _charge(store, account, ns.COST_TRAINING)
            conn.execute(
                "INSERT INTO novita_trainings (task_id, key_hash, kind, name, base_model, created_at, "
                "train_s, "
                "fail_reason, model_name, request) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    task_id,
                    account["key_hash"],
                    kind,
                    name,
                    body["base_model"],
                    now,
                    train_s,
                    fail,
                    model_name,
                    json.dumps({k: v for k, v in body.items() if k != "image_dataset_items"}),
                ),
            )
        return json_response({"task_id": task_id})

    async def status(request: web.Request) -> web.Response:
        account = _auth(request)
        task_id = request.query.get("task_id", "")
        row = _store(request).query_one(
            "SELECT * FROM novita_trainings WHERE task_id = ? AND key_hash = ? AND kind = ?",
            (task_id, account["key_hash"], kind),
        )
        if row is None:
            raise NovitaError(404, "TASK_NOT_FOUND", f"training task {task_id!r} not found")
        st = ns.train_state(row["created_at"], row["train_s"], row["fail_reason"], request.app[STATE].now())
        body = {
            "task_id": task_id,
            "task_status": st.status,
            "model_type": "lora",
            "models": [{"model_name": row["model_name"], "model_status": st.model_status}]
            if st.model_status
            else [],
            "extra": {"eta_relative": st.eta, "progress_percent": st.progress},
        }
        if st.status == "FAILED":
            body["reason"] = row["fail_reason"]
        return json_response(body)

    create.__doc__ = f"Start a {kind} LoRA training."
    status.__doc__ = f"Answer a {kind} training's status."
    routes.post(f"/v3/training/{kind}")(_handler(create))
    routes.get(f"/v3/training/{kind}")(_handler(status))


for _kind in ("subject", "style"):
    _training_route(_kind)


@routes.get("/v3/training")
@_handler
async def trainings(request: web.Request) -> web.Response:
    """List training tasks, newest first, ``c_<offset>`` cursors."""
    account = _auth(request)
    q = request.query
    limit = q.get("pagination.limit", "10")
    if not limit.isdigit() or not 0 < int(limit) <= 100:
        raise _bad("pagination.limit must be in (0, 100]")
    offset = ns.decode_cursor(q.get("pagination.cursor"))
    if offset is None:
        raise _bad("pagination.cursor is malformed")
    task_type = q.get("task_type")
    if task_type and task_type not in ("subject", "style"):
        raise _bad("task_type must be subject or style")
    sql = (
        "SELECT * FROM novita_trainings WHERE key_hash = ?"
        + (" AND kind = ?" if task_type else "")
        + " ORDER BY seq DESC"
    )
    rows = _store(request).query(
        sql, (account["key_hash"], task_type) if task_type else (account["key_hash"],)
    )
    now = request.app[STATE].now()
    tasks = []
    for row in rows[offset : offset + int(limit)]:
        st = ns.train_state(row["created_at"], row["train_s"], row["fail_reason"], now)
        tasks.append(
            {
                "task_name": row["name"],
                "task_id": row["task_id"],
                "task_type": row["kind"],
                "task_status": st.status,
                "created_at": int(row["created_at"]),
                "models": [{"model_name": row["model_name"], "model_status": st.model_status}]
                if st.model_status
                else [],
            }
        )
    more = offset + int(limit) < len(rows)
    return json_response(
        {"tasks": tasks, "pagination": {"next_cursor": f"c_{offset + int(limit)}" if more else ""}}
    )
