"""What goes on and comes off the wire: the request handed to aiohttp (the one place secrets are revealed),
the checks of what may be sent, the parsed successful Response, body parsing by content type, the
connection errors that mean "no usable answer", Retry-After, and redaction of secrets from text."""

from __future__ import annotations

import asyncio
import json as _json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._decode import MAX_DEPTH, json_or
from ._secret import Secret, reveal
from ._validate import check_wire_json, check_wire_text

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "Response",
    "wire_request",
    "read_body",
    "connection_errors",
    "check_outgoing",
    "describe",
    "reason_phrase",
    "parse_retry_after",
    "redact",
]


@dataclass(repr=False)
class Response:
    """A successful response: status, content type, headers and the body parsed by its content type."""

    status: int
    content_type: str
    headers: dict[str, str]
    body: Any
    url: str
    attempts: int = 1

    def __repr__(self) -> str:
        # the body is summarised, not shown: a login answer holds the access token
        kind = type(self.body).__name__
        size = f"{len(self.body)} " if isinstance(self.body, (dict, list, str, bytes)) else ""
        return f"Response({self.status} {self.content_type} from {self.url}, body=<{kind} of {size}items>)"


def _json_default(value: Any) -> Any:
    if isinstance(value, Secret):
        return value.reveal()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _wire_json(body: Any) -> bytes:
    # the bytes aiohttp's json= would send (json.dumps with its defaults), with secrets revealed
    return _json.dumps(body, default=_json_default).encode("utf-8")


def wire_request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    json: Any,
    data: Any,
    params: dict[str, Any] | None,
    headers: dict[str, Any],
    timeout: Any = None,
) -> Any:
    """Return aiohttp's request context for one attempt: the one place secrets are revealed for the wire
    (JSON body and headers), shared by plain requests and streams."""
    kw: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    return session.request(
        method,
        url,
        data=_wire_json(json) if json is not None else data,
        params=params,
        headers=_wire_headers(headers, json is not None),
        **kw,
    )


def _wire_headers(headers: dict[str, Any], json_body: bool) -> dict[str, str]:
    out = {k: reveal(v) for k, v in headers.items()}
    if json_body and not any(k.lower() == "content-type" for k in out):
        out["Content-Type"] = "application/json"
    return out


def redact(text: str, *secrets: str | Secret | None) -> str:
    """Return ``text`` with every occurrence of each non-empty secret replaced by ``<hidden>``."""
    for s in secrets:
        s = reveal(s)
        if s and len(s) >= 4:
            text = text.replace(s, "<hidden>")
    return text


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Return the seconds a Retry-After header asks to wait (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        import email.utils  # only for the rare HTTP-date form; a slow import

        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def check_outgoing(path: str, json: Any, data: Any, params: dict[str, Any] | None) -> None:
    """Refuse, before anything is sent, what the wire cannot carry: NaN/Infinity or lone surrogates in a
    JSON body, lone surrogates in a text body, a path or a query value (one check under every method)."""
    if not (isinstance(path, str) and path.isascii()):  # ASCII (nearly every path) holds no surrogate
        check_wire_text(path, "URL path")
    if json is not None:
        check_wire_json(json)
    if data is not None:
        check_wire_text(data, "request body")
    if params:
        for k, v in params.items():
            check_wire_text(v, f"query parameter {k}")


def describe(exc: BaseException) -> str:
    """Return ``"<ExceptionType>: <message>"`` of a connection failure (for error messages)."""
    # aiohttp connection errors name host and port only; never the headers.
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def reason_phrase(status: int) -> str:
    """Return the standard reason phrase of an HTTP status ("HTTP <status>" for an unknown one)."""
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


_NOT_JSON = object()


async def read_body(resp: aiohttp.ClientResponse) -> Any:
    """Return the body parsed by content type: JSON → object, text → str, anything else → bytes."""
    raw = await resp.read()
    ctype = resp.content_type
    if ctype == "application/json" or ctype.endswith("+json"):
        if not raw:
            return None
        if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
            # too few brackets to nest deeper than MAX_DEPTH: json_or's depth walk could find nothing
            try:
                return _json.loads(raw)
            except (ValueError, TypeError):  # malformed, not UTF-8, or the int-digits limit
                return raw.decode("utf-8", "replace")
        value = json_or(raw, _NOT_JSON)  # deep or malformed JSON: the text, for the error checks to report
        return raw.decode("utf-8", "replace") if value is _NOT_JSON else value
    if ctype.startswith("text/"):
        return raw.decode(resp.charset or "utf-8", "replace")
    return raw


def connection_errors() -> tuple[type[BaseException], ...]:
    """Return the exceptions that mean "no usable answer" (retry material), importing aiohttp lazily."""
    import aiohttp

    return (
        asyncio.TimeoutError,
        aiohttp.ClientConnectorError,
        aiohttp.ServerDisconnectedError,
        aiohttp.ClientOSError,
        aiohttp.ClientPayloadError,
    )
