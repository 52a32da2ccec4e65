"""Stream framing: incremental Server-Sent Events and length-prefixed frame decoders, linear in the input."""

from __future__ import annotations

import codecs

from .errors import StreamIncomplete

__all__ = ["SSEDecoder", "FrameDecoder", "parse_sse"]


class SSEDecoder:
    """Incremental Server-Sent Events parser: :meth:`feed` bytes as they arrive, get complete events.

    Linear in the input: each byte is decoded and split once. A line end may straddle chunks (a ``\\r``
    at the end of one chunk and ``\\n`` at the start of the next is one line end); UTF-8 characters may
    be split too. Each event is a dict of its fields (``event``, ``data``, ``id``, ``retry``); several
    ``data`` lines are joined with a newline, one space after the colon is dropped, ``:`` lines are
    comments. A line longer than ``max_line`` characters raises StreamIncomplete (a stream that would
    otherwise fill memory).
    """

    def __init__(self, max_line: int = 16 * 1024 * 1024, what: str = "stream"):
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._line: list[str] = []
        self._line_len = 0
        self._pending_cr = False
        self._event: dict[str, str] = {}
        self._data: list[str] = []
        self.max_line = max_line
        self.what = what
        self.events_seen = 0

    def feed(self, chunk: bytes) -> list[dict[str, str]]:
        """Return the events completed by ``chunk`` (possibly none)."""
        return self._text(self._decoder.decode(chunk))

    def close(self) -> list[dict[str, str]]:
        """Return the events completed at end of input (an unterminated last event is dropped, as the
        SSE standard says); ``pending`` tells whether anything was left over."""
        return self._text(self._decoder.decode(b"", final=True))

    @property
    def pending(self) -> bool:
        """Return True when a partial line or an undispatched event is held."""
        return bool(self._line_len or self._event or self._data)

    def _text(self, text: str) -> list[dict[str, str]]:
        if not text:
            return []
        if self._pending_cr and text[0] == "\n":
            text = text[1:]
        self._pending_cr = text.endswith("\r")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        parts = text.split("\n")
        out: list[dict[str, str]] = []
        for part in parts[:-1]:
            self._append(part)
            line = "".join(self._line)
            self._line, self._line_len = [], 0
            self._dispatch_line(line, out)
        self._append(parts[-1])
        return out

    def _append(self, part: str) -> None:
        if not part:
            return
        self._line.append(part)
        self._line_len += len(part)
        if self._line_len > self.max_line:
            raise StreamIncomplete(
                f"{self.what}: a line of more than {self.max_line} characters arrived; the stream was "
                f"stopped after {self.events_seen} events"
            )

    def _dispatch_line(self, line: str, out: list[dict[str, str]]) -> None:
        if not line:
            if self._data:
                self._event["data"] = "\n".join(self._data)
            if self._event:
                out.append(self._event)
                self.events_seen += 1
            self._event, self._data = {}, []
            return
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name in ("event", "id", "retry"):
            self._event[name] = value


def parse_sse(buffer: str) -> tuple[list[dict[str, str]], str]:
    """Split complete Server-Sent Events off ``buffer``; return (events, rest).

    For callers that keep a text buffer (``events, rest = parse_sse(rest + new_text)``); streams of bytes
    are better served by :class:`SSEDecoder`. A trailing ``\\r`` stays in ``rest``, so a CRLF that
    straddles two chunks is still one line end.
    """
    hold = ""
    if buffer.endswith("\r"):
        buffer, hold = buffer[:-1], "\r"
    buffer = buffer.replace("\r\n", "\n").replace("\r", "\n")
    cut = buffer.rfind("\n\n")
    if cut < 0:
        return [], buffer + hold
    complete, rest = buffer[: cut + 2], buffer[cut + 2 :]
    dec = SSEDecoder(max_line=len(complete) + 1)
    return dec._text(complete), rest + hold


class FrameDecoder:
    """Incremental decoder of length-prefixed frames (4-byte big-endian length, then the payload), the
    msgpack image stream's framing. A declared length above ``max_frame`` raises StreamIncomplete.

    Linear in the input, whatever the chunking, and copying each byte about once: a frame that lies whole
    inside a chunk is sliced out of it; the pieces of a frame that straddles chunks are kept as they came
    and joined once, when the frame is complete (never a buffer regrown or shifted per chunk), so a 16 MB
    picture costs the same per byte as a small one, up to the memory's own speed.
    """

    def __init__(self, max_frame: int = 128 * 1024 * 1024, what: str = "stream"):
        self._head = bytearray()  # the next frame's length bytes while they arrive
        self._buf: list[bytes] = []  # the payload pieces of the unfinished frame
        self._have = 0  # payload bytes in _buf
        self._need: int | None = None  # the unfinished frame's payload size, once its length is read
        self.max_frame = max_frame
        self.what = what
        self.frames_seen = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        """Return the payloads of the frames completed by ``chunk``."""
        out: list[bytes] = []
        view = memoryview(chunk)
        pos, end = 0, len(view)
        while pos < end:
            need = self._need
            if need is None:
                if not self._head and end - pos >= 4:
                    need = self._payload_size(view[pos : pos + 4])
                    pos += 4
                else:  # the length itself straddles chunks
                    take = min(4 - len(self._head), end - pos)
                    self._head += view[pos : pos + take]
                    pos += take
                    if len(self._head) < 4:
                        break
                    need = self._payload_size(self._head)
                    self._head.clear()
                if end - pos >= need:  # the whole payload is in this chunk
                    out.append(bytes(view[pos : pos + need]))
                    self.frames_seen += 1
                    pos += need
                    continue
                self._need = need
                continue
            take = min(need - self._have, end - pos)
            whole = pos == 0 and take == end and type(chunk) is bytes
            self._buf.append(chunk if whole else bytes(view[pos : pos + take]))
            self._have += take
            pos += take
            if self._have == need:
                out.append(b"".join(self._buf))
                self.frames_seen += 1
                self._buf, self._have, self._need = [], 0, None
        return out

    def _payload_size(self, head: bytes | bytearray | memoryview) -> int:
        n = int.from_bytes(head, "big")
        if n > self.max_frame:
            raise StreamIncomplete(
                f"{self.what}: a frame declares {n} bytes, more than the {self.max_frame} allowed "
                f"(after {self.frames_seen} frames)"
            )
        return n

    @property
    def pending(self) -> int:
        """Return how many bytes of an unfinished frame are held."""
        return len(self._head) + (4 + self._have if self._need is not None else 0)
