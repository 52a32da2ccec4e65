"""Training dashboard: one live view of NovelAI module trainings and Novita LoRA trainings.

``training_dashboard(nai, novita)`` returns a :class:`TrainingDashboard` (an ipywidgets ``VBox``): a
progress bar per job, a table (source, name, status, progress, steps, ETA, model) and a loss curve for
every job that reports one (NovelAI modules do; Novita does not). Inside a running event loop (a Jupyter
kernel) it refreshes itself as an asyncio task on that loop, so the kernel is never blocked and no thread
touches any widget; the task ends when every job has finished. ``to_frame()`` gives the state as a
DataFrame. Outside a loop, call ``refresh()`` yourself or ``run_until_done()``.

The HTML comes from the pure functions :func:`dashboard_html` and :func:`curves_html` (deterministic,
escaped), so the widget's state can be checked in plain pytest.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..errors import InputError, NaikitError
from ..novelai.modules import Module
from ..render.charts import line_chart_svg
from .snapshot import Snapshot

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "TrainingDashboard",
    "training_dashboard",
    "JobState",
    "dashboard_html",
    "curves_html",
    "job_labels",
]

COLUMNS = [
    "source",
    "id",
    "name",
    "status",
    "progress",
    "steps_done",
    "steps",
    "eta_s",
    "finished",
    "failed",
    "final_loss",
    "model",
]


@dataclass
class JobState:
    """What the dashboard knows about one job after the last refresh."""

    source: str
    id: str
    name: str = ""
    status: str = "unknown"
    progress: float | None = None
    steps_done: int | None = None
    steps: int | None = None
    eta_s: float | None = None
    finished: bool = False
    failed: bool = False
    final_loss: float | None = None
    model: str = ""
    loss: tuple[float, ...] = field(default=(), repr=False)
    error: str = ""

    def row(self) -> dict[str, Any]:
        """Return the job as one DataFrame row (the columns of :data:`COLUMNS`)."""
        return {c: getattr(self, c) for c in COLUMNS}


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.0f}" if v >= 10 else f"{v:.1f}"
    return str(v)


def job_labels(jobs: Iterable[JobState]) -> list[str]:
    """Return a label per job: its name, followed by the start of its id when another job has the same
    name (two runs called "my module" stay apart), or the id when it has no name."""
    jobs = list(jobs)
    counts: dict[str, int] = {}
    for j in jobs:
        counts[j.name] = counts.get(j.name, 0) + 1
    return [(f"{j.name} · {j.id[:8]}" if counts[j.name] > 1 else j.name) if j.name else j.id for j in jobs]


def dashboard_html(jobs: Iterable[JobState]) -> str:
    """Return the dashboard's table as HTML (pure: same jobs, same text; every value escaped)."""
    jobs = list(jobs)
    head = "".join(
        f"<th>{c}</th>" for c in ("source", "name", "id", "status", "progress", "steps", "ETA s", "model")
    )
    body = ""
    for j, label in zip(jobs, job_labels(jobs), strict=True):
        steps = f"{_fmt(j.steps_done)}/{_fmt(j.steps)}" if j.steps else _fmt(j.steps_done)
        colour = "#c0392b" if j.failed else "#1e8449" if j.finished else "#2471a3"
        status = html.escape(j.status) + (f" ({html.escape(j.error)})" if j.error else "")
        cells = [
            html.escape(j.source),
            html.escape(label),
            f"<code title='{html.escape(j.id, quote=True)}'>{html.escape(j.id[:8])}</code>",
            f"<span style='color:{colour}'>{status}</span>",
            "" if j.progress is None else f"{j.progress:.0f} %",
            steps,
            _fmt(j.eta_s),
            html.escape(j.model),
        ]
        body += "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
    style = "<style>.naikit-training td,.naikit-training th{padding:2px 10px;text-align:left}</style>"
    return (
        f"{style}<table class='naikit-training'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def curves_html(jobs: Iterable[JobState]) -> str:
    """Return a loss chart (inline SVG with axes: steps across, loss up) per job that has a loss history;
    empty when none has."""
    parts = []
    jobs = list(jobs)
    for j, label in zip(jobs, job_labels(jobs), strict=True):
        if j.loss:
            chart = line_chart_svg(j.loss, total=j.steps, title=label, x_label="step", y_label="loss")
            parts.append(f"<figure style='display:inline-block;margin:4px'>{chart}</figure>")
    return "<div class='naikit-loss-curves'>" + "".join(parts) + "</div>" if parts else ""


def _async_client(client: Any) -> Any:
    return getattr(client, "_async", client)


class TrainingDashboard(Snapshot, widgets.VBox):
    """Live view of training jobs; see the module docstring. ``jobs`` maps a key to its :class:`JobState`."""

    def __init__(
        self,
        nai: Any = None,
        novita: Any = None,
        *,
        modules: str | Iterable[Any] | None = "all",
        trainings: str | Iterable[Any] | None = "all",
        interval: float = 2.0,
        start: bool = True,
        novita_steps: dict[str, int] | None = None,
    ):
        if nai is None and novita is None:
            raise InputError("nai", None, "a NovelAI client, a Novita client, or both")
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval <= 0:
            raise InputError("interval", interval, "a positive number of seconds")
        self._nai = _async_client(nai) if nai is not None else None
        self._novita = _async_client(novita) if novita is not None else None
        self._modules_spec = modules if nai is not None else None
        self._trainings_spec = trainings if novita is not None else None
        self.interval = float(interval)
        self.jobs: dict[str, JobState] = {}
        self.bars: dict[str, widgets.IntProgress] = {}
        #: the text beside each bar: its percentage (or final status) and steps
        self.bar_labels: dict[str, widgets.Label] = {}
        self.refreshes = 0
        self.last_error = ""
        self._rate: dict[str, tuple[float, int]] = {}
        self._novita_steps: dict[str, int] = dict(novita_steps or {})
        self._task: asyncio.Task[None] | None = None
        # Replaceable so tests can run a whole training on a fake clock.
        self.clock: Callable[[], float] = time.monotonic
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self.summary = widgets.HTML(value="<b>Training jobs</b>: waiting for the first refresh")
        self.bar_box = widgets.VBox([])
        self.table = widgets.HTML(value=dashboard_html([]))
        self.curves = widgets.HTML(value="")
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.stop_button = widgets.Button(description="Stop", icon="stop")
        self.refresh_button.on_click(lambda _b: self._refresh_clicked())
        self.stop_button.on_click(lambda _b: self.stop())
        super().__init__(
            [
                self.summary,
                self.bar_box,
                self.table,
                self.curves,
                widgets.HBox([self.refresh_button, self.stop_button]),
            ]
        )
        if start:
            self.start()

    def snapshot_html(self) -> str:
        """Return the summary line, the table and the loss charts, as static HTML."""
        return self.summary.value + self.table.value + self.curves.value

    def __repr__(self) -> str:
        running = sum(not j.finished for j in self.jobs.values())
        return f"TrainingDashboard({len(self.jobs)} job(s), {running} running, {self.refreshes} refresh(es))"

    # -- state ------------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """Return True when the last refresh worked and every job has finished."""
        return self.refreshes > 0 and not self.last_error and all(j.finished for j in self.jobs.values())

    @property
    def running(self) -> bool:
        """Return True while the background refresh task is alive."""
        return self._task is not None and not self._task.done()

    def to_frame(self) -> pd.DataFrame:
        """Return the jobs as a DataFrame, one row each (columns of :data:`COLUMNS`)."""
        import pandas as pd

        return pd.DataFrame([j.row() for j in self.jobs.values()], columns=COLUMNS)

    # -- refreshing -------------------------------------------------------------------------------
    async def _module_jobs(self) -> list[Module]:
        spec, nai = self._modules_spec, self._nai
        if spec is None or nai is None:
            return []
        if spec == "all":
            return list(await nai.modules())
        out = []
        for m in spec:
            mid = m.id if isinstance(m, Module) else m
            key = f"nai:{mid}"
            if key in self.jobs and self.jobs[key].finished:
                continue
            out.append(await nai.module(mid))
        return out

    def _update_module(self, m: Module, now: float) -> None:
        key = f"nai:{m.id}"
        eta = None
        prev = self._rate.get(key)
        if not m.finished and prev is not None and now > prev[0] and m.steps_done > prev[1]:
            rate = (m.steps_done - prev[1]) / (now - prev[0])
            eta = round((m.steps - m.steps_done) / rate, 1)
        if prev is None or m.steps_done != prev[1]:
            self._rate[key] = (now, m.steps_done)
        self.jobs[key] = JobState(
            "NovelAI module",
            m.id,
            m.name,
            m.status,
            m.progress,
            m.steps_done,
            m.steps,
            0.0 if m.finished else eta,
            m.finished,
            m.failed,
            m.final_loss,
            m.model,
            m.loss_history,
        )

    async def _novita_jobs(self) -> None:
        spec, novita = self._trainings_spec, self._novita
        if spec is None or novita is None:
            return
        wanted: list[tuple[str, str, str]] = []  # (task id, kind, name)
        if spec == "all":
            for t in await novita.list_trainings():
                wanted.append((t.task_id, t.kind, t.name))
        else:
            entries: list[Any] = list(spec)
            for t in entries:
                if isinstance(t, tuple):
                    if len(t) == 3:  # (task_id, kind, steps): Novita's status does not report steps
                        self._novita_steps[t[0]] = t[2]
                    wanted.append((t[0], t[1], ""))
                else:
                    endpoint = getattr(t, "endpoint", "")
                    kind = endpoint.split("/", 1)[1] if endpoint.startswith("training/") else ""
                    if not kind:
                        raise InputError(
                            "trainings", t, "Tasks from train_subject/train_style or (task_id, kind)"
                        )
                    wanted.append((t.task_id, kind, ""))
            if any(not name and f"novita:{tid}" not in self.jobs for tid, _, name in wanted):
                # Tasks carry no name: look the names up once in the list
                names = {t.task_id: t.name for t in await novita.list_trainings()}
                wanted = [(tid, kind, name or names.get(tid, "")) for tid, kind, name in wanted]
        for task_id, kind, name in wanted:
            key = f"novita:{task_id}"
            old = self.jobs.get(key)
            if old is not None and old.finished:
                continue
            st = await novita.training_status(task_id, kind)
            model = f"{st.model_name} ({st.models[0]['model_status']})" if st.models else ""
            # Novita reports a percentage only: the steps come from the request when it is known
            steps = self._novita_steps.get(task_id)
            done = None if steps is None or st.progress is None else round(steps * st.progress / 100)
            self.jobs[key] = JobState(
                f"Novita {kind}",
                task_id,
                name or (old.name if old else ""),
                st.status,
                st.progress,
                done,
                steps,
                0.0 if st.finished else st.eta,
                st.finished,
                st.failed,
                None,
                model,
            )

    async def refresh_async(self) -> None:
        """Fetch every unfinished job once and redraw; returns None. Errors show in the summary line."""
        now = self.clock()
        try:
            for m in await self._module_jobs():
                self._update_module(m, now)
            await self._novita_jobs()
            self.last_error = ""
        except NaikitError as exc:
            # a failed refresh is shown, never fatal: the next one may work (429, a dropped connection)
            self.last_error = str(exc)
        self.refreshes += 1
        self._render()

    def refresh(self) -> None:
        """Refresh once, blocking (for scripts and tests; in a notebook the dashboard refreshes itself)."""
        from .. import _runner

        _runner.run(self.refresh_async())

    def _render(self) -> None:
        jobs = list(self.jobs.values())
        labels = dict(zip(self.jobs, job_labels(jobs), strict=True))
        for key, job in self.jobs.items():
            bar = self.bars.get(key)
            if bar is None:
                bar = self.bars[key] = widgets.IntProgress(
                    min=0,
                    max=100,
                    # wide enough for the job's name, so two jobs with a common prefix stay apart
                    style={"description_width": "220px"},
                    layout=widgets.Layout(width="500px"),
                )
                self.bar_labels[key] = widgets.Label(layout=widgets.Layout(width="140px"))
                self.bar_box.children = (*self.bar_box.children, widgets.HBox([bar, self.bar_labels[key]]))
            # same-named jobs get the start of their id, set on every render since a twin may come later
            label = labels[key]
            bar.description = label if len(label) <= 32 else label[:31] + "…"
            bar.tooltip = f"{label} ({job.id})"
            bar.value = int(job.progress or 0)
            bar.bar_style = "danger" if job.failed else "success" if job.finished else "info"
            pct = "" if job.progress is None else f"{job.progress:.0f} %"
            steps = f" · {job.steps_done}/{job.steps} steps" if job.steps else ""
            self.bar_labels[key].value = (job.status if job.finished else pct) + steps
        self.table.value = dashboard_html(jobs)
        self.curves.value = curves_html(jobs)
        running = sum(not j.finished for j in jobs)
        state = "all finished" if self.done else f"{running} running, refreshing every {self.interval:g} s"
        if not self.running and not self.done and self.refreshes:
            state = f"{running} running, not refreshing (press Refresh)"
        error = f" — last refresh failed: {html.escape(self.last_error)}" if self.last_error else ""
        # nothing left to stop once every job has ended or the refreshing has stopped
        self.stop_button.disabled = self.done or not self.running
        self.summary.value = f"<b>Training jobs</b>: {len(jobs)} ({state}){error}"

    async def run(self) -> None:
        """Refresh every ``interval`` seconds until every job has finished; returns None."""
        while True:
            await self.refresh_async()
            if self.done:
                break
            await self.sleep(self.interval)
        self._render()

    def start(self) -> bool:
        """Start refreshing as a task on the running event loop (a Jupyter kernel's); return True if started.

        Without a running loop in this thread nothing starts (call ``refresh()`` or ``run_until_done()``).
        """
        if self.running:
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self._task = loop.create_task(self.run())
        self._task.add_done_callback(lambda _t: self._render())
        return True

    def stop(self) -> None:
        """Stop the background refreshing (the view keeps its last state); returns None."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def wait(self) -> pd.DataFrame:
        """Wait until the background task ends (every job finished); return :meth:`to_frame`."""
        if self._task is None:
            await self.run()
        else:
            try:
                await asyncio.shield(self._task)
            except asyncio.CancelledError:
                if not self._task.cancelled():
                    raise
        return self.to_frame()

    def run_until_done(self) -> pd.DataFrame:
        """Block until every job has finished (outside a running loop); return :meth:`to_frame`."""
        from .. import _runner

        _runner.run(self.run())
        return self.to_frame()

    def _refresh_clicked(self) -> None:
        if not self.start():
            self.refresh()


def training_dashboard(
    nai: Any = None,
    novita: Any = None,
    *,
    modules: str | Iterable[Any] | None = "all",
    trainings: str | Iterable[Any] | None = "all",
    interval: float = 2.0,
    start: bool = True,
    novita_steps: dict[str, int] | None = None,
) -> TrainingDashboard:
    """Return a live :class:`TrainingDashboard` of NovelAI modules and/or Novita trainings.

    ``modules`` / ``trainings``: ``"all"`` (every job of the account), a list (module ids or Modules;
    Tasks from ``train_subject``/``train_style``, ``(task_id, kind)`` or ``(task_id, kind, steps)``), or
    None to leave one out. ``novita_steps`` maps Novita task ids to their ``max_train_steps`` (Novita's
    status reports a percentage only), so their rows show steps too.
    """
    return TrainingDashboard(
        nai, novita, modules=modules, trainings=trainings, interval=interval, start=start,
        novita_steps=novita_steps,
    )  # fmt: skip
