"""X/Y(/Z) plots: vary two or three generation parameters and see every combination in one grid.

``xy_plot(nai, prompt, x=("scale", [4, 6, 8]), y=("steps", [12, 28]))`` generates one picture per
combination (same seed, so only the varied parameters change), prices the whole batch first (refusing
above ``max_anlas``), runs within the account's concurrency limit, and returns an :class:`XYPlot`:
``.image()`` is a labelled grid picture (PIL), ``naikit.widgets.image_grid(plot)`` the image-grid widget of
its cells, and in a notebook it shows itself as an HTML grid with row and column labels. ``z`` adds one grid
page per value.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .novelai.image_models import ImagePreset
from .novelai.images_result import GridCells, ImageResult

if TYPE_CHECKING:  # pragma: no cover
    import PIL.Image

__all__ = ["XYPlot", "xy_plot", "axy_plot", "plan"]

Axis = tuple[str, Sequence[Any]]


def _axis(axis: Axis | None, name: str) -> tuple[str, list[Any]] | None:
    if axis is None:
        return None
    ok = {f.name for f in fields(ImagePreset)} | {"prompt"}
    if not (isinstance(axis, tuple) and len(axis) == 2 and isinstance(axis[0], str)):
        raise InputError(name, axis, "a (parameter, [values]) pair, e.g. ('scale', [4, 6, 8])")
    key, values = axis[0], list(axis[1])
    if key not in ok:
        raise InputError(name, key, "an ImagePreset field or 'prompt': " + ", ".join(sorted(ok)))
    if not values:
        raise InputError(name, axis, "at least one value")
    return key, values


def plan(
    prompt: str, preset: ImagePreset, x: Axis, y: Axis | None = None, z: Axis | None = None
) -> list[dict]:
    """Return one cell per combination: ``{"prompt", "preset", "x", "y", "z"}`` in page, row, column order."""
    ax, ay, az = _axis(x, "x"), _axis(y, "y"), _axis(z, "z")
    assert ax is not None
    if preset.seed == 0:
        # one fixed seed for the whole plot, so only the varied parameters change the pictures
        preset = preset.replace(seed=1234567)
    cells = []
    for zv, yv, xv in itertools.product(az[1] if az else [None], ay[1] if ay else [None], ax[1]):
        changes: dict[str, Any] = {}
        p = prompt
        for axis, v in ((ax, xv), (ay, yv), (az, zv)):
            if axis is None:
                continue
            if axis[0] == "prompt":
                p = v
            else:
                changes[axis[0]] = v
        cells.append({"prompt": p, "preset": preset.replace(**changes), "x": xv, "y": yv, "z": zv})
    return cells


@dataclass
class XYPlot:
    """The pictures of an X/Y(/Z) plot and its axes."""

    x: tuple[str, list[Any]]
    y: tuple[str, list[Any]] | None
    z: tuple[str, list[Any]] | None
    results: list[ImageResult]

    @property
    def total_anlas(self) -> int:
        """Return the summed Anlas estimate of the plot."""
        return sum(int(r.cost) for r in self.results if r.cost is not None)

    def _page(self, z: int) -> list[ImageResult]:
        per = len(self.x[1]) * (len(self.y[1]) if self.y else 1)
        return self.results[z * per : (z + 1) * per]

    def labels(self) -> tuple[list[str], list[str]]:
        """Return (column labels, row labels)."""
        cols = [f"{self.x[0]}={v}" for v in self.x[1]]
        rows = [f"{self.y[0]}={v}" for v in self.y[1]] if self.y else [""]
        return cols, rows

    def image(self, z: int = 0, *, cell: int = 256) -> PIL.Image.Image:
        """Return the page ``z`` as one labelled PIL image (cells scaled to ``cell`` pixels wide)."""
        from PIL import Image, ImageDraw

        page = self._page(z)
        cols, rows = self.labels()
        first = page[0][0].image
        cw, ch = cell, int(cell * first.size[1] / first.size[0])
        top, left = 24, (110 if self.y else 0)
        title = 20 if self.z else 0
        out = Image.new("RGB", (left + cw * len(cols), title + top + ch * len(rows)), "white")
        draw = ImageDraw.Draw(out)
        if self.z:
            draw.text((4, 4), f"{self.z[0]}={self.z[1][z]}", fill="black")
        for j, c in enumerate(cols):
            draw.text((left + j * cw + 4, title + 6), c, fill="black")
        for i, r in enumerate(rows):
            draw.text((4, title + top + i * ch + ch // 2), r, fill="black")
        for k, res in enumerate(page):
            i, j = divmod(k, len(cols))
            out.paste(res[0].image.convert("RGB").resize((cw, ch)), (left + j * cw, title + top + i * ch))
        return out

    def grid_cells(self) -> GridCells:
        """Return every cell's picture captioned with its axis values, one column per X value (what
        ``naikit.widgets.image_grid(plot)`` shows)."""
        caps = []
        for k in range(len(self.results)):
            per_page = len(self.x[1]) * (len(self.y[1]) if self.y else 1)
            zk, rest = divmod(k, per_page)
            yi, xi = divmod(rest, len(self.x[1]))
            parts = [f"{self.x[0]}={self.x[1][xi]}"]
            if self.y:
                parts.append(f"{self.y[0]}={self.y[1][yi]}")
            if self.z:
                parts.append(f"{self.z[0]}={self.z[1][zk]}")
            caps.append(" · ".join(parts))
        return GridCells([r[0] for r in self.results], caps, len(self.x[1]))

    def __repr__(self) -> str:
        dims = " x ".join(str(len(a[1])) for a in (self.x, self.y, self.z) if a)
        return f"XYPlot({dims} grid, {len(self.results)} pictures, ~{self.total_anlas} Anlas)"

    def _repr_html_(self) -> str:
        from .render.images import grid_html

        cols, rows = self.labels()
        pages = len(self.z[1]) if self.z else 1
        html = []
        for z in range(pages):
            page = self._page(z)
            html.append(
                grid_html(
                    [r[0].thumbnail(160) for r in page],
                    [f"seed {r[0].seed}" for r in page],
                    title=f"{self.z[0]}={self.z[1][z]}" if self.z else "",
                    columns=len(cols),
                    col_labels=cols,
                    row_labels=rows if self.y else None,
                )
            )
        return "".join(html)


def _prepare(preset: ImagePreset | None, model: str | None, x: Axis, y: Axis | None, z: Axis | None) -> Any:
    if preset is None:
        preset = ImagePreset.default(model or "nai-diffusion-4-5-full")
    if preset.n_samples != 1:
        preset = preset.replace(n_samples=1)
    return preset, _axis(x, "x"), _axis(y, "y"), _axis(z, "z")


async def _run(
    aclient: Any,
    prompt: str,
    x: Axis,
    y: Axis | None,
    z: Axis | None,
    preset: ImagePreset | None,
    model: str | None,
    max_anlas: int | None,
    opus: bool | None = None,
    labels: Sequence[str] | None = None,
    characters: list[Any] | None = None,
    vibes: Sequence[Any] | None = None,
    folder: Any = None,
) -> XYPlot:
    """Plan the plot as an experiment (one cell per combination), price it whole, run it; return it."""
    from .experiments.experiment import Experiment
    from .experiments.plan import Cell
    from .novelai import image_models as im
    from .novelai.image import _check_budget
    from .novelai.image_models import Vibe

    preset, ax, ay, az = _prepare(preset, model, x, y, z)
    cells = plan(prompt, preset, x, y, z)
    if labels is not None and (
        not isinstance(labels, (list, tuple))
        or len(labels) != len(cells)
        or not all(isinstance(v, str) for v in labels)
    ):
        raise InputError("labels", labels, f"{len(cells)} strings (one per cell) or None")
    if vibes is not None and not isinstance(vibes, (list, tuple)):
        raise InputError("vibes", vibes, "a list of Vibe objects, encodings or pictures (or None)")
    exp_cells = []
    for c in cells:
        ps = c["preset"]
        probe = [Vibe(encoding="AA==", image=v) for v in vibes or []] or None
        if probe and im.model_spec(ps.model).generation == "v3":
            probe = [Vibe(image=v) for v in vibes or []]
        body = im.build_request(c["prompt"], ps, characters=characters, vibes=probe)
        axes = {"prompt": c["prompt"], "x": c["x"], "y": c["y"], "z": c["z"], "seed": ps.seed}
        kw = {k: v for k, v in (("characters", characters), ("vibes", vibes)) if v is not None}
        exp_cells.append(Cell(axes, "image", {"api": "image", "body": body}, c["prompt"], ps, kw))
    is_opus = await aclient._is_opus(opus)
    total = sum(im.estimate_cost(c.identity["body"], opus=is_opus).total for c in exp_cells)
    # the whole plot is priced first: above max_anlas nothing is sent
    _check_budget(total, max_anlas, f"this batch of {len(cells)} generations")
    exp = Experiment.from_cells(folder, exp_cells, kind="image", opus=is_opus)
    await exp.arun(aclient, progress=False)
    if exp.errors:
        raise next(iter(exp.errors.values()))
    results = [exp.objects[c.key] for c in exp_cells]
    if labels is not None:
        results = [ImageResult(r.items, r.request, r.cost, lb) for r, lb in zip(results, labels, strict=True)]
    return XYPlot(ax, ay, az, results)


def xy_plot(
    nai: Any,
    prompt: str,
    x: Axis,
    y: Axis | None = None,
    z: Axis | None = None,
    *,
    preset: ImagePreset | None = None,
    model: str | None = None,
    max_anlas: int | None = None,
    **kw: Any,
) -> XYPlot:
    """Generate every combination with a sync ``NovelAI`` client; return an XYPlot.

    The batch is priced first and refused above ``max_anlas``. It runs as an experiment
    (:class:`naikit.Experiment`): ``folder=`` journals it on disk, so a re-run sends only what is missing.
    """
    from . import _runner

    return _runner.run(_run(nai._async, prompt, x, y, z, preset, model, max_anlas, **kw))


async def axy_plot(
    nai: Any,
    prompt: str,
    x: Axis,
    y: Axis | None = None,
    z: Axis | None = None,
    *,
    preset: ImagePreset | None = None,
    model: str | None = None,
    max_anlas: int | None = None,
    **kw: Any,
) -> XYPlot:
    """The same as :func:`xy_plot` for an ``AsyncNovelAI`` client (await it)."""
    return await _run(nai, prompt, x, y, z, preset, model, max_anlas, **kw)
