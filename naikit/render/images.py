"""Pure HTML builders for image grids: thumbnails as data URIs, captions escaped, deterministic ids."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from html import escape

__all__ = ["grid_html", "data_uri", "sniff_mime"]


def sniff_mime(data: bytes) -> str:
    """Return the MIME type of JPEG, WebP or PNG bytes (PNG when unsure)."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/png"


def data_uri(data: bytes) -> str:
    """Return a ``data:`` URI for image bytes."""
    return f"data:{sniff_mime(data)};base64,{base64.b64encode(data).decode('ascii')}"


def grid_html(
    thumbs: Sequence[bytes],
    captions: Sequence[str],
    *,
    title: str = "",
    columns: int | None = None,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
) -> str:
    """Return an HTML grid of thumbnails with captions (and optional row/column labels for X/Y plots).

    The element id is derived from the content, so the same input gives the same HTML.
    """
    if len(thumbs) != len(captions):
        raise ValueError("one caption per thumbnail")
    digest = hashlib.sha256(
        b"".join(hashlib.sha256(t).digest() for t in thumbs) + "|".join(captions).encode()
    )
    gid = "nk-grid-" + digest.hexdigest()[:12]
    ncol = columns or (len(col_labels) if col_labels else min(4, max(1, len(thumbs))))
    cells: list[str] = []
    lead = 1 if row_labels else 0
    if col_labels:
        cells.append("<div></div>" * lead)
        cells += [f"<div class='nk-h'>{escape(c)}</div>" for c in col_labels]
    for i, (t, cap) in enumerate(zip(thumbs, captions, strict=False)):
        if row_labels and i % ncol == 0:
            cells.append(f"<div class='nk-h nk-r'>{escape(row_labels[i // ncol])}</div>")
        cells.append(
            f"<figure class='nk-cell' style='margin:0'><img src='{data_uri(t)}' style='max-width:100%' "
            f"alt='{escape(cap, quote=True)}'/><figcaption style='font-size:11px'>{escape(cap)}"
            "</figcaption></figure>"
        )
    head = f"<div style='font-weight:bold'>{escape(title)}</div>" if title else ""
    cols = ("auto " if lead else "") + " ".join(["1fr"] * ncol)
    return (
        f"<div id='{gid}' class='nk-image-grid'>{head}"
        f"<div style='display:grid;grid-template-columns:{cols};gap:4px;align-items:center'>"
        + "".join(cells)
        + "</div></div>"
    )
