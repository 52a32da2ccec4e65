"""The GLM-4.6 / Xialong area of the NovelAI client: completions and chat over ``/oa/v1``, streamed.

``OAAPI`` is an area of :class:`naikit.novelai.async_client.AsyncNovelAI` (built on the typed core
:class:`~naikit.novelai._base.ClientCore`); the sync ``NovelAI`` gets the same methods. The requests are
built and checked in :mod:`naikit.novelai.oa` (see there for what is sent and why). Here: the account's
tier check (Xialong needs Opus), the token-count calls (cached per client), and the stream: every answer
arrives as server-sent chunks that :class:`_Assembler` collects into one
:class:`~naikit.novelai.generation.Generation` (chat answers with any ``<think>…</think>`` stripped).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._validate import is_token_ids
from ..errors import APIError, InputError, ResponseShapeError
from .generation import Generation, StreamToken
from .models import OA_MODELS, TextModel
from .oa import (
    _START,
    GLM_EOS,
    _check_messages,
    _preset_for,
    oa_completion_body,
    oa_model,
    oa_parameters,
    parse_token_count,
)
from .user_api import AccountAPI

# the preset tables load with the first call that needs them, not with the client (import time)
if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .presets import Preset

__all__ = ["OAAPI"]

log = logging.getLogger("naikit")
_THINK_RE = re.compile(r"<think>.*?</think>\s*", re.S)


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
        text = c.get("text")
        if self.chat:
            delta = c.get("delta") or {}
            content = delta.get("content") if isinstance(delta, dict) else None
            piece = content if isinstance(content, str) else text if isinstance(text, str) else ""
        elif isinstance(text, str):
            piece = text
        else:
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


class OAAPI(AccountAPI):
    """Area: GLM-4.6 / Xialong over ``/oa/v1`` (completions, chat, models, token counts)."""

    # the account's tier once fetched (None inside: unknown, the server decides), and token counts by
    # (model, text); class-level None until the first use, then this client's own
    _oa_tier_cache: tuple[int | None] | None = None
    _oa_counts: dict[tuple[str, str], tuple[int, list[int] | None]] | None = None

    # -- account tier (known once fetched) ----------------------------------------------------------
    async def _oa_tier(self) -> int | None:
        if self._oa_tier_cache is not None:
            return self._oa_tier_cache[0]
        tier: int | None = None
        try:
            sub = await self.subscription()
            t = getattr(sub, "tier", None)
            tier = t if isinstance(t, int) and 0 <= t <= 3 else None
        except Exception:  # noqa: BLE001 - an unknown tier only means the server decides
            tier = None
        self._oa_tier_cache = (tier,)
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
        if self._oa_counts is None:
            self._oa_counts = {}
        cache = self._oa_counts
        key = (m.value, text)
        if key in cache:
            n, ids = cache[key]
            return n, (list(ids) if ids is not None else None)
        await self._ensure_ready()
        resp = await self.transport.request(
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

        await self._ensure_ready()
        resp = await self.transport.request("GET", "text", "/oa/v1/models")
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
        from .presets import Preset

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
        text: str | None = None
        ids_given: list[int] | None = None
        if isinstance(prompt, str):
            if not prompt:
                raise InputError("prompt", prompt, "a non-empty prompt")
            text = prompt
        elif is_token_ids(prompt):
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
        ids: list[int] | None
        if text is None:
            n, ids = len(ids_given or ()), ids_given
        else:
            try:
                n, ids = await self._token_count(text, m)
            except APIError as exc:
                if exc.status not in (400, 404, 405):
                    raise
                # a server without the token-count endpoint: the text goes as a string, unchecked here
                # (the server decides about its length); never a guessed count
                log.warning("token-count unavailable (%s); sending the prompt as text", exc.status)
                n, ids = -1, None
        room = limit - sampling["max_tokens"]
        # a count without ids (a server that sends none): the prompt goes as text
        send: str | list[int] = ids if ids is not None else (text or "")
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

        await self._ensure_ready()
        what = f"POST {path}"
        asm = _Assembler(chat)
        t0 = time.perf_counter()
        # chunks are a few hundred bytes: a 1 MiB line is a broken or hostile stream
        sse = SSEDecoder(max_line=1024 * 1024, what=what)
        done = False

        def as_json(data: str) -> Any:
            return load_json(data, lambda reason: ResponseShapeError(what, "data", f"is not JSON ({reason})"))

        chunks = self.transport.stream(
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
            if done:
                await chunks.finish()  # the connection goes back to the pool for the next generation
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
