"""NovelAI endpoints for text generation and streaming with presets (spec §5).

``TextAPI`` is an area of :class:`naikit.novelai.async_client.AsyncNovelAI` (built on the typed core
:class:`~naikit.novelai._base.ClientCore`): its public coroutine methods use the client's ``transport`` and
appear on the sync ``NovelAI`` automatically.

``generate(prompt, preset)`` sends ``POST /ai/generate`` to the model's host (``text.novelai.net`` for
Kayra and Erato, answering 200; ``api.novelai.net`` for the others, answering 201) and returns a
:class:`~naikit.novelai.generation.Generation`. ``generate_stream`` yields
:class:`~naikit.novelai.generation.StreamToken` events from ``/ai/generate-stream``. Everything is checked
before sending: the preset's values, bans, biases, stop sequences, the module (``prefix``) against the
model, and the prompt's length against the context (``truncate=True`` cuts it from the top instead).
"""

from __future__ import annotations

import codecs
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from .._decode import load_json
from .._validate import is_token_ids
from ..errors import InputError, ResponseShapeError, StreamIncomplete, api_error
from .generation import Generation, StreamToken, decode_output
from .models import TextModel, text_model
from .oa import _preset_for
from .oa_api import OAAPI
from .stories_api import StoriesAPI

# the preset tables and request builder load with the first call that needs them, not with the client
# (import time): each function imports what it uses; annotations name them for type checkers only
if TYPE_CHECKING:
    from .presets import BanList, BiasGroup, GlobalSettings, Preset

__all__ = [
    "TextAPI",
    "DEFAULT_TEXT_MODEL",
    "SEED_PARAM",
    "resolve_preset",
    "prepare_request",
    "TextStreamEvent",
    "decode_stream_event",
]

#: The model used when neither a model nor a Preset object says which.
DEFAULT_TEXT_MODEL = "llama-3-erato-v1"
#: Query parameter carrying ``seed``: only naikit's sandbox reads it (NovelAI's text API has no seed).
SEED_PARAM = "naikit_seed"

_OUTPUT_SHAPE = {"output": str}


def resolve_preset(preset: Preset | str | None, model: str | TextModel | None) -> tuple[Preset, TextModel]:
    """Return the (preset, model) pair a call means: a Preset object, an official name, or the default.

    Raises InputError when a Preset object is for another model than ``model``.
    """
    from .presets import Preset

    if isinstance(preset, Preset):
        m = text_model(model) if model is not None else preset.text_model
        if preset.model != m.value:
            raise InputError(
                "preset", preset.name, f"a preset for {m.value}", hint=f"It is for {preset.model}."
            )
        return preset, m
    m = text_model(model if model is not None else DEFAULT_TEXT_MODEL)
    if preset is None or isinstance(preset, str):
        return Preset.official(m, preset), m
    raise InputError("preset", preset, "a Preset, the name of an official preset, or None for the default")


def _fit_context(ids: list[int], m: TextModel, limit: int, max_length: int, truncate: bool) -> list[int]:
    room = limit - max_length
    if len(ids) <= room:
        return ids
    if not truncate:
        raise InputError(
            "prompt",
            f"<{len(ids)} tokens>",
            f"at most {room} tokens ({m.name}'s context of {limit} minus max_length {max_length})",
            hint="Shorten it, lower max_length, or pass truncate=True to cut it from the top.",
        )
    from ..tokenizers import LLAMA3_BOS

    if m.tokenizer == "llama3" and ids and ids[0] == LLAMA3_BOS:
        return [LLAMA3_BOS, *ids[len(ids) - room + 1 :]]
    return ids[len(ids) - room :]


def prepare_request(
    prompt: str | Sequence[int],
    preset: Preset | str | None = None,
    *,
    model: str | TextModel | None = None,
    global_settings: GlobalSettings | None = None,
    bans: BanList | Sequence[BanList] | None = None,
    biases: BiasGroup | Sequence[BiasGroup] | None = None,
    stop_sequences: Sequence[str | Sequence[int]] | None = None,
    module: str | None = None,
    use_string: bool = False,
    truncate: bool = False,
    context_tokens: int | None = None,
    **params: Any,
) -> tuple[dict[str, Any], Preset, TextModel]:
    """Return ``(body, preset, model)`` for a generation request, every input checked, nothing sent.

    ``context_tokens`` is the context size to respect (default: the model's Opus context); a longer prompt
    raises InputError unless ``truncate=True``, which cuts it from the top (keeping Erato's BOS).
    """
    from ..tokenizers import encode, tokens_to_b64
    from .presets import build_request

    p, m = resolve_preset(preset, model)
    if isinstance(prompt, str):
        ids = encode(prompt, m.value, bos=m.tokenizer == "llama3")
    elif is_token_ids(prompt):
        ids = list(prompt)
    else:
        raise InputError("prompt", prompt, "a string or a non-empty list of token ids")
    if not ids:
        raise InputError("prompt", prompt, "a non-empty prompt")
    if not isinstance(truncate, bool):
        raise InputError("truncate", truncate, "True or False")
    if not isinstance(use_string, bool):
        raise InputError("use_string", use_string, "True or False")
    limit = context_tokens if context_tokens is not None else m.context.opus
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 2:
        raise InputError("context_tokens", limit, "an int >= 2")
    body = build_request(
        ids,
        p,
        m,
        global_settings=global_settings,
        bans=bans,
        biases=biases,
        stop_sequences=stop_sequences,
        module=module,
        use_string=False,
        **params,
    )
    max_length = body["parameters"].get("max_length", 40)
    fitted = _fit_context(ids, m, limit, max_length, truncate)
    if use_string:
        if not isinstance(prompt, str):
            raise InputError("prompt", "<token ids>", "text when use_string=True")
        from ..tokenizers import LLAMA3_BOS, decode

        # the text itself is sent; after truncation, the text of the tokens that were kept
        kept = [i for i in fitted if i != LLAMA3_BOS] if m.tokenizer == "llama3" else fitted
        body["input"] = prompt if len(fitted) == len(ids) else decode(kept, m.value)
        body["parameters"]["use_string"] = True
    else:
        body["input"] = tokens_to_b64(fitted, m.value)
    return body, p, m


def _is_oa(preset: Preset | str | None, model: str | TextModel | None) -> bool:
    """Return True when the call means a GLM-family model (served over /oa/v1, see naikit.novelai.oa)."""
    from .presets import Preset

    if model is not None:
        return text_model(model).api == "oa"
    return isinstance(preset, Preset) and preset.text_model.api == "oa"


def _oa_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    """Return the keyword arguments of a native call translated for the /oa/v1 route.

    ``stop_sequences`` (strings) become ``stop``; ``seed`` goes as the OA body's ``seed`` field.
    """
    out = {k: v for k, v in kw.items() if v is not None and k not in ("stop_sequences",)}
    if out.get("use_string") is False:
        del out["use_string"]
    stops = kw.get("stop_sequences")
    if stops is not None:
        if not all(isinstance(s, str) for s in stops):
            raise InputError(
                "stop_sequences", stops, "strings for GLM models (the /oa/v1 API takes stop strings)"
            )
        out["stop"] = list(stops)
    return out


def _check_seed(seed: Any) -> dict[str, str] | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError("seed", seed, "an int >= 0 (or None)")
    return {SEED_PARAM: str(seed)}


class TextAPI(OAAPI, StoriesAPI):
    """Area: text generation and streaming with presets (GLM-family models go to the OA area)."""

    async def generate(
        self,
        prompt: str | Sequence[int],
        preset: Preset | str | None = None,
        *,
        model: str | TextModel | None = None,
        global_settings: GlobalSettings | None = None,
        bans: BanList | Sequence[BanList] | None = None,
        biases: BiasGroup | Sequence[BiasGroup] | None = None,
        stop_sequences: Sequence[str | Sequence[int]] | None = None,
        module: str | None = None,
        use_string: bool = False,
        truncate: bool = False,
        context_tokens: int | None = None,
        seed: int | None = None,
        **params: Any,
    ) -> Generation:
        """Generate a continuation of ``prompt``; return a :class:`Generation`.

        ``preset`` is a Preset, the name of an official preset of ``model``, or None (the model's
        default); ``model`` defaults to the Preset's model, else Erato. ``params`` override single
        parameters (``max_length=60``, ``temperature=0.8``...). ``seed`` only matters on naikit's
        sandbox (NovelAI's text API has no seed). Raises InputError before sending for any bad value.
        """
        options: dict[str, Any] = dict(
            model=model, global_settings=global_settings, bans=bans, biases=biases,
            stop_sequences=stop_sequences, module=module, use_string=use_string, truncate=truncate,
            context_tokens=context_tokens,
        )  # fmt: skip
        if _is_oa(preset, model):
            kw = _oa_kwargs({**options, "seed": seed})
            return await self._oa_generate(prompt, preset, **kw, **params)
        body, p, m = prepare_request(prompt, preset, **options, **params)
        query = _check_seed(seed)
        await self._ensure_ready()
        t0 = time.perf_counter()
        resp = await self.transport.request(
            "POST", m.host, "/ai/generate", json=body, params=query, generation=True
        )
        total = time.perf_counter() - t0
        what = "POST /ai/generate"
        if self.validate and resp.status != m.ok_status:
            raise ResponseShapeError(
                what, "status", f"should be {m.ok_status} for {m.value} but is {resp.status}"
            )
        data = self._check(resp.body, _OUTPUT_SHAPE, what)
        return _generation(data, body, p, m, prompt, seed, {"total_s": total})

    async def continue_story(
        self,
        story: Any,
        preset: Preset | str | None = None,
        *,
        model: str | TextModel | None = None,
        tier: str | int = "opus",
        token_limit: int | None = None,
        tokenizer: Any = None,
        write: bool = False,
        backup: bool = True,
        **params: Any,
    ) -> Generation:
        """Build the story's context as the website does, generate from it and return the
        :class:`Generation` with ``.context`` (the :class:`~naikit.novelai.story_context.Context` sent).

        ``model``: else the preset's, else the story's own, else Erato. GLM models (over ``/oa/v1``) need
        ``tokenizer=`` (naikit has no local GLM tokenizer). ``write=True`` appends the generated text to
        ``story.text`` and saves it to the account with :meth:`save_story` (a story read with
        ``nai.story``; backup first unless ``backup=False``).
        """
        from .presets import Preset
        from .story import Story

        if not isinstance(story, Story):
            raise InputError("story", story, "a naikit.Story")
        if not isinstance(write, bool):
            raise InputError("write", write, "True or False")
        if write and story._item is None:
            raise InputError("write", write, "False for a story that was not read from the account")
        chosen = model or (preset.model if isinstance(preset, Preset) else None) or story.model or "erato"
        m = text_model(chosen)
        p = resolve_preset(preset, m)[0] if m.api == "native" else _preset_for(preset, m)
        max_length = params.get("max_length", p.parameters.get("max_length", 150))
        if isinstance(max_length, bool) or not isinstance(max_length, int):
            raise InputError("max_length", max_length, "a whole number of tokens")
        kw = dict(tier=tier, token_limit=token_limit, tokenizer=tokenizer, max_length=max_length)
        if m.api == "oa":
            # a GLM tokenizer may itself call this client (ServerTokenizer): build off the event loop
            import asyncio

            ctx = await asyncio.to_thread(story.context, m, **kw)
        else:
            ctx = story.context(m, **kw)
        gen = await self.generate(ctx.text, preset, model=m, **params)
        gen.context = ctx
        if write:
            story.text += gen.text
            saved = await self.save_story(story, backup=backup)
            story._item = saved._item
            story._read_text = saved._read_text
            story.raw = saved.raw
        return gen

    async def generate_stream(
        self,
        prompt: str | Sequence[int],
        preset: Preset | str | None = None,
        *,
        model: str | TextModel | None = None,
        global_settings: GlobalSettings | None = None,
        bans: BanList | Sequence[BanList] | None = None,
        biases: BiasGroup | Sequence[BiasGroup] | None = None,
        stop_sequences: Sequence[str | Sequence[int]] | None = None,
        module: str | None = None,
        use_string: bool = False,
        truncate: bool = False,
        context_tokens: int | None = None,
        seed: int | None = None,
        **params: Any,
    ) -> AsyncIterator[StreamToken]:
        """Yield one :class:`StreamToken` per generated token from ``/ai/generate-stream``.

        Same arguments as :meth:`generate`. The final event (``final=True``) carries the whole
        :class:`Generation` in ``.generation``. A stream that breaks after delivering tokens is not
        retried (TransportError).
        """
        from .._framing import SSEDecoder

        options: dict[str, Any] = dict(
            model=model, global_settings=global_settings, bans=bans, biases=biases,
            stop_sequences=stop_sequences, module=module, use_string=use_string, truncate=truncate,
            context_tokens=context_tokens,
        )  # fmt: skip
        if _is_oa(preset, model):
            kw = _oa_kwargs({**options, "seed": seed})
            async for tok in self._oa_generate_stream(prompt, preset, **kw, **params):
                yield tok
            return
        body, p, m = prepare_request(prompt, preset, **options, **params)
        query = _check_seed(seed)
        await self._ensure_ready()
        from ..tokenizers import token_bytes

        what = "POST /ai/generate-stream"
        t0 = time.perf_counter()
        first: float | None = None
        text_decoder = codecs.getincrementaldecoder("utf-8")("replace")
        # text events are a few hundred bytes: a 1 MiB line is a broken or hostile stream
        sse = SSEDecoder(max_line=1024 * 1024, what=what)
        tokens: list[int] = []
        logprobs: list[dict[str, Any]] = []
        text_parts: list[str] = []
        last: StreamToken | None = None

        def partial() -> Generation:
            return Generation(
                text="".join(text_parts),
                tokens=list(tokens),
                model=m.value,
                prompt=prompt if isinstance(prompt, str) else list(prompt),
                preset=p.name,
                parameters=body["parameters"],
                raw_logprobs=logprobs or None,
                timings={"total_s": time.perf_counter() - t0},
                seed=seed,
            )

        chunks = self.transport.stream(
            "POST", m.host, "/ai/generate-stream", json=body, params=query, generation=True
        )
        valid = self.validate
        # ``async with``: however this generator ends (exhausted, closed, an exception kept in a
        # traceback), the stream is closed and the account's generation gate freed right here.
        async with chunks:
            try:
                async for chunk in chunks:
                    if chunks.content_type == "application/json":
                        # a server that answered the stream endpoint with one JSON body
                        data = _json_object(chunk, what)
                        _raise_error_event(data, chunks.url)
                        data = self._check(data, _OUTPUT_SHAPE, _STREAM)
                        gen = _generation(
                            data, body, p, m, prompt, seed, {"total_s": time.perf_counter() - t0}
                        )
                        yield StreamToken(0, None, gen.text, True, None, time.perf_counter() - t0, gen)
                        return
                    for ev in sse.feed(chunk):
                        if "data" not in ev:
                            continue
                        event = decode_stream_event(
                            ev["data"], m.value, use_string=use_string, validate=valid
                        )
                        now = time.perf_counter() - t0
                        first = now if first is None else first
                        final = event.final
                        if event.ids is None:
                            tok_id = None
                            piece = event.token
                        else:
                            tokens.extend(event.ids)
                            tok_id = event.ids[0] if len(event.ids) == 1 else None
                            piece = text_decoder.decode(token_bytes(event.ids, m.value), final=final)
                        text_parts.append(piece)
                        if event.logprobs:
                            logprobs.append(event.logprobs)
                        ptr = event.ptr if event.ptr is not None else len(text_parts) - 1
                        last = StreamToken(ptr, tok_id, piece, final, event.logprobs, now)
                        if final:
                            break
                        yield last
                    if last is not None and last.final:
                        break
                else:
                    sse.close()
            except StreamIncomplete as exc:
                exc.partial = partial()
                raise
            if last is not None and last.final:
                await chunks.finish()  # the connection goes back to the pool for the next generation
            if last is None or not last.final:
                got = f"{len(tokens) or len(text_parts)} tokens" if text_parts else "an empty body"
                raise StreamIncomplete(
                    f"{what}: the stream ended without its final event after {got}; the text so far is in "
                    "this error's .partial (a Generation). Repeat the generation to get a complete one.",
                    url=chunks.url,
                    partial=partial(),
                )
        total = time.perf_counter() - t0
        text = "".join(text_parts) + (text_decoder.decode(b"", final=True) if not use_string else "")
        if use_string and not tokens:
            from ..tokenizers import encode

            tokens = encode(text, m.value)
        timings = {"total_s": total}
        if first is not None:
            timings["first_token_s"] = first
        gen = Generation(
            text=text,
            tokens=tokens,
            model=m.value,
            prompt=prompt if isinstance(prompt, str) else list(prompt),
            preset=p.name,
            parameters=body["parameters"],
            raw_logprobs=logprobs or None,
            timings=_rates(timings, len(tokens)),
            seed=seed,
        )
        yield StreamToken(last.ptr, last.token, last.text, True, last.logprobs, last.elapsed, gen)


class TextStreamEvent(NamedTuple):
    """One decoded ``data:`` payload of ``/ai/generate-stream``.

    ``token`` is as sent (base64 token ids, or text with ``use_string``); ``ids`` the decoded ids (None with
    ``use_string``); ``ptr`` the server's position (None when it sent none); ``logprobs`` this token's entry.
    """

    token: str
    ids: list[int] | None
    ptr: int | None
    final: bool
    logprobs: dict[str, Any] | None


_STREAM = "POST /ai/generate-stream"


def decode_stream_event(raw: str, model: str, *, use_string: bool, validate: bool = True) -> TextStreamEvent:
    """Return the :class:`TextStreamEvent` in one ``data:`` payload of ``/ai/generate-stream``.

    Raises the APIError of an error event (its ``statusCode`` when that is an HTTP error status, else 500)
    and ResponseShapeError when the payload is not JSON or has no text ``token``, its token is not base64
    token ids of ``model``, or (``validate``) its ``ptr`` is not an integer or its ``logprobs`` not an
    object. Without ``validate`` a wrong ``ptr`` or ``logprobs`` is dropped instead.
    """
    data = load_json(raw, lambda reason: ResponseShapeError(_STREAM, "data", f"is not JSON ({reason})"))
    if isinstance(data, dict):
        _raise_error_event(data, _STREAM)
    if not isinstance(data, dict) or not isinstance(data.get("token"), str):
        raise ResponseShapeError(_STREAM, "token", "is missing or not a string")
    token = data["token"]
    ids = None
    if not use_string:
        from ..tokenizers import b64_to_tokens

        try:
            ids = b64_to_tokens(token, model)
        except InputError as exc:
            raise ResponseShapeError(_STREAM, "token", f"is not token ids of {model} ({exc})") from None
    ptr, lps = data.get("ptr"), data.get("logprobs")
    if ptr is not None and (isinstance(ptr, bool) or not isinstance(ptr, int)):
        if validate:
            raise ResponseShapeError(_STREAM, "ptr", f"should be an integer but is {type(ptr).__name__}")
        ptr = None
    if lps is not None and not isinstance(lps, dict):
        if validate:
            raise ResponseShapeError(_STREAM, "logprobs", f"should be an object but is {type(lps).__name__}")
        lps = None
    return TextStreamEvent(token, ids, ptr, bool(data.get("final")), lps)


def _json_object(raw: str | bytes, what: str) -> dict[str, Any]:
    """Return one stream event's JSON object, or raise ResponseShapeError."""
    data = load_json(raw, lambda reason: ResponseShapeError(what, "data", f"is not JSON ({reason})"))
    if not isinstance(data, dict):
        raise ResponseShapeError(what, "data", "is not a JSON object")
    return data


def _raise_error_event(data: dict[str, Any], url: str) -> None:
    """Raise the APIError an ``{"error": ...}`` event stands for (a stream that failed mid-way)."""
    if "error" not in data:
        return
    code = data.get("statusCode")
    code = code if isinstance(code, int) and not isinstance(code, bool) and 400 <= code < 600 else 500
    raise api_error(code, str(data.get("message") or data["error"])[:500], url=url, body=data)


def _int_field(data: dict[str, Any], name: str, default: int, what: str) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ResponseShapeError(what, name, f"should be an integer, not {type(value).__name__}")
    return value


def _rates(timings: dict[str, float], n: int) -> dict[str, float]:
    total = timings.get("total_s", 0.0)
    start = timings.get("first_token_s", 0.0)
    span = total - start if "first_token_s" in timings and n > 1 else total
    timings["tokens_per_s"] = (
        (n - 1 if "first_token_s" in timings and n > 1 else n) / span if span > 0 else 0.0
    )
    return timings


def _generation(
    data: dict[str, Any],
    body: dict[str, Any],
    p: Preset,
    m: TextModel,
    prompt: Any,
    seed: int | None,
    timings: dict[str, float],
) -> Generation:
    from ..tokenizers import b64_to_tokens, encode, parse_logprobs

    lps = data.get("logprobs") or None
    if body["parameters"].get("use_string"):
        text = data["output"]
        tokens = [s.chosen.ids[0] for s in parse_logprobs(lps, m.value)] if lps else encode(text, m.value)
    else:
        tokens = b64_to_tokens(data["output"], m.value)
        text = decode_output(tokens, m.value)
    return Generation(
        text=text,
        tokens=tokens,
        model=m.value,
        prompt=prompt if isinstance(prompt, str) else list(prompt),
        preset=p.name,
        parameters=body["parameters"],
        raw_logprobs=lps,
        timings=_rates(timings, len(tokens)),
        seed=seed,
    )
