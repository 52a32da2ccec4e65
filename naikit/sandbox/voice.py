"""NovelAI text to speech (spec §7.1) and image prompt generation.

``GET /ai/generate-voice?text=&seed=&voice=&opus=&version=`` (REF) and the same keys as a POST JSON body
(NovelAI-python) answer a short valid audio file: ``audio/mpeg`` (MP3) when ``opus`` is false,
``audio/webm`` (Opus in WebM) when true. The audio is silence of a length that grows with the text
(:mod:`naikit.sandbox.voice_audio`); the sandbox has no speech model.

``POST /ai/generate-prompt`` ``{model, prompt, temp, tokens_to_generate}`` answers 201
``{"output": "<prompt continued with tags>"}`` (the real answer's shape is unverified, spec §12).
"""

from __future__ import annotations

import hashlib
import random

from aiohttp import web

from .access_tokens import authenticate
from .http import ApiError, field, json_body, json_response
from .voice_audio import mp3, webm_opus

__all__ = ["routes", "V1_VOICES", "MAX_TEXT"]

routes = web.RouteTableDef()

V1_VOICES = {17, 95, 44, 80, 106, 6, 10, 16, 41, 77}
MAX_TEXT = 1000
_TAGS = (
    "1girl",
    "solo",
    "looking at viewer",
    "smile",
    "outdoors",
    "sky",
    "cloud",
    "day",
    "scenery",
    "tree",
    "flower",
    "blue sky",
    "long hair",
    "short hair",
    "best quality",
    "detailed background",
    "sunset",
)


def _speak(text: object, seed: object, voice: object, opus: object, version: object) -> web.Response:
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "text should not be empty")
    text = text[:MAX_TEXT]  # NovelAI truncates long texts
    version = version or "v2"
    if version not in ("v1", "v2"):
        raise ApiError(400, "version must be v1 or v2")
    if voice in (None, ""):
        voice_id = -1
    elif isinstance(voice, (str, bytes, int, float)):  # what int() reads; anything else is no integer
        try:
            voice_id = int(voice)
        except ValueError:
            raise ApiError(400, "voice must be an integer") from None
    else:
        raise ApiError(400, "voice must be an integer")
    seed = "" if seed is None else str(seed)
    if len(seed) > 50:
        raise ApiError(400, "seed must be at most 50 characters")
    if version == "v1" and voice_id not in V1_VOICES:
        raise ApiError(400, f"voice {voice_id} is not a v1 voice")
    if version == "v2" and voice_id == -1 and not seed:
        raise ApiError(400, "a v2 voice needs a seed (the voice name) when voice is -1")
    flag = str(opus).lower() if opus is not None else "false"
    if flag not in ("true", "false"):
        raise ApiError(400, "opus must be 'true' or 'false'")
    who = seed or f"voice {voice_id}"
    if flag == "true":
        return web.Response(body=webm_opus(text, who), content_type="audio/webm")
    return web.Response(body=mp3(text, who), content_type="audio/mpeg")


@routes.get("/ai/generate-voice")
async def generate_voice_get(request: web.Request) -> web.Response:
    """Answer speech for the query's text (REF's form)."""
    authenticate(request)
    q = request.query
    return _speak(q.get("text"), q.get("seed"), q.get("voice"), q.get("opus"), q.get("version"))


@routes.post("/ai/generate-voice")
async def generate_voice_post(request: web.Request) -> web.Response:
    """Answer speech for a JSON body with the same keys (NovelAI-python's form)."""
    authenticate(request)
    body = await json_body(request)
    return _speak(
        body.get("text"), body.get("seed"), body.get("voice"), body.get("opus"), body.get("version")
    )


@routes.post("/ai/generate-prompt")
async def generate_prompt(request: web.Request) -> web.Response:
    """Continue an image prompt with a few tags chosen by prompt, temperature and length."""
    authenticate(request)
    body = await json_body(request)
    field(body, "model", str, min_length=1)
    prompt = field(body, "prompt", str, min_length=1, max_length=4000)
    temp = field(body, "temp", (int, float))
    if not 0 < temp <= 10:
        raise ApiError(400, "temp must be above 0 and at most 10")
    n_tokens = field(body, "tokens_to_generate", int)
    if not 1 <= n_tokens <= 512:
        raise ApiError(400, "tokens_to_generate must be between 1 and 512")
    rng = random.Random(int.from_bytes(hashlib.sha256(f"{prompt}|{temp}".encode()).digest()[:8], "big"))
    count = max(1, min(len(_TAGS), n_tokens // 4))
    tags = rng.sample(_TAGS, count)
    return json_response({"output": ", ".join(tags)}, status=201)
