"""Image grid widget: compact thumbnails, captions, click to enlarge, select and save.

``image_grid(images)`` returns an :class:`ImageGrid` (an ipywidgets ``VBox``) of pictures, or of a result:
an ``ImageResult`` (a sequence of pictures), a ``GridCells``, or anything with a ``grid_cells()`` method such
as an ``XYPlot`` (its cells captioned with their axis values, one column per X value) or an image
``Experiment`` (its pictures captioned with the axes that vary). Thumbnails are sent as JPEG
or WebP of at most ``thumb_size`` pixels, so a grid of a hundred 832×1216 pictures stays a few MB in the
notebook; the full PNG is sent only for the picture being enlarged. Captions show the seed and the
parameters that differ between the pictures. State (selection, enlarged index, payload size) is plain
Python, which is how the tests drive it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import traitlets

from ..errors import InputError
from ..novelai.images_result import GeneratedImage, GridCells
from .files import output_folder, output_path, shown_path
from .snapshot import Snapshot

__all__ = ["ImageGrid", "image_grid", "StreamPreview", "stream_preview"]

_CAPTION_KEYS = ("model", "width", "height", "steps", "scale", "sampler", "noise_schedule", "cfg_rescale",
                 "strength", "uncond_scale", "sm", "skip_cfg_above_sigma")  # fmt: skip


def _as_generated(x: Any, i: int) -> GeneratedImage:
    if isinstance(x, GeneratedImage):
        return x
    if isinstance(x, (bytes, bytearray)):
        return GeneratedImage(bytes(x), {}, index=i)
    if hasattr(x, "save") and hasattr(x, "size"):
        buf = io.BytesIO()
        x.save(buf, format="PNG")
        return GeneratedImage(buf.getvalue(), {}, index=i)
    raise InputError("images", type(x).__name__, "GeneratedImage, PIL images or PNG bytes")


def _cells(images: Any, captions: Sequence[str] | None, columns: int | None) -> GridCells:
    """Return the pictures, captions and column count to show: ``images`` itself when it is a GridCells, a
    result's own ``grid_cells()`` (captions and columns given to the grid win over the result's), else
    ``images`` as a sequence of pictures."""
    grid_cells = getattr(images, "grid_cells", None)
    if isinstance(images, GridCells) or callable(grid_cells):
        cells = images if isinstance(images, GridCells) else grid_cells() if callable(grid_cells) else None
        if not isinstance(cells, GridCells):
            raise InputError("images", type(images).__name__, "a result whose grid_cells() returns GridCells")
        return GridCells(
            cells.pictures,
            list(captions) if captions is not None else cells.captions,
            columns if columns is not None else cells.columns,
        )
    if isinstance(images, (str, bytes, bytearray)) or not isinstance(images, Iterable):
        raise InputError(
            "images",
            type(images).__name__,
            "a sequence of pictures, an ImageResult, an XYPlot or an Experiment",
        )
    return GridCells(list(images), None if captions is None else list(captions), columns)


def varying_keys(items: Sequence[GeneratedImage]) -> list[str]:
    """Return the caption parameters whose values differ between the pictures (plus the prompt if it does)."""
    keys = [k for k in _CAPTION_KEYS if len({repr(g.params.get(k)) for g in items}) > 1]
    if len({g.prompt for g in items}) > 1:
        keys.append("prompt")
    return keys


def make_thumbnail(item: GeneratedImage, size: int, fmt: str, quality: int) -> bytes:
    """Return the thumbnail bytes of one picture."""
    return item.thumbnail(size, fmt, quality)


def _thumbnails(items: Sequence[GeneratedImage], size: int, fmt: str, quality: int) -> list[bytes]:
    # PNG decoding and WebP/JPEG encoding release the GIL, so a few threads divide the build time.
    if len(items) < 8:
        return [make_thumbnail(g, size, fmt, quality) for g in items]
    import os
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        return list(pool.map(lambda g: make_thumbnail(g, size, fmt, quality), items))


class ImageGrid(Snapshot, widgets.VBox):
    """A grid of thumbnails with captions, per-picture select and enlarge buttons, and a save bar.

    ``selection`` (the selected indices) and ``enlarged`` (the index shown large, or None) are traitlets:
    set them, ``observe`` them or ``link`` them to other widgets.
    """

    selection = traitlets.List(traitlets.Int(), help="indices of the selected pictures, in order")
    enlarged = traitlets.Int(None, allow_none=True, help="the picture shown large, or None")

    def __repr__(self) -> str:
        return f"ImageGrid({len(self.items)} images)"

    def __init__(
        self,
        items: Any,
        *,
        thumb_size: int = 256,
        fmt: str = "webp",
        quality: int = 75,
        columns: int | None = None,
        captions: Sequence[str] | None = None,
    ):
        if fmt.lower() not in ("webp", "jpeg", "jpg"):
            raise InputError("fmt", fmt, "'webp' or 'jpeg'")
        if not isinstance(thumb_size, int) or not 32 <= thumb_size <= 1024:
            raise InputError("thumb_size", thumb_size, "an integer from 32 to 1024")
        pictures, captions, grid_columns = _cells(items, captions, columns)
        columns = 4 if grid_columns is None else grid_columns
        self.items = [_as_generated(x, i) for i, x in enumerate(pictures)]
        if captions is not None and len(captions) != len(self.items):
            raise InputError("captions", f"{len(captions)} captions", f"{len(self.items)} (one per picture)")
        fmt = "jpeg" if fmt.lower() in ("jpeg", "jpg") else "webp"
        self.fmt = fmt
        self.thumbs = _thumbnails(self.items, thumb_size, fmt, quality)
        keys = varying_keys(self.items)
        self.captions = (
            list(captions)
            if captions is not None
            else [
                " · ".join(
                    [f"seed {g.seed}"]
                    + [f"{k}={g.params.get(k) if k != 'prompt' else g.prompt}" for k in keys]
                )
                for g in self.items
            ]
        )
        # Fixed widths so "select" and "enlarge" both fit under the smallest thumbnail.
        self.checks = [
            widgets.Checkbox(
                value=False, description="select", indent=False, layout=widgets.Layout(width="80px")
            )
            for _ in self.items
        ]
        self.enlarge_buttons = [
            widgets.Button(description="enlarge", icon="search-plus", layout=widgets.Layout(width="96px"))
            for _ in self.items
        ]
        # The thumbnail itself is clickable: a transparent button lies over it in the same grid cell
        # (plain ipywidgets, no JavaScript of our own).
        self.thumb_buttons = [
            widgets.Button(
                description="",
                tooltip="click to enlarge",
                layout=widgets.Layout(grid_area="cell", width="100%", height="100%", margin="0"),
                style=widgets.ButtonStyle(button_color="transparent"),
            )
            for _ in self.items
        ]
        tiles = []
        for i, (t, cap) in enumerate(zip(self.thumbs, self.captions, strict=False)):
            img = widgets.Image(
                value=t, format=fmt, layout=widgets.Layout(max_width=f"{thumb_size}px", grid_area="cell")
            )
            self.enlarge_buttons[i].on_click(lambda _b, i=i: self.enlarge(i))
            self.thumb_buttons[i].on_click(lambda _b, i=i: self.enlarge(i))
            self.thumb_buttons[i].add_class("naikit-thumb-button")
            cell = widgets.GridBox(
                [img, self.thumb_buttons[i]],
                layout=widgets.Layout(grid_template_areas='"cell"', width="fit-content"),
            )
            tiles.append(widgets.VBox([cell, widgets.HTML(f"<small>{_esc(cap)}</small>"),
                                       widgets.HBox([self.checks[i], self.enlarge_buttons[i]])]))  # fmt: skip
        self.grid = widgets.GridBox(
            tiles, layout=widgets.Layout(grid_template_columns=f"repeat({columns}, {thumb_size + 16}px)")
        )
        # shown at its own size: never wider than the picture (no upscaling), narrower when the page is
        self.big = widgets.Image(
            format="png", layout=widgets.Layout(max_width="100%", height="auto", object_fit="contain")
        )
        self.big.add_class("naikit-enlarged")
        self.big_caption = widgets.HTML("")
        self.close_button = widgets.Button(
            description="close", icon="times", tooltip="close the enlarged picture"
        )
        self.close_button.on_click(lambda _b: self.enlarge(None))
        self.big_box = widgets.VBox(
            [widgets.HBox([self.big_caption, self.close_button]), self.big],
            layout=widgets.Layout(display="none"),
        )
        self.folder = widgets.Text(
            value=shown_path(output_folder("images")),
            description="folder",
            tooltip="a relative folder is taken inside the output folder, not next to the notebook",
            layout=widgets.Layout(width="420px"),
        )
        self.save_button = widgets.Button(description="save selected", icon="save")
        self.status = widgets.HTML("")
        self.save_button.on_click(lambda _b: self._save_clicked())
        bar = widgets.HBox([self.folder, self.save_button, self.status])
        super().__init__([self.grid, bar, self.big_box])
        for check in self.checks:
            check.observe(lambda _c: self._checks_changed(), names="value")

    def _checks_changed(self) -> None:
        self.selection = [i for i, c in enumerate(self.checks) if c.value]

    @traitlets.validate("selection")
    def _check_selection(self, proposal: dict[str, Any]) -> list[int]:
        value = sorted(set(proposal["value"]))
        bad = [i for i in value if not 0 <= i < len(self.items)]
        if bad:
            raise InputError("selection", bad, f"indices from 0 to {len(self.items) - 1}")
        return value

    @traitlets.observe("selection")
    def _selection_changed(self, change: dict[str, Any]) -> None:
        chosen = set(change["new"])
        for i, check in enumerate(self.checks):
            if check.value != (i in chosen):
                check.value = i in chosen

    @traitlets.validate("enlarged")
    def _check_enlarged(self, proposal: dict[str, Any]) -> int | None:
        index = proposal["value"]
        if index is not None and not 0 <= index < len(self.items):
            raise InputError("index", index, f"0 to {len(self.items) - 1}")
        return index

    @traitlets.observe("enlarged")
    def _enlarged_changed(self, change: dict[str, Any]) -> None:
        self._show_big(change["new"])

    def snapshot_html(self) -> str:
        """Return the thumbnails and captions as static HTML (the same thumbnails the grid sends)."""
        from ..render.images import grid_html

        return grid_html(self.thumbs, self.captions)

    @property
    def selected(self) -> list[int]:
        """Return the indices of the selected pictures."""
        return [i for i, c in enumerate(self.checks) if c.value]

    def select(self, *indices: int, value: bool = True) -> None:
        """Select (or with ``value=False`` unselect) pictures by index; returns None."""
        for i in indices:
            self.checks[i].value = value

    def enlarge(self, index: int | None) -> None:
        """Show picture ``index`` at full size below the grid (None hides it); returns None."""
        self.enlarged = index

    def _show_big(self, index: int | None) -> None:
        if index is None:
            self.big_box.layout.display = "none"
            self.big.value = b""
            self.big.width = ""
            self.big_caption.value = ""
            return
        item = self.items[index]
        self.big.value = item.png
        width = _png_width(item.png)
        self.big.width = str(width) if width else ""  # its natural width; max-width shrinks it to fit
        self.big_box.layout.display = ""
        self.big_caption.value = f"<b>{_esc(self.captions[index])}</b>"

    def save_selected(self, folder: str | Path | None = None, *, overwrite: bool = False) -> list[Path]:
        """Save the selected pictures (PNG with metadata) into ``folder``; return the paths written.

        ``folder`` (default: the folder box) is used as given when absolute; a relative one is taken
        inside ``naikit.widgets.files.output_folder('images')``, never next to the notebook.
        """
        target = output_path(folder if folder is not None else self.folder.value, "images")
        return [self.items[i].save(target / f"image_{self.items[i].seed}_{i}.png", overwrite=overwrite)
                for i in self.selected]  # fmt: skip

    def _save_clicked(self) -> None:
        try:
            paths = self.save_selected()
        except (InputError, OSError) as exc:
            self.status.value = f"<span style='color:#b00'>{_esc(str(exc))}</span>"
            return
        where = _esc(shown_path(paths[0].parent)) if paths else ""
        self.status.value = f"saved {len(paths)} picture(s) in {where}" if paths else "select pictures first"

    @property
    def payload_bytes(self) -> int:
        """Return the bytes of image data the grid sends to the browser (thumbnails + enlarged picture)."""
        return sum(len(t) for t in self.thumbs) + len(self.big.value or b"")


def _png_width(png: bytes) -> int:
    """Return the width in the PNG header (0 when the bytes are not a PNG)."""
    if png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR":
        return int.from_bytes(png[16:20], "big")
    return 0


def _esc(text: str) -> str:
    from html import escape

    return escape(text)


def image_grid(
    images: Any,
    *,
    thumb_size: int = 256,
    fmt: str = "webp",
    quality: int = 75,
    columns: int | None = None,
    captions: Sequence[str] | None = None,
) -> ImageGrid:
    """Return an ImageGrid (an ipywidgets VBox) of GeneratedImage objects, PIL images or PNG bytes, of an
    ``ImageResult``, of a ``GridCells``, or of a result with ``grid_cells()`` (an ``XYPlot``: every cell,
    captioned with its axis values; an image ``Experiment``: every picture, captioned with the axes that
    vary). ``columns`` defaults to 4 (an X/Y plot: one per X value)."""
    return ImageGrid(
        images, thumb_size=thumb_size, fmt=fmt, quality=quality, columns=columns, captions=captions
    )


class StreamPreview(widgets.VBox):
    """Shows an image stream as it arrives: the latest preview of each sample, then the final pictures.

    Display it, then pass each event of ``generate_image_stream`` to :meth:`show` from the cell that
    iterates (the kernel's own thread, so no Output widget is written from another thread).
    """

    def __repr__(self) -> str:
        return f"StreamPreview({len(self.finals)} final, {self.events} events)"

    def __init__(self, *, size: int = 256):
        if not isinstance(size, int) or isinstance(size, bool) or not 32 <= size <= 2048:
            raise InputError("size", size, "an int between 32 and 2048 (pixels)")
        self.size = size
        self.events = 0
        self.finals: list[bytes] = []
        self._views: dict[int, tuple[widgets.Image, widgets.HTML]] = {}
        self.row = widgets.HBox()
        super().__init__([self.row])

    def show(self, event: Any) -> None:
        """Draw one stream event (a preview replaces its sample's last one; a final stays); returns None."""
        from ..novelai.images_result import StreamEvent

        if not isinstance(event, StreamEvent):
            raise InputError("event", type(event).__name__, "a StreamEvent from generate_image_stream")
        self.events += 1
        view = self._views.get(event.sample)
        if view is None:
            img = widgets.Image(format="jpeg", layout=widgets.Layout(max_width=f"{self.size}px"))
            cap = widgets.HTML()
            self._views[event.sample] = view = (img, cap)
            self.row.children = (*self.row.children, widgets.VBox([img, cap]))
        img, cap = view
        thumb = GeneratedImage(event.image, {}, index=event.sample).thumbnail(self.size, "jpeg", 80)
        img.value = thumb
        if event.is_final:
            self.finals.append(event.image)
            cap.value = f"<small>sample {event.sample}: final</small>"
        else:
            cap.value = f"<small>sample {event.sample}: step {event.step}</small>"


def stream_preview(*, size: int = 256) -> StreamPreview:
    """Return a :class:`StreamPreview` widget; display it and call ``.show(event)`` for each event."""
    return StreamPreview(size=size)
