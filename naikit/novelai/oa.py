"""NovelAI's OpenAI-style text API (``/oa/v1``) for GLM-4.6 and Xialong (spec novelai-oa.md).

This module builds and checks the requests; the client's area that sends them is ``OAAPI``
(:mod:`naikit.novelai.oa_api`), part of :class:`naikit.novelai.async_client.AsyncNovelAI` (the sync
``NovelAI`` gets the same methods). ``nai.generate(prompt, glm_preset)`` and ``generate_stream`` go there for
GLM-family models (see :mod:`naikit.novelai.text`):

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

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InputError, ResponseShapeError
from .models import OA_MODELS, TextModel, text_model

# the preset tables load with the first call that needs them, not with the client (import time)
if TYPE_CHECKING:
    from .presets import Preset

__all__ = [
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
    from .presets import Preset

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
    from .presets import OA_PARAM_FIELDS, OA_SAMPLERS, Preset, check_oa_parameter

    m = oa_model(model if model is not None else (preset.model if isinstance(preset, Preset) else "glm-4-6"))
    p = _preset_for(preset, m)
    values = {k: p.get(k) for k in OA_PARAM_FIELDS if p.get(k) is not None}
    enabled = set(p.enabled_samplers)
    for s in OA_SAMPLERS:
        if s not in enabled and values.get(s) != _NEUTRAL[s]:
            values[s] = _NEUTRAL[s]
    field_to_key = {v: k for k, v in OA_PARAM_FIELDS.items()}  # overrides may use either spelling
    for key, val in overrides.items():
        k = field_to_key.get(key, key)
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
