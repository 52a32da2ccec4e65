"""Compare presets side by side: the same prompt, several presets, several seeds.

``compare(prompt, presets, seeds)`` runs every preset x seed generation concurrently, never more at once
than the account's concurrency limit (the client's ``max_concurrent_generations``), and returns a
:class:`Comparison`: ``.frame`` (one row per preset x seed: text, token count, mean logprob, distinct-2,
repetition rate, time), ``.generations``, and a side-by-side HTML view where the words that differ from
the first preset's text are highlighted. ``naikit.widgets.compare_widget`` wraps it in a widget.

Seeds only steer naikit's sandbox; against NovelAI itself each call is an independent draw and the seed
is a label.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .experiments.metrics import distinct_n, repetition_rate
from .novelai.generation import Generation
from .novelai.presets import Preset
from .render.compare import side_by_side_html

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["Comparison", "compare", "acompare", "comparison_html"]

COLUMNS = ["preset", "seed", "text", "tokens", "mean_logprob", "distinct_2", "repetition_rate", "time_s"]


@dataclass
class Comparison:
    """Results of :func:`compare`: the generations by (preset name, seed) and their metrics."""

    prompt: str
    model: str
    presets: list[str]
    seeds: list[int]
    generations: dict[tuple[str, int], Generation] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def frame(self) -> pd.DataFrame:
        """Return one row per preset x seed with the columns of :data:`COLUMNS`."""
        return self.to_frame()

    def to_frame(self) -> pd.DataFrame:
        """Return one row per preset x seed with the metrics of :data:`COLUMNS`."""
        import pandas as pd

        from .tokenizers import encode

        prompt_ids = encode(self.prompt, self.model)
        rows = []
        for name in self.presets:
            for seed in self.seeds:
                g = self.generations[(name, seed)]
                ml = g.mean_logprob
                rows.append(
                    {
                        "preset": name,
                        "seed": seed,
                        "text": g.text,
                        "tokens": len(g.tokens),
                        "mean_logprob": math.nan if ml is None else ml,
                        "distinct_2": distinct_n(g.tokens, 2),
                        "repetition_rate": repetition_rate(g.tokens, prompt_ids),
                        "time_s": g.timings.get("total_s", math.nan),
                    }
                )
        return pd.DataFrame(rows, columns=COLUMNS)

    def summary(self) -> pd.DataFrame:
        """Return the metrics averaged per preset (one row per preset, in the order given)."""
        f = self.to_frame().drop(columns=["text", "seed"])
        return f.groupby("preset", sort=False).mean()

    def _repr_html_(self) -> str:
        return comparison_html(self)

    def __repr__(self) -> str:
        return f"Comparison({self.model}, {len(self.presets)} presets x {len(self.seeds)} seeds)"


def comparison_html(c: Comparison, *, base: str | None = None, dom_id: str | None = None) -> str:
    """Return the side-by-side HTML of a comparison: one column per preset, one row per seed, the words
    that differ from the ``base`` preset's text highlighted (default: the first preset), metrics under
    each cell (no timings, so the HTML is the same for the same results). The same view the compare
    widget shows (:func:`naikit.render.compare.side_by_side_html`)."""
    return side_by_side_html(c, base=base, dom_id=dom_id)


def _names(presets: Sequence[Preset | str], model: str | None) -> tuple[list[Preset], str]:
    from .novelai.text import resolve_preset

    if isinstance(presets, (str, Preset)) or not isinstance(presets, Sequence) or not presets:
        raise InputError("presets", presets, "a non-empty list of Presets or official preset names")
    objs: list[Preset] = []
    # a Preset object in the list says which model the names belong to
    chosen = model if model is not None else next((p.model for p in presets if isinstance(p, Preset)), None)
    model_name = ""  # set by the first preset (the list is not empty)
    for i, p in enumerate(presets):
        obj, m = resolve_preset(p, chosen)
        chosen = model_name = m.value
        if obj.name in (o.name for o in objs):
            obj = obj.copy(f"{obj.name} ({i + 1})")
        objs.append(obj)
    return objs, model_name


async def acompare(
    prompt: str,
    presets: Sequence[Preset | str],
    seeds: Sequence[int] = (0, 1, 2, 3),
    *,
    client: Any = None,
    model: str | None = None,
    max_concurrency: int | None = None,
    **kwargs: Any,
) -> Comparison:
    """Run every preset x seed on ``client`` (an AsyncNovelAI or NovelAI; a new one when None); return
    a :class:`Comparison`. ``kwargs`` go to ``generate`` (``max_length=``...). Everything is checked
    before the first request."""
    from .novelai.text import prepare_request

    if not isinstance(prompt, str) or not prompt:
        raise InputError("prompt", prompt, "a non-empty string")
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise InputError("seeds", seeds, "a non-empty list of ints >= 0")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise InputError("seeds", seeds, "a non-empty list of ints >= 0")
    if len(set(seeds)) != len(seeds):
        raise InputError("seeds", seeds, "distinct seeds")
    objs, model_value = _names(presets, model)
    for p in objs:  # refuse bad input for any preset before the first request
        if p.text_model.api == "oa":
            from .novelai.oa import oa_parameters

            oa_parameters(p, model_value, **{k: v for k, v in kwargs.items() if k not in ("truncate",)})
        else:
            prepare_request(prompt, p, model=model_value, **kwargs)
    from .experiments.experiment import Experiment

    # one engine: the comparison is a temporary (in-memory) experiment over presets x seeds
    exp = Experiment(
        None, prompts=[prompt], presets=objs, seeds=list(seeds), models=[model_value], fixed=kwargs
    )
    result = Comparison(
        prompt, model_value, [c.axes["preset"] for c in exp.cells[:: len(seeds)]], list(seeds)
    )
    t0 = time.perf_counter()
    # the run resolves the client (a new one when None, closed after) and the concurrency limit
    report = await exp.arun(client, max_concurrency=max_concurrency, progress=False)
    if report["errors"]:
        raise next(iter(exp.errors.values()))
    for c in exp.cells:
        result.generations[(c.axes["preset"], c.axes["seed"])] = exp.objects[c.key]
    result.wall_s = time.perf_counter() - t0
    return result


def compare(
    prompt: str,
    presets: Sequence[Preset | str],
    seeds: Sequence[int] = (0, 1, 2, 3),
    *,
    client: Any = None,
    model: str | None = None,
    max_concurrency: int | None = None,
    **kwargs: Any,
) -> Comparison:
    """Blocking :func:`acompare` (works in scripts and inside Jupyter); returns a :class:`Comparison`."""
    from . import _runner

    return _runner.run(
        acompare(
            prompt, presets, seeds, client=client, model=model, max_concurrency=max_concurrency, **kwargs
        )
    )
