"""Sandbox routes for NovelAI's OpenAI-style text API (``/oa/v1``, spec novelai-oa.md §1-3).

``POST /oa/v1/completions``, ``POST /oa/v1/chat/completions``, ``GET /oa/v1/models`` and
``POST /oa/v1/internal/token-count`` for ``glm-4-6`` and ``xialong-v1``:

* Streams are SSE ``data: <json>`` events, one per generated token, each chunk carrying ``text`` (chat:
  ``delta.content``) and ``token_ids``; then a chunk with only the end token (``<|user|>``, empty text,
  ``finish_reason: "stop"``) or ``finish_reason: "length"`` on the last token; then ``data: [DONE]``.
* A non-streamed completion answers one ``text_completion`` object with ``usage``. A non-streamed chat
  answer is as broken as the real one (``object: "chat.completion.chunk"``, ``choices[0].text: ""`` and
  the token ids, no message); ``PUT /_sandbox/oa {"broken_chat": false}`` makes it a proper
  ``chat.completion``.
* Tokens: naikit ships no GLM tokenizer, so the sandbox uses a stand-in in the GLM id space: GLM's special
  tokens at their real ids (``[gMASK]`` 151331, ``<|user|>`` 151336...) and, for ordinary text, Llama 3's
  byte-level BPE (ids below 128256, so they never collide). Counts therefore differ from NovelAI's for
  ordinary text; the token-count endpoint answers in this stand-in, consistently with the streams.
* Text comes from the sandbox's n-gram generator, shaped by the request's samplers in GLM's order
  (temperature, top-k, top-p, min-p) after OpenAI-style frequency and presence penalties; ``stop`` strings
  end the output; the draws are seeded from the body (and ``X-Naikit-Seed``), so a request repeats.
* An account runs one generation at a time, shared with image generation (429 "Concurrent generation is
  locked"); ``xialong-v1`` below Opus is refused (403 "Not eligible for this model"); a prompt whose
  tokens plus ``max_tokens`` exceed the tier's context is refused (400); faults come from the shared
  fault middleware like every other route.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import re
import secrets
import time
import weakref
from collections.abc import Iterator
from functools import cache
from typing import Any

from aiohttp import web

from .. import sampling
from ..novelai.models import OA_MODELS, TextModel
from . import textgen
from .access_tokens import authenticate
from .generation_lock import generation_slot
from .http import STATE, ApiError, apply_settings, choice_field, json_body, json_response, token_delay_setting

routes = web.RouteTableDef()

_MODELS = {m.value: m for m in OA_MODELS}
SEED_HEADER = "X-Naikit-Seed"
#: The sandbox's refusal of a model above the account's tier (the wording SillyTavern's docs cite).
NOT_ELIGIBLE = "Not eligible for this model"
#: Largest max_tokens the sandbox accepts (the real cap is unknown; 2048 is used safely by clients).
MAX_TOKENS = 2048
#: Special tokens of the GLM-4.5/4.6 tokenizer at their ids (spec §4.2; [I] ids included as the spec
#: lists them).
SPECIAL: dict[str, int] = {
    "<|endoftext|>": 151329,
    "[MASK]": 151330,
    "[gMASK]": 151331,
    "[sMASK]": 151332,
    "<sop>": 151333,
    "<eop>": 151334,
    "<|system|>": 151335,
    "<|user|>": 151336,
    "<|assistant|>": 151337,
    "<|observation|>": 151338,
    "<think>": 151350,
    "</think>": 151351,
    "/nothink": 151360,
}
_SPECIAL_TEXT = {v: k for k, v in SPECIAL.items()}
_SPECIAL_RE = re.compile("|".join(re.escape(k) for k in sorted(SPECIAL, key=len, reverse=True)))
USER = SPECIAL["<|user|>"]
_LM_MODEL = "llama-3-erato-v1"  # the stand-in vocabulary for ordinary text
_LM_EOS = 128001
# GLM's sampler order (temperature, top_k, top_p, min_p) as sampling.py's ids
_ORDER = [0, 1, 2, 10]
_settings: weakref.WeakKeyDictionary[web.Application, dict[str, Any]] = weakref.WeakKeyDictionary()


def _settings_of(app: web.Application) -> dict[str, Any]:
    return _settings.setdefault(app, {"broken_chat": True, "token_delay": 0.0})


# -- the stand-in tokenizer ----------------------------------------------------------------------------
def encode(text: str) -> list[int]:
    """Return the sandbox's GLM-space ids of ``text`` (special-token text becomes the special id)."""
    from ..tokenizers import encode as base

    out: list[int] = []
    pos = 0
    for m in _SPECIAL_RE.finditer(text):
        if m.start() > pos:
            out += base(text[pos : m.start()], _LM_MODEL)
        out.append(SPECIAL[m.group(0)])
        pos = m.end()
    if pos < len(text):
        out += base(text[pos:], _LM_MODEL)
    return out


def token_bytes(token: int) -> bytes:
    """Return the bytes of one sandbox GLM-space token."""
    from ..tokenizers import token_bytes as base

    if token in _SPECIAL_TEXT:
        return _SPECIAL_TEXT[token].encode()
    return base([token], _LM_MODEL)


@cache
def _lm() -> textgen.NGramModel:
    return textgen.model_for(_LM_MODEL)


# -- request checks ------------------------------------------------------------------------------------
def _number(body: dict[str, Any], key: str, lo: float, hi: float, default: float) -> float:
    v = body.get(key, default)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise ApiError(400, f"{key} must be a number from {lo} to {hi}")
    return float(v)


def _params(body: dict[str, Any]) -> dict[str, Any]:
    mt = body.get("max_tokens", 16)
    if isinstance(mt, bool) or not isinstance(mt, int) or not 1 <= mt <= MAX_TOKENS:
        raise ApiError(400, f"max_tokens must be an integer from 1 to {MAX_TOKENS}")
    top_k = body.get("top_k", 0)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise ApiError(400, "top_k must be an integer >= 0")
    stop = body.get("stop", [])
    if isinstance(stop, str):
        stop = [stop]
    if stop is None:
        stop = []
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise ApiError(400, "stop must be a string or an array of strings")
    n = body.get("n", 1)
    if n not in (1, None):
        raise ApiError(400, "n must be 1")
    lp = body.get("logprobs")
    if lp is not None and (isinstance(lp, bool) or not isinstance(lp, int) or not 0 <= lp <= 20):
        raise ApiError(400, "logprobs must be an integer from 0 to 20")
    return {
        "max_tokens": mt,
        "temperature": _number(body, "temperature", 0.0, 100.0, 1.0) or 1e-6,
        "top_p": _number(body, "top_p", 0.0, 1.0, 1.0),
        "top_k": top_k,
        "min_p": _number(body, "min_p", 0.0, 1.0, 0.0),
        "repetition_penalty_frequency": _number(body, "frequency_penalty", -2.0, 2.0, 0.0),
        "repetition_penalty_presence": _number(body, "presence_penalty", -2.0, 2.0, 0.0),
        "stop": [s for s in stop if s],
        # the n-gram stand-in ends too eagerly after a newline: it writes at least a few tokens
        "min_length": min(mt, 4),
        "logprobs": lp,
    }


def _model(request: web.Request, body: dict[str, Any]) -> tuple[TextModel, Any]:
    account = authenticate(request)
    m = choice_field(body, "model", _MODELS)
    tier = account.tier if 1 <= account.tier <= 3 else 0
    if tier == 0 or not m.available_on(tier):
        raise ApiError(403, NOT_ELIGIBLE)
    return m, account


def _fit(m: TextModel, account: Any, ids: list[int], max_tokens: int) -> None:
    limit = m.context.for_tier(account.tier)
    if len(ids) + max_tokens > limit:
        raise ApiError(
            400,
            f"prompt is too long: {len(ids)} prompt tokens + max_tokens {max_tokens} exceed the context of "
            f"{limit} tokens",
        )


def _prompt_ids(prompt: Any) -> list[int]:
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
        prompt = prompt[0]  # n = 1: one prompt in an array
    if isinstance(prompt, str):
        ids = encode(prompt)
    elif isinstance(prompt, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
        if any(not 0 <= t < 151552 for t in prompt):
            raise ApiError(400, "prompt token ids must be from 0 to 151551")
        ids = list(prompt)
    else:
        raise ApiError(400, "prompt must be a string, an array of token ids, or an array of one of those")
    if not ids:
        raise ApiError(400, "prompt should not be empty")
    return ids


def render_chat(messages: list[dict[str, str]], thinking: bool) -> str:
    """Return the GLM chat-template text of ``messages`` with the generation prompt (spec §4.4)."""
    out = ["[gMASK]<sop>"]
    for msg in messages:
        content = msg["content"]
        if msg["role"] == "user":
            if not thinking and not content.endswith("/nothink"):
                content += "/nothink"
            out.append(f"<|user|>\n{content}")
        elif msg["role"] == "assistant":
            out.append(f"<|assistant|>\n<think></think>\n{content}")
        else:
            out.append(f"<|system|>\n{content}")
    out.append("<|assistant|>\n<think></think>" if not thinking else "<|assistant|>\n")
    return "".join(out)


def _messages(body: dict[str, Any]) -> list[dict[str, str]]:
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise ApiError(400, "messages must be a non-empty array")
    out = []
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise ApiError(400, f"messages[{i}] must be an object")
        if not isinstance(m.get("content"), str):
            kind = "array" if isinstance(m.get("content"), list) else type(m.get("content")).__name__
            raise ApiError(
                400,
                f"json: cannot unmarshal {kind} into Go struct field OAIChatMessage.messages.content "
                "of type string",
            )
        if m.get("role") not in ("system", "user", "assistant"):
            raise ApiError(400, f"messages[{i}].role must be one of system, user, assistant")
        out.append({"role": m["role"], "content": m["content"]})
    return out


# -- generation -----------------------------------------------------------------------------------------
def _generate(
    prompt_ids: list[int], p: dict[str, Any], seed: int
) -> Iterator[tuple[int, str, str | None, Any]]:
    """Yield ``(token id, text it adds, finish reason or None, logprobs entry)``; the end token ends it."""
    import random

    lm = _lm()
    rng = random.Random(seed)
    context = [t for t in prompt_ids if t < 128256]
    output: list[int] = []
    dec = codecs.getincrementaldecoder("utf-8")("replace")
    text = ""
    for _ in range(p["max_tokens"]):
        raw = lm.logits(context)
        processed = sampling.process_logits(raw, context, output, p, eos=_LM_EOS)
        steps = sampling.run_chain(processed, _ORDER, p)
        final = steps[-1].logits if steps else processed
        tok = sampling.sample(final, rng)
        lp = None
        if p["logprobs"] is not None:
            before = sampling.log_softmax(processed)
            top = sorted(before, key=lambda t: (-before[t], t))[: max(p["logprobs"], 1)]
            lp = (before.get(tok, 0.0), {t: before[t] for t in top})
        if tok == _LM_EOS:
            yield USER, "", "stop", lp
            return
        output.append(tok)
        context.append(tok)
        piece = dec.decode(token_bytes(tok))
        text += piece
        for s in p["stop"]:
            at = text.find(s)
            if at != -1:
                # the stop string ends the output; the text past its start is not sent
                cut = len(text) - at
                yield tok, piece[: max(0, len(piece) - cut)], "stop", lp
                return
        done = len(output) >= p["max_tokens"]
        yield tok, piece, "length" if done else None, lp
        if done:
            return


def _seed(request: web.Request, body: dict[str, Any]) -> int:
    stable = {k: v for k, v in body.items() if k not in ("stream", "logprobs", "stream_options")}
    return textgen.request_seed(stable, request.headers.get(SEED_HEADER))


def _slots(request: web.Request, account_id: str) -> list[Any]:
    state = request.app[STATE]
    taken = [generation_slot(state, account_id, "text")]
    try:
        # one lock for text and image generation on the account
        taken.append(generation_slot(state, account_id, "image"))
    except ApiError:
        taken[0].release()
        raise
    return taken


def _lp_obj(entry: Any, piece: str, offset: int) -> dict[str, Any] | None:
    if entry is None:
        return None
    chosen, top = entry
    top_text = {token_bytes(t).decode("utf-8", "replace"): round(v, 4) for t, v in top.items()}
    return {
        "tokens": [piece],
        "token_logprobs": [round(chosen, 4)],
        "top_logprobs": [top_text],
        "text_offset": [offset],
    }


async def _run(
    request: web.Request,
    body: dict[str, Any],
    ids: list[int],
    p: dict[str, Any],
    m: TextModel,
    account: Any,
    chat: bool,
) -> web.StreamResponse:
    stream = body.get("stream") is True
    seed = _seed(request, body)
    created = int(time.time())
    cid = ("chatcmpl-" if chat else "cmpl-") + secrets.token_hex(12)
    obj = "chat.completion.chunk" if chat else "text_completion"
    delay = _settings_of(request.app)["token_delay"]
    await asyncio.get_running_loop().run_in_executor(None, _lm)
    slots = _slots(request, account.id)
    try:
        if not stream:
            steps = await asyncio.get_running_loop().run_in_executor(
                None, lambda: list(_generate(ids, p, seed))
            )
            if delay:
                await asyncio.sleep(delay * len(steps))
            for s in slots:
                s.release()
            toks = [t for t, _, _, _ in steps]
            text = "".join(piece for _, piece, _, _ in steps)
            finish = steps[-1][2] if steps else "length"
            out_tokens = len([t for t in toks if t != USER])
            usage = {
                "prompt_tokens": len(ids),
                "completion_tokens": out_tokens,
                "total_tokens": len(ids) + out_tokens,
            }
            if chat and _settings_of(request.app)["broken_chat"]:
                # the real service's defect (spec §2.2): a chunk object, empty text, ids only, no message
                choice: dict[str, Any] = {"index": 0, "text": "", "token_ids": toks, "finish_reason": finish}
                return json_response(
                    {"id": cid, "object": obj, "created": created, "model": m.value, "choices": [choice]}
                )
            if chat:
                choice = {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": finish,
                }
                return json_response(
                    {
                        "id": cid,
                        "object": "chat.completion",
                        "created": created,
                        "model": m.value,
                        "choices": [choice],
                        "usage": usage,
                    }
                )
            choice = {"index": 0, "text": text, "token_ids": toks, "logprobs": None, "finish_reason": finish}
            return json_response(
                {
                    "id": cid,
                    "object": obj,
                    "created": created,
                    "model": m.value,
                    "choices": [choice],
                    "usage": usage,
                }
            )
        resp = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        offset = 0
        try:
            for tok, piece, finish, lp in _generate(ids, p, seed):
                if finish is not None:
                    for s in slots:
                        s.release()  # free the account before the client sees the end
                if chat:
                    choice = {
                        "index": 0,
                        "delta": {"role": "assistant", "content": piece},
                        "token_ids": [tok],
                        "finish_reason": finish,
                    }
                else:
                    choice = {
                        "index": 0,
                        "text": piece,
                        "token_ids": [tok],
                        "logprobs": _lp_obj(lp, piece, offset),
                        "finish_reason": finish,
                    }
                offset += len(piece)
                chunk = {"id": cid, "object": obj, "created": created, "model": m.value, "choices": [choice]}
                await resp.write(
                    b"data: "
                    + json.dumps(chunk, ensure_ascii=False, separators=(",", ":")).encode()
                    + b"\n\n"
                )
                if finish is None and delay:
                    await asyncio.sleep(delay)
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
        except ConnectionResetError:
            pass  # the client left; leaving frees the account
        return resp
    finally:
        for s in slots:
            s.release()


@routes.post("/oa/v1/completions")
async def completions(request: web.Request) -> web.StreamResponse:
    """Complete a raw prompt (string or token ids); SSE when ``stream`` is true."""
    body = await json_body(request)
    m, account = _model(request, body)
    p = _params(body)
    ids = _prompt_ids(body.get("prompt"))
    _fit(m, account, ids, p["max_tokens"])
    return await _run(request, body, ids, p, m, account, chat=False)


@routes.post("/oa/v1/chat/completions")
async def chat_completions(request: web.Request) -> web.StreamResponse:
    """Answer chat ``messages`` rendered with the GLM template; SSE when ``stream`` is true."""
    body = await json_body(request)
    m, account = _model(request, body)
    msgs = _messages(body)
    p = _params(body)
    thinking = body.get("enable_thinking") is True
    ids = encode(render_chat(msgs, thinking))
    _fit(m, account, ids, p["max_tokens"])
    return await _run(request, body, ids, p, m, account, chat=True)


@routes.get("/oa/v1/models")
async def models(request: web.Request) -> web.Response:
    """List the models (``xialong-v1``, ``glm-4-6``) as an OpenAI list."""
    authenticate(request)
    data = [
        {"id": m.value, "object": "model", "created": 1759276800, "owned_by": "novelai"}
        for m in reversed(OA_MODELS)
    ]
    return json_response({"object": "list", "data": data})


@routes.post("/oa/v1/internal/token-count")
async def token_count(request: web.Request) -> web.Response:
    """Answer ``{length, encoded}`` for ``{model, prompt}`` (the sandbox's stand-in GLM tokens)."""
    authenticate(request)
    body = await json_body(request)
    if body.get("model") not in _MODELS:
        raise ApiError(400, f"model must be one of the following values: {', '.join(_MODELS)}")
    prompt = body.get("prompt")
    if isinstance(prompt, dict) and isinstance(prompt.get("ofString"), str):
        prompt = prompt["ofString"]  # the Swagger's union form
    if not isinstance(prompt, str):
        raise ApiError(400, "prompt must be a string")
    ids = await asyncio.get_running_loop().run_in_executor(None, encode, prompt)
    return json_response({"length": len(ids), "encoded": ids})


@routes.get("/_sandbox/oa")
async def get_oa_settings(request: web.Request) -> web.Response:
    """Answer the /oa/v1 emulation's settings (``broken_chat``, ``token_delay``)."""
    return json_response(_settings_of(request.app))


@routes.put("/_sandbox/oa")
async def put_oa_settings(request: web.Request) -> web.Response:
    """Set ``broken_chat`` (copy the real non-streamed chat defect, default true) and/or ``token_delay``
    (seconds per generated token, 0-5)."""
    checks = {"broken_chat": _broken_chat_setting, "token_delay": token_delay_setting}
    return json_response(apply_settings(await json_body(request), _settings_of(request.app), checks))


def _broken_chat_setting(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ApiError(400, "broken_chat must be true or false")
    return value
