"""One error tree for the whole package.

::

    NaikitError
    ├── InputError (also ValueError)       bad input, refused before any request is sent
    │   └── CredentialsError               malformed key/token, expired token, missing credentials
    ├── ResponseShapeError                 a response did not have the documented shape (API drift)
    ├── ContentError                       user content could not be read or written safely
    │   ├── WrongKey                       the keystore/object does not decrypt with the keys tried
    │   ├── CorruptObject                  one object failed to decrypt, inflate or parse
    │   ├── CorruptData (also ValueError)  malformed stored data: payload, keystore, story document
    │   │   └── DocumentError              a msgpackr story document (naikit.novelai.document)
    │   └── UnsafeWrite (also InputError)  an upload refused before sending: it would lose content
    │       └── EditConflict               another client saved the same object at the same time
    ├── TransportError                     no usable HTTP answer (connection refused/dropped, timeout)
    │   ├── RequestTimeout
    │   ├── OutcomeUnknown                 a call that creates or spends failed after it was sent: it may
    │   │   │                              have been carried out; not resent (``.check``: what to look at)
    │   │   └── ConnectionDropped          dropped mid-request on a call that is not safe to repeat
    │   └── StreamIncomplete               a stream ended before its final event (``.partial``: what arrived)
    └── APIError                           the service answered with an error
        ├── AuthError (401)
        │   ├── AccessKeyRejected          /user/login refused the access key
        │   ├── TokenExpired
        │   └── TokenRejected
        ├── PaymentRequired (402)
        ├── NotFound (404)
        ├── Conflict (409)
        ├── RateLimited (429)              includes "Concurrent generation is locked"
        ├── ServerError (5xx, Cloudflare 52x)
        └── TaskFailed                     a long-running task (Novita, module training) ended failed
    TaskTimeout (also TimeoutError)        a task did not finish in time; it may still finish
    GateTimeout (also TimeoutError)        waited too long for the account's generation gate

Every message says what happened and what to do. No secret (token, access key, password, encryption
key) is ever part of a message: URLs and status codes are, bodies only as the server's ``message``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "NaikitError",
    "InputError",
    "CredentialsError",
    "ResponseShapeError",
    "ContentError",
    "WrongKey",
    "CorruptObject",
    "CorruptData",
    "UnsafeWrite",
    "EditConflict",
    "TransportError",
    "RequestTimeout",
    "ConnectionDropped",
    "OutcomeUnknown",
    "StreamIncomplete",
    "GateTimeout",
    "APIError",
    "AuthError",
    "AccessKeyRejected",
    "TokenExpired",
    "TokenRejected",
    "PaymentRequired",
    "NotFound",
    "Conflict",
    "RateLimited",
    "ServerError",
    "TaskFailed",
    "TaskTimeout",
    "api_error",
]


class NaikitError(Exception):
    """Base of every error naikit raises on purpose."""


class InputError(NaikitError, ValueError):
    """Bad input, refused before any request was sent.

    ``field`` names the argument, ``value`` is what was given (already redacted when it is a secret)
    and ``allowed`` says what would have been accepted.
    """

    def __init__(self, field: str, value: Any, allowed: str, hint: str = ""):
        self.field = field
        self.value = value
        self.allowed = allowed
        msg = f"{field}={_short(value)} is not allowed: expected {allowed}"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)


class CredentialsError(InputError):
    """Credentials that cannot work, found before sending them (malformed, expired, missing)."""


class ResponseShapeError(NaikitError):
    """A response did not have the shape the protocol documents.

    Raised by the response checks (on by default, ``validate=False`` turns them off) so that a change
    of the API shows up at once, naming the field that differs.
    """

    def __init__(self, what: str, field: str, problem: str):
        self.what = what
        self.field = field
        self.problem = problem
        super().__init__(
            f"{what}: field {field!r} {problem}. The API may have changed; pass validate=False to the "
            "client to accept it anyway, and please report it."
        )


class ContentError(NaikitError):
    """User content could not be read, or could not be written safely."""


class WrongKey(ContentError):
    """The keystore (or an object) does not decrypt with the key(s) tried.

    ``failures`` lists one line per attempt saying which key was tried and what failed.
    """

    def __init__(self, what: str, failures: list[str], hint: str = ""):
        self.what = what
        self.failures = list(failures)
        lines = "; ".join(self.failures) or "no key to try"
        msg = f"the key is wrong: {what} does not decrypt ({lines})"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)


class CorruptObject(ContentError):
    """One object could not be decrypted, decompressed or parsed.

    ``stage`` is one of "base64", "length", "key", "decrypt", "inflate", "utf-8", "json", "document".
    """

    def __init__(self, object_type: str, object_id: str, meta: str, stage: str, reason: str):
        self.object_type = object_type
        self.object_id = object_id
        self.meta = meta
        self.stage = stage
        self.reason = reason
        super().__init__(f"{object_type} {object_id!r} (meta {meta!r}) failed at {stage}: {reason}")


class CorruptData(ContentError, ValueError):
    """Stored data is malformed: an object payload, the keystore or a story document.

    ``stage`` names the layer that failed ("base64", "length", "decrypt", "inflate", "keystore",
    "document"); ``reason`` says what was wrong there.
    """

    def __init__(self, stage: str, reason: str):
        self.stage = stage
        self.reason = reason
        super().__init__(f"{stage}: {reason}")


class UnsafeWrite(ContentError, InputError):
    """An upload refused before anything was sent: it failed verification or would lose content."""

    def __init__(self, field: str, value: Any, allowed: str, hint: str = ""):
        InputError.__init__(self, field, value, allowed, hint)


class EditConflict(UnsafeWrite):
    """Two clients saved the same object at once and one save lost: nothing was silently overwritten.

    ``yours`` is the local folder holding the version you tried to save, ``theirs`` the one holding the
    server's copy you would have overwritten (or that overwrote yours); both are backup folders that
    ``restore`` reads. Either may be None when that version is on the server as the message says.
    """

    def __init__(
        self, field: str, value: Any, allowed: str, hint: str = "", *, yours: Any = None, theirs: Any = None
    ):
        self.yours = yours
        self.theirs = theirs
        UnsafeWrite.__init__(self, field, value, allowed, hint)


class TransportError(NaikitError):
    """No usable HTTP answer after every allowed attempt."""

    def __init__(self, message: str, *, url: str = "", attempts: int = 1):
        self.url = url
        self.attempts = attempts
        super().__init__(message)


class RequestTimeout(TransportError):
    """The request exceeded its connect or total timeout."""


class OutcomeUnknown(TransportError):
    """A request that creates or spends failed *after* it was sent (5xx, Cloudflare 52x, dropped, timed
    out): the server may have carried it out, so naikit did not send it again.

    ``check`` says how to find out what happened, ``cause`` is the failure (an APIError or a text),
    ``endpoint`` the rule's name (see ``naikit._send_rules.SEND_RULES``), ``spent`` how much the balance fell
    when naikit found the call was carried out and paid for (else None).
    """

    spent: float | None = None

    def __init__(
        self, message: str, *, url: str = "", attempts: int = 1, check: str = "", cause: Any = None,
        endpoint: str = "",
    ):  # fmt: skip
        self.check = check
        self.cause = cause
        self.endpoint = endpoint
        super().__init__(message, url=url, attempts=attempts)

    def checked(self, finding: str) -> OutcomeUnknown:
        """Return a new OutcomeUnknown that adds what naikit found out (``"Checked: ..."``) to this one's
        message, with the same url, attempts, check, cause and endpoint (raise it ``from None``)."""
        return OutcomeUnknown(
            f"{self} Checked: {finding}",
            url=self.url,
            attempts=self.attempts,
            check=self.check,
            cause=self.cause,
            endpoint=self.endpoint,
        )


class ConnectionDropped(OutcomeUnknown):
    """The connection dropped during a request that is not safe to send twice (it creates or spends)."""


class StreamIncomplete(TransportError):
    """A stream ended (or broke) before its final event; ``partial`` holds what arrived before."""

    def __init__(self, message: str, *, url: str = "", partial: Any = None, attempts: int = 1):
        self.partial = partial
        super().__init__(message, url=url, attempts=attempts)


class APIError(NaikitError):
    """The service answered with an error status or an error body.

    ``status`` is the HTTP status (or the ``statusCode`` of the body), ``message`` the server's text,
    ``url`` the request URL (which never carries secrets).
    """

    # set on Novita's answers (naikit.novita.errors.map_error): the body's UPPER_SNAKE reason and metadata
    reason: str
    metadata: dict[str, Any]

    def __init__(self, status: int, message: str, *, url: str = "", body: Any = None, hint: str = ""):
        self.status = status
        self.message = message
        self.url = url
        self.body = body
        self.hint = hint
        super().__init__(status, message)

    def __str__(self) -> str:
        text = f"{self.status} from {self.url or 'the server'}: {self.message}"
        return text + (f" — {self.hint}" if self.hint else "")


class AuthError(APIError):
    """401: the credentials were not accepted."""


class AccessKeyRejected(AuthError):
    """/user/login did not accept the access key (wrong email or password, or email case)."""


class TokenExpired(AuthError):
    """The access token has expired; log in again to get a new one."""


class TokenRejected(AuthError):
    """The server did not accept the token (revoked, wrong service, or malformed)."""


class PaymentRequired(APIError):
    """402: a subscription or more Anlas is needed."""


class NotFound(APIError):
    """404: the object, module or endpoint does not exist."""


class Conflict(APIError):
    """409: the request conflicts with the current state (e.g. an email already registered)."""


class RateLimited(APIError):
    """429: too many requests, or a concurrent generation is running on this account."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kw: Any):
        self.retry_after = retry_after
        super().__init__(*args, **kw)


class ServerError(APIError):
    """5xx or a Cloudflare 52x: the service failed; retried automatically before this is raised."""


class TaskFailed(APIError):
    """A Novita task (generation or training) finished as failed.

    ``task_id`` names it, ``reason`` is the service's failure text and ``result`` the last status
    (a :class:`~naikit.novita.tasks.TaskResult` or a training status).
    """

    def __init__(self, task_id: str, reason: str, *, result: Any = None, url: str = ""):
        self.task_id = task_id
        self.reason = reason
        self.result = result
        self.metadata: dict[str, Any] = {}
        super().__init__(200, f"task {task_id} failed: {reason or 'no reason given'}", url=url, body=None)

    def __str__(self) -> str:
        return self.message + (f" — {self.hint}" if self.hint else "")


class TaskTimeout(NaikitError, TimeoutError):
    """The task did not reach a final state within ``timeout`` seconds; it may still finish.

    ``task_id`` names it, ``result`` is the last status seen (None if no poll succeeded) and
    ``last_error`` the last polling error, if the budget ran out while the service was failing.
    """

    def __init__(
        self, task_id: str, timeout: float, *, result: Any = None, last_error: BaseException | None = None
    ):
        self.task_id = task_id
        self.timeout = timeout
        self.result = result
        self.last_error = last_error
        status = getattr(result, "status", None)
        text = f"task {task_id} did not finish within {timeout:g} s"
        if status:
            text += f" (last status {status})"
        if last_error is not None:
            text += f"; last polling error: {last_error}"
        super().__init__(text + f". It may still finish: client.wait_for_task({task_id!r}) resumes waiting.")


class GateTimeout(NaikitError, TimeoutError):
    """No generation of this account ended for ``timeout`` seconds while this one waited for the gate
    (``holders`` describes the generations that hold it)."""

    def __init__(self, timeout: float, holders: list[str]):
        self.timeout = timeout
        self.holders = holders
        who = "; ".join(holders) or "a generation that has just ended"
        super().__init__(
            f"waited {timeout:g} s for this account's generation gate and no generation ended meanwhile; "
            f"held by: {who}. Finish or close that generation (an unfinished stream iterator: call its "
            ".close()/aclose()), or raise Timeouts(gate=...) if generations on this account are just slow."
        )


_BY_STATUS: dict[int, type[APIError]] = {
    401: AuthError,
    402: PaymentRequired,
    404: NotFound,
    409: Conflict,
    429: RateLimited,
}


def api_error(status: int, message: str, *, url: str = "", body: Any = None, **kw: Any) -> APIError:
    """Return the APIError subclass instance that fits ``status`` (not raised)."""
    cls: type[APIError] = _BY_STATUS.get(status, ServerError if status >= 500 else APIError)
    if cls is RateLimited:
        return RateLimited(status, message, url=url, body=body, **kw)
    kw.pop("retry_after", None)
    return cls(status, message, url=url, body=body, **kw)


def _short(value: Any) -> str:
    """Return a repr of ``value`` cut to about 80 characters (long strings keep their length visible)."""
    if isinstance(value, str) and len(value) > 60:
        return f"{value[:40]!r}… ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
