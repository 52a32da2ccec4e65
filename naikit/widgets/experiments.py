"""Experiment dashboard: progress (done/total, ETA, Anlas spent), a stop button and the results table.

``experiment_dashboard(exp)`` returns an :class:`ExperimentDashboard` (an ipywidgets ``VBox``). It listens
to the experiment's progress and redraws after every result; ``refresh()`` redraws on demand. Inside a
running event loop (a Jupyter kernel) ``start(client)`` runs the experiment as an asyncio task on that
loop, so the kernel stays free and the stop button works; the task's report lands in ``.report``.
The widget state (``.bar.value``, ``.status.value``, ``.table.value``) can be read in plain pytest.
"""

from __future__ import annotations

import asyncio
import html
import math
from typing import Any

import ipywidgets as widgets

from ..errors import InputError
from ..experiments.experiment import Experiment
from .snapshot import Snapshot

__all__ = ["ExperimentDashboard", "experiment_dashboard", "status_text"]


def status_text(status: dict[str, int], anlas: int, eta_s: float | None = None) -> str:
    """Return the one-line status: done/total, in flight, failed, Anlas spent and the ETA when known."""
    parts = [f"{status['done']}/{status['total']} done"]
    if status.get("in_flight"):
        parts.append(f"{status['in_flight']} in flight")
    if status.get("failed"):
        parts.append(f"{status['failed']} failed")
    parts.append(f"{anlas} Anlas spent")
    if eta_s is not None and not math.isnan(eta_s):
        parts.append(f"ETA {eta_s:.0f} s")
    return " · ".join(parts)


class ExperimentDashboard(Snapshot, widgets.VBox):
    """Live view of one :class:`~naikit.Experiment`."""

    def __init__(self, experiment: Experiment, *, rows: int = 20):
        if not isinstance(experiment, Experiment):
            raise InputError("experiment", experiment, "a naikit.Experiment")
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            raise InputError("rows", rows, "an int >= 1")
        self.experiment, self.rows = experiment, rows
        self.bar = widgets.IntProgress(min=0, max=1, value=0, description="experiment")
        self.status = widgets.HTML()
        self.table = widgets.HTML()
        self.stop_button = widgets.Button(description="stop", icon="stop")
        self.stop_button.on_click(lambda _b: experiment.stop())
        self.report: Any = None
        self.task: asyncio.Task | None = None
        super().__init__([widgets.HBox([self.bar, self.stop_button]), self.status, self.table])
        experiment.on_progress(lambda info: self.refresh(info.get("eta_s")))
        self.refresh()

    def snapshot_html(self) -> str:
        """Return the dashboard's progress line and results table as static HTML."""
        return self.status.value + self.table.value

    def refresh(self, eta_s: float | None = None) -> None:
        """Redraw the progress and the last ``rows`` results from the journal; returns None."""
        st = self.experiment.status()
        self.bar.max = max(st["total"], 1)
        self.bar.value = st["done"]
        self.bar.bar_style = "success" if st["done"] == st["total"] else "info"
        anlas = self.experiment.journal.spent(self.experiment.name)
        self.status.value = html.escape(status_text(st, anlas, eta_s))
        f = self.experiment.frame().drop(columns=["time_s"])
        if "text" in f.columns:
            f["text"] = f["text"].str.slice(0, 60)
        self.table.value = f.tail(self.rows).to_html(index=False, float_format=lambda v: f"{v:.3f}")

    def start(self, client: Any, **kw: Any) -> asyncio.Task[None]:
        """Run the experiment as a task on the running loop (a Jupyter kernel's); return the task."""
        loop = asyncio.get_running_loop()

        async def go() -> None:
            self.report = await self.experiment.arun(client, progress=False, **kw)
            self.refresh()

        self.task = loop.create_task(go())
        return self.task

    def __repr__(self) -> str:
        st = self.experiment.status()
        return f"ExperimentDashboard({st['done']}/{st['total']} done)"


def experiment_dashboard(experiment: Experiment, *, rows: int = 20) -> ExperimentDashboard:
    """Return the dashboard widget of ``experiment`` (progress, stop button, latest results)."""
    return ExperimentDashboard(experiment, rows=rows)
