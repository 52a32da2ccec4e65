"""Sandbox routes for text generation (spec §3.2, §5): ``POST /ai/generate`` and ``/ai/generate-stream``.

Both hosts share one port, so the answer follows the model: Kayra and Erato (served by
``text.novelai.net``) answer 200, the others (``api.novelai.net``) 201. Requests are validated like the
service (400 with the envelope naming the field); the output comes from :mod:`naikit.sandbox.textgen`.
Streams send ``event: newToken`` / ``id: n`` / ``data: {"token", "ptr", "final", "logprobs"}`` per token;
the last event has ``final: true`` and carries the last real token.

The sandbox is deterministic: the draws are seeded from the request body and, when present, the
``naikit_seed`` query parameter (or an ``X-Naikit-Seed`` header). NovelAI's text API has no seed; naikit
sends the parameter only when a caller gives ``seed=``, so that ``compare`` can vary seeds offline.
``PUT /_sandbox/text {"token_delay": s}`` makes a generation take ``s`` seconds per token, like a real
model (a stream sends each token after waiting; ``/ai/generate`` answers after the whole wait).

Like the service, an account runs one text generation at a time: a second one that starts while the
first runs (a whole generation, or a stream until its last token is generated) is refused with 429
"Concurrent generation is locked" (see :mod:`naikit.sandbox.generation_lock`). ``PUT /_sandbox/text
{"concurrency": n}`` lets an account run ``n`` at once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
import weakref
from typing import Any

from aiohttp import web

from .._validate import is_token_id
from ..errors import InputError
from ..novelai.models import TEXT_MODELS, TextModel
from ..novelai.modules_catalog import check_module
from ..novelai.text_param_tables import PARAMS, REQUEST_PARAMS
from . import textgen
from .access_tokens import authenticate
from .generation_lock import generation_slot
from .http import STATE, ApiError, apply_settings, choice_field, json_body, json_response, token_delay_setting

routes = web.RouteTableDef()
log = logging.getLogger("naikit.sandbox")

_MODELS = {m.value: m for m in TEXT_MODELS}
# per-application settings (the app is frozen once running, so they live beside it)
_settings: weakref.WeakKeyDictionary[web.Application, dict[str, Any]] = weakref.WeakKeyDictionary()
SEED_HEADER = "X-Naikit-Seed"
SEED_PARAM = "naikit_seed"


def _settings_of(app: web.Application) -> dict[str, Any]:
    return _settings.setdefault(app, {"token_delay": 0.0, "concurrency": 1})


def _slot(request: web.Request, account_id: str) -> Any:
    limit = _settings_of(request.app)["concurrency"]
    return generation_slot(request.app[STATE], account_id, "text", limit=limit)


def _check_params(params: Any, model: TextModel) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ApiError(400, "parameters must be an object")
    out = dict(params)
    for key, value in params.items():
        if key == "order":
            if not isinstance(value, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10 for v in value
            ):
                raise ApiError(400, "parameters.order must be an array of sampler ids from 0 to 10")
            if len(set(value)) != len(value):
                raise ApiError(400, "parameters.order must not repeat a sampler")
        elif key == "logit_bias_exp":
            if not isinstance(value, list):
                raise ApiError(400, "parameters.logit_bias_exp must be an array")
            for i, e in enumerate(value):
                seq = e.get("sequence") if isinstance(e, dict) else None
                bias = e.get("bias") if isinstance(e, dict) else None
                if (
                    not isinstance(seq, list)
                    or not seq
                    or not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in seq)
                    or isinstance(bias, bool)
                    or not isinstance(bias, (int, float))
                ):
                    raise ApiError(
                        400, f"parameters.logit_bias_exp[{i}] must be {{sequence: int[], bias: number, ...}}"
                    )
        elif key == "prefix":
            if not isinstance(value, str):
                raise ApiError(400, "parameters.prefix must be a string")
            try:
                check_module(value, model)
            except InputError:
                raise ApiError(400, f"Module {value} is not available for model {model.value}") from None
        elif key in _PARAMS:
            out[key] = _checked(key, value)
        # other keys (next_word, output_nonzero_probs...) are accepted and ignored, as the service does
    if out.get("min_length", 0) > out.get("max_length", 40):
        raise ApiError(400, "parameters.min_length must not exceed parameters.max_length")
    return out


_PARAMS = {**PARAMS, **REQUEST_PARAMS}


def _checked(key: str, value: Any) -> Any:
    """Return ``value`` if it has the type and lies in the range NovelAI takes for ``parameters.key``
    (integral numbers of an integer parameter as ints); ApiError 400 otherwise, in the words of the
    class-validator checks behind the service's other 400s ("must be one of the following values")."""
    spec, name = _PARAMS[key], f"parameters.{key}"
    kind = spec.kind
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise ApiError(400, f"{name} must be a boolean value")
    if kind == "str":
        if isinstance(value, str):
            return value
        raise ApiError(400, f"{name} must be a string")
    if kind == "choice":
        if value in spec.choices:
            return value
        raise ApiError(400, f"{name} must be one of the following values: {', '.join(spec.choices)}")
    if kind == "tokens":
        if isinstance(value, list) and all(is_token_id(t) for t in value):
            return value
        raise ApiError(400, f"{name} must be an array of token ids (integers >= 0)")
    if kind == "sequences":
        if isinstance(value, list) and all(
            isinstance(seq, list) and seq and all(is_token_id(t) for t in seq) for seq in value
        ):
            return value
        raise ApiError(400, f"{name} must be an array of non-empty arrays of token ids")
    # JSON numbers: an integer parameter takes 3.0 as 3; no parameter takes NaN or infinity
    whole = kind == "int"
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not (value.is_integer() if whole else math.isfinite(value)))
    ):
        what = "an integer number" if whole else "a number conforming to the specified constraints"
        raise ApiError(400, f"{name} must be {what}")
    if whole:
        value = int(value)
    lo, hi = spec.lo, spec.hi
    if lo is not None and spec.lo_open and value <= lo:
        raise ApiError(400, f"{name} must be greater than {lo}")
    if lo is not None and value < lo:
        raise ApiError(400, f"{name} must not be less than {lo}")
    if hi is not None and value > hi:
        raise ApiError(400, f"{name} must not be greater than {hi}")
    return value


async def _parse(request: web.Request) -> tuple[TextModel, list[int], dict[str, Any], int, bool, str]:
    from ..tokenizers import LLAMA3_BOS, encode

    account = authenticate(request)
    body = await json_body(request)
    model = choice_field(body, "model", _MODELS)
    data = body.get("input")
    if not isinstance(data, str):
        raise ApiError(400, "input must be a string")
    params = _check_params(body.get("parameters"), model)
    use_string = bool(params.get("use_string"))
    if use_string:
        ids = encode(data, model.value, bos=model.tokenizer == "llama3")
        if model.tokenizer == "llama3" and data.startswith("<|begin_of_text|>"):
            ids = ids[1:] if ids[:2] == [LLAMA3_BOS, LLAMA3_BOS] else ids
    else:
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "input must be base64 of the token ids") from None
        if len(raw) % model.token_bytes:
            raise ApiError(
                400,
                f"input must be base64 of {model.token_bytes}-byte little-endian tokens for {model.value}",
            )
        w = model.token_bytes
        ids = [int.from_bytes(raw[i : i + w], "little") for i in range(0, len(raw), w)]
    if not ids:
        raise ApiError(400, "input should not be empty")
    # as the service: context beyond the limit is cut from the top
    limit = model.context.for_tier(account.tier if 1 <= account.tier <= 3 else 1)
    keep = max(1, limit - int(params.get("max_length", 40)))
    if len(ids) > keep:
        ids = ids[-keep:]
    seed = textgen.request_seed(body, request.query.get(SEED_PARAM, request.headers.get(SEED_HEADER)))
    return model, ids, params, seed, use_string, account.id


def _encode_out(ids: list[int], model: TextModel, use_string: bool) -> str:
    from ..tokenizers import decode

    if use_string:
        return decode(ids, model.value)
    return base64.b64encode(b"".join(i.to_bytes(model.token_bytes, "little") for i in ids)).decode()


@routes.post("/ai/generate")
async def generate(request: web.Request) -> web.Response:
    """Generate the whole output at once: ``{"output": b64 or text, "logprobs": [...]}``."""
    model, ids, params, seed, use_string, account_id = await _parse(request)
    with _slot(request, account_id):
        steps = await asyncio.get_running_loop().run_in_executor(
            None, lambda: list(textgen.generate(model, ids, params, seed))
        )
        delay = _settings_of(request.app)["token_delay"]
        if delay:
            await asyncio.sleep(delay * len(steps))
    out: dict[str, Any] = {"output": _encode_out([s.token for s in steps], model, use_string)}
    if int(params.get("num_logprobs", 0) or 0) > 0:
        out["logprobs"] = [s.logprobs for s in steps]
    return json_response(out, status=model.ok_status)


@routes.post("/ai/generate-stream")
async def generate_stream(request: web.Request) -> web.StreamResponse:
    """Stream one ``newToken`` SSE event per generated token."""
    from ..tokenizers import decode

    model, ids, params, seed, use_string, account_id = await _parse(request)
    # taken before the response starts, so a refusal is still a JSON 429
    with _slot(request, account_id) as slot:
        # build the model before the response starts, so a failure is still a JSON error
        await asyncio.get_running_loop().run_in_executor(None, textgen.model_for, model)
        resp = web.StreamResponse(
            status=model.ok_status,
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
        )
        await resp.prepare(request)
        delay = _settings_of(request.app)["token_delay"]
        out: list[int] = []
        shown = ""
        ptr = 0
        try:
            for step in textgen.generate(model, ids, params, seed):
                out.append(step.token)
                if use_string:
                    # text mode: send what the new token adds to the decoded text (whole characters only)
                    text = decode(out, model.value)
                    cut = len(text) - 1 if text.endswith("\ufffd") and not step.stop else len(text)
                    token: str = text[len(shown) : cut]
                    shown = text[:cut]
                else:
                    token = base64.b64encode(step.token.to_bytes(model.token_bytes, "little")).decode()
                final = step.stop is not None
                if final:
                    # the generation is over: free the account before the client can see the last event and
                    # start its next one
                    slot.release()
                data = {"token": token, "ptr": ptr, "final": final, "logprobs": step.logprobs}
                payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
                await resp.write(f"event: newToken\nid: {ptr}\ndata: {payload}\n\n".encode())
                ptr += 1
                if not final and delay:
                    await asyncio.sleep(delay)
            await resp.write_eof()
        except ConnectionResetError:
            # the client went away mid-stream (a notebook loop left early): nothing to answer, and
            # leaving the block frees the account
            log.debug("text stream: client disconnected after %d tokens", ptr)
    return resp


@routes.get("/_sandbox/text")
async def get_text_settings(request: web.Request) -> web.Response:
    """Answer the text generator's settings (``token_delay`` in seconds, ``concurrency``)."""
    return json_response(_settings_of(request.app))


@routes.put("/_sandbox/text")
async def put_text_settings(request: web.Request) -> web.Response:
    """Set ``token_delay`` (seconds each generated token takes, 0-5) and/or ``concurrency`` (text
    generations one account may run at once, 1-16); keys not given keep their value."""
    checks = {"token_delay": token_delay_setting, "concurrency": _concurrency_setting}
    return json_response(apply_settings(await json_body(request), _settings_of(request.app), checks))


def _concurrency_setting(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 16:
        raise ApiError(400, "concurrency must be an integer from 1 to 16")
    return value
