"""Planning: the cells of an experiment (one request each), their keys and how to send them.

A :class:`Cell` holds the axes it stands for (JSON values: ``{"model", "preset", "prompt", <param>...,
"seed"}``), the identity of its request (the full body, hashed into ``key``) and what to call on an
``AsyncNovelAI`` to send it. Everything is validated while planning, before any request.

Text keys hash the native ``/ai/generate`` body exactly as naikit sends it plus the ``seed`` query; GLM
models (``/oa/v1``) hash their model, prompt text, sampling parameters and seed (the OA body's token ids
come from the server's token-count call, a pure function of the prompt). Image keys hash the
``/ai/generate-image`` body.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from .journal import request_key

if TYPE_CHECKING:  # pragma: no cover
    from ..novelai.generation import Generation
    from ..novelai.images_result import ImageResult

__all__ = ["Cell", "text_cells", "image_cells", "grid"]


@dataclass
class Cell:
    """One planned request: its axes, its key, and the call that sends it."""

    axes: dict[str, Any]
    kind: str
    identity: dict[str, Any]
    prompt: str
    preset: Any
    kwargs: dict[str, Any] = field(default_factory=dict)
    estimate: int = 0
    key: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            self.key = request_key(self.identity)

    async def send(self, aclient: Any, opus: bool | None = None) -> Generation | ImageResult:
        """Send the request on ``aclient``; return its Generation or ImageResult."""
        if self.kind == "text":
            return await aclient.generate(self.prompt, self.preset, **self.kwargs)
        return await aclient.generate_image(self.prompt, self.preset, opus=opus, **self.kwargs)


def _list(value: Any, name: str, allow_none: bool = True) -> list[Any]:
    if value is None and allow_none:
        return [None]
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise InputError(name, value, "a non-empty list")
    return list(value)


def grid(params: Mapping[str, Sequence[Any]] | None) -> list[dict[str, Any]]:
    """Return every combination of ``params`` (name -> list of values), the last name varying fastest."""
    if params is None:
        return [{}]
    if not isinstance(params, Mapping):
        raise InputError("params", params, "a dict of parameter name -> list of values")
    for k, v in params.items():
        if not isinstance(k, str) or isinstance(v, (str, bytes)) or not isinstance(v, Sequence) or not v:
            raise InputError(f"params[{k!r}]", v, "a non-empty list of values to sweep")
    names = list(params)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*params.values())]


def _no_axis_names(params: Mapping[str, Any] | None, fixed: Mapping[str, Any]) -> None:
    """Refuse a parameter that is one of the experiment's own axes (given by its own argument)."""
    for where, names in (("params", params or {}), ("fixed", fixed)):
        for k in names:
            if k in ("seed", "model", "preset", "prompt"):
                raise InputError(where, k, f"parameters other than {k!r} (give it as {k}s=[...])")


def _seeds(seeds: Any) -> list[int]:
    seeds = _list(seeds, "seeds", allow_none=False)
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise InputError("seeds", seeds, "a non-empty list of ints >= 0")
    if len(set(seeds)) != len(seeds):
        raise InputError("seeds", seeds, "distinct seeds")
    return seeds


def _prompts(prompts: Any) -> list[str]:
    if isinstance(prompts, str):
        prompts = [prompts]
    prompts = _list(prompts, "prompts", allow_none=False)
    for p in prompts:
        if not isinstance(p, str) or not p:
            raise InputError("prompts", p, "non-empty strings")
    return prompts


def _text_identity(prompt: str, preset: Any, model: Any, seed: int, kw: dict[str, Any]) -> tuple[dict, Any]:
    """Return (identity, preset object) of one text request, validating it."""
    from ..novelai.text import prepare_request, resolve_preset

    p, m = resolve_preset(preset, model)
    if m.api == "oa":
        from ..novelai.oa import oa_parameters

        native_only = ("truncate", "context_tokens", "stop_sequences")
        sampling = oa_parameters(p, m, **{k: v for k, v in kw.items() if k not in native_only})
        ident = {"api": "oa", "model": m.value, "prompt": prompt, "parameters": sampling, "seed": seed}
        ident["extra"] = {k: kw[k] for k in native_only if k in kw}
        return ident, p
    body, p, m = prepare_request(prompt, p, model=m.value, **kw)
    return {"api": "native", "path": "/ai/generate", "body": body, "seed": seed}, p


def text_cells(
    prompts: Any,
    presets: Any,
    seeds: Any,
    models: Any,
    params: Mapping[str, Sequence[Any]] | None,
    fixed: Mapping[str, Any],
) -> list[Cell]:
    """Return the cells of a text sweep: models x presets x prompts x params x seeds (seed fastest).

    ``presets`` is a list (Preset objects, official names, None for the model's default) or a dict
    ``{model: [presets]}`` when each model has its own presets."""
    from ..novelai.presets import Preset
    from ..novelai.text import resolve_preset

    _no_axis_names(params, fixed)
    prompts, seeds, combos = _prompts(prompts), _seeds(seeds), grid(params)
    if isinstance(presets, Mapping):
        if models is not None:
            raise InputError("models", models, "None when presets is a dict {model: [presets]}")
        per_model = [(m, _list(v, f"presets[{m!r}]")) for m, v in presets.items()]
    else:
        plist = [presets] if isinstance(presets, (str, Preset)) else _list(presets, "presets")
        per_model = [(m, plist) for m in _list(models, "models")]
    cells = []
    for model, plist in per_model:
        names: list[str] = []
        for preset in plist:
            p_obj, m = resolve_preset(preset, model)
            name = p_obj.name if p_obj.name not in names else f"{p_obj.name} ({len(names) + 1})"
            names.append(name)
            for prompt in prompts:
                for combo in combos:
                    kw = {**fixed, **combo}
                    for seed in seeds:
                        ident, p_used = _text_identity(prompt, p_obj, m.value, seed, kw)
                        axes = {"model": m.value, "preset": name, "prompt": prompt, **combo, "seed": seed}
                        cells.append(
                            Cell(axes, "text", ident, prompt, p_used, dict(kw, model=m.value, seed=seed))
                        )
    return cells


def image_cells(
    prompts: Any,
    presets: Any,
    seeds: Any,
    models: Any,
    params: Mapping[str, Sequence[Any]] | None,
    fixed: Mapping[str, Any],
) -> list[Cell]:
    """Return the cells of an image sweep: models x presets x prompts x params x seeds (seed fastest).

    ``presets``: ImagePresets (the axis value is their position), a dict ``{label: ImagePreset}``, or None
    for the website's defaults of each model. ``params`` and ``fixed`` name ImagePreset fields."""
    from dataclasses import fields

    from ..novelai import image_models as im

    _no_axis_names(params, fixed)
    prompts, seeds, combos = _prompts(prompts), _seeds(seeds), grid(params)
    ok = {f.name for f in fields(im.ImagePreset)}
    for k in [*(params or {}), *fixed]:
        if k not in ok:
            raise InputError("params", k, "ImagePreset fields: " + ", ".join(sorted(ok)))
    if isinstance(presets, Mapping):
        labelled = list(presets.items())
    else:
        labelled = [(i if p is not None else "default", p) for i, p in enumerate(_list(presets, "presets"))]
    cells = []
    for model in _list(models, "models"):
        for label, preset in labelled:
            if preset is None:
                base = im.ImagePreset.default(model or "nai-diffusion-4-5-full")
            elif isinstance(preset, im.ImagePreset):
                base = preset if model is None else preset.replace(model=model)
            else:
                raise InputError("presets", preset, "ImagePreset objects (or None for the defaults)")
            base = base.replace(**dict(fixed))
            for prompt in prompts:
                for combo in combos:
                    for seed in seeds:
                        ps = base.replace(**combo, seed=seed)
                        body = im.build_request(prompt, ps)
                        axes = {"model": ps.model, "preset": label, "prompt": prompt, **combo, "seed": seed}
                        cells.append(Cell(axes, "image", {"api": "image", "body": body}, prompt, ps))
    return cells
