"""HTTP transport shared by every naikit client: one aiohttp session per client, hosts, Bearer auth,
retries with backoff and Retry-After, timeouts, a per-account generation gate, stream readers and
secret masking.

Retry rules: 429, 5xx, Cloudflare 52x and connection failures are retried with exponential backoff and
full jitter, waiting at least what ``Retry-After`` asks. A request that creates or spends (``idempotent``
false) is retried after a dropped connection only if it never reached the server (connect failure),
because a second copy could duplicate an object or spend Anlas twice. A stream is never retried once it
has delivered data.

Secrets (tokens, access keys, passwords, API keys) travel as :class:`Secret` objects, whose repr and str are
``<hidden>``, until the moment a request goes on the wire: the Authorization header and JSON bodies that hold
one are revealed only in the arguments handed to aiohttp. So naikit's own frame locals (what an error tracker
records) show ``<hidden>``; aiohttp's frames and its trace hooks see the real header and body.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json as _json
import logging
import random
import threading
import time
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._decode import json_or
from ._secret import Secret, reveal
from .errors import (
    APIError,
    ConnectionDropped,
    InputError,
    RateLimited,
    RequestTimeout,
    TransportError,
    api_error,
)

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "Secret",
    "reveal",
    "Hosts",
    "RetryPolicy",
    "Timeouts",
    "Transport",
    "Response",
    "check_base_url",
    "parse_sse",
    "redact",
]

log = logging.getLogger("naikit.transport")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 525, 526, 527, 530})


def check_base_url(url: str, field_name: str = "base_url") -> str:
    """Return ``url`` without a trailing slash if it is an absolute http(s) URL, else raise InputError."""
    allowed = "an absolute http:// or https:// URL with a host, e.g. 'http://127.0.0.1:8000'"
    if not isinstance(url, str) or not url:
        raise InputError(field_name, url, allowed)
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. 'http://[::1' (an unclosed IPv6 bracket)
        raise InputError(field_name, url, allowed) from None
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise InputError(field_name, url, allowed)
    if parts.query or parts.fragment:
        raise InputError(field_name, url, allowed + " without '?query' or '#fragment'")
    if parts.username or parts.password:
        raise InputError(field_name, "<url with credentials>", allowed + " without user:password@")
    if any(c.isspace() for c in url) or not url.isprintable():
        raise InputError(field_name, url, allowed + " without spaces or control characters")
    return url.rstrip("/")


@dataclass(frozen=True)
class Hosts:
    """The three NovelAI hosts. Paths never collide, so one server (the sandbox) can serve all three."""

    api: str = "https://api.novelai.net"
    image: str = "https://image.novelai.net"
    text: str = "https://text.novelai.net"

    def __post_init__(self) -> None:
        for name in ("api", "image", "text"):
            object.__setattr__(self, name, check_base_url(getattr(self, name), f"hosts.{name}"))

    @classmethod
    def single(cls, base_url: str) -> Hosts:
        """Return Hosts that send every path to ``base_url`` (the sandbox, or a proxy)."""
        url = check_base_url(base_url)
        return cls(api=url, image=url, text=url)

    def url(self, host: str, path: str) -> str:
        """Return the absolute URL of ``path`` on the host group ``host`` ("api", "image" or "text")."""
        if host not in ("api", "image", "text"):
            raise InputError("host", host, "'api', 'image' or 'text'")
        if not isinstance(path, str) or not path.startswith("/"):
            raise InputError("path", path, "a path starting with '/'")
        return getattr(self, host) + path


@dataclass(frozen=True)
class RetryPolicy:
    """How failed requests are retried. ``attempts`` counts the first try."""

    attempts: int = 8
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 120.0
    statuses: frozenset[int] = RETRY_STATUSES

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Return the full-jitter backoff before retry number ``attempt`` (1-based)."""
        return rng.uniform(0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class Timeouts:
    """Connect and total timeouts in seconds; streams use ``read`` between chunks instead of ``total``."""

    connect: float = 10.0
    total: float = 300.0
    read: float = 120.0


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


class _Gate:
    """A per-account limit on concurrent generations that holds across threads and event loops.

    The sync facade may drive requests from several loops (one per thread) and a notebook from its own,
    so an asyncio.Semaphore (bound to one loop) is not enough. Waiting polls a threading semaphore with
    a short growing sleep: cancellation-safe, and the poll cost is nothing next to a generation.
    """

    def __init__(self, limit: int):
        self._sem = threading.BoundedSemaphore(limit)

    async def __aenter__(self) -> None:
        delay = 0.002
        while not self._sem.acquire(blocking=False):
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def __aexit__(self, *exc: object) -> None:
        self._sem.release()


_gates: dict[tuple[str, int], _Gate] = {}
_gates_lock = threading.Lock()


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
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


class Transport:
    """One aiohttp session (created lazily on the loop that first uses it) plus retry and auth logic.

    ``stats`` counts requests, attempts, and retries per reason, so a notebook or a test can see what
    happened.
    """

    def __init__(
        self,
        hosts: Hosts,
        *,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        user_agent: str = "naikit",
        max_concurrent_generations: int = 1,
        error_mapper: Callable[[APIError, str], APIError] | None = None,
    ):
        self.hosts = hosts
        self.retry = retry or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        self.user_agent = user_agent
        self.max_concurrent_generations = max_concurrent_generations
        self.stats: Counter[str] = Counter()
        self._token: Secret | None = None
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
            weakref.WeakKeyDictionary()
        )
        self._rng = random.Random()
        self._error_mapper = error_mapper
        # Replaceable so tests can observe the waits without spending them.
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    # -- auth -------------------------------------------------------------------------------------
    def set_token(self, token: str | None) -> None:
        """Store (or clear) the Bearer token sent with authenticated requests; returns None."""
        self._token = Secret(token) if token else None

    @property
    def has_token(self) -> bool:
        """Return True when a Bearer token is set."""
        return self._token is not None

    def account_key(self) -> str:
        """Return a short non-secret fingerprint of the token, used to key the generation gate."""
        if self._token is None:
            return "anonymous"
        return hashlib.sha256(self._token.reveal().encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"Transport(hosts={self.hosts!r}, token={'<hidden>' if self._token else None})"

    # -- session ----------------------------------------------------------------------------------
    async def session(self) -> aiohttp.ClientSession:
        """Return this transport's session for the running loop, creating it on first use.

        A session belongs to the loop it was made on; a client used from several loops (the sync
        facade's per-thread loops, a notebook's own loop) keeps one session per loop.
        """
        import aiohttp

        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is not None and not session.closed:
            return session
        connector = aiohttp.TCPConnector(limit=32, enable_cleanup_closed=True)
        session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.user_agent},
            timeout=aiohttp.ClientTimeout(total=self.timeouts.total, connect=self.timeouts.connect),
        )
        # aiohttp (3.10+) silently resends idempotent-method requests once after a dropped pooled
        # connection; NovelAI creates objects with PUT, so that could store a story twice. All retries
        # are ours (counted, and aware of which calls create).
        if hasattr(session, "_retry_connection"):
            session._retry_connection = False  # type: ignore[attr-defined]
        self._sessions[loop] = session
        return session

    async def close(self) -> None:
        """Close the session of the running loop; returns None. Safe to call twice."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None and not session.closed:
            await session.close()

    def close_everywhere(self) -> None:
        """Close the sessions this transport opened on other loops, where that is safe; returns None.

        The running loop of this thread, or a running loop in another thread, gets the close scheduled
        on it; an idle loop is run briefly to close it; a loop that is closed took its sockets with it.
        """
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, session in list(self._sessions.items()):
            if session.closed:
                continue
            self._sessions.pop(loop, None)
            try:
                if loop.is_closed():
                    continue
                if loop is current:
                    # collected while this thread's loop runs (a GC during another call): close soon
                    loop.create_task(session.close())
                elif loop.is_running():
                    asyncio.run_coroutine_threadsafe(session.close(), loop)
                elif current is None:
                    loop.run_until_complete(session.close())
            except RuntimeError:
                pass  # the loop started running in its own thread meanwhile; it will close at exit

    # -- requests ---------------------------------------------------------------------------------
    def _headers(self, auth: bool, extra: dict[str, str] | None) -> dict[str, Any]:
        # the Authorization value stays a Secret here; _wire_headers reveals it in the call to aiohttp
        headers: dict[str, Any] = dict(extra or {})
        if auth:
            if self._token is None:
                from .errors import CredentialsError

                raise CredentialsError(
                    "token", None, "a logged-in client", "Call login(...) or set NAI_TOKEN first."
                )
            headers["Authorization"] = Secret("Bearer " + self._token.reveal())
        return headers

    def gate(self) -> _Gate:
        """Return the process-wide generation gate of this transport's account."""
        key = (self.account_key(), self.max_concurrent_generations)
        with _gates_lock:
            gate = _gates.get(key)
            if gate is None:
                gate = _gates[key] = _Gate(self.max_concurrent_generations)
        return gate

    async def request(
        self,
        method: str,
        host: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | str | None = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
        idempotent: bool | None = None,
        generation: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Send one request with retries; return the parsed successful Response or raise an error.

        ``generation`` requests wait for the per-account gate first. ``idempotent`` defaults to
        True for GET/PUT/PATCH/DELETE/HEAD and False for POST.
        """
        _check_outgoing(path, json, data, params)
        url = self.hosts.url(host, path)
        if idempotent is None:
            idempotent = method.upper() != "POST"
        hdrs = self._headers(auth, headers)
        if generation:
            async with self.gate():
                return await self._send(method, url, hdrs, json, data, params, idempotent)
        return await self._send(method, url, hdrs, json, data, params, idempotent)

    async def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        json: Any,
        data: bytes | str | None,
        params: dict[str, Any] | None,
        idempotent: bool,
    ) -> Response:
        import aiohttp

        session = await self.session()
        policy = self.retry
        attempt = 0
        while True:
            attempt += 1
            self.stats["attempts"] += 1
            try:
                async with session.request(
                    method,
                    url,
                    data=_wire_json(json) if json is not None else data,
                    params=params,
                    headers=_wire_headers(headers, json is not None),
                ) as resp:
                    body = await _read_body(resp)
                    status = resp.status
                    resp_headers = {k: v for k, v in resp.headers.items() if k.lower() != "set-cookie"}
                    content_type = resp.content_type
            except asyncio.TimeoutError:
                reason, exc_text, retryable = "timeout", "timed out", idempotent
                err_cls: type[TransportError] = RequestTimeout
            except aiohttp.ClientConnectorError as exc:
                # Never reached the server: always safe to try again.
                reason, exc_text, retryable = "connect", _describe(exc), True
                err_cls = TransportError
            except (
                aiohttp.ServerDisconnectedError,
                aiohttp.ClientOSError,
                aiohttp.ClientPayloadError,
            ) as exc:
                reason, exc_text, retryable = "dropped", _describe(exc), idempotent
                err_cls = TransportError if idempotent else ConnectionDropped
            else:
                error = self._error_for(status, content_type, body, url, resp_headers)
                if error is None:
                    self.stats["requests"] += 1
                    log.debug("%s %s -> %s (attempt %d)", method, url, status, attempt)
                    return Response(status, content_type, resp_headers, body, url, attempt)
                log.debug("%s %s -> %s (attempt %d)", method, url, status, attempt)
                if status not in policy.statuses or attempt >= policy.attempts:
                    self.stats["errors"] += 1
                    raise error
                retry_after = parse_retry_after(resp_headers.get("Retry-After"))
                if retry_after is not None and retry_after > policy.max_retry_after:
                    self.stats["errors"] += 1
                    raise error
                wait = policy.delay(attempt, self._rng)
                if retry_after is not None:
                    # Honour the server's ask, plus a little jitter so parallel callers spread out.
                    wait = retry_after + self._rng.uniform(0, min(policy.backoff, 1.0))
                self.stats[f"retry_{status}"] += 1
                self.stats["retries"] += 1
                await self.sleep(wait)
                continue
            log.debug("%s %s -> %s (attempt %d)", method, url, reason, attempt)
            if not retryable or attempt >= policy.attempts:
                self.stats["errors"] += 1
                if err_cls is ConnectionDropped:
                    raise ConnectionDropped(
                        f"{method} {url}: the connection dropped ({exc_text}) and this request creates or "
                        "spends, so it was not sent again; check whether it took effect (e.g. list the "
                        "objects) before repeating it",
                        url=url,
                        attempts=attempt,
                    ) from None
                raise err_cls(
                    f"{method} {url}: {exc_text} after {attempt} attempt(s)", url=url, attempts=attempt
                ) from None
            self.stats[f"retry_{reason}"] += 1
            self.stats["retries"] += 1
            await self.sleep(policy.delay(attempt, self._rng))

    def _error_for(
        self, status: int, content_type: str, body: Any, url: str, headers: dict[str, str]
    ) -> APIError | None:
        """Return the error a response stands for, or None when it is a success (spec §2.2)."""
        retry_after = parse_retry_after(headers.get("Retry-After"))
        if isinstance(body, dict) and "error" in body:
            code = body.get("statusCode", status)
            code = code if isinstance(code, int) and code >= 400 else (status if status >= 400 else 500)
            msg = body.get("message") or body.get("error")
            err = api_error(code, str(msg), url=url, body=body, retry_after=retry_after)
        elif 200 <= status < 300:
            return None
        else:
            msg = body.get("message") if isinstance(body, dict) else None
            if not msg:
                msg = body.strip()[:200] if isinstance(body, str) and body.strip() else _reason(status)
            err = api_error(status, str(msg), url=url, body=body, retry_after=retry_after)
        if isinstance(err, RateLimited) and "concurrent" in err.message.lower():
            err.hint = "another generation is running on this account; naikit waits and retries"
        if self._error_mapper is not None:
            err = self._error_mapper(err, url)
        return err

    async def stream(
        self,
        method: str,
        host: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
        generation: bool = False,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> AsyncIterator[bytes]:
        """Yield the raw body chunks of a streaming response.

        ``headers`` are sent with the request (the Bearer header wins over an ``Authorization`` among
        them, as in ``request``). Failures before the first chunk are retried like ``request``; after
        data has been delivered a failure raises TransportError and is never retried (the caller has
        already seen output).
        """
        import aiohttp

        _check_outgoing(path, json, None, params)
        url = self.hosts.url(host, path)
        headers = self._headers(auth, headers)
        gate = self.gate() if generation else None
        if gate is not None:
            await gate.__aenter__()
        try:
            session = await self.session()
            timeout = aiohttp.ClientTimeout(
                total=None, connect=self.timeouts.connect, sock_read=self.timeouts.read
            )
            attempt = 0
            while True:
                attempt += 1
                self.stats["attempts"] += 1
                delivered = 0
                try:
                    async with session.request(
                        method,
                        url,
                        data=_wire_json(json) if json is not None else data,
                        params=params,
                        headers=_wire_headers(headers, json is not None),
                        timeout=timeout,
                    ) as resp:
                        if not 200 <= resp.status < 300 or resp.content_type == "application/json":
                            body = await _read_body(resp)
                            error = self._error_for(
                                resp.status, resp.content_type, body, url, dict(resp.headers)
                            )
                            if error is None:  # a JSON success on a stream endpoint: deliver it whole
                                delivered += 1
                                yield _json.dumps(body).encode()
                                return
                            if resp.status in self.retry.statuses and attempt < self.retry.attempts:
                                ra = parse_retry_after(resp.headers.get("Retry-After"))
                                if ra is None or ra <= self.retry.max_retry_after:
                                    self.stats[f"retry_{resp.status}"] += 1
                                    self.stats["retries"] += 1
                                    await self.sleep(
                                        ra if ra is not None else self.retry.delay(attempt, self._rng)
                                    )
                                    continue
                            raise error
                        self.stats["requests"] += 1
                        async for chunk in resp.content.iter_any():
                            delivered += 1
                            yield chunk
                        return
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    if delivered:
                        raise TransportError(
                            f"{method} {url}: the stream broke after delivering data ({_describe(exc)}); "
                            "not retried, because part of the output was already delivered",
                            url=url,
                            attempts=attempt,
                        ) from None
                    connect_failure = isinstance(exc, aiohttp.ClientConnectorError)
                    if attempt >= self.retry.attempts or not (connect_failure or method.upper() != "POST"):
                        raise TransportError(
                            f"{method} {url}: {_describe(exc)} after {attempt} attempt(s)",
                            url=url,
                            attempts=attempt,
                        ) from None
                    self.stats["retries"] += 1
                    await self.sleep(self.retry.delay(attempt, self._rng))
        finally:
            if gate is not None:
                await gate.__aexit__(None, None, None)

    def with_hosts(self, hosts: Hosts) -> Transport:
        """Return a new Transport with other hosts and the same settings (no session, no token)."""
        t = Transport(
            hosts,
            retry=self.retry,
            timeouts=self.timeouts,
            user_agent=self.user_agent,
            max_concurrent_generations=self.max_concurrent_generations,
            error_mapper=self._error_mapper,
        )
        return t


def _check_outgoing(path: str, json: Any, data: Any, params: dict[str, Any] | None) -> None:
    """Refuse, before anything is sent, what the wire cannot carry: NaN/Infinity or lone surrogates in a
    JSON body, lone surrogates in a text body, a path or a query value (one check under every method)."""
    from ._validate import check_wire_json, check_wire_text

    check_wire_text(path, "URL path")
    if json is not None:
        check_wire_json(json)
    check_wire_text(data, "request body")
    for k, v in (params or {}).items():
        check_wire_text(v, f"query parameter {k}")


def _describe(exc: BaseException) -> str:
    # aiohttp connection errors name host and port only; never the headers.
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


_NOT_JSON = object()


async def _read_body(resp: aiohttp.ClientResponse) -> Any:
    """Return the body parsed by content type: JSON → object, text → str, anything else → bytes."""
    raw = await resp.read()
    ctype = resp.content_type
    if ctype == "application/json" or ctype.endswith("+json"):
        if not raw:
            return None
        value = json_or(raw, _NOT_JSON)  # deep or malformed JSON: the text, for the error checks to report
        return raw.decode("utf-8", "replace") if value is _NOT_JSON else value
    if ctype.startswith("text/"):
        return raw.decode(resp.charset or "utf-8", "replace")
    return raw


def parse_sse(buffer: str) -> tuple[list[dict[str, str]], str]:
    """Split complete Server-Sent Events off ``buffer``; return (events, rest).

    Each event is a dict of its fields (``event``, ``data``, ``id``, ``retry``); several ``data`` lines
    are joined with a newline, one space after the colon is dropped, ``:`` lines are comments. CR and
    CRLF line ends are accepted as well as LF.
    """
    buffer = buffer.replace("\r\n", "\n").replace("\r", "\n")
    events: list[dict[str, str]] = []
    while "\n\n" in buffer:
        block, buffer = buffer.split("\n\n", 1)
        ev: dict[str, str] = {}
        data: list[str] = []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name in ("event", "id", "retry"):
                ev[name] = value
        if data:
            ev["data"] = "\n".join(data)
        if ev:
            events.append(ev)
    return events, buffer
