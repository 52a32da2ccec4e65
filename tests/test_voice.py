"""Text to speech (§7.1 v1 and v2) and generate-prompt against the sandbox; the audio files are valid."""

from __future__ import annotations

import shutil
import struct

import pytest
from sandbox_fixtures import DEMO

from naikit import errors, sandbox
from naikit.novelai.client import NovelAI
from naikit.novelai.voice import Speech
from naikit.sandbox import voice_audio


@pytest.fixture(scope="module")
def nai():
    with sandbox.start() as sb, NovelAI(base_url=sb.url, **DEMO) as client:
        client._sb = sb
        yield client


def _mp3_frames(data: bytes) -> int:
    assert data[:3] == b"ID3"
    size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
    pos, frames = 10 + size, 0
    while pos < len(data):
        assert data[pos : pos + 2] == b"\xff\xfb", pos  # every frame starts with the sync word
        pos += voice_audio.MP3_FRAME_BYTES
        frames += 1
    assert pos == len(data)
    return frames


def _ebml(data: bytes, pos: int = 0, end: int | None = None):
    end = len(data) if end is None else end
    while pos < end:
        first = data[pos]
        id_len = 1 + [first & (0x80 >> i) != 0 for i in range(4)].index(True)
        eid = int.from_bytes(data[pos : pos + id_len], "big")
        pos += id_len
        first = data[pos]
        sz_len = 1 + [first & (0x80 >> i) != 0 for i in range(8)].index(True)
        size = int.from_bytes(data[pos : pos + sz_len], "big") & ((1 << (7 * sz_len)) - 1)
        pos += sz_len
        yield eid, data[pos : pos + size], pos
        pos += size


def test_v2_mp3_and_v1_webm(nai):
    s = nai.generate_voice("Hello from the sandbox, this is a test.", voice="Ligeia")
    assert (
        isinstance(s, Speech) and s.content_type == "audio/mpeg" and s.format == "mp3" and s.voice == "Ligeia"
    )
    frames = _mp3_frames(s.data)
    assert abs(frames * voice_audio.MP3_FRAME_SECONDS - voice_audio.duration_for(s.text)) < 0.05
    html = s._repr_html_()
    assert "<audio controls src='data:audio/mpeg;base64," in html and "Ligeia" in html
    w = nai.generate_voice("Hi", voice="Cyllene", version="v1", opus=True)
    assert w.content_type == "audio/webm" and w.version == "v1"
    top = dict((eid, body) for eid, body, _ in _ebml(w.data))
    assert b"webm" in top[0x1A45DFA3]
    segment = {eid: body for eid, body, _ in _ebml(top[0x18538067])}
    track = dict((eid, body) for eid, body, _ in _ebml(segment[0x1654AE6B]))[0xAE]
    fields = {eid: body for eid, body, _ in _ebml(track)}
    assert fields[0x86] == b"A_OPUS" and fields[0x63A2].startswith(b"OpusHead")
    assert struct.unpack("<I", fields[0x63A2][12:16])[0] == 48000
    custom = nai.generate_voice("any", seed="my own voice")
    assert custom.voice == "my own voice"


def test_voice_refusals_before_sending(nai):
    nai._sb.reset_stats()
    for call in (
        lambda: nai.generate_voice(""),
        lambda: nai.generate_voice("x" * 1001),
        lambda: nai.generate_voice("x", voice="Nobody"),
        lambda: nai.generate_voice("x", voice=999, version="v1"),
        lambda: nai.generate_voice("x", version="v3"),
        lambda: nai.generate_voice("x", seed="s" * 51),
        lambda: nai.generate_prompt(""),
        lambda: nai.generate_prompt("x", temperature=0),
    ):
        with pytest.raises(errors.InputError):
            call()
    assert nai._sb.stats()["requests"] == 0


def test_generate_prompt(nai):
    out = nai.generate_prompt("1girl, beach", tokens_to_generate=40)
    assert isinstance(out, str) and out and out == nai.generate_prompt("1girl, beach", tokens_to_generate=40)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium for a real decoder")
def test_browser_decodes_the_audio(nai, tmp_path):
    pytest.importorskip("playwright.sync_api")
    import base64

    from playwright.sync_api import sync_playwright

    files = [nai.generate_voice("A short test sentence.").data, nai.generate_voice("Short.", opus=True).data]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            results = [
                page.evaluate(
                    """async (b64) => {
                        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                        const ctx = new OfflineAudioContext(1, 48000, 48000);
                        const buf = await ctx.decodeAudioData(bytes.buffer);
                        return buf.duration; }""",
                    base64.b64encode(data).decode(),
                )
                for data in files
            ]
        finally:
            browser.close()
    assert results[0] == pytest.approx(voice_audio.duration_for("A short test sentence."), abs=0.1)
    assert results[1] == pytest.approx(voice_audio.duration_for("Short."), abs=0.1)
