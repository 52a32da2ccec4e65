"""Image results: PNG bytes that carry their generation parameters, shown and converted in notebooks.

:class:`GeneratedImage` is one picture (``.image`` is a PIL image whose ``.info`` holds NovelAI's metadata;
``.params`` the parameters that made it, with this picture's own seed). :class:`ImageResult` is the
pictures of one request, with the request body (images left out) and the Anlas estimate; it is a sequence of
pictures, so ``naikit.widgets.image_grid(result)`` shows it. :class:`GridCells` is what a result that is not
a plain sequence of pictures (an X/Y plot) gives the image grid through its ``grid_cells()`` method.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, overload

from .._decode import decoding, open_image
from ..errors import InputError, ResponseShapeError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import PIL.Image

    from ..metadata import ImageMetadata

__all__ = ["GeneratedImage", "ImageResult", "GridCells", "StreamEvent", "unzip_images", "strip_images"]

_IMAGE_KEYS = ("image", "mask", "reference_image_multiple", "director_reference_images", "reference_image")


def strip_images(params: dict[str, Any]) -> dict[str, Any]:
    """Return ``params`` with base64 images replaced by a short placeholder (for display and logs)."""
    out = dict(params)
    for k in _IMAGE_KEYS:
        v = out.get(k)
        if isinstance(v, str):
            out[k] = f"<{len(v)} chars base64>"
        elif isinstance(v, list):
            out[k] = [f"<{len(x)} chars base64>" if isinstance(x, str) else x for x in v]
    return out


#: Largest picture accepted from a ZIP answer (NovelAI's biggest, an upscaled 4096x4096 PNG, is ~40 MB).
_MAX_MEMBER = 256 << 20


def unzip_images(data: Any, what: str) -> list[tuple[str, bytes]]:
    """Return (name, bytes) of every member of a ZIP answer (or the bytes themselves if it is a bare PNG).

    Raises ResponseShapeError when the body is not a readable ZIP (damaged, encrypted, an unknown
    compression) or a member is not a picture PIL can read.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise ResponseShapeError(what, "body", f"is {type(data).__name__}, expected a ZIP of images")
    raw = bytes(data)
    if raw.startswith(b"\x89PNG"):
        files = [("image_0.png", raw)]
    else:
        with decoding(lambda reason: ResponseShapeError(what, "body", f"is not a readable ZIP ({reason})")):
            import zipfile  # image answers only: not loaded with the client (import time)

            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                big = [i.filename for i in zf.infolist() if i.file_size > _MAX_MEMBER]
                if big:
                    raise ResponseShapeError(what, "body", f"holds {big[0]!r}, larger than any picture")
                files = [(i.filename, zf.read(i)) for i in zf.infolist()]
    for name, png in files:
        _check_picture(png, what, name)
    return files


def _check_picture(raw: bytes, what: str, name: str) -> None:
    """Raise ResponseShapeError unless ``raw`` is a picture whose chunks PIL can check (not decoded yet)."""
    from PIL import Image

    with decoding(lambda reason: ResponseShapeError(what, name, f"is not a readable picture ({reason})")):
        with Image.open(io.BytesIO(raw)) as pil:
            pil.verify()


def _picture(raw: bytes, what: str) -> PIL.Image.Image:
    """Return the decoded PIL image of ``raw``; ResponseShapeError naming ``what`` when it is unreadable."""

    def fail(reason: str) -> ResponseShapeError:
        return ResponseShapeError(what, "image", f"is not a readable picture ({reason})")

    return open_image(raw, fail)


@dataclass
class GeneratedImage:
    """One generated picture: its PNG bytes and the parameters that made it."""

    png: bytes
    params: dict[str, Any] = field(default_factory=dict)
    prompt: str = ""
    model: str = ""
    action: str = "generate"
    index: int = 0
    _pil: Any = field(default=None, repr=False, compare=False)

    @property
    def seed(self) -> int | None:
        """Return this picture's seed (the request's seed + its index)."""
        return self.params.get("seed")

    @property
    def image(self) -> PIL.Image.Image:
        """Return the picture as a PIL image (its ``.info`` holds the PNG text metadata)."""
        if self._pil is None:
            self._pil = _picture(self.png, f"image {self.index} of {self.model or 'a generation'}")
        return self._pil

    @property
    def size(self) -> tuple[int, int]:
        """Return (width, height)."""
        return self.image.size

    @property
    def metadata(self) -> ImageMetadata | None:
        """Return the NovelAI metadata in the PNG (``naikit.metadata.ImageMetadata``), or None."""
        from ..metadata import read_metadata

        return read_metadata(self.png)

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the PNG bytes exactly as received (metadata kept); return the path.

        Refuses to replace an existing file unless ``overwrite=True``; writes through a temporary file so
        an interrupted save never leaves a truncated picture.
        """
        import os
        import tempfile

        p = Path(path)
        if p.suffix == "":
            p = p.with_suffix(".png")
        if p.exists() and not overwrite:
            raise InputError("path", str(p), "a path that does not exist yet (or overwrite=True)")
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".naikit-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(self.png)
            os.replace(tmp, p)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return p

    def thumbnail(self, size: int = 256, fmt: str = "JPEG", quality: int = 80) -> bytes:
        """Return a compact thumbnail (longest side ``size``) as JPEG or WebP bytes."""

        # Decode from the bytes without keeping the full picture around: a grid of a hundred should not
        # hold a hundred decoded 1-MPx images.
        im = self._pil if self._pil is not None else _picture(self.png, f"image {self.index}")
        im = im.convert("RGB")
        im.thumbnail((size, size), reducing_gap=2.0)
        buf = io.BytesIO()
        extra = {"method": 0} if fmt.upper() == "WEBP" else {}
        im.save(buf, format=fmt.upper(), quality=quality, **extra)
        return buf.getvalue()

    def __repr__(self) -> str:
        w, h = self.params.get("width"), self.params.get("height")
        return f"GeneratedImage({self.model} {w}x{h}, seed={self.seed}, {len(self.png)} bytes)"

    def _repr_png_(self) -> bytes:
        return self.png


@dataclass
class ImageResult(Sequence[GeneratedImage]):
    """The pictures of one request, its body (images stripped) and its Anlas estimate."""

    items: list[GeneratedImage]
    request: dict[str, Any] = field(default_factory=dict)
    cost: Any = None
    label: str = ""

    @overload
    def __getitem__(self, i: int) -> GeneratedImage: ...
    @overload
    def __getitem__(self, i: slice) -> list[GeneratedImage]: ...
    def __getitem__(self, i: int | slice) -> GeneratedImage | list[GeneratedImage]:
        return self.items[i]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[GeneratedImage]:
        return iter(self.items)

    @property
    def images(self) -> list[PIL.Image.Image]:
        """Return the pictures as PIL images."""
        return [g.image for g in self.items]

    @property
    def seeds(self) -> list[int | None]:
        """Return each picture's seed."""
        return [g.seed for g in self.items]

    def to_frame(self) -> pd.DataFrame:
        """Return one row per picture: index, seed, model, size, steps, scale, sampler, prompt, bytes."""
        import pandas as pd

        rows = [
            {
                "index": g.index,
                "seed": g.seed,
                "model": g.model,
                "width": g.params.get("width"),
                "height": g.params.get("height"),
                "steps": g.params.get("steps"),
                "scale": g.params.get("scale"),
                "sampler": g.params.get("sampler"),
                "prompt": g.prompt,
                "bytes": len(g.png),
            }
            for g in self.items
        ]
        return pd.DataFrame(rows)

    def save(self, folder: str | Path, *, prefix: str = "image", overwrite: bool = False) -> list[Path]:
        """Save every picture as ``<prefix>_<seed>.png`` in ``folder``; return the paths."""
        return [
            g.save(Path(folder) / f"{prefix}_{g.seed}_{g.index}.png", overwrite=overwrite) for g in self.items
        ]

    def __repr__(self) -> str:
        cost = f", {self.cost!r}" if self.cost is not None else ""
        return f"ImageResult({len(self.items)} image(s), seeds={self.seeds}{cost})"

    def _repr_html_(self) -> str:
        from ..render.images import grid_html

        return grid_html(
            [g.thumbnail(192) for g in self.items],
            [f"seed {g.seed}" for g in self.items],
            title=self.label or f"{len(self.items)} image(s) · {self.items[0].model if self.items else ''}",
        )


class GridCells(NamedTuple):
    """The cells an image grid shows of a result (what its ``grid_cells()`` method returns): one picture per
    cell, the captions (None: the grid writes the seed and the parameters that differ) and the number of
    columns (None: the grid's default)."""

    pictures: list[GeneratedImage]
    captions: list[str] | None = None
    columns: int | None = None


@dataclass(frozen=True)
class StreamEvent:
    """One event of an image stream: a preview (``intermediate``, JPEG) or a ``final`` picture (PNG)."""

    event_type: str
    sample: int
    step: int
    sigma: float | None
    image: bytes
    gen_id: Any = None

    @property
    def is_final(self) -> bool:
        """Return True for the finished picture of a sample."""
        return self.event_type == "final"

    @property
    def pil(self) -> PIL.Image.Image:
        """Return the event's picture as a PIL image."""
        return _picture(self.image, f"stream event {self.event_type} of sample {self.sample}")

    def __repr__(self) -> str:
        return (
            f"StreamEvent({self.event_type}, sample={self.sample}, step={self.step}, {len(self.image)} bytes)"
        )
