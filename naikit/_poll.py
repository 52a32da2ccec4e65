"""Waiting for a long job (a Novita task, a Novita training, a NovelAI module): the polling loop, its
progress reporters, and the task id every error raised while waiting carries.

:func:`poll` waits for any job with a status with a *time-based* timeout, a growing interval (0.5 s, then
x1.5 up to 5 s by default), an optional progress bar (an ipywidgets bar in a notebook, tqdm's text bar in a
terminal) and an optional callback. Transient failures while polling (429, 5xx, dropped connections) do not
end the wait: it keeps polling until the time budget is spent, then raises
:class:`~naikit.errors.TaskTimeout` naming the task. Every error it raises carries ``task_id``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from ._validate import check_wait_options
from .errors import (
    APIError,
    InputError,
    NaikitError,
    RateLimited,
    ServerError,
    TaskFailed,
    TaskTimeout,
    TransportError,
)

__all__ = ["poll", "attach_task", "ProgressBar", "TqdmProgress", "PollStatus"]


class PollStatus(Protocol):
    """What :func:`poll` reads from a job's status: its id, state, whether it is over, progress.

    Read-only members, so a dataclass field and a property (a NovelAI module's ``task_id``) both fit.
    """

    @property
    def task_id(self) -> str:
        """Return the job's id."""
        ...

    @property
    def status(self) -> str:
        """Return the job's state as the service names it."""
        ...

    @property
    def finished(self) -> bool:
        """Return True once the job succeeded or failed."""
        ...

    @property
    def failed(self) -> bool:
        """Return True when the job ended failed."""
        ...

    @property
    def progress(self) -> float | None:
        """Return the progress in percent, or None when unknown."""
        ...


S = TypeVar("S", bound=PollStatus)  # poll() returns the status type its fetch gives


def attach_task(exc: BaseException, task_id: str, result: Any = None, *, what: str = "task") -> BaseException:
    """Return ``exc`` with ``task_id`` (and ``result`` if it has none) set, so the task is never lost, and a
    note naming it as ``what`` ("task", "module", "txt2img": whatever was waited for, of either service)."""
    if getattr(exc, "task_id", None) is None:
        try:
            setattr(exc, "task_id", task_id)  # noqa: B010 - any exception: added, not declared
        except AttributeError:  # pragma: no cover - exceptions with __slots__
            pass
    if result is not None and getattr(exc, "result", None) is None:
        try:
            setattr(exc, "result", result)  # noqa: B010
        except AttributeError:  # pragma: no cover
            pass
    if hasattr(exc, "add_note"):
        exc.add_note(f"naikit: {what} id {task_id}")
    return exc


# ------------------------------------------------------------------------------------------------ progress


class ProgressBar:
    """A notebook progress bar for one task (ipywidgets ``IntProgress`` + label), styled like tqdm.auto.

    ``widget`` is the ipywidgets box (display it yourself, or let ``show=True`` do it); ``update`` takes
    any status object, ``close`` colours the bar green (success) or red (failure).
    """

    def __init__(self, task_id: str, what: str = "task", *, show: bool = True):
        import ipywidgets as widgets

        self.task_id = task_id
        self.bar = widgets.IntProgress(value=0, min=0, max=100, bar_style="info", description=what[:12])
        self.label = widgets.Label(value="submitted")
        self.widget = widgets.HBox([self.bar, self.label])
        if show:
            from IPython.display import display

            display(self.widget)

    def update(self, status: Any) -> None:
        """Show ``status`` (its progress, state and ETA); returns None."""
        progress = getattr(status, "progress", None)
        if progress is not None:
            self.bar.value = int(max(0, min(100, progress)))
        text = str(getattr(status, "status", ""))
        eta = getattr(status, "eta", None)
        if eta:
            text += f", about {eta:.0f} s left"
        self.label.value = text

    def close(self, ok: bool, text: str = "") -> None:
        """Mark the bar finished: green when ``ok``, red otherwise; returns None."""
        self.bar.bar_style = "success" if ok else "danger"
        if ok:
            self.bar.value = 100
        if text:
            self.label.value = text


class TqdmProgress:
    """A progress bar for one task through ``tqdm.auto``: a text bar in a terminal, tqdm's widget in a
    notebook. The same ``update``/``close`` as :class:`ProgressBar`; ``file`` defaults to stderr."""

    def __init__(self, task_id: str, what: str = "task", *, file: Any = None):
        from tqdm.auto import tqdm

        self.task_id = task_id
        self.bar = tqdm(total=100, desc=what, unit="%", file=file, leave=True, dynamic_ncols=True)
        self.value = 0

    def update(self, status: Any) -> None:
        """Show ``status`` (its progress and state); returns None."""
        progress = getattr(status, "progress", None)
        if progress is not None:
            value = int(max(0, min(100, progress)))
            if value > self.value:
                self.bar.update(value - self.value)
                self.value = value
        self.bar.set_postfix_str(str(getattr(status, "status", "")), refresh=True)

    def close(self, ok: bool, text: str = "") -> None:
        """Finish the bar (filled when ``ok``) with ``text`` beside it; returns None."""
        if ok and self.value < 100:
            self.bar.update(100 - self.value)
            self.value = 100
        if text:
            self.bar.set_postfix_str(text, refresh=False)
        self.bar.close()


def _in_notebook() -> bool:
    import sys

    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def _make_reporter(progress: Any, task_id: str, what: str) -> Any:
    if progress is None:
        progress = _in_notebook()
    if progress is False:
        return None
    if progress is True:
        try:
            # a notebook gets the widget; a terminal (a script, IPython in a shell) tqdm's text bar
            return ProgressBar(task_id, what) if _in_notebook() else TqdmProgress(task_id, what)
        except ImportError:
            return None
    if hasattr(progress, "update"):
        return progress
    raise InputError(
        "progress", progress, "None (automatic), True, False, or an object with update()/close()"
    )


_TRANSIENT = (TransportError, ServerError, RateLimited)


async def poll(
    fetch: Callable[[], Awaitable[S]],
    task_id: str,
    *,
    timeout: float = 300.0,
    interval: float = 0.5,
    max_interval: float = 5.0,
    growth: float = 1.5,
    progress: Any = None,
    callback: Callable[[Any], Any] | None = None,
    raise_on_failure: bool = True,
    what: str = "task",
    now: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> S:
    """Poll ``fetch()`` until the job is finished; return its final status.

    ``timeout`` is in seconds of ``now()`` (not a count of polls). The interval starts at ``interval``
    and grows by ``growth`` up to ``max_interval``; ``callback(status)`` runs after every successful poll
    (its errors propagate, with the task id attached). Transient failures (429, 5xx, connection
    problems) are retried until the budget is spent. A failed job raises TaskFailed unless
    ``raise_on_failure`` is False. Every error raised carries ``task_id``.
    """
    check_wait_options(
        timeout=timeout,
        interval=interval,
        max_interval=max_interval,
        growth=growth,
        callback=callback,
        raise_on_failure=raise_on_failure,
        progress=progress,
    )
    reporter = _make_reporter(progress, task_id, what)
    deadline = now() + timeout
    delay = interval
    last: Any = None
    last_error: BaseException | None = None
    try:
        while True:
            try:
                last = await fetch()
                last_error = None
            except _TRANSIENT as exc:
                last_error = exc
            except (APIError, NaikitError) as exc:
                raise attach_task(exc, task_id, last, what=what) from None
            if last is not None and last_error is None:
                if reporter is not None:
                    reporter.update(last)
                if callback is not None:
                    try:
                        callback(last)
                    except Exception as exc:
                        raise attach_task(exc, task_id, last, what=what) from None
                if last.finished:
                    if reporter is not None and hasattr(reporter, "close"):
                        reporter.close(not last.failed, str(last.status))
                    if last.failed and raise_on_failure:
                        raise TaskFailed(task_id, getattr(last, "reason", "") or "", result=last)
                    return last
            remaining = deadline - now()
            if remaining <= 0:
                raise TaskTimeout(task_id, timeout, result=last, last_error=last_error)
            await sleep(min(delay, remaining))
            delay = min(delay * growth, max_interval)
    except BaseException:
        if reporter is not None and hasattr(reporter, "close") and not (last is not None and last.finished):
            reporter.close(False, "stopped")
        raise
