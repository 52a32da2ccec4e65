"""Reading NovelAI's image stream (``/ai/generate-image-stream``): msgpack frames or server-sent events.

Each event is a map with ``event_type`` (``intermediate`` or ``final``), ``samp_ix``, ``step_ix``, ``sigma``,
``gen_id`` and the picture. :func:`msgpack_frames` reads the V5 framing (a 4-byte big-endian length, then
a msgpack map) across chunk boundaries in linear time; :func:`decode_stream_frame` and
:func:`decode_stream_sse` decode one event. An ``error`` event raises APIError; anything malformed raises
ResponseShapeError. The client's ``generate_image_stream`` (:mod:`naikit.novelai.image`) uses them.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

from .._decode import load_json
from ..errors import ResponseShapeError
from .images_result import StreamEvent

__all__ = ["decode_stream_frame", "decode_stream_sse", "msgpack_frames"]

_IMAGE_STREAM = "POST /ai/generate-image-stream"


async def msgpack_frames(chunks: AsyncIterator[bytes]) -> AsyncIterator[dict[str, Any]]:
    """Yield the msgpack maps of an image stream (frames of a 4-byte big-endian length and a map), read
    across chunk boundaries in linear time. An ``error`` event raises APIError; a malformed frame and a
    stream that ends inside a frame raise ResponseShapeError."""
    from .._framing import FrameDecoder

    frames = FrameDecoder(what=_IMAGE_STREAM)
    async for chunk in chunks:
        for payload in frames.feed(chunk):
            d = _stream_msgpack(payload, _IMAGE_STREAM)
            _checked_event(d, _IMAGE_STREAM, _IMAGE_STREAM, [], d.get("image") or b"")
            yield d
    if frames.pending:
        raise ResponseShapeError(_IMAGE_STREAM, "stream", "ends inside a frame")


def decode_stream_frame(frame: bytes) -> StreamEvent:
    """Return the :class:`StreamEvent` in one msgpack frame of the image stream (the bytes after its length).

    Raises the APIError of an ``error`` event, and ResponseShapeError when the frame is not msgpack or the
    event's fields have the wrong types.
    """
    d = _stream_msgpack(frame, _IMAGE_STREAM)
    return _checked_event(d, _IMAGE_STREAM, _IMAGE_STREAM, [], d.get("image") or b"")


def decode_stream_sse(data: str) -> StreamEvent:
    """Return the :class:`StreamEvent` in the ``data:`` of one server-sent event of the image stream (its
    picture in base64). Raises like :func:`decode_stream_frame`."""
    d = _stream_json(data, _IMAGE_STREAM)
    return _checked_event(d, _IMAGE_STREAM, _IMAGE_STREAM, [], _b64(d.get("image", ""), _IMAGE_STREAM))


def _event(d: dict[str, Any], image: bytes) -> StreamEvent:
    return StreamEvent(
        str(d.get("event_type")),
        int(d.get("samp_ix", 0)),
        int(d.get("step_ix", -1) if d.get("step_ix") is not None else -1),
        d.get("sigma"),
        bytes(image),
        d.get("gen_id"),
    )


def _stream_json(raw: str, what: str) -> dict[str, Any]:
    d = load_json(raw, lambda reason: ResponseShapeError(what, "data", f"is not JSON ({reason})"))
    if not isinstance(d, dict):
        raise ResponseShapeError(what, "data", "is not a JSON object")
    return d


def _stream_msgpack(payload: bytes, what: str) -> dict[str, Any]:
    import msgpack

    try:
        d = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except Exception:  # noqa: BLE001 - msgpack raises many types (ExtraData, ValueError, ...) on bad data
        raise ResponseShapeError(what, "frame", "is not a msgpack object") from None
    if not isinstance(d, dict):
        raise ResponseShapeError(what, "frame", "is not a msgpack map")
    return d


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise ResponseShapeError(what, "image", "is not base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise ResponseShapeError(what, "image", "is not valid base64") from None


def _checked_event(
    d: dict[str, Any], what: str, url: str, seen: list[StreamEvent], image: Any
) -> StreamEvent:
    """Return the StreamEvent of one decoded event (kept in ``seen``), or raise: an ``error`` event as an
    APIError carrying the events before it, a malformed one as ResponseShapeError."""
    if d.get("event_type") == "error" or "error" in d:
        from ..errors import APIError

        err = APIError(
            500,
            str(d.get("message") or d.get("error") or "generation failed")[:500],
            url=url,
            body={"event": {k: v for k, v in d.items() if k != "image"}, "partial": list(seen)},
            hint=f"the stream failed after {len(seen)} events (in .body['partial'])",
        )
        raise err
    if d.get("event_type") not in ("intermediate", "final"):
        raise ResponseShapeError(
            what, "event_type", f"should be intermediate or final, not {d.get('event_type')!r}"
        )
    if not isinstance(image, (bytes, bytearray)):
        raise ResponseShapeError(what, "image", "is not binary")
    for name in ("samp_ix", "step_ix"):
        v = d.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise ResponseShapeError(what, name, "is not an integer")
    sigma = d.get("sigma")
    if sigma is not None and (isinstance(sigma, bool) or not isinstance(sigma, (int, float))):
        raise ResponseShapeError(what, "sigma", "is not a number")
    event = _event(d, bytes(image))
    seen.append(event)
    return event
