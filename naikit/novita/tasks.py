"""Novita task results (the polling loop that waits for them is :func:`naikit._poll.poll`).

:class:`TaskResult` is one answer of ``GET /v3/async/task-result``: status, progress, ETA, the image,
video and audio descriptors, and (once downloaded) the bytes, shown in a notebook as a small table with
thumbnails and convertible with ``.images`` (PIL) and ``.to_frame()``.
"""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._decode import finite
from .._records import Record, record, to_str, to_text, wire
from .errors import TaskFailed

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import PIL.Image

__all__ = [
    "Task",
    "TaskResult",
    "MediaFile",
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
    def images(self) -> list[PIL.Image.Image]:
        """Return the downloaded images as PIL images (order of ``image_urls``); empty before download."""
        from PIL import Image

        out: list[Image.Image] = []
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
    def to_frame(self) -> pd.DataFrame:
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
