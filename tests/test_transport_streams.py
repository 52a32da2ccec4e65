"""Stream decoding across network chunks, and streams that do not finish properly.

Real streams are recorded from the sandbox (a text SSE stream, an image stream in msgpack frames and in
SSE) and fed to the decoders split at every byte offset: the events must be the same as for the whole
stream. Hypothesis splits them into many pieces. Then a scripted server sends broken streams (no final
event, an empty body, a 20 MB line, a truncated frame, an ``error`` event) and the client must raise an
error that carries what arrived.
"""

from __future__ import annotations

import asyncio
import base64
import json

import aiohttp
import msgpack
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from naikit import errors, sandbox
from naikit._framing import FrameDecoder, SSEDecoder, parse_sse
from naikit.novelai import image_models as im
from naikit.novelai.async_client import AsyncNovelAI
from naikit.novelai.image_models import ImagePreset
from naikit.novelai.text import prepare_request

PROMPT = "The old lighthouse keeper climbed the stairs"
TOKEN = "pst-" + "s" * 64
# the smallest picture that still carries its metadata: a small recording, split at every byte
SMALL = ImagePreset.default("nai-diffusion-4-5-full").replace(width=128, height=128, steps=8, n_samples=2)


# -- recordings of real sandbox streams --------------------------------------------------------------


@pytest.fixture(scope="module")
def recorded() -> dict[str, bytes]:
    """Raw bodies of a text stream, an image stream (msgpack) and an image stream (SSE)."""
    with sandbox.start() as sb:
        token = sb.create_persistent_token()
        # exactly 12 tokens: "continue to sentence end" (the website's default) would run past max_length
        text_body, _, _ = prepare_request(
            PROMPT, "Carefree", model="kayra", max_length=12, min_length=12, generate_until_sentence=False
        )
        image_body = im.build_request("a lighthouse", SMALL)

        async def main() -> dict[str, bytes]:
            hdr = {"Authorization": f"Bearer {token}"}
            out = {}
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as s:
                async with s.post(sb.url + "/ai/generate-stream", json=text_body, headers=hdr) as r:
                    assert r.status == 200, await r.text()
                    out["text"] = await r.read()
                for mode in ("msgpack", "sse"):
                    body = json.loads(json.dumps(image_body))
                    body["parameters"]["stream"] = mode
                    async with s.post(sb.url + "/ai/generate-image-stream", json=body, headers=hdr) as r:
                        assert r.status == 200, await r.text()
                        out["image-" + mode] = await r.read()
            return out

        return asyncio.run(main())


def _sse_events(chunks: list[bytes]) -> list[dict[str, str]]:
    dec = SSEDecoder()
    events = [ev for c in chunks for ev in dec.feed(c)]
    return events + dec.close()


def _frames(chunks: list[bytes]) -> list[bytes]:
    dec = FrameDecoder()
    frames = [f for c in chunks for f in dec.feed(c)]
    assert dec.pending == 0
    return frames


def _crlf(raw: bytes) -> bytes:
    return raw.replace(b"\n", b"\r\n")


def test_recordings_are_real_streams(recorded):
    text = _sse_events([recorded["text"]])
    assert len(text) == 12 and json.loads(text[-1]["data"])["final"] is True
    frames = [msgpack.unpackb(f) for f in _frames([recorded["image-msgpack"]])]
    assert [f["event_type"] for f in frames].count("final") == 2
    sse = _sse_events([recorded["image-sse"]])
    assert [json.loads(e["data"])["event_type"] for e in sse] == [f["event_type"] for f in frames]


@pytest.mark.parametrize("kind", ["text", "text-crlf", "text-cr", "image-sse"])
def test_sse_every_split_gives_the_same_events(recorded, kind):
    raw = recorded[kind.split("-cr")[0]] if "cr" in kind else recorded[kind]
    if kind == "text-crlf":
        raw = _crlf(raw)
    elif kind == "text-cr":
        raw = raw.replace(b"\n", b"\r")
    whole = _sse_events([raw])
    assert whole
    step = 1 if len(raw) < 20_000 else 7  # image SSE: every 7th offset, plus every offset around events
    offsets = set(range(0, len(raw) + 1, step))
    for i in range(len(raw)):
        if raw[i : i + 1] in (b"\r", b"\n"):
            offsets.update(range(max(0, i - 2), min(len(raw), i + 3) + 1))
    for i in sorted(offsets):
        assert _sse_events([raw[:i], raw[i:]]) == whole, f"split at byte {i}"


def test_image_frames_every_split_gives_the_same_frames(recorded):
    raw = recorded["image-msgpack"]
    whole = _frames([raw])
    for i in range(len(raw) + 1):
        assert _frames([raw[:i], raw[i:]]) == whole, f"split at byte {i}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_many_splits(recorded, data):
    for kind in ("text", "image-sse"):
        raw = recorded[kind]
        if data.draw(st.booleans()):
            raw = _crlf(raw)
        cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=40)))
        pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
        assert _sse_events(pieces) == _sse_events([raw])
    raw = recorded["image-msgpack"]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=40)))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert _frames(pieces) == _frames([raw])


def test_parse_sse_keeps_a_crlf_that_straddles_chunks():
    events, rest = parse_sse("data: a\r")
    assert events == [] and rest.endswith("\r")
    events, rest = parse_sse(rest + "\n\r\ndata: b\r\n\r\n")
    assert [e["data"] for e in events] == ["a", "b"] and rest == ""


def test_decoders_refuse_huge_lines_and_frames():
    dec = SSEDecoder(max_line=1000)
    dec.feed(b"data: " + b"x" * 900)
    with pytest.raises(errors.StreamIncomplete, match="line of more than 1000"):
        dec.feed(b"x" * 200)
    with pytest.raises(errors.StreamIncomplete, match="declares"):
        FrameDecoder(max_frame=100).feed((101).to_bytes(4, "big") + b"x")


def test_frame_decoder_is_linear():
    # 20 000 one-byte chunks of 2 000 frames: a quadratic buffer would copy ~200 MB here; count the work
    frame = (6).to_bytes(4, "big") + b"abcdef"
    raw = frame * 2000
    dec = FrameDecoder()
    grown = 0
    out = []
    for i in range(len(raw)):
        out += dec.feed(raw[i : i + 1])
        grown = max(grown, len(dec._buf))
    assert len(out) == 2000 and grown <= 2 * len(frame)  # the buffer never holds more than ~a frame


# -- broken streams through the client --------------------------------------------------------------


def _serve_and_run(body: bytes, content_type: str, coro_fn):
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": content_type})
        await resp.prepare(request)
        for i in range(0, len(body), 65536):
            await resp.write(body[i : i + 65536])
        await resp.write_eof()
        return resp

    async def main():
        app = web.Application()
        app.router.add_post("/ai/generate-stream", handler)
        app.router.add_post("/ai/generate-image-stream", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            async with AsyncNovelAI(base_url=f"http://127.0.0.1:{port}", token=TOKEN) as c:
                return await coro_fn(c)
        finally:
            await runner.cleanup()

    return asyncio.run(main())


async def _text(c: AsyncNovelAI) -> list:
    stream = c.generate_stream(
        PROMPT, "Carefree", model="kayra", max_length=12, generate_until_sentence=False
    )
    return [ev async for ev in stream]


async def _image(c: AsyncNovelAI, stream: str = "msgpack") -> list:
    return [ev async for ev in c.generate_image_stream("a lighthouse", SMALL, stream=stream, opus=True)]


def test_text_stream_whole_recording_in_one_byte_chunks_decodes(recorded):
    # the end-to-end path: a real recording delivered in 64 KiB writes, then the same in CRLF
    events = _serve_and_run(recorded["text"], "text/event-stream", _text)
    crlf = _serve_and_run(_crlf(recorded["text"]), "text/event-stream", _text)
    assert events[-1].final and events[-1].generation.text == crlf[-1].generation.text
    assert len(events[-1].generation.tokens) == 12


def test_text_stream_without_final_event_is_an_error_with_what_arrived(recorded):
    raw = recorded["text"]
    cut = raw[: raw.rindex(b"event:")]  # everything but the final event
    with pytest.raises(errors.StreamIncomplete, match="without its final event") as e:
        _serve_and_run(cut, "text/event-stream", _text)
    assert len(e.value.partial.tokens) == 11 and e.value.partial.text


def test_empty_text_stream_is_an_error():
    with pytest.raises(errors.StreamIncomplete, match="empty body") as e:
        _serve_and_run(b"", "text/event-stream", _text)
    assert e.value.partial.tokens == []


def test_a_20_mb_line_is_refused(recorded):
    raw = recorded["text"][:200] + b"data: " + b"x" * (20 * 1024 * 1024)
    with pytest.raises(errors.StreamIncomplete, match="line of more than") as e:
        _serve_and_run(raw, "text/event-stream", _text)
    assert e.value.partial is not None


def test_truncated_image_frame_is_an_error_with_the_events_before(recorded):
    raw = recorded["image-msgpack"]
    with pytest.raises(errors.StreamIncomplete, match="truncated") as e:
        _serve_and_run(raw[:-10], "application/x-msgpack", _image)
    assert len(e.value.partial) == len(_frames([raw])) - 1


def test_image_stream_missing_a_final_is_an_error(recorded):
    frames = _frames([recorded["image-msgpack"]])
    raw = b"".join(len(f).to_bytes(4, "big") + f for f in frames[:-1])
    with pytest.raises(errors.StreamIncomplete, match="1 of 2 final") as e:
        _serve_and_run(raw, "application/x-msgpack", _image)
    assert len(e.value.partial) == len(frames) - 1


@pytest.mark.parametrize("stream", ["msgpack", "sse"])
def test_image_error_event_is_an_api_error_with_the_events_before(recorded, stream):
    frames = _frames([recorded["image-msgpack"]])
    err = {"event_type": "error", "message": "the GPU fell over"}
    if stream == "msgpack":
        packed = msgpack.packb(err)
        raw = (
            b"".join(len(f).to_bytes(4, "big") + f for f in frames[:2])
            + len(packed).to_bytes(4, "big")
            + packed
        )
    else:
        raw = (
            b"".join(
                b"data: "
                + json.dumps(
                    dict(msgpack.unpackb(f), image=base64.b64encode(msgpack.unpackb(f)["image"]).decode())
                ).encode()
                + b"\n\n"
                for f in frames[:2]
            )
            + b"data: "
            + json.dumps(err).encode()
            + b"\n\n"
        )
    with pytest.raises(errors.APIError, match="GPU fell over") as e:
        _serve_and_run(
            raw,
            "text/event-stream" if stream == "sse" else "application/x-msgpack",
            lambda c: _image(c, stream),
        )
    assert len(e.value.body["partial"]) == 2


def test_malformed_image_frame_is_a_naikit_error():
    raw = (5).to_bytes(4, "big") + b"\xc1\xc1\xc1\xc1\xc1"
    with pytest.raises(errors.ResponseShapeError):
        _serve_and_run(raw, "application/x-msgpack", _image)


@settings(max_examples=2000, deadline=None)
@given(chunks=st.lists(st.binary(max_size=64), max_size=20), max_line=st.integers(1, 64))
def test_decoders_are_total_on_any_bytes(chunks, max_line):
    """Any bytes, any split: events or StreamIncomplete, never another exception."""
    sse, frames = SSEDecoder(max_line=max_line), FrameDecoder(max_frame=256)
    for c in chunks:
        try:
            for ev in sse.feed(c):
                assert isinstance(ev, dict) and all(isinstance(v, str) for v in ev.values())
        except errors.StreamIncomplete:
            sse = SSEDecoder(max_line=max_line)
        try:
            assert all(isinstance(f, bytes) for f in frames.feed(c))
        except errors.StreamIncomplete:
            frames = FrameDecoder(max_frame=256)
    try:
        assert isinstance(sse.close(), list)
    except errors.StreamIncomplete:
        pass  # the last partial line was over the limit: still a naikit error
