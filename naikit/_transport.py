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
import re
import threading
import time
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._decode import json_or
from ._secret import Secret, reveal
from .errors import (
    APIError,
    ConnectionDropped,
    InputError,
    OutcomeUnknown,
    RateLimited,
    RequestTimeout,
    StreamIncomplete,
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
    "ChunkStream",
    "SSEDecoder",
    "FrameDecoder",
    "SendRule",
    "SEND_RULES",
    "send_rule",
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
    """Connect and total timeouts in seconds; streams use ``read`` between chunks instead of ``total``;
    ``gate`` bounds the wait for the per-account generation gate."""

    connect: float = 10.0
    total: float = 300.0
    read: float = 120.0
    #: GateTimeout when no generation of the account has ended for this long while waiting (None: never)
    gate: float | None = 600.0


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


def _wire_request(
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


class _Lease:
    """One held slot of a :class:`_Gate`. :meth:`release` is idempotent and thread-safe, so whoever
    notices first that a generation is over (its reader at end of stream, ``aclose``, a finalizer on an
    abandoned iterator, an exception handler) can give the slot back."""

    __slots__ = ("_gate", "_lock", "held", "what", "since", "__weakref__")

    def __init__(self, gate: _Gate, what: str):
        self._gate = gate
        self._lock = threading.Lock()
        self.held = True
        self.what = what
        self.since = time.time()

    def release(self) -> None:
        """Give the slot back (later calls do nothing); returns None."""
        with self._lock:
            if not self.held:
                return
            self.held = False
        self._gate._give_back(self)

    def describe(self) -> str:
        """Return who holds the slot and since when (for GateTimeout)."""
        return f"{self.what} (for {max(0.0, time.time() - self.since):.0f} s)"


class _Gate:
    """A per-account limit on concurrent generations that holds across threads and event loops.

    The sync facade may drive requests from several loops (one per thread) and a notebook from its own,
    so an asyncio.Semaphore (bound to one loop) is not enough. Waiting polls a threading semaphore with
    a short growing sleep: cancellation-safe, and the poll cost is nothing next to a generation. A slot
    is a :class:`_Lease`, an object of its own rather than a ``finally`` in some generator frame, so it
    can be released from wherever a generation is seen to end (see ``Transport.stream``).
    """

    def __init__(self, limit: int):
        self._sem = threading.BoundedSemaphore(limit)
        self._holders_lock = threading.Lock()
        self._holders: set[_Lease] = set()
        self._released = 0

    async def acquire(
        self, what: str, timeout: float | None, clock: Callable[[], float] | None = None
    ) -> _Lease:
        """Wait for a slot; return its Lease, or raise GateTimeout naming the holders when no slot has been
        released for ``timeout`` seconds (None: wait forever). ``clock`` (default: the loop's) can be
        driven by tests."""
        now = clock or asyncio.get_running_loop().time
        deadline = None if timeout is None else now() + timeout
        seen = self._released
        delay = 0.002
        while not self._sem.acquire(blocking=False):
            if self._released != seen:
                # the gate moved (another generation ended): a queue is progressing, not stuck, so the
                # timeout counts from the last release (a batch of 100 queued images never times out)
                seen = self._released
                deadline = None if timeout is None else now() + timeout
            if deadline is not None and now() >= deadline:
                from .errors import GateTimeout

                with self._holders_lock:
                    holders = [h.describe() for h in self._holders]
                raise GateTimeout(timeout or 0.0, holders)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
        lease = _Lease(self, what)
        with self._holders_lock:
            self._holders.add(lease)
        return lease

    def _give_back(self, lease: _Lease) -> None:
        with self._holders_lock:
            self._holders.discard(lease)
            self._released += 1
        self._sem.release()

    def held(self) -> int:
        """Return how many slots are taken now."""
        with self._holders_lock:
            return len(self._holders)


_gates: dict[tuple[str, int], _Gate] = {}
_gates_lock = threading.Lock()


# -- what may be sent twice ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SendRule:
    """Whether a request may be sent again after it failed once it had been sent.

    ``once`` requests create something or spend money: they are resent only when the server cannot have
    acted (a 429, or a connection that failed before the request went out); any later failure (5xx,
    Cloudflare 52x, a dropped connection, a timeout) raises OutcomeUnknown, whose ``check`` is this
    rule's ``check`` text. Other requests (reads, replacements, deletions) are retried on every
    retryable failure.
    """

    name: str
    once: bool
    check: str = ""


#: Every endpoint that creates or spends, with what to check when its outcome is unknown. One table for
#: the whole package: (method, path regex) -> rule; first match wins. The README's "Retries" section
#: lists the same rules.
SEND_RULES: tuple[tuple[str, str, SendRule], ...] = (
    (
        "PUT",
        r"/user/objects/[^/]+",
        SendRule(
            "create object",
            True,
            "list_objects(<type>) and look for an object with this meta (naikit does this itself for "
            "create_object and returns the object when it finds it)",
        ),
    ),
    (
        "POST",
        r"/ai/generate-image(-stream)?",
        SendRule(
            "image generation",
            True,
            "your Anlas balance (subscription().anlas): a drop means the image was drawn and paid for",
        ),
    ),
    (
        "POST",
        r"/ai/(augment-image|upscale|encode-vibe)",
        SendRule("paid image tool", True, "your Anlas balance (subscription().anlas)"),
    ),
    (
        "POST",
        r"/ai/generate(-stream)?",
        SendRule(
            "text generation",
            True,
            "a text generation stores nothing and costs no Anlas (a free trial counts it); repeat it",
        ),
    ),
    (
        "POST",
        r"/oa/v1/.*",
        SendRule("text generation (/oa/v1)", True, "nothing is stored; repeat it if you want"),
    ),
    ("POST", r"/ai/generate-voice", SendRule("text to speech", True, "repeat it if you want")),
    ("GET", r"/ai/generate-voice", SendRule("text to speech", True, "repeat it if you want")),
    (
        "POST",
        r"/ai/module/train",
        SendRule(
            "module training", True, "the module list (modules()): a new module in training means it started"
        ),
    ),
    (
        "POST",
        r"/ai/module/buy-training-steps",
        SendRule("buy training steps", True, "your training steps and Anlas (subscription())"),
    ),
    (
        "POST",
        r"/user/(register|subscription/.*|giftkey.*)",
        SendRule("account change", True, "your account (subscription()) before repeating"),
    ),
    (
        "POST",
        r"/v3/async/.*",
        SendRule(
            "Novita task",
            True,
            "your Novita credit balance (user()) and the task list in the Novita console; naikit compares "
            "the balance itself",
        ),
    ),
    (
        "POST",
        r"/v3/training/[^/]+",
        SendRule("Novita training", True, "training_tasks(): a task with this task_name means it started"),
    ),
    ("POST", r"/v3/assets/training_dataset", SendRule("Novita upload URL", False)),
    ("POST", r"/v3/[a-z0-9-]+", SendRule("Novita paid tool", True, "your Novita credit balance (user())")),
    ("POST", r"/user/login", SendRule("login", False)),
    ("POST", r"/ai/(annotate-image|generate-prompt)", SendRule("free tool", False)),
)
_COMPILED_RULES = [(m, re.compile(rx + r"/?"), r) for m, rx, r in SEND_RULES]
_SAFE = SendRule("read or replace", False)
_POST_DEFAULT = SendRule("unlisted POST", True, "the service's state before repeating it")


def send_rule(method: str, path: str) -> SendRule:
    """Return the SendRule of ``method path`` (the table above; an unlisted POST counts as creating)."""
    method = method.upper()
    path = urlsplit(path).path
    for m, rx, rule in _COMPILED_RULES:
        if m == method and rx.fullmatch(path):
            return rule
    return _POST_DEFAULT if method == "POST" else _SAFE


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

        ``generation`` requests wait for the per-account gate first. Whether a failed request may be
        sent again comes from :data:`SEND_RULES` (``send_rule(method, path)``); ``idempotent=False``
        can only make a call stricter (never resent after it went out), never looser.
        """
        _check_outgoing(path, json, data, params)
        url = self.hosts.url(host, path)
        rule = send_rule(method, path)
        if idempotent is False and not rule.once:
            rule = SendRule(rule.name, True, rule.check or "the service's state before repeating it")
        hdrs = self._headers(auth, headers)
        if not generation:
            return await self._send(method, url, hdrs, json, data, params, rule)
        lease = await self.gate().acquire(f"{method} {path}", self.timeouts.gate)
        try:
            return await self._send(method, url, hdrs, json, data, params, rule)
        finally:
            lease.release()

    async def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        json: Any,
        data: bytes | str | None,
        params: dict[str, Any] | None,
        rule: SendRule,
    ) -> Response:
        session = await self.session()
        attempt = 0
        while True:
            attempt += 1
            self.stats["attempts"] += 1
            try:
                async with _wire_request(session, method, url, json, data, params, headers) as resp:
                    body = await _read_body(resp)
                    status = resp.status
                    resp_headers = {k: v for k, v in resp.headers.items() if k.lower() != "set-cookie"}
                    content_type = resp.content_type
            except _CONNECTION_ERRORS() as exc:
                await self._after_failure(method, url, attempt, rule, exc=exc)
                continue
            log.debug("%s %s -> %s (attempt %d)", method, url, status, attempt)
            error = self._error_for(status, content_type, body, url, resp_headers)
            if error is None:
                self.stats["requests"] += 1
                return Response(status, content_type, resp_headers, body, url, attempt)
            await self._after_failure(method, url, attempt, rule, error=error, headers=resp_headers)

    async def _after_failure(
        self,
        method: str,
        url: str,
        attempt: int,
        rule: SendRule,
        *,
        error: APIError | None = None,
        exc: BaseException | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The one retry policy of plain requests and streams: sleep before the next attempt, or raise.

        Retried: 429 (honouring Retry-After, plus jitter), 5xx/52x, connect failures, dropped connections
        and timeouts, with full-jitter exponential backoff, up to ``retry.attempts`` tries. A ``once``
        rule (creates or spends) is resent only after a 429 or a connect failure; any other failure
        after sending raises OutcomeUnknown/ConnectionDropped saying what to check. Counts go to
        ``stats``: ``retries``, ``retry_<status|connect|dropped|timeout>``, ``errors``, ``outcome_unknown``.
        """
        import aiohttp

        policy = self.retry
        retry_after: float | None = None
        if error is not None:
            reason = str(error.status)
            retryable = error.status in policy.statuses
            # only a 429 proves the server did not act; a 5xx/52x may come after it stored or charged
            acted_maybe = error.status != 429
            retry_after = parse_retry_after((headers or {}).get("Retry-After"))
            if retry_after is not None and retry_after > policy.max_retry_after:
                retryable = False
        else:
            assert exc is not None
            retryable = True
            if isinstance(exc, asyncio.TimeoutError):
                reason, acted_maybe = "timeout", True
            elif isinstance(exc, aiohttp.ClientConnectorError):
                reason, acted_maybe = "connect", False  # never reached the server
            else:
                reason, acted_maybe = "dropped", True
        log.debug("%s %s -> %s (attempt %d)", method, url, reason, attempt)
        if retryable and rule.once and acted_maybe:
            self.stats["errors"] += 1
            self.stats["outcome_unknown"] += 1
            what = f"answered {error.status} ({error.message})" if error is not None else _describe(exc)  # type: ignore[arg-type]
            cls = ConnectionDropped if reason == "dropped" else OutcomeUnknown
            raise cls(
                f"{method} {url} ({rule.name}): {what} after the request was sent, so the server may have "
                f"carried it out, so it was not sent again. To check: {rule.check or 'the result'}.",
                url=url,
                attempts=attempt,
                check=rule.check,
                cause=error if error is not None else _describe(exc),  # type: ignore[arg-type]
                endpoint=rule.name,
            ) from None
        if not retryable or attempt >= policy.attempts:
            self.stats["errors"] += 1
            if error is not None:
                raise error
            err_cls = RequestTimeout if reason == "timeout" else TransportError
            raise err_cls(
                f"{method} {url}: {_describe(exc)} after {attempt} attempt(s)",  # type: ignore[arg-type]
                url=url,
                attempts=attempt,
            ) from None
        wait = policy.delay(attempt, self._rng)
        if retry_after is not None:
            # Honour the server's ask, plus a little jitter so parallel callers spread out.
            wait = retry_after + self._rng.uniform(0, min(policy.backoff, 1.0))
        self.stats[f"retry_{reason}"] += 1
        self.stats["retries"] += 1
        await self.sleep(wait)

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

    def stream(
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
    ) -> ChunkStream:
        """Return a :class:`ChunkStream`: an async iterator of the raw body chunks of a streaming response.

        Use it as ``async for chunk in transport.stream(...)``, ideally inside ``async with`` (or
        ``contextlib.aclosing``) so that leaving early closes it at once. ``headers`` are sent with the
        request (the Bearer header wins over an ``Authorization`` among them, as in ``request``).
        Failures before any data arrived follow the same retry policy as ``request``; after data has
        arrived a failure raises StreamIncomplete and is never retried.
        """
        _check_outgoing(path, json, None, params)
        url = self.hosts.url(host, path)
        hdrs = self._headers(auth, headers)
        return ChunkStream(self, method, url, path, hdrs, json, params, generation, data)

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


def _CONNECTION_ERRORS() -> tuple[type[BaseException], ...]:
    """Return the exceptions that mean "no usable answer" (retry material), importing aiohttp lazily."""
    import aiohttp

    return (
        asyncio.TimeoutError,
        aiohttp.ClientConnectorError,
        aiohttp.ServerDisconnectedError,
        aiohttp.ClientOSError,
        aiohttp.ClientPayloadError,
    )


# -- streams -------------------------------------------------------------------------------------------
#: Unconsumed bytes a stream may hold before it gives up (a consumer that stopped reading).
MAX_BUFFERED_STREAM_BYTES = 256 * 1024 * 1024
_EOF = object()


class _StreamState:
    """What a stream's reader task and its finalizer share. It never refers to the ChunkStream, so an
    abandoned ChunkStream can be collected, and its finalizer then frees the gate."""

    __slots__ = ("queue", "lease", "task", "loop", "closed", "arrived", "queued", "content_type")

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] | None = None
        self.lease: _Lease | None = None
        self.task: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        self.arrived = 0
        self.queued = 0
        self.content_type = ""


def _stop_stream(st: _StreamState) -> None:
    """Free the gate and stop the reader; safe from any thread, a finalizer or twice."""
    st.closed = True
    if st.lease is not None:
        st.lease.release()
    task, loop = st.task, st.loop
    if task is None or loop is None or task.done():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        task.cancel()
        return
    try:
        loop.call_soon_threadsafe(task.cancel)
    except RuntimeError:
        pass  # that loop is closed: its sockets went with it


class ChunkStream:
    """The raw body chunks of one streaming response, as an async iterator (``Transport.stream``).

    Why a reader task and a lease instead of a generator holding the gate in a ``finally``: a generator
    frame may never resume (a ``break`` with the iterator kept in a variable, an exception whose
    traceback keeps the frame alive in ``sys.last_value``), and its ``finally`` would then hold the
    account's generation gate forever. Here a task reads the response into a queue and frees the gate
    as soon as the server's answer has ended (or failed), whether or not anyone consumes it; ``aclose``
    (also via ``async with``), cancellation and a finalizer that runs when the stream is garbage-
    collected stop the reader and free the gate at once, from any thread.
    """

    def __init__(
        self,
        transport: Transport,
        method: str,
        url: str,
        path: str,
        headers: dict[str, str],
        json: Any,
        params: dict[str, Any] | None,
        generation: bool,
        data: bytes | None = None,
    ):
        self._args = (transport, method, url, path, headers, json, params, generation, data)
        self._st = _StreamState()
        self._done = False
        self.url = url

    @property
    def content_type(self) -> str:
        """Return the response's content type once the first chunk arrived ("" before)."""
        return self._st.content_type

    @property
    def bytes_received(self) -> int:
        """Return how many body bytes have arrived so far."""
        return self._st.arrived

    def _start(self) -> None:
        st = self._st
        st.loop = asyncio.get_running_loop()
        st.queue = asyncio.Queue()
        st.task = st.loop.create_task(_read_stream(st, *self._args))
        weakref.finalize(self, _stop_stream, st)

    def __aiter__(self) -> ChunkStream:
        return self

    async def __anext__(self) -> bytes:
        st = self._st
        if self._done or st.closed:
            raise StopAsyncIteration
        if st.task is None:
            self._start()
        assert st.queue is not None
        item = await st.queue.get()
        if item is _EOF:
            self._done = True
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self._done = True
            raise item
        st.queued -= len(item)
        return item

    async def aclose(self) -> None:
        """Stop reading, free the generation gate and close the response; returns None. Idempotent."""
        self._done = True
        st = self._st
        _stop_stream(st)
        task = st.task
        if task is not None and not task.done() and st.loop is asyncio.get_running_loop():
            await asyncio.wait({task})

    async def __aenter__(self) -> ChunkStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _read_stream(
    st: _StreamState,
    t: Transport,
    method: str,
    url: str,
    path: str,
    headers: dict[str, str],
    json: Any,
    params: dict[str, Any] | None,
    generation: bool,
    data: bytes | None,
) -> None:
    import aiohttp

    assert st.queue is not None
    queue = st.queue
    try:
        if generation:
            st.lease = await t.gate().acquire(f"{method} {path} (stream)", t.timeouts.gate)
        session = await t.session()
        timeout = aiohttp.ClientTimeout(total=None, connect=t.timeouts.connect, sock_read=t.timeouts.read)
        rule = send_rule(method, path)
        attempt = 0
        while True:
            attempt += 1
            t.stats["attempts"] += 1
            try:
                async with _wire_request(session, method, url, json, data, params, headers, timeout) as resp:
                    if not 200 <= resp.status < 300 or resp.content_type == "application/json":
                        body = await _read_body(resp)
                        resp_headers = dict(resp.headers)
                        error = t._error_for(resp.status, resp.content_type, body, url, resp_headers)
                        if error is None:  # a JSON success on a stream endpoint: deliver it whole
                            t.stats["requests"] += 1
                            st.content_type = resp.content_type
                            chunk = _json.dumps(body).encode()
                            st.arrived += len(chunk)
                            queue.put_nowait(chunk)
                            break
                        await t._after_failure(method, url, attempt, rule, error=error, headers=resp_headers)
                        continue
                    t.stats["requests"] += 1
                    st.content_type = resp.content_type
                    async for chunk in resp.content.iter_any():
                        st.arrived += len(chunk)
                        st.queued += len(chunk)
                        if st.queued > MAX_BUFFERED_STREAM_BYTES:
                            raise StreamIncomplete(
                                f"{method} {url}: more than {MAX_BUFFERED_STREAM_BYTES} bytes arrived that "
                                "nobody read; the stream was closed",
                                url=url,
                                attempts=attempt,
                            )
                        queue.put_nowait(chunk)
                    break
            except _CONNECTION_ERRORS() as exc:
                if st.arrived:
                    t.stats["errors"] += 1
                    raise StreamIncomplete(
                        f"{method} {url}: the stream broke after {st.arrived} bytes ({_describe(exc)}); "
                        "not retried, because part of the output had already arrived",
                        url=url,
                        attempts=attempt,
                    ) from None
                await t._after_failure(method, url, attempt, rule, exc=exc)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer, who raises it
        queue.put_nowait(exc)
    else:
        queue.put_nowait(_EOF)
    finally:
        # the server's answer is over (or failed): the account may generate again, consumed or not
        if st.lease is not None:
            st.lease.release()


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
        import codecs

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
    msgpack image stream's framing. Linear in the input: one growing buffer with a read offset, compacted
    when half of it has been consumed (never ``bytes +=``). A declared length above ``max_frame`` raises
    StreamIncomplete."""

    def __init__(self, max_frame: int = 128 * 1024 * 1024, what: str = "stream"):
        self._buf = bytearray()
        self._pos = 0
        self.max_frame = max_frame
        self.what = what
        self.frames_seen = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        """Return the payloads of the frames completed by ``chunk``."""
        self._buf += chunk
        out: list[bytes] = []
        buf = self._buf
        while len(buf) - self._pos >= 4:
            n = int.from_bytes(buf[self._pos : self._pos + 4], "big")
            if n > self.max_frame:
                raise StreamIncomplete(
                    f"{self.what}: a frame declares {n} bytes, more than the {self.max_frame} allowed "
                    f"(after {self.frames_seen} frames)"
                )
            if len(buf) - self._pos - 4 < n:
                break
            out.append(bytes(buf[self._pos + 4 : self._pos + 4 + n]))
            self._pos += 4 + n
            self.frames_seen += 1
        if self._pos and self._pos * 2 >= len(buf):
            del buf[: self._pos]
            self._pos = 0
        return out

    @property
    def pending(self) -> int:
        """Return how many bytes of an unfinished frame are held."""
        return len(self._buf) - self._pos
