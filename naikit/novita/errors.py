"""Novita errors mapped into naikit's error tree, plus the two task outcomes that are not HTTP errors.

Novita answers errors as ``{"code": <http status>, "reason": "<UPPER_SNAKE>", "message": "...",
"metadata": {...}}``. :func:`map_error` turns that body into the naikit class that fits the *reason*
first and the status second, and keeps ``reason`` and ``metadata`` on the instance::

    NaikitError
    ├── APIError                 (reason / metadata attributes added for Novita answers)
    │   ├── AuthError            MISSING_API_KEY, INVALID_API_KEY, FAILED_TO_AUTH, BILLING_AUTH_FAILED
    │   ├── PaymentRequired      BILLING_BALANCE_NOT_ENOUGH, NOT_ENOUGH_BALANCE
    │   ├── NotFound             TASK_NOT_FOUND, API_NOT_FOUND, MODEL_NOT_FOUND
    │   ├── RateLimited          RATE_LIMIT_EXCEEDED, TOKEN_LIMIT_EXCEEDED
    │   ├── ServerError          5xx
    │   └── TaskFailed           the task finished with TASK_STATUS_FAILED (or a training FAILED/CANCELED)
    └── TaskTimeout              (also TimeoutError) the task did not finish within the time budget

Every error raised while waiting for a task carries ``task_id`` (and ``result``: the last status seen,
when there was one), so the id of a task you paid for is never lost.
"""

from __future__ import annotations

# TaskFailed and TaskTimeout live in naikit.errors (one tree); re-exported here.
from ..errors import (
    APIError,
    AuthError,
    NotFound,
    PaymentRequired,
    RateLimited,
    ServerError,
    TaskFailed,
    TaskTimeout,
    api_error,
)

__all__ = ["map_error", "TaskFailed", "TaskTimeout", "REASON_CLASSES"]

REASON_CLASSES: dict[str, type[APIError]] = {
    "MISSING_API_KEY": AuthError,
    "INVALID_API_KEY": AuthError,
    "FAILED_TO_AUTH": AuthError,
    "BILLING_AUTH_FAILED": AuthError,
    "ACCESS_DENY": AuthError,
    "BILLING_BALANCE_NOT_ENOUGH": PaymentRequired,
    "NOT_ENOUGH_BALANCE": PaymentRequired,
    "ANONYMOUS_ACCESS_QUOTA_EXCEEDS": PaymentRequired,
    "TASK_NOT_FOUND": NotFound,
    "API_NOT_FOUND": NotFound,
    "MODEL_NOT_FOUND": NotFound,
    "RATE_LIMIT_EXCEEDED": RateLimited,
    "TOKEN_LIMIT_EXCEEDED": RateLimited,
}

_HINTS = {
    "MISSING_API_KEY": "set NOVITA_API_KEY or pass api_key= to the client",
    "INVALID_API_KEY": "the API key was not accepted: check NOVITA_API_KEY (keys are made on novita.ai)",
    "BILLING_BALANCE_NOT_ENOUGH": "top up the Novita balance",
    "NOT_ENOUGH_BALANCE": "top up the Novita balance",
    "TASK_NOT_FOUND": "the task id is unknown to this server (another account, or a typo)",
}


def map_error(err: APIError, url: str) -> APIError:
    """Return the naikit error for a Novita error answer (reason first, then status), keeping reason/metadata.

    Bodies in NovelAI's envelope (the sandbox's fault injector) or without a reason pass through with
    ``reason`` set from the status.
    """
    body = err.body if isinstance(err.body, dict) else {}
    raw_reason, raw_metadata, raw_message = body.get("reason"), body.get("metadata"), body.get("message")
    reason = raw_reason if isinstance(raw_reason, str) else ""
    metadata = raw_metadata if isinstance(raw_metadata, dict) else {}
    message = raw_message if isinstance(raw_message, str) and raw_message else err.message
    status = err.status
    code = body.get("code")
    if isinstance(code, int) and code >= 400 and status < 400:
        status = code
    cls = REASON_CLASSES.get(reason)
    retry_after = err.retry_after if isinstance(err, RateLimited) else None
    if cls is None:
        new = api_error(status, message, url=err.url or url, body=err.body, retry_after=retry_after)
    elif cls is RateLimited:
        new = RateLimited(status, message, url=err.url or url, body=err.body, retry_after=retry_after)
    else:
        new = cls(status, message, url=err.url or url, body=err.body)
    if reason:
        new.message = f"{reason}: {message}"
    new.hint = _HINTS.get(reason, err.hint)
    new.reason = reason
    new.metadata = metadata
    if isinstance(new, ServerError) and not reason:
        new.reason = "SERVER_ERROR"
    return new
