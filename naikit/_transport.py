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
import functools
import json as _json
import logging
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ._chunk_stream import MAX_BUFFERED_STREAM_BYTES, ChunkStream, StreamState
from ._gate import Gate, gate_for
from ._runner import at_loop_close
from ._secret import Secret
from ._send_rules import SendRule, send_rule
from ._settings import Hosts, RetryPolicy, Timeouts
from ._wire import (
    Response,
    check_outgoing,
    connection_errors,
    describe,
    parse_retry_after,
    read_body,
    reason_phrase,
    wire_request,
)
from .errors import (
    APIError,
    ConnectionDropped,
    CredentialsError,
    OutcomeUnknown,
    RateLimited,
    RequestTimeout,
    StreamIncomplete,
    TransportError,
    api_error,
)

if TYPE_CHECKING:
    import random

    import aiohttp

__all__ = ["Transport"]

log = logging.getLogger("naikit.transport")


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
        self._bearer: Secret | None = None  # "Bearer <token>", built once per token, not per request
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
            weakref.WeakKeyDictionary()
        )
        self._rng: random.Random | None = None  # made at the first retry (random is a slow import)
        self._error_mapper = error_mapper
        # Replaceable so tests can observe the waits without spending them.
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    # -- auth -------------------------------------------------------------------------------------
    def set_token(self, token: str | None) -> None:
        """Store (or clear) the Bearer token sent with authenticated requests; returns None."""
        self._token = Secret(token) if token else None
        self._bearer = Secret("Bearer " + self._token.reveal()) if self._token else None

    @property
    def has_token(self) -> bool:
        """Return True when a Bearer token is set."""
        return self._token is not None

    def account_key(self) -> str:
        """Return a short non-secret fingerprint of the token, used to key the generation gate."""
        if self._token is None:
            return "anonymous"
        import hashlib

        return hashlib.sha256(self._token.reveal().encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"Transport(hosts={self.hosts!r}, token={'<hidden>' if self._token else None})"

    # -- session ----------------------------------------------------------------------------------
    async def session(self) -> aiohttp.ClientSession:
        """Return this transport's session for the running loop, creating it on first use.

        A session belongs to the loop it was made on; a client used from several loops (the sync
        facade's per-thread loops, a notebook's own loop) keeps one session per loop.
        """
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is not None and not session.closed:
            return session
        import aiohttp

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
            session._retry_connection = False
        self._sessions[loop] = session
        # a sync call's thread loop is closed when its thread ends: close the session there first
        at_loop_close(loop, session)
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
        headers: dict[str, Any] = dict(extra) if extra else {}
        if auth:
            if self._bearer is None:
                raise CredentialsError(
                    "token", None, "a logged-in client", "Call login(...) or set NAI_TOKEN first."
                )
            headers["Authorization"] = self._bearer
        return headers

    def gate(self) -> Gate:
        """Return the process-wide generation gate of this transport's account."""
        return gate_for(self.account_key(), self.max_concurrent_generations)

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
        check_outgoing(path, json, data, params)
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
                async with wire_request(session, method, url, json, data, params, headers) as resp:
                    body = await read_body(resp)
                    status = resp.status
                    resp_headers = {k: v for k, v in resp.headers.items() if k.lower() != "set-cookie"}
                    content_type = resp.content_type
            except connection_errors() as exc:
                await self._after_failure(method, url, attempt, rule, exc=exc)
                continue
            if log.isEnabledFor(logging.DEBUG):
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
            what = f"answered {error.status} ({error.message})" if error is not None else describe(exc)  # type: ignore[arg-type]
            cls = ConnectionDropped if reason == "dropped" else OutcomeUnknown
            raise cls(
                f"{method} {url} ({rule.name}): {what} after the request was sent, so the server may have "
                f"carried it out, so it was not sent again. To check: {rule.check or 'the result'}.",
                url=url,
                attempts=attempt,
                check=rule.check,
                cause=error if error is not None else describe(exc),  # type: ignore[arg-type]
                endpoint=rule.name,
            ) from None
        if not retryable or attempt >= policy.attempts:
            self.stats["errors"] += 1
            if error is not None:
                raise error
            err_cls = RequestTimeout if reason == "timeout" else TransportError
            raise err_cls(
                f"{method} {url}: {describe(exc)} after {attempt} attempt(s)",  # type: ignore[arg-type]
                url=url,
                attempts=attempt,
            ) from None
        if self._rng is None:
            import random

            self._rng = random.Random()
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
        envelope = isinstance(body, dict) and "error" in body
        if not envelope and 200 <= status < 300:
            return None
        retry_after = parse_retry_after(headers.get("Retry-After"))
        if envelope:
            code = body.get("statusCode", status)
            code = code if isinstance(code, int) and code >= 400 else (status if status >= 400 else 500)
            msg = body.get("message") or body.get("error")
            err = api_error(code, str(msg), url=url, body=body, retry_after=retry_after)
        else:
            msg = body.get("message") if isinstance(body, dict) else None
            if not msg:
                msg = body.strip()[:200] if isinstance(body, str) and body.strip() else reason_phrase(status)
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
        check_outgoing(path, json, None, params)
        url = self.hosts.url(host, path)
        hdrs = self._headers(auth, headers)
        reader = functools.partial(self._read_stream, method, url, path, hdrs, json, params, generation, data)
        return ChunkStream(url, reader)

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

    async def _read_stream(
        self,
        method: str,
        url: str,
        path: str,
        headers: dict[str, Any],
        json: Any,
        params: dict[str, Any] | None,
        generation: bool,
        data: bytes | None,
        st: StreamState,
    ) -> None:
        """The reader of a :class:`ChunkStream`: wait for the gate, send with the retry policy until an
        answer starts, then put its body chunks on the stream's queue (never retried once data arrived)."""
        import aiohttp

        assert st.queue is not None
        queue = st.queue
        if generation:
            st.lease = await self.gate().acquire(f"{method} {path} (stream)", self.timeouts.gate)
        session = await self.session()
        timeouts = self.timeouts
        timeout = aiohttp.ClientTimeout(total=None, connect=timeouts.connect, sock_read=timeouts.read)
        rule = send_rule(method, path)
        attempt = 0
        while True:
            attempt += 1
            self.stats["attempts"] += 1
            try:
                async with wire_request(session, method, url, json, data, params, headers, timeout) as resp:
                    if not 200 <= resp.status < 300 or resp.content_type == "application/json":
                        body = await read_body(resp)
                        resp_headers = dict(resp.headers)
                        error = self._error_for(resp.status, resp.content_type, body, url, resp_headers)
                        if error is None:  # a JSON success on a stream endpoint: deliver it whole
                            self.stats["requests"] += 1
                            st.content_type = resp.content_type
                            chunk = _json.dumps(body).encode()
                            st.arrived += len(chunk)
                            st.queued += len(chunk)
                            queue.put_nowait(chunk)
                            return
                        await self._after_failure(
                            method, url, attempt, rule, error=error, headers=resp_headers
                        )
                        continue
                    self.stats["requests"] += 1
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
                    return
            except connection_errors() as exc:
                if st.arrived:
                    self.stats["errors"] += 1
                    raise StreamIncomplete(
                        f"{method} {url}: the stream broke after {st.arrived} bytes ({describe(exc)}); "
                        "not retried, because part of the output had already arrived",
                        url=url,
                        attempts=attempt,
                    ) from None
                await self._after_failure(method, url, attempt, rule, exc=exc)
