"""Novita task results and the polling loop.

:func:`poll` waits for any job with a status (a v3 async task, a training task) with a *time-based*
timeout, a growing interval (0.5 s, then x1.5 up to 5 s by default), an optional progress bar (an
ipywidgets bar in a notebook) and an optional callback. Transient failures while polling (429, 5xx,
dropped connections) do not end the wait: it keeps polling until the time budget is spent, then raises
:class:`~naikit.novita.errors.TaskTimeout` naming the task. Every error it raises carries ``task_id``.

:class:`TaskResult` is one answer of ``GET /v3/async/task-result``: status, progress, ETA, the image,
video and audio descriptors, and (once downloaded) the bytes, shown in a notebook as a small table with
thumbnails and convertible with ``.images`` (PIL) and ``.to_frame()``.
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .._decode import finite
from .._records import Record, record, to_str, to_text, wire
from ..errors import APIError, NaikitError, RateLimited, ServerError, TransportError
from .errors import TaskFailed, TaskTimeout, attach_task

__all__ = [
    "Task",
    "TaskResult",
    "MediaFile",
    "ProgressBar",
    "TqdmProgress",
    "poll",
    "short_status",
    "TASK_STATUS",
    "TASK_RESULT_SHAPE",
]

TASK_STATUS = ("TASK_STATUS_QUEUED", "TASK_STATUS_PROCESSING", "TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED")


def short_status(status: str) -> str:
    """Return ``TASK_STATUS_SUCCEED`` as ``SUCCEED`` (other strings unchanged)."""
    return status[len("TASK_STATUS_") :] if status.startswith("TASK_STATUS_") else status


@dataclass(frozen=True)
class Task:
    """A submitted Novita task: its id and what made it. Pass it (or the id) to ``wait_for_task``."""

    task_id: str
    endpoint: str = ""

    def __str__(self) -> str:
        return self.task_id


@dataclass
class MediaFile:
    """One image, video or audio of a result: URL (valid ``ttl`` s), type, NSFW check, bytes once fetched."""

    kind: str
    url: str
    type: str
    ttl: int | None
    nsfw: dict | None = None
    data: bytes | None = None

    def __repr__(self) -> str:
        size = f", {len(self.data)} bytes" if self.data is not None else ""
        return f"MediaFile({self.kind}/{self.type}{size})"


class _Status(Protocol):
    task_id: str
    status: str

    @property
    def finished(self) -> bool: ...

    @property
    def failed(self) -> bool: ...

    @property
    def progress(self) -> float | None: ...


def _ttl(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float
        return None


def _media(d: Any) -> list[MediaFile]:
    """Return the image, video and audio descriptors of a task-result body, in that order."""
    files: list[MediaFile] = []
    for im in d.get("images") or []:
        files.append(
            MediaFile(
                "image",
                to_text(im.get("image_url")),
                to_text(im.get("image_type")),
                _ttl(im.get("image_url_ttl")),
                im.get("nsfw_detection_result") or None,
            )
        )
    for kind in ("video", "audio"):
        for v in d.get(f"{kind}s") or []:
            files.append(
                MediaFile(
                    kind,
                    to_text(v.get(f"{kind}_url")),
                    to_text(v.get(f"{kind}_type")),
                    _ttl(v.get(f"{kind}_url_ttl")),
                )
            )
    return files


def _short(v: Any) -> str:
    return short_status("TASK_STATUS_UNKNOWN" if v is None else str(v))


def _or_empty(v: Any) -> str:
    return str(v or "")


def _seed(v: Any) -> str | None:
    return None if v is None else str(v)


def _files_row(r: TaskResult) -> str:
    return ", ".join(f"{f.kind}/{f.type}" for f in r.files) or "none"


@record()
class TaskResult(Record):
    """One answer of ``GET /v3/async/task-result`` (status, progress, media), plus downloaded bytes.

    ``status`` is the short form (QUEUED, PROCESSING, SUCCEED, FAILED, or what the server sent);
    ``images`` gives PIL images once the files were downloaded; ``raw`` is the server's JSON.
    ``TaskResult.shape()`` checks only what the official SDK requires; everything else is optional.
    """

    WHAT = "GET /v3/async/task-result"
    ROWS = ("task_id", "status", "task_type", "progress_percent", "reason", "seed", "files")
    HTML_CLASS = None

    task_id: str = wire("task.task_id", str, to_str)
    status: str = wire(
        "task.status", str, lambda v: short_status("TASK_STATUS_UNKNOWN" if v is None else str(v))
    )
    reason: str = wire("task.reason", convert=_or_empty, hide_empty=True)
    task_type: str = wire("task.task_type", convert=_or_empty)
    progress_percent: float | None = wire("task.progress_percent", convert=finite, show=lambda r: r.progress)
    eta: float | None = wire("task.eta", convert=finite, show=False)
    seed: str | None = wire("extra.seed", convert=_seed, hide_empty=True)
    files: list[MediaFile] = wire(
        "",
        {
            "images?": ([{"image_url": str, "image_type": str}], None),
            "videos?": ([{"video_url": str, "video_type": str}], None),
        },
        _media,
        # what _media reads, checked whatever ``validate`` says: objects where objects go
        needs={"images?": ([dict], None), "videos?": ([dict], None), "audios?": ([dict], None)},
        show=_files_row,
    )
    raw: dict = field(repr=False)
    fetched_at: float = field(default_factory=time.time, repr=False)

    # -- status protocol used by poll() and the dashboard --------------------------------------------
    @property
    def finished(self) -> bool:
        """Return True once the task succeeded or failed."""
        return self.status in ("SUCCEED", "FAILED")

    @property
    def failed(self) -> bool:
        """Return True if the task failed."""
        return self.status == "FAILED"

    @property
    def succeeded(self) -> bool:
        """Return True if the task succeeded."""
        return self.status == "SUCCEED"

    @property
    def progress(self) -> float | None:
        """Return progress in percent (100 on success even if the server says 0), or None if unknown."""
        if self.status == "SUCCEED":
            return 100.0
        return self.progress_percent

    # -- media ---------------------------------------------------------------------------------------
    @property
    def image_files(self) -> list[MediaFile]:
        """Return the image descriptors, in the server's order."""
        return [f for f in self.files if f.kind == "image"]

    @property
    def video_files(self) -> list[MediaFile]:
        """Return the video descriptors."""
        return [f for f in self.files if f.kind == "video"]

    @property
    def image_urls(self) -> list[str]:
        """Return the image URLs (valid for their ``ttl`` seconds after the task finished)."""
        return [f.url for f in self.image_files]

    @property
    def images(self) -> list[Any]:
        """Return the downloaded images as PIL images (order of ``image_urls``); empty before download."""
        from PIL import Image

        out = []
        for f in self.image_files:
            if f.data is not None:
                im = Image.open(io.BytesIO(f.data))
                im.load()
                out.append(im)
        return out

    @property
    def videos(self) -> list[bytes]:
        """Return the downloaded videos' bytes."""
        return [f.data for f in self.video_files if f.data is not None]

    def raise_for_status(self) -> TaskResult:
        """Return self if the task did not fail; raise :class:`TaskFailed` (with the task id) if it did."""
        if self.failed:
            raise TaskFailed(self.task_id, self.reason, result=self)
        return self

    # -- display -------------------------------------------------------------------------------------
    def to_frame(self) -> Any:
        """Return one row per file: index, kind, type, ttl, NSFW result, bytes, width, height."""
        import pandas as pd

        rows = []
        for i, f in enumerate(self.files):
            w = h = None
            if f.kind == "image" and f.data is not None:
                from PIL import Image

                with Image.open(io.BytesIO(f.data)) as im:
                    w, h = im.size
            rows.append(
                {
                    "task_id": self.task_id,
                    "index": i,
                    "kind": f.kind,
                    "type": f.type,
                    "ttl": f.ttl,
                    "nsfw": f.nsfw,
                    "bytes": None if f.data is None else len(f.data),
                    "width": w,
                    "height": h,
                }
            )
        cols = ["task_id", "index", "kind", "type", "ttl", "nsfw", "bytes", "width", "height"]
        return pd.DataFrame(rows, columns=cols)

    def _repr_html_(self) -> str:
        thumbs = ""
        for f in self.image_files:
            if f.data is not None:
                mime = "image/jpeg" if f.type == "jpeg" else f"image/{f.type or 'png'}"
                b64 = base64.b64encode(f.data).decode("ascii")
                thumbs += f"<img src='data:{mime};base64,{b64}' style='max-width:160px;margin:2px'/>"
        return f"<div class='naikit-novita-task'>{self._html_table()}{thumbs}</div>"

    def __repr__(self) -> str:
        pp = f", {self.progress:.0f}%" if self.progress is not None and not self.finished else ""
        files = f", {len(self.files)} file(s)" if self.files else ""
        reason = f", reason={self.reason!r}" if self.reason else ""
        return f"TaskResult({self.task_id}, {self.status}{pp}{files}{reason})"


TASK_RESULT_SHAPE = TaskResult.shape()


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
    from ..errors import InputError

    raise InputError(
        "progress", progress, "None (automatic), True, False, or an object with update()/close()"
    )


_TRANSIENT = (TransportError, ServerError, RateLimited)


async def poll(
    fetch: Callable[[], Awaitable[_Status]],
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
) -> Any:
    """Poll ``fetch()`` until the job is finished; return its final status.

    ``timeout`` is in seconds of ``now()`` (not a count of polls). The interval starts at ``interval``
    and grows by ``growth`` up to ``max_interval``; ``callback(status)`` runs after every successful poll
    (its errors propagate, with the task id attached). Transient failures (429, 5xx, connection
    problems) are retried until the budget is spent. A failed job raises TaskFailed unless
    ``raise_on_failure`` is False. Every error raised carries ``task_id``.
    """
    from .._validate import check_wait_options

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
                raise attach_task(exc, task_id, last) from None
            if last is not None and last_error is None:
                if reporter is not None:
                    reporter.update(last)
                if callback is not None:
                    try:
                        callback(last)
                    except Exception as exc:
                        raise attach_task(exc, task_id, last) from None
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
