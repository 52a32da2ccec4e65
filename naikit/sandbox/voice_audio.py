"""Valid, short, silent audio files written in pure Python for the sandbox's text-to-speech.

* :func:`mp3` — MPEG-1 Layer III, 32 kHz mono at 32 kbit/s: an ID3v2.3 tag (title = the text, artist =
  the voice) and frames whose side information is all zero, which every decoder plays as silence.
* :func:`webm_opus` — a WebM file (EBML, Matroska subset) with one Opus track: an ``OpusHead``
  codec header and 20 ms packets of Opus silence (TOC ``0xF8``: CELT full band, one frame).

Both depend only on their arguments, so results are reproducible. Length: 60 ms per character of text,
between 0.5 s and 60 s.
"""

from __future__ import annotations

import struct

__all__ = ["mp3", "webm_opus", "duration_for", "MP3_FRAME", "OPUS_SILENCE"]

# header FF FB 18 C0: sync, MPEG-1, Layer III, no CRC; 32 kbit/s, 32 kHz, no padding; mono
_MP3_HEADER = bytes((0xFF, 0xFB, 0x18, 0xC0))
MP3_FRAME_BYTES = 144 * 32000 // 32000  # 144 * bitrate / sample rate
MP3_FRAME = _MP3_HEADER + bytes(MP3_FRAME_BYTES - len(_MP3_HEADER))
MP3_FRAME_SECONDS = 1152 / 32000
OPUS_SILENCE = b"\xf8\xff\xfe"
OPUS_PACKET_MS = 20


def duration_for(text: str) -> float:
    """Return the length in seconds the sandbox gives speech for ``text``."""
    return max(0.5, min(60.0, 0.06 * len(text)))


def _syncsafe(n: int) -> bytes:
    return bytes(((n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F))


def _id3_text_frame(frame_id: str, text: str) -> bytes:
    payload = b"\x01" + "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")  # UTF-16 with BOM
    return frame_id.encode("ascii") + struct.pack(">I", len(payload)) + b"\x00\x00" + payload


def mp3(text: str, voice: str = "") -> bytes:
    """Return an MP3 file of silence as long as :func:`duration_for` says, tagged with text and voice."""
    frames = _id3_text_frame("TIT2", text[:200]) + _id3_text_frame("TPE1", voice or "naikit sandbox")
    tag = b"ID3\x03\x00\x00" + _syncsafe(len(frames)) + frames
    count = max(1, round(duration_for(text) / MP3_FRAME_SECONDS))
    return tag + MP3_FRAME * count


# ------------------------------------------------------------------------------------------------ EBML


def _vint_size(n: int) -> bytes:
    """Return the EBML variable-size integer for a data size (1 to 8 bytes)."""
    for length in range(1, 9):
        if n < (1 << (7 * length)) - 1:
            return (n | (1 << (7 * length))).to_bytes(length, "big")
    raise ValueError("element too large")


def _el(element_id: int, data: bytes) -> bytes:
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big") + _vint_size(len(data)) + data


def _uint(element_id: int, value: int) -> bytes:
    return _el(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def _float(element_id: int, value: float) -> bytes:
    return _el(element_id, struct.pack(">d", value))


def _str(element_id: int, value: str) -> bytes:
    return _el(element_id, value.encode("utf-8"))


def webm_opus(text: str, voice: str = "") -> bytes:
    """Return a WebM/Opus file of silence as long as :func:`duration_for` says (text as title)."""
    duration_ms = int(duration_for(text) * 1000)
    packets = max(1, duration_ms // OPUS_PACKET_MS)
    header = _el(
        0x1A45DFA3,
        _uint(0x4286, 1) + _uint(0x42F7, 1) + _uint(0x42F2, 4) + _uint(0x42F3, 8)
        + _str(0x4282, "webm") + _uint(0x4287, 4) + _uint(0x4285, 2),
    )  # fmt: skip
    info = _el(
        0x1549A966,
        _uint(0x2AD7B1, 1_000_000) + _str(0x4D80, "naikit") + _str(0x5741, f"naikit sandbox {voice}".strip())
        + _float(0x4489, float(packets * OPUS_PACKET_MS)) + _str(0x7BA9, text[:200]),
    )  # fmt: skip
    opus_head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
    track = _el(
        0xAE,
        _uint(0xD7, 1) + _uint(0x73C5, 1) + _uint(0x83, 2) + _str(0x86, "A_OPUS")
        + _uint(0x56AA, 6_500_000) + _uint(0x56BB, 80_000_000) + _el(0x63A2, opus_head)
        + _el(0xE1, _float(0xB5, 48000.0) + _uint(0x9F, 1)),
    )  # fmt: skip
    tracks = _el(0x1654AE6B, track)
    clusters = b""
    per_cluster = 500  # 10 s: block timecodes are signed 16-bit milliseconds relative to the cluster
    for start in range(0, packets, per_cluster):
        blocks = b""
        for i in range(start, min(packets, start + per_cluster)):
            rel = (i - start) * OPUS_PACKET_MS
            blocks += _el(0xA3, b"\x81" + struct.pack(">hB", rel, 0x80) + OPUS_SILENCE)
        clusters += _el(0x1F43B675, _uint(0xE7, start * OPUS_PACKET_MS) + blocks)
    return header + _el(0x18538067, info + tracks + clusters)
