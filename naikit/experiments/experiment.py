"""The :class:`Experiment`: a sweep planned once, journaled on disk, run and resumed any number of times.

::

    exp = naikit.Experiment("runs/tone", prompts=[...], presets=["Carefree", "Asper"], seeds=[0, 1, 2])
    exp.run(nai, max_requests=4)   # stops cleanly after 4 requests
    exp.run(nai)                   # continues; never re-sends a request already done
    exp.frame(); exp.summary(by="preset")

The folder holds ``journal.sqlite3`` (see :mod:`naikit.experiments.journal`) and, for images, the PNGs in
``images/``; it is the only state, so a copied folder resumes elsewhere. A request left ``in_flight`` by a
process that died is an *orphan*: :meth:`Experiment.orphans` lists it and it is sent again only with
``run(client, resend_orphans=True)`` (it may have been spent already).

Pacing: up to the client's ``max_concurrent_generations`` requests run at once (the transport's per-account
gate and 429 handling apply); every request is planned, validated, hashed and priced before the first is
sent, so when one ends the next starts at once and the account's generation slot stays busy.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InputError, NaikitError
from .journal import Journal, check_folder
from .metrics import bootstrap_ci
from .plan import Cell, image_cells, text_cells
from .record import IMAGE_METRICS, TEXT_METRICS, record_response

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from IPython.display import HTML

    from ..novelai.images_result import GridCells

__all__ = ["Experiment", "RunReport", "TEXT_METRICS", "IMAGE_METRICS"]


# run ids of the runs alive in this process: an in-flight row of any other run whose process is gone
# (or of a run of this process that ended) is an orphan
_ACTIVE_RUNS: set[str] = set()


def _pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - alive, owned by someone else
        return True
    return True


class RunReport(dict):
    """What one ``run()`` did: ``sent``, ``done``, ``failed``, ``skipped_orphans``, ``anlas``,
    ``stopped`` (None when everything planned is done, else ``"stop"``, ``"max_requests"``,
    ``"max_anlas"`` or ``"max_time"``) and ``errors`` (key -> message)."""

    def __repr__(self) -> str:
        return f"RunReport({dict.__repr__(self)})"


class Experiment:
    """A sweep over prompts x presets (or any parameter) x models x seeds, text or images, journaled in
    ``folder`` (None: a temporary in-memory journal). Budgets given here are the defaults of ``run``."""

    # ready-made cells handed over by from_cells (xy_plot) before __init__ runs; None: plan from the axes
    _given_cells: list[Cell] | None = None

    def __init__(
        self,
        folder: str | os.PathLike[str] | None = None,
        *,
        prompts: Sequence[str] | str | None = None,
        presets: Any = None,
        seeds: Sequence[int] = (0,),
        models: Sequence[str] | None = None,
        params: Mapping[str, Sequence[Any]] | None = None,
        fixed: Mapping[str, Any] | None = None,
        kind: str = "text",
        name: str = "default",
        max_anlas: int | None = None,
        max_requests: int | None = None,
        max_time: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        opus: bool | None = None,
    ):
        if kind not in ("text", "image"):
            raise InputError("kind", kind, '"text" or "image"')
        if not isinstance(name, str) or not name:
            raise InputError("name", name, "a non-empty string")
        if fixed is not None and not isinstance(fixed, Mapping):
            raise InputError("fixed", fixed, "a dict of parameter -> value (or None)")
        self.kind, self.name, self.opus, self.clock = kind, name, opus, clock
        self.limits = {"max_anlas": max_anlas, "max_requests": max_requests, "max_time": max_time}
        _check_limits(**self.limits)
        if not callable(clock):
            raise InputError("clock", clock, "a callable returning seconds (e.g. time.monotonic)")
        if opus is not None and not isinstance(opus, bool):
            raise InputError("opus", opus, "True, False or None (ask the subscription)")
        where = check_folder(folder)
        cells = self._given_cells
        if cells is not None:
            self.cells = cells
        else:
            if prompts is None:
                raise InputError("prompts", prompts, "a prompt or a non-empty list of prompts")
            make = text_cells if kind == "text" else image_cells
            self.cells = make(prompts, presets, seeds, models, params, dict(fixed or {}))
        self.journal = Journal(where)
        self.folder = where
        self.journal.register(
            name, [(c.key, c.kind, c.identity, c.axes) for c in self.cells]
        )  # fmt: skip
        self.axes = list(dict.fromkeys(k for c in self.cells for k in c.axes))
        self.objects: dict[str, Any] = {}  # key -> Generation / ImageResult received by this process
        self.errors: dict[str, Exception] = {}  # key -> the error of its last failed request
        self._stopping = False
        self._prompt_ids: dict[tuple[str, str], list[int]] = {}
        self.last_report: RunReport | None = None
        self._listeners: list[Callable[[dict[str, Any]], None]] = []

    @classmethod
    def from_cells(cls, folder: Any, cells: list[Cell], *, kind: str, **kw: Any) -> Experiment:
        """Return an experiment over ready-made cells (what ``xy_plot`` builds)."""
        if not isinstance(cells, list) or not cells or not all(isinstance(c, Cell) for c in cells):
            raise InputError("cells", cells, "a non-empty list of naikit.experiments.plan.Cell")
        self = cls.__new__(cls)
        self._given_cells = cells
        cls.__init__(self, folder, kind=kind, **kw)
        return self

    @classmethod
    def open(cls, folder: str | os.PathLike[str], name: str = "default") -> Experiment:
        """Return the experiment ``name`` of an existing folder, read from its journal alone (frame,
        summary, status, export; to run it again, create it with its axes)."""
        path = check_folder(folder)
        if path is None or not os.path.exists(os.path.join(path, "journal.sqlite3")):
            raise InputError("folder", path, "a folder holding an experiment journal (journal.sqlite3)")
        journal = Journal(path)
        first = journal.first(name)
        if first is None:
            journal.close()
            raise InputError(
                "name", name, "an experiment of this journal: " + ", ".join(journal.experiments())
            )
        self = cls.__new__(cls)
        self.kind, self.name, self.opus, self.clock = first[0], name, None, time.monotonic
        self.limits = {"max_anlas": None, "max_requests": None, "max_time": None}
        self.cells, self.journal, self.folder = [], journal, path
        self.axes = list(json.loads(first[1]))
        self.objects, self.errors, self._stopping, self._prompt_ids = {}, {}, False, {}
        self.last_report, self._listeners = None, []
        return self

    def __repr__(self) -> str:
        st = self.journal.states(self.name)
        where = self.folder or "memory"
        return (
            f"Experiment({self.kind}, {sum(st.values())} requests, {st['done']} done, "
            f"{st['in_flight']} in flight, {st['failed']} failed, {where})"
        )

    # -- state --------------------------------------------------------------------------------------
    def status(self) -> dict[str, int]:
        """Return the number of the experiment's distinct requests per state, and ``total``."""
        st = self.journal.states(self.name)
        st["total"] = sum(st.values())
        return st

    def orphans(self) -> list[dict[str, Any]]:
        """Return the requests left in flight by a process (or run) that is gone: each with its key, axes,
        pid and start time. They may have been spent; ``run(client, resend_orphans=True)`` sends them
        again."""
        out = []
        here = socket.gethostname() + "/"
        for row in self.journal.in_flight(self.name):
            if not str(row["run_id"]).startswith(here):
                gone = True  # run on another machine (a copied folder): its process is not here
            elif row["pid"] == os.getpid():
                gone = row["run_id"] not in _ACTIVE_RUNS
            else:
                gone = not _pid_alive(row["pid"])
            if gone:
                out.append(row)
        return out

    def stop(self) -> None:
        """Ask a running ``run()`` to start no new request (those in flight finish); returns None."""
        self._stopping = True

    def on_progress(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call ``callback(progress)`` after every result (used by the dashboard); returns None."""
        self._listeners.append(callback)

    # -- running ------------------------------------------------------------------------------------
    def run(self, client: Any = None, **kw: Any) -> RunReport:
        """Blocking :meth:`arun` (works in scripts and inside Jupyter); returns a :class:`RunReport`."""
        from .. import _runner

        return _runner.run(self.arun(client, **kw))

    async def arun(
        self,
        client: Any = None,
        *,
        resend_orphans: bool = False,
        max_anlas: int | None = None,
        max_requests: int | None = None,
        max_time: float | None = None,
        max_concurrency: int | None = None,
        progress: Any = None,
    ) -> RunReport:
        """Send every planned request not done yet; return a :class:`RunReport`.

        ``client``: a NovelAI or AsyncNovelAI (a new AsyncNovelAI when None). Budgets default to the
        experiment's: ``max_anlas`` caps the Anlas this experiment ever spends (a request whose estimate
        would cross it is not started, and the run stops there), ``max_requests`` and ``max_time`` (seconds
        of the experiment's clock) bound this run. ``progress``: None for a tqdm.auto bar when tqdm is
        installed, False for none, or a callable receiving a progress dict."""
        from ..novelai.async_client import AsyncNovelAI
        from ..novelai.client import NovelAI

        limits = {
            "max_anlas": self.limits["max_anlas"] if max_anlas is None else max_anlas,
            "max_requests": self.limits["max_requests"] if max_requests is None else max_requests,
            "max_time": self.limits["max_time"] if max_time is None else max_time,
        }
        _check_limits(**limits)
        if not isinstance(resend_orphans, bool):
            raise InputError("resend_orphans", resend_orphans, "True or False")
        own = client is None
        aclient = AsyncNovelAI() if own else client._async if isinstance(client, NovelAI) else client
        if not isinstance(aclient, AsyncNovelAI):
            raise InputError("client", client, "a NovelAI or AsyncNovelAI client")
        limit = (
            max_concurrency if max_concurrency is not None else aclient.transport.max_concurrent_generations
        )
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InputError("max_concurrency", max_concurrency, "an int >= 1")
        if not self.cells:
            raise InputError(
                "experiment", self.name, "an experiment created with its axes (open() only reads)"
            )
        run_id = f"{socket.gethostname()}/{uuid.uuid4().hex}"
        _ACTIVE_RUNS.add(run_id)
        self._stopping = False
        report = RunReport(sent=0, done=0, failed=0, skipped_orphans=0, anlas=0, stopped=None, errors={})
        try:
            todo, orphans = self._todo(resend_orphans, report)
            opus = None
            if self.kind == "image" and todo:
                from ..novelai import image_models as im

                opus = await aclient._is_opus(self.opus)
                for c in todo:
                    c.estimate = im.estimate_cost(c.identity["body"], opus=opus).total
            await self._drive(aclient, todo, orphans, limits, limit, run_id, opus, report, progress)
        finally:
            _ACTIVE_RUNS.discard(run_id)
            if own:
                await aclient.close()
        self.last_report = report
        return report

    def _todo(self, resend_orphans: bool, report: RunReport) -> tuple[list[Cell], set[str]]:
        orphans = {o["key"] for o in self.orphans()}
        states = self.journal.state_of(c.key for c in self.cells)
        todo, seen = [], set()
        for c in self.cells:
            if c.key in seen:
                continue
            seen.add(c.key)
            st = states.get(c.key, "planned")
            if st == "done":
                continue
            if st == "in_flight":
                # an orphan is sent again only when the user says so; a live run elsewhere owns the rest
                if c.key in orphans and resend_orphans:
                    todo.append(c)
                elif c.key in orphans:
                    report["skipped_orphans"] += 1
                continue
            todo.append(c)
        return todo, orphans if resend_orphans else set()

    async def _drive(
        self,
        aclient: Any,
        todo: list[Cell],
        orphans: set[str],
        limits: dict[str, Any],
        limit: int,
        run_id: str,
        opus: bool | None,
        report: RunReport,
        progress: Any,
    ) -> None:
        spent = self.journal.spent(self.name)
        reserved = 0
        started = 0
        t0 = self.clock()
        queue = iter(todo)
        bar = _progress_bar(progress, len(todo))
        t_first = time.perf_counter()

        def emit() -> None:
            done = report["done"] + report["failed"]
            rate = (time.perf_counter() - t_first) / done if done else math.nan
            if bar is not None:
                bar.update(1)
                bar.set_postfix(anlas=spent, refresh=False)
            if not callable(progress) and not self._listeners:
                return
            info = {
                "done": done,
                "total": len(todo),
                "failed": report["failed"],
                "anlas": spent,
                "eta_s": rate * (len(todo) - done) if done else math.nan,
                "status": self.status(),
            }
            if callable(progress):
                progress(info)
            for cb in self._listeners:
                cb(info)

        def stop_reason() -> str | None:
            if self._stopping:
                return "stop"
            if limits["max_requests"] is not None and started >= limits["max_requests"]:
                return "max_requests"
            if limits["max_time"] is not None and self.clock() - t0 >= limits["max_time"]:
                return "max_time"
            return None

        async def worker() -> None:
            nonlocal spent, reserved, started
            while True:
                why = stop_reason()
                if why is not None:
                    report["stopped"] = report["stopped"] or why
                    return
                cell = next(queue, None)
                if cell is None:
                    return
                if limits["max_anlas"] is not None and spent + reserved + cell.estimate > limits["max_anlas"]:
                    # never start a request that could cross the budget; stop the whole run here
                    report["stopped"] = report["stopped"] or "max_anlas"
                    self._stopping = True
                    return
                if not self.journal.claim(
                    cell.key, run_id, cell.estimate, time.time(), orphan=cell.key in orphans
                ):
                    continue  # another process sharing the folder took it
                started += 1
                reserved += cell.estimate
                report["sent"] += 1
                t = time.perf_counter()
                try:
                    obj = await cell.send(aclient, opus)
                except NaikitError as exc:
                    if _outcome_unknown(exc):
                        # sent, but whether it was generated (and paid) is unknown: the row stays in flight
                        # and becomes an orphan when this run ends, reported and re-sent only on request
                        report["errors"][cell.key] = f"{type(exc).__name__}: {exc}"
                        self.errors[cell.key] = exc
                        continue
                    reserved -= cell.estimate
                    self.journal.fail(cell.key, f"{type(exc).__name__}: {exc}", time.time())
                    report["failed"] += 1
                    report["errors"][cell.key] = f"{type(exc).__name__}: {exc}"
                    self.errors[cell.key] = exc
                    emit()
                    continue
                elapsed = time.perf_counter() - t
                # journal the result in a task: this worker sends its next request first, so the account's
                # generation slot is not idle while metrics are computed and the row is written
                pending.append(asyncio.ensure_future(record(cell, obj, elapsed)))

        async def record(cell: Cell, obj: Any, elapsed: float) -> None:
            nonlocal spent, reserved
            # on a worker thread: the loop stays free to send the next request meanwhile
            result, row, cost = await asyncio.to_thread(
                record_response, cell, obj, self.folder, self._prompt_ids
            )
            await asyncio.to_thread(
                self.journal.finish, cell.key, result, row, cost, self.name, time.time(), elapsed
            )
            self.objects[cell.key] = obj
            reserved -= cell.estimate
            spent += cost
            report["anlas"] += cost
            report["done"] += 1
            emit()

        pending: list[asyncio.Future] = []
        try:
            await asyncio.gather(*(worker() for _ in range(limit)))
        finally:
            await asyncio.gather(*pending)
            if bar is not None:
                bar.close()
        if report["stopped"] is None and self._stopping:
            report["stopped"] = "stop"

    # -- results ------------------------------------------------------------------------------------
    def results(self) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
        """Return ``(axes, result)`` per planned cell in plan order (result None until done)."""
        out = []
        for _, axes, state, res, _, _, _ in self.journal.results(self.name, full=True):
            out.append((json.loads(axes), json.loads(res) if state == "done" and res else None))
        return out

    def frame(self, *, where: str = "", args: Sequence[Any] = ()) -> pd.DataFrame:
        """Return one row per done result: the axes, then the metrics. Text: ``text``, the
        :data:`TEXT_METRICS`, ``finish_reason``, ``time_s``; images: ``seed``, ``cost``, ``path``, the
        :data:`IMAGE_METRICS`, ``time_s``. ``where`` filters in SQL (``p``: plan, ``r``: requests)."""
        import pandas as pd

        rows = []
        for axes, extra, cost, elapsed in self.journal.frame_rows(self.name, where, args):
            axes.update(extra)
            if self.kind == "image":
                axes["cost"] = cost
                axes["path"] = (
                    os.path.join(self.folder, axes["path"]) if self.folder and axes["path"] else None
                )
            axes["time_s"] = elapsed
            rows.append(axes)
        if self.kind == "text":
            cols = [*self.axes, "text", *TEXT_METRICS, "finish_reason", "time_s"]
        else:
            cols = [*self.axes, "cost", "path", "width", "height", "n_images", "time_s"]
        return pd.DataFrame(rows, columns=cols)

    def summary(
        self,
        by: str | Sequence[str] | None = None,
        metrics: Sequence[str] | None = None,
        *,
        n_boot: int = 1000,
        level: float = 0.95,
        seed: int = 0,
    ) -> pd.DataFrame:
        """Return one row per group of ``by`` (default: "preset"): ``n`` and, per metric, its mean with a
        percentile-bootstrap interval (``<metric>_mean``, ``_lo``, ``_hi``), seeded so it is the same
        every time."""
        import pandas as pd

        f = self.frame()
        by = ["preset"] if by is None else [by] if isinstance(by, str) else list(by)
        for b in by:
            if b not in self.axes:
                raise InputError("by", b, "an axis of the experiment: " + ", ".join(self.axes))
        metrics = (
            list(metrics) if metrics is not None else (TEXT_METRICS if self.kind == "text" else ["cost"])
        )
        for m in metrics:
            if m not in f.columns:
                raise InputError("metrics", m, "columns of frame(): " + ", ".join(f.columns))
        rows = []
        for key, g in f.groupby(by, sort=False):
            row: dict[str, Any] = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
            row["n"] = len(g)
            for m in metrics:
                mean, lo, hi = bootstrap_ci(list(g[m].astype(float)), n_boot=n_boot, level=level, seed=seed)
                row.update({f"{m}_mean": mean, f"{m}_lo": lo, f"{m}_hi": hi})
            rows.append(row)
        return pd.DataFrame(rows).set_index(by)

    def to_csv(self, path: str | os.PathLike[str]) -> str:
        """Write :meth:`frame` to ``path`` as CSV; return the path."""
        self.frame().to_csv(path, index=False)
        return os.fspath(path)

    def to_parquet(self, path: str | os.PathLike[str]) -> str:
        """Write :meth:`frame` to ``path`` as Parquet (needs pyarrow); return the path."""
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            raise InputError(
                "format",
                "parquet",
                "an installed Parquet engine",
                hint="pip install 'naikit[parquet]' (pyarrow), or use to_csv().",
            )
        self.frame().to_parquet(path, index=False)
        return os.fspath(path)

    def plot(self, metric: str = "mean_logprob", by: str | None = None) -> HTML:
        """Return an HTML strip plot of ``metric`` per value of the axis ``by`` (every result a dot, the
        mean and its bootstrap interval a bar)."""
        from IPython.display import HTML

        from ..render.experiments import strip_plot_svg

        by = by or ("preset" if "preset" in self.axes else self.axes[0])
        f = self.frame()
        if metric not in f.columns:
            raise InputError("metric", metric, "a column of frame(): " + ", ".join(f.columns))
        s = self.summary(by=by, metrics=[metric])
        groups = [(str(k), [float(v) for v in g[metric]]) for k, g in f.groupby(by, sort=False)]
        cis = [
            (s[f"{metric}_mean"].iloc[i], s[f"{metric}_lo"].iloc[i], s[f"{metric}_hi"].iloc[i])
            for i in range(len(s))
        ]
        return HTML(strip_plot_svg(groups, cis, title=f"{metric} by {by}"))

    def grid_cells(self) -> GridCells:
        """Return every picture of an image experiment (the first of each result), captioned with the axes
        whose values differ between cells (what ``naikit.widgets.image_grid(exp)`` shows)."""
        if self.kind != "image":
            raise InputError("kind", self.kind, '"image" for a grid of pictures')
        from ..novelai.images_result import GeneratedImage, GridCells

        items, caps = [], []
        varying = [a for a in self.axes if len({json.dumps(c.axes.get(a)) for c in self.cells}) > 1]
        for axes, res in self.results():
            if res is None or not res["files"] or self.folder is None:
                continue
            with open(os.path.join(self.folder, res["files"][0]), "rb") as fh:
                png = fh.read()
            items.append(GeneratedImage(png, res["parameters"], axes["prompt"], res["model"], "generate", 0))
            caps.append(" · ".join(f"{a}={axes[a]}" for a in varying))
        return GridCells(items, caps)


def _outcome_unknown(exc: BaseException) -> bool:
    """Return True for an error raised after the request may have reached the server (the transport's
    OutcomeUnknown, or a connection dropped mid-request)."""
    from .. import errors

    kinds = tuple(
        k for k in (getattr(errors, "OutcomeUnknown", None), getattr(errors, "ConnectionDropped", None)) if k
    )
    return isinstance(exc, kinds)


def _check_limits(max_anlas: Any, max_requests: Any, max_time: Any) -> None:
    for name, v in (("max_anlas", max_anlas), ("max_requests", max_requests)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise InputError(name, v, "a whole number >= 0 (or None for no limit)")
    if max_time is not None and (
        isinstance(max_time, bool) or not isinstance(max_time, (int, float)) or max_time < 0
    ):
        raise InputError("max_time", max_time, "seconds >= 0 (or None for no limit)")


def _progress_bar(progress: Any, total: int) -> Any:
    """Return a tqdm.auto bar when ``progress`` is None and tqdm is installed, else None."""
    if progress is not None:
        if progress is not False and not callable(progress):
            raise InputError("progress", progress, "None (a tqdm bar), False, or a callable")
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is optional
        return None
    return tqdm(total=total, unit="req", desc="experiment")
