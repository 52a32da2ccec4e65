"""Text-generation presets and the exact ``parameters`` object NovelAI expects (spec §5.2-§5.4, §8.2).

:class:`Preset` reads and writes NovelAI's ``.preset`` files (a file read and written back is unchanged),
knows every parameter with its type and allowed range, and keeps the sampler order with enabled flags.
``Preset.official(model, name)`` returns one of the 48 official presets shipped in
``naikit/data/presets`` (see its NOTICE); ``name=None`` gives the model's default.

:func:`build_parameters` turns a preset, :class:`GlobalSettings`, bans (:class:`BanList`), biases
(:class:`BiasGroup`), stop sequences and a module into the request's ``parameters`` exactly as
novelai.net builds them (its January 2026 code: bans, default bias, whitelist, sampler support, rescales;
tests/test_site_text.py checks every official preset); :func:`build_request` adds ``input``, ``model``
and ``use_new_shared_trial``. Where naikit differs from ``novelai-api`` 0.34.1 (each case has a test):

* parameters of disabled samplers are never sent (novelai-api keeps ``tail_free_sampling``, ``cfg_scale``,
  ``cfg_uc``, ``mirostat_*`` and ``math1_*`` of disabled samplers because of name mismatches);
* Erato's stop sequences, bias phrases, bans and rep-pen whitelist do not start with BOS (128000) — only the
  prompt does;
* the rep-pen whitelist is sent only when the preset asks for it, in the site's order.

naikit's own deliberate differences from the website are listed in the README.

Everything a user gives is checked before a request is built; bad values raise InputError naming the
key, the value and what is allowed.

Layout: each parameter's type and range is in ``text_param_tables`` (a format module the sandbox shares),
the sampler tables and the checks in ``_preset_params``, the ``.preset`` file format and the
official presets in ``_preset_file``, the :class:`Preset` object in ``_preset``, the site's settings, bans
and biases in ``_text_settings``; this module builds the request and is where every public name is
imported from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._validate import check_bool, check_instance, check_text, is_token_id
from ..errors import InputError
from ._preset import Preset
from ._preset_file import PRESET_VERSION, _official_files, default_preset_name
from ._preset_params import (
    OA_PARAM_FIELDS,
    OA_SAMPLERS,
    SAMPLER_IDS,
    SAMPLER_KEYS,
    SAMPLER_MODELS,
    SAMPLERS,
    check_oa_parameter,
    check_parameter,
    is_oa_model,
)
from ._text_settings import (
    _NO_BIAS_MODELS,
    _PREFIX_MODELS,
    _RESCALED,
    _SITE_FAMILY,
    _SITE_SAMPLERS,
    BanList,
    BiasGroup,
    GlobalSettings,
    _global_data,
    _sequence,
)
from .models import OA_MODELS, TEXT_MODELS, TextModel, text_model
from .modules_catalog import check_module
from .text_param_tables import PARAMS, PHRASE_REP_PEN, ParamSpec

__all__ = [
    "SAMPLERS",
    "SAMPLER_IDS",
    "SAMPLER_KEYS",
    "SAMPLER_MODELS",
    "PHRASE_REP_PEN",
    "PARAMS",
    "ParamSpec",
    "Preset",
    "GlobalSettings",
    "BiasGroup",
    "BanList",
    "PRESET_VERSION",
    "build_parameters",
    "build_request",
    "check_parameter",
    "official_presets",
    "default_preset_name",
    "OA_SAMPLERS",
    "OA_PARAM_FIELDS",
    "is_oa_model",
    "check_oa_parameter",
]


def official_presets(model: str | TextModel | None = None) -> list[Preset]:
    """Return copies of the official presets of ``model`` (every text model's when None), by name."""
    models = [text_model(model)] if model is not None else [*TEXT_MODELS, *OA_MODELS]
    return [Preset.from_json(text) for m in models for _, text in _official_files(m.value)]


def _as_list(value: Any, cls: type, where: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, cls):
        return [value]
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            if not isinstance(v, cls):
                raise InputError(f"{where}[{i}]", v, f"a {cls.__name__}")
        return list(value)
    raise InputError(where, value, f"a {cls.__name__} or a list of them")


def _merge_biases(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return ``entries`` with equal sequences merged as the site does: mean bias, flags or-ed."""
    merged: list[dict[str, Any]] = []
    counts: list[int] = []
    for e in entries:
        for k, m in enumerate(merged):
            if m["sequence"] == e["sequence"]:
                m["bias"] += e["bias"]
                m["ensure_sequence_finish"] = m["ensure_sequence_finish"] or e["ensure_sequence_finish"]
                m["generate_once"] = m["generate_once"] or e["generate_once"]
                counts[k] += 1
                break
        else:
            merged.append(dict(e))
            counts.append(1)
    for m, n in zip(merged, counts, strict=True):
        if n > 1:
            m["bias"] = m["bias"] / n
    return merged


def build_parameters(
    preset: Preset,
    model: str | TextModel | None = None,
    *,
    global_settings: GlobalSettings | None = None,
    bans: BanList | Sequence[BanList] | None = None,
    biases: BiasGroup | Sequence[BiasGroup] | None = None,
    stop_sequences: Sequence[str | Sequence[int]] | None = None,
    module: str | None = None,
    use_string: bool = False,
    context: str = "",
    **overrides: Any,
) -> dict[str, Any]:
    """Return the request ``parameters`` for ``preset`` on ``model`` (the preset's model when None).

    Built as novelai.net builds them: the preset's parameters (disabled samplers and the samplers the
    site does not send for the model dropped), then ``overrides`` (any parameter, checked); bans in the
    site's order (always-on, yours, bracket bans, Erato's extra bracket bans for a mostly Japanese
    ``context``); biases (yours, equal sequences merged, then the default "***"/"⁂" bias; negated for
    Genji-JP); the rep-pen whitelist when the preset asks for it; the old rep-pen scale for Sigurd,
    Euterpe and Genji; ``prefix`` "vanilla" for models without modules. Raises InputError for a preset
    of another model, a module the model lacks, or any bad value.
    """
    check_instance(preset, Preset, "preset", "a Preset (Preset.official(model, name) or Preset.load(path))")
    m = text_model(model) if model is not None else preset.text_model
    if preset.model != m.value:
        raise InputError(
            "preset", preset.name, f"a preset for {m.value}", hint=f"This preset is for {preset.model}."
        )
    gs = global_settings if global_settings is not None else GlobalSettings()
    check_instance(gs, GlobalSettings, "global_settings", "a GlobalSettings")
    check_bool(use_string, "use_string")
    check_text(context, "context", allowed="the prompt text (str)")
    checked = {k: check_parameter(k, v) for k, v in overrides.items() if k != "order"}
    if "order" in overrides:
        preset = preset.copy()
        preset.set_order(overrides.pop("order"))
    prefix = check_module(module, m)

    params = preset.to_parameters(m)
    params.pop("eos_token_id", None)  # the site never sends a preset's eos_token_id (Inline's preset has one)
    default_wl = bool(preset.get("repetition_penalty_default_whitelist", False))
    ids = {n: SAMPLER_IDS[n] for n in SAMPLERS}
    for name, models in _SITE_SAMPLERS.items():
        if m.value not in models:
            for key in SAMPLER_KEYS[name]:
                params.pop(key, None)
            if "order" in params:
                params["order"] = [i for i in params["order"] if i != ids[name]]
    global_params = gs.to_parameters(m, default_whitelist=default_wl)
    site_bans = global_params.pop("bad_words_ids", [])
    default_bias = global_params.pop("logit_bias_exp", [])
    params.update(global_params)
    params.update(checked)  # the call's own values last, as the site's parameter overrides
    if use_string:
        params["use_string"] = True
    if m.value in _RESCALED and "repetition_penalty" in params:
        # Sigurd, Euterpe and Genji take the penalty on the old scale: NovelAI's site rescales the value.
        params["repetition_penalty"] = 1 + 0.525 * (params["repetition_penalty"] - 1) / 7
    params["prefix"] = prefix if m.value in _PREFIX_MODELS else "vanilla"
    always = gs.always_bans(m)
    user_bans = [seq for b in _as_list(bans, BanList, "bans") for seq in b.entries(m)]
    bad = always + user_bans + site_bans[len(always) :]
    if gs.ban_brackets and context:
        bad += [s for s in gs.bracket_bans(m, context) if s not in gs.bracket_bans(m)]
    if bad:
        params["bad_words_ids"] = bad
    entries = [e for g in _as_list(biases, BiasGroup, "biases") for e in g.entries(m)]
    entries = _merge_biases(entries) if m.value not in _NO_BIAS_MODELS else []
    fam = _SITE_FAMILY.get(m.value, "")
    entries += [dict(e) for e in _global_data()["always_biases"].get(fam, [])]
    entries += [e for e in default_bias if all(x["sequence"] != e["sequence"] for x in entries)]
    if m.value == "genji-jp-6b-v2":
        for e in entries:
            e["bias"] = -e["bias"]
    if entries:
        params["logit_bias_exp"] = entries
    if stop_sequences is not None:
        if isinstance(stop_sequences, (str, bytes)) or not isinstance(stop_sequences, (list, tuple)):
            raise InputError("stop_sequences", stop_sequences, "a list of strings or token-id lists")
        stops = [_sequence(s, m, f"stop_sequences[{i}]") for i, s in enumerate(stop_sequences)]
        if stops:
            params["stop_sequences"] = stops
    # What the site leaves out when a sampler's value switches it off.
    if params.get("top_k", 0) < 0:
        del params["top_k"]
    for key in ("top_p", "tail_free_sampling"):
        if key in params and not 0 < params[key] <= 1:
            del params[key]
    lo, hi = params.get("min_length", 0), params.get("max_length", 2048)
    if lo > hi:
        raise InputError("min_length", lo, f"at most max_length ({hi})")
    return params


def build_request(
    prompt: str | Sequence[int],
    preset: Preset,
    model: str | TextModel | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Return the whole request body ``{"input", "model", "parameters"}`` for ``/ai/generate``.

    ``prompt`` is text (tokenized for the model; Erato prompts start with BOS 128000) or token ids;
    with ``use_string=True`` the text is sent as is. ``kwargs`` go to :func:`build_parameters`.
    """
    from ..tokenizers import encode, tokens_to_b64

    m = text_model(model) if model is not None else preset.text_model
    if isinstance(prompt, str):
        kwargs.setdefault("context", prompt)
    params = build_parameters(preset, m, **kwargs)
    if params.get("use_string"):
        if not isinstance(prompt, str):
            raise InputError("prompt", prompt, "text (use_string=True sends the prompt as a string)")
        data = prompt
    else:
        if isinstance(prompt, str):
            ids = encode(prompt, m.value, bos=m.tokenizer == "llama3")
        elif isinstance(prompt, (list, tuple)) and all(is_token_id(t) for t in prompt):
            ids = list(prompt)
        else:
            raise InputError("prompt", prompt, "a string or a list of token ids")
        data = tokens_to_b64(ids, m.value)
    # The site marks every text request for the shared free-trial pool; the API ignores it otherwise.
    return {"input": data, "model": m.value, "use_new_shared_trial": True, "parameters": params}
