"""NovelAI's OpenAI-style text API (``/oa/v1``) for GLM-4.6 and Xialong (spec novelai-oa.md).

``OAAPI`` is a mixin of :class:`naikit.novelai.client.AsyncNovelAI`; the sync ``NovelAI`` gets the same
methods. ``nai.generate(prompt, glm_preset)`` and ``generate_stream`` route here for GLM-family models
(see :mod:`naikit.novelai.text`):

* ``POST /oa/v1/completions``, always streamed on the wire (``stream: true``), as the website does; a
  non-streamed call assembles the stream into one :class:`~naikit.novelai.generation.Generation`.
* The body is what the website's request builder sends: ``model``, ``max_tokens``, ``temperature``,
  ``top_p``, ``top_k`` (left out when 0), ``min_p``, ``frequency_penalty``, ``presence_penalty``, the four
  ``unified_*`` values, ``stop`` (always a list), ``logit_bias`` (only when given), ``prompt``,
  ``stream: true`` (and ``logprobs`` only when asked for). See :func:`oa_parameters`.
* The prompt goes as **token ids**, like the website's (it tokenizes in the browser). naikit ships no GLM
  tokenizer (no redistributable copy of zai-org's ``tokenizer.json`` was found), so it asks the server's
  ``/oa/v1/internal/token-count`` for the ids first (one small request; answers are cached). That count
  also checks the context limit before the generation is sent; ``truncate=True`` cuts from the top and
  keeps a leading ``[gMASK]<sop>``. If the server returns no ids, the prompt goes as a string.
* A disabled sampler sends its neutral value (temperature 1, top_k 0 = left out, top_p 1, min_p 0): a
  choice; the website's builder sends the preset values, and its default preset disables only min-p,
  which is 0 there anyway.

``chat`` / ``chat_stream`` use ``/oa/v1/chat/completions`` (always streamed: the non-streamed answer is
broken upstream) with ``enable_thinking: false``, and strip any ``<think>…</think>`` from the answer.
``text_models()`` lists ``/oa/v1/models``; ``count_tokens`` / ``token_ids`` use the token-count endpoint.
Xialong is refused before sending on a Tablet or Scroll account once the tier is known (naikit reads
``/user/subscription`` once per client). One generation per account: the transport's generation gate,
and a 429 "Concurrent generation is locked" from elsewhere is waited out by its retry policy.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import APIError, InputError, ResponseShapeError
from .generation import Generation, StreamToken
from .models import OA_MODELS, TextModel, text_model
from .presets import OA_PARAM_FIELDS, OA_SAMPLERS, Preset, check_oa_parameter

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "OAAPI",
    "oa_model",
    "oa_parameters",
    "oa_completion_body",
    "GLM_EOS",
    "GLM_SPECIAL",
    "parse_token_count",
]

#: GLM special tokens whose ids sources confirm (spec novelai-oa.md §4.2).
GLM_SPECIAL: dict[str, int] = {
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
#: End-of-generation ids of GLM-4.6 (generation_config.json): <|endoftext|>, <|user|>, <|observation|>.
GLM_EOS: frozenset[int] = frozenset({151329, 151336, 151338})
_START = (151331, 151333)
# neutral value of each GLM sampler's parameter (used while the sampler is disabled)
_NEUTRAL = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0}
# request field name -> preset key (overrides may use either spelling)
_FIELD_TO_KEY = {v: k for k, v in OA_PARAM_FIELDS.items()}
log = logging.getLogger("naikit")
_THINK_RE = re.compile(r"<think>.*?</think>\s*", re.S)


def oa_model(model: str | TextModel) -> TextModel:
    """Return the GLM-family TextModel for ``model``; InputError for an unknown or a native model."""
    m = text_model(model)
    if m.api != "oa":
        raise InputError(
            "model",
            model if isinstance(model, str) else m.value,
            "a model served over /oa/v1: " + ", ".join(f"{x.value} ({x.short})" for x in OA_MODELS),
            hint=f"{m.name} uses the native API: nai.generate(prompt, model={m.value!r}).",
        )
    return m


def _preset_for(preset: Preset | str | None, m: TextModel) -> Preset:
    if isinstance(preset, Preset):
        if preset.model != m.value:
            raise InputError(
                "preset", preset.name, f"a preset for {m.value}", hint=f"It is for {preset.model}."
            )
        return preset
    if preset is None or isinstance(preset, str):
        return Preset.official(m, preset)
    raise InputError("preset", preset, "a Preset, the name of an official preset, or None for the default")


def oa_parameters(
    preset: Preset | str | None = None,
    model: str | TextModel | None = None,
    *,
    stop: Sequence[str] | None = None,
    logit_bias: Mapping[int | str, float] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Return the sampling part of a ``/oa/v1`` request for ``preset`` (the website's field mapping).

    ``overrides`` may use preset keys (``max_length``, ``repetition_penalty_frequency``) or request
    names (``max_tokens``, ``frequency_penalty``). Raises InputError for a parameter GLM does not take
    (tail-free sampling, repetition penalty...), a value out of range, or bad stop strings / biases.
    """
    m = oa_model(model if model is not None else (preset.model if isinstance(preset, Preset) else "glm-4-6"))
    p = _preset_for(preset, m)
    values = {k: p.get(k) for k in OA_PARAM_FIELDS if p.get(k) is not None}
    enabled = set(p.enabled_samplers)
    for s in OA_SAMPLERS:
        if s not in enabled and values.get(s) != _NEUTRAL[s]:
            values[s] = _NEUTRAL[s]
    for key, val in overrides.items():
        k = _FIELD_TO_KEY.get(key, key)
        values[k] = check_oa_parameter(k, val, m.value, key)
    out: dict[str, Any] = {"model": m.value}
    for key, field in OA_PARAM_FIELDS.items():
        if key in values:
            out[field] = values[key]
    if out.get("top_k") == 0:
        del out["top_k"]  # as the website: top_k 0 is not sent
    if stop is None:
        stop = []
    if (
        isinstance(stop, str)
        or not isinstance(stop, (list, tuple))
        or not all(isinstance(x, str) and x for x in stop)
    ):
        raise InputError("stop", stop, "a list of non-empty strings")
    out["stop"] = list(stop)
    if logit_bias:
        if not isinstance(logit_bias, Mapping):
            raise InputError("logit_bias", logit_bias, "a dict of token id -> bias")
        bias: dict[str, float] = {}
        for tok, b in logit_bias.items():
            try:
                tid = int(tok)
            except (TypeError, ValueError):
                raise InputError("logit_bias", tok, "token ids (int) as keys") from None
            if tid < 0 or isinstance(b, bool) or not isinstance(b, (int, float)):
                raise InputError(f"logit_bias[{tok}]", b, "a number for a token id >= 0")
            bias[str(tid)] = b
        out["logit_bias"] = bias
    return out


def oa_completion_body(
    prompt: str | list[int], params: Mapping[str, Any], *, logprobs: int | None = None
) -> dict[str, Any]:
    """Return the ``/oa/v1/completions`` body: ``params`` + ``prompt`` + ``stream: true`` (+ ``logprobs``)."""
    body = dict(params)
    body["prompt"] = prompt
    if logprobs is not None:
        if isinstance(logprobs, bool) or not isinstance(logprobs, int) or not 0 <= logprobs <= 20:
            raise InputError("logprobs", logprobs, "an int from 0 to 20 (alternatives per token)")
        body["logprobs"] = logprobs
    body["stream"] = True
    return body


def parse_token_count(data: Any) -> tuple[int, list[int] | None]:
    """Return ``(length, ids or None)`` from a token-count answer (``{length, encoded}``; also
    ``token_count`` / ``count`` / ``tokens``). Raises ResponseShapeError for anything else."""
    what = "POST /oa/v1/internal/token-count"
    if not isinstance(data, dict):
        raise ResponseShapeError(what, "body", "is not a JSON object")
    ids = None
    for key in ("encoded", "tokens", "ids"):
        v = data.get(key)
        if isinstance(v, list) and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in v):
            ids = list(v)
            break
    n = None
    for key in ("length", "token_count", "count"):
        v = data.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
            n = v
            break
    if n is None and ids is not None:
        n = len(ids)
    if n is None:
        raise ResponseShapeError(what, "length", "is missing (expected {length, encoded})")
    return n, ids


def _check_messages(messages: Any) -> list[dict[str, str]]:
    if not isinstance(messages, (list, tuple)) or not messages:
        raise InputError("messages", messages, "a non-empty list of {role, content} dicts")
    out = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, Mapping):
            raise InputError(f"messages[{i}]", msg, "a dict {role, content}")
        role, content = msg.get("role"), msg.get("content")
        if role not in ("system", "user", "assistant"):
            raise InputError(f"messages[{i}].role", role, "'system', 'user' or 'assistant'")
        if not isinstance(content, str):
            # the server's Go decoder refuses the OpenAI array-of-parts form
            raise InputError(
                f"messages[{i}].content", content, "a string (the array-of-parts form is refused)"
            )
        m = {"role": role, "content": content}
        if isinstance(msg.get("name"), str):
            m["name"] = msg["name"]
        out.append(m)
    return out


class _Assembler:
    """Collects OA stream chunks into text, ids, pieces, finish reason, usage and logprobs."""

    def __init__(self, chat: bool):
        self.chat = chat
        self.text: list[str] = []
        self.pieces: list[str] = []
        self.tokens: list[int] = []
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None
        self.logprobs: list[dict[str, Any]] = []

    def add(self, data: Any, what: str) -> tuple[str, list[int], bool]:
        if not isinstance(data, dict):
            raise ResponseShapeError(what, "data", "is not a JSON object")
        if "error" in data:
            from ..errors import api_error

            err = data["error"]
            msg = err.get("message") if isinstance(err, dict) else err
            code = data.get("statusCode")
            code = code if isinstance(code, int) and not isinstance(code, bool) and 400 <= code < 600 else 500
            raise api_error(code, str(msg or data.get("message") or "error in the stream"))
        if isinstance(data.get("usage"), dict):
            self.usage = data["usage"]
        choices = data.get("choices")
        if not isinstance(choices, list):
            raise ResponseShapeError(what, "choices", "is missing or not a list")
        if not choices:
            return "", [], False
        c = choices[0]
        if not isinstance(c, dict):
            raise ResponseShapeError(what, "choices[0]", "is not an object")
        if self.chat:
            delta = c.get("delta") or {}
            piece = delta.get("content") if isinstance(delta, dict) else None
            piece = (
                piece if isinstance(piece, str) else (c.get("text") if isinstance(c.get("text"), str) else "")
            )
        else:
            piece = c.get("text")
            if not isinstance(piece, str):
                raise ResponseShapeError(what, "choices[0].text", "is missing or not a string")
        piece = piece.replace("<|user|>", "")  # as the website: the stop token is not text
        ids = c.get("token_ids") or []
        if not isinstance(ids, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in ids):
            raise ResponseShapeError(what, "choices[0].token_ids", "is not a list of ints")
        finish = c.get("finish_reason")
        if finish is not None:
            self.finish = str(finish)
        if finish is not None and not piece and ids and all(t in GLM_EOS for t in ids):
            ids = []  # the terminal chunk: only the end token, no text
        if isinstance(c.get("logprobs"), dict):
            self.logprobs.append(c["logprobs"])
        self.text.append(piece)
        self.tokens.extend(ids)
        if len(ids) == 1:
            self.pieces.append(piece)
        elif ids:
            self.pieces.extend([piece] + [""] * (len(ids) - 1))
        return piece, ids, finish is not None


def _strip_think(text: str) -> str:
    return _THINK_RE.sub("", text, count=1) if text.lstrip().startswith("<think>") else text


class OAAPI:
    """Mixin: GLM-4.6 / Xialong over ``/oa/v1`` (completions, chat, models, token counts)."""

    # -- account tier (known once fetched) ----------------------------------------------------------
    async def _oa_tier(self) -> int | None:
        cached = getattr(self, "_oa_tier_cache", "unset")
        if cached != "unset":
            return cached  # type: ignore[return-value]
        tier: int | None = None
        try:
            sub = await self.subscription()  # type: ignore[attr-defined]
            t = getattr(sub, "tier", None)
            tier = t if isinstance(t, int) and 0 <= t <= 3 else None
        except Exception:  # noqa: BLE001 - an unknown tier only means the server decides
            tier = None
        self._oa_tier_cache = tier
        return tier

    async def _oa_check_tier(self, m: TextModel, tier: int | str | None) -> int | None:
        t = tier if tier is not None else await self._oa_tier()
        if t is None or t == 0:
            return None
        from .models import tier_name

        name = tier_name(t)
        if not m.available_on(name):
            raise InputError(
                "model",
                m.value,
                "a model this account's tier may use",
                hint=f"{m.name} needs Opus; this account is {name.title()}. glm-4-6 works on every tier.",
            )
        return t if isinstance(t, int) else ("tablet", "scroll", "opus").index(name) + 1

    # -- token counting -------------------------------------------------------------------------------
    async def _token_count(self, text: str, m: TextModel) -> tuple[int, list[int] | None]:
        cache: dict[tuple[str, str], tuple[int, list[int] | None]] = self.__dict__.setdefault(
            "_oa_counts", {}
        )
        key = (m.value, text)
        if key in cache:
            n, ids = cache[key]
            return n, (list(ids) if ids is not None else None)
        await self._ensure_ready()  # type: ignore[attr-defined]
        resp = await self.transport.request(  # type: ignore[attr-defined]
            "POST",
            "text",
            "/oa/v1/internal/token-count",
            json={"model": m.value, "prompt": text},
            idempotent=True,
        )
        got = parse_token_count(resp.body)
        if len(cache) > 256:
            cache.clear()
        cache[key] = got
        return got[0], (list(got[1]) if got[1] is not None else None)

    async def count_tokens(self, text: str, model: str | TextModel = "glm-4-6") -> int:
        """Return the number of GLM tokens in ``text`` (the server's ``/oa/v1/internal/token-count``;
        special-token text such as ``[gMASK]`` counts as one token)."""
        if not isinstance(text, str):
            raise InputError("text", text, "a string")
        n, _ = await self._token_count(text, oa_model(model))
        return n

    async def token_ids(self, text: str, model: str | TextModel = "glm-4-6") -> list[int]:
        """Return the GLM token ids of ``text`` from the token-count endpoint (ResponseShapeError when the
        server answers only a count)."""
        if not isinstance(text, str):
            raise InputError("text", text, "a string")
        _, ids = await self._token_count(text, oa_model(model))
        if ids is None:
            raise ResponseShapeError(
                "POST /oa/v1/internal/token-count", "encoded", "is missing (only a count)"
            )
        return ids

    async def text_models(self) -> pd.DataFrame:
        """Return a DataFrame of ``GET /oa/v1/models``: id, owned_by, created, and naikit's name, short
        name, context per tier and largest response length for the models it knows."""
        import pandas as pd

        await self._ensure_ready()  # type: ignore[attr-defined]
        resp = await self.transport.request("GET", "text", "/oa/v1/models")  # type: ignore[attr-defined]
        body = resp.body
        data = body.get("data") if isinstance(body, dict) else body
        if not isinstance(data, list) or not all(
            isinstance(d, dict) and isinstance(d.get("id"), str) for d in data
        ):
            raise ResponseShapeError("GET /oa/v1/models", "data", "is not a list of {id, ...} objects")
        known = {m.value: m for m in OA_MODELS}
        rows = []
        for d in data:
            m = known.get(d["id"])
            rows.append(
                {
                    "id": d["id"],
                    "owned_by": d.get("owned_by"),
                    "created": d.get("created"),
                    "name": m.name if m else None,
                    "short": m.short if m else None,
                    "context_tablet": m.context.tablet if m else None,
                    "context_scroll": m.context.scroll if m else None,
                    "context_opus": m.context.opus if m else None,
                    "max_tokens": m.max_output if m else None,
                }
            )
        cols = [
            "id",
            "owned_by",
            "created",
            "name",
            "short",
            "context_tablet",
            "context_scroll",
            "context_opus",
            "max_tokens",
        ]
        return pd.DataFrame(rows, columns=cols)

    # -- completions -----------------------------------------------------------------------------------
    async def _oa_prepare(
        self,
        prompt: str | Sequence[int],
        preset: Preset | str | None,
        model: str | TextModel | None,
        *,
        stop: Sequence[str] | None,
        logit_bias: Mapping[int | str, float] | None,
        truncate: bool,
        context_tokens: int | None,
        tier: int | str | None,
        logprobs: int | None,
        params: dict[str, Any],
        seed: int | None = None,
    ) -> tuple[dict[str, Any], Preset, TextModel, int]:
        m = oa_model(
            model if model is not None else (preset.model if isinstance(preset, Preset) else "glm-4-6")
        )
        p = _preset_for(preset, m)
        for bad in ("use_string", "module", "bans", "biases", "global_settings"):
            if bad in params and params[bad] not in (None, False):
                raise InputError(bad, params[bad], f"nothing: {m.name} over /oa/v1 has no {bad}")
            params.pop(bad, None)
        if "num_logprobs" in params:  # the native API's name for the same wish
            n_lp = params.pop("num_logprobs")
            logprobs = logprobs if logprobs is not None else n_lp
        sampling = oa_parameters(p, m, stop=stop, logit_bias=logit_bias, **params)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise InputError("seed", seed, "an int >= 0 (or None)")
        if logprobs is not None:
            oa_completion_body("", {}, logprobs=logprobs)  # checks it before any request
        if not isinstance(truncate, bool):
            raise InputError("truncate", truncate, "True or False")
        from .glm_prompt import GLMPrompt

        if isinstance(prompt, GLMPrompt):
            prompt = prompt.text  # a built story prompt (naikit.novelai.glm_prompt.build_prompt)
        if isinstance(prompt, str):
            if not prompt:
                raise InputError("prompt", prompt, "a non-empty prompt")
            ids_given = None
        elif (
            isinstance(prompt, (list, tuple))
            and prompt
            and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in prompt)
        ):
            ids_given = list(prompt)
        else:
            raise InputError("prompt", prompt, "a string or a non-empty list of token ids")
        known_tier = await self._oa_check_tier(m, tier)
        if context_tokens is not None:
            if isinstance(context_tokens, bool) or not isinstance(context_tokens, int) or context_tokens < 2:
                raise InputError("context_tokens", context_tokens, "an int >= 2")
            limit = context_tokens
        else:
            limit = m.context.for_tier(known_tier or "opus")
        if ids_given is not None:
            n, ids = len(ids_given), ids_given
        else:
            try:
                n, ids = await self._token_count(prompt, m)  # type: ignore[arg-type]
            except APIError as exc:
                if exc.status not in (400, 404, 405):
                    raise
                # a server without the token-count endpoint: the text goes as a string, unchecked here
                # (the server decides about its length); never a guessed count
                log.warning("token-count unavailable (%s); sending the prompt as text", exc.status)
                n, ids = -1, None
        room = limit - sampling["max_tokens"]
        send: str | list[int] = ids if ids is not None else prompt  # type: ignore[assignment]
        if n > room:
            if not truncate:
                raise InputError(
                    "prompt",
                    f"<{n} tokens>",
                    f"at most {room} tokens ({m.name}'s context of {limit} "
                    f"minus max_tokens {sampling['max_tokens']})",
                    hint="Shorten it, lower max_length, or pass truncate=True to cut it from the top.",
                )
            if ids is None:
                raise InputError(
                    "truncate", True, "a server whose token-count returns the ids (this one returns a count)"
                )
            keep = list(_START) if tuple(ids[:2]) == _START else []
            send = keep + ids[len(ids) - (room - len(keep)) :]
            n = len(send)
        body = oa_completion_body(send, sampling, logprobs=logprobs)
        if seed is not None:
            # an OA schema field ([D]); the website never sends it; naikit's sandbox draws from it
            body["seed"] = seed
        return body, p, m, n

    async def _oa_events(
        self, path: str, body: dict[str, Any], chat: bool
    ) -> AsyncIterator[tuple[str, list[int], bool, _Assembler, float]]:
        from .._decode import load_json
        from .._framing import SSEDecoder
        from ..errors import StreamIncomplete

        await self._ensure_ready()  # type: ignore[attr-defined]
        what = f"POST {path}"
        asm = _Assembler(chat)
        t0 = time.perf_counter()
        # chunks are a few hundred bytes: a 1 MiB line is a broken or hostile stream
        sse = SSEDecoder(max_line=1024 * 1024, what=what)
        done = False

        def as_json(data: str) -> Any:
            return load_json(data, lambda reason: ResponseShapeError(what, "data", f"is not JSON ({reason})"))

        chunks = self.transport.stream(  # type: ignore[attr-defined]
            "POST", "text", path, json=body, generation=True, headers={"Accept": "text/event-stream"}
        )
        # ``async with``: however the caller's loop ends (break, an exception kept in a traceback), the
        # stream is closed and the account's generation gate freed right here.
        async with chunks:
            try:
                async for chunk in chunks:
                    if chunks.content_type == "application/json":
                        # a server that answered with one JSON body: take it as a single chunk
                        piece, ids, fin = asm.add(as_json(chunk.decode("utf-8", "replace")), what)
                        yield piece, ids, True, asm, time.perf_counter() - t0
                        return
                    for ev in sse.feed(chunk):
                        data = ev.get("data")
                        if data is None:
                            continue
                        if data.strip() == "[DONE]":
                            done = True
                            break
                        piece, ids, fin = asm.add(as_json(data), what)
                        yield piece, ids, fin, asm, time.perf_counter() - t0
                    if done:
                        break
            except StreamIncomplete as exc:
                exc.partial = "".join(asm.text)
                raise
        if not done and asm.finish is None:
            raise StreamIncomplete(
                f"{what}: the stream ended without data: [DONE] or a finish_reason; the text so far is in "
                "this error's .partial. Repeat the generation to get a complete one.",
                url=chunks.url,
                partial="".join(asm.text),
            )

    def _oa_generation(
        self,
        asm: _Assembler,
        body: dict[str, Any],
        p: Preset,
        m: TextModel,
        prompt: Any,
        n_prompt: int,
        timings: dict[str, float],
    ) -> Generation:
        text = "".join(asm.text)
        usage = asm.usage or {
            "prompt_tokens": n_prompt if n_prompt >= 0 else None,
            "completion_tokens": len(asm.tokens),
            "total_tokens": n_prompt + len(asm.tokens) if n_prompt >= 0 else None,
            "counted": True,
        }
        total = timings.get("total_s", 0.0)
        first = timings.get("first_token_s")
        n = len(asm.tokens) or len([x for x in asm.text if x])
        span = total - first if first is not None and n > 1 else total
        timings["tokens_per_s"] = ((n - 1) if first is not None and n > 1 else n) / span if span > 0 else 0.0
        return Generation(
            text=text,
            tokens=list(asm.tokens),
            model=m.value,
            prompt=prompt if isinstance(prompt, str) else list(prompt),
            preset=p.name,
            parameters={k: v for k, v in body.items() if k not in ("prompt", "messages")},
            timings=timings,
            finish_reason=asm.finish,
            usage=usage,
            pieces=list(asm.pieces),
            oa_logprobs=asm.logprobs or None,
            seed=body.get("seed"),
        )

    async def _oa_generate_stream(
        self,
        prompt: str | Sequence[int],
        preset: Preset | str | None = None,
        *,
        model: str | TextModel | None = None,
        stop: Sequence[str] | None = None,
        logit_bias: Mapping[int | str, float] | None = None,
        truncate: bool = False,
        context_tokens: int | None = None,
        tier: int | str | None = None,
        logprobs: int | None = None,
        seed: int | None = None,
        **params: Any,
    ) -> AsyncIterator[StreamToken]:
        from .glm_prompt import GLMPrompt

        if isinstance(prompt, GLMPrompt):
            prompt = prompt.text
        body, p, m, n_prompt = await self._oa_prepare(
            prompt, preset, model, stop=stop, logit_bias=logit_bias, truncate=truncate,
            context_tokens=context_tokens, tier=tier, logprobs=logprobs, params=params, seed=seed,
        )  # fmt: skip
        async for ev in self._oa_run("/oa/v1/completions", body, p, m, prompt, n_prompt, chat=False):
            yield ev

    async def _oa_run(
        self,
        path: str,
        body: dict[str, Any],
        p: Preset,
        m: TextModel,
        prompt: Any,
        n_prompt: int,
        *,
        chat: bool,
    ) -> AsyncIterator[StreamToken]:
        first: float | None = None
        ptr = 0
        asm: _Assembler | None = None
        last: tuple[str, list[int], float] = ("", [], 0.0)
        held: tuple[str, list[int], float] | None = None
        async for item in self._oa_events(path, body, chat):
            piece, ids, fin, asm, elapsed = item
            if first is None and (piece or ids):
                first = elapsed
            last = (piece, ids, elapsed)
            if fin:
                # the finishing chunk becomes the final event once the stream has ended (a usage chunk
                # may still follow); every other chunk is passed on at once
                held = last
                continue
            yield StreamToken(ptr, ids[0] if len(ids) == 1 else None, piece, False, None, elapsed)
            ptr += 1
        if asm is None:
            raise ResponseShapeError(f"POST {path}", "stream", "carried no chunk")
        if chat:
            asm.text = [_strip_think("".join(asm.text))]
        timings = {"total_s": last[2]}
        if first is not None:
            timings["first_token_s"] = first
        gen = self._oa_generation(asm, body, p, m, prompt, n_prompt, timings)
        piece, ids, elapsed = held if held is not None else ("", [], last[2])
        yield StreamToken(ptr, ids[0] if len(ids) == 1 else None, piece, True, None, elapsed, gen)

    async def _oa_generate(
        self, prompt: str | Sequence[int], preset: Preset | str | None = None, **kw: Any
    ) -> Generation:
        gen = None
        async for ev in self._oa_generate_stream(prompt, preset, **kw):
            if ev.final:
                gen = ev.generation
        if gen is None:  # pragma: no cover - _oa_run always ends with a final event
            raise ResponseShapeError("POST /oa/v1", "stream", "ended without a final event")
        return gen

    # -- chat -----------------------------------------------------------------------------------------
    async def chat_stream(
        self,
        messages: Sequence[Mapping[str, str]],
        model: str | TextModel = "glm-4-6",
        preset: Preset | str | None = None,
        *,
        stop: Sequence[str] | None = None,
        thinking: bool = False,
        tier: int | str | None = None,
        **params: Any,
    ) -> AsyncIterator[StreamToken]:
        """Yield one :class:`StreamToken` per chunk of ``/oa/v1/chat/completions`` (always streamed).

        ``messages`` are ``{role, content}`` dicts (content a string). ``thinking=False`` (default)
        sends ``enable_thinking: false``; a ``<think>…</think>`` block is stripped from the final text.
        The final event carries the whole answer as a Generation.
        """
        m = oa_model(model)
        msgs = _check_messages(messages)
        if not isinstance(thinking, bool):
            raise InputError("thinking", thinking, "True or False")
        p = _preset_for(preset, m)
        sampling = oa_parameters(p, m, stop=stop, **params)
        await self._oa_check_tier(m, tier)
        body = {**sampling, "messages": msgs, "enable_thinking": thinking, "stream": True}
        async for ev in self._oa_run("/oa/v1/chat/completions", body, p, m, json.dumps(msgs), 0, chat=True):
            yield ev

    async def chat(
        self,
        messages: Sequence[Mapping[str, str]],
        model: str | TextModel = "glm-4-6",
        preset: Preset | str | None = None,
        **kw: Any,
    ) -> Generation:
        """Return the assistant's answer to ``messages`` as a :class:`Generation` (streamed on the wire,
        assembled here: the service's non-streamed chat answer is broken). Same arguments as
        :meth:`chat_stream`."""
        gen = None
        async for ev in self.chat_stream(messages, model, preset, **kw):
            if ev.final:
                gen = ev.generation
        if gen is None:  # pragma: no cover - _oa_run always ends with a final event
            raise ResponseShapeError("POST /oa/v1", "stream", "ended without a final event")
        return gen
