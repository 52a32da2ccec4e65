"""Finding out what happened to a request that creates or spends when its answer was lost.

The transport never resends such a request after it went out (see ``naikit._send_rules.SEND_RULES``); it
raises :class:`~naikit.errors.OutcomeUnknown`. The clients then look, with the two probes the services
offer:

* :func:`spend_checked` — for calls that spend a balance (NovelAI Anlas, Novita credits): read the
  balance before sending; on an unknown outcome read it again. Lower: the call was carried out and paid
  for, its answer is lost, so naikit raises an error saying how much was spent (never a second charge).
  Unchanged, and the server itself finished with an error (500 or 503, not a gateway timeout or a
  drop, after which it may still be working): it did not act, so the call is sent again. Unchanged
  otherwise: raise, saying the balance so far is unchanged and what to check later. A call the estimate
  says is free is simply sent again (nothing can be paid twice).
* list-and-match (``create_object`` in the NovelAI client): list the objects and return the one with
  the meta and data just sent.

Balances are compared within one process's generation gate (one generation per account at a time by
default); another client spending on the same account at the same moment can make a lost free answer
look paid (naikit then raises rather than resend, the safe side).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .errors import APIError, OutcomeUnknown

__all__ = ["spend_checked", "server_finished"]

T = TypeVar("T")

#: statuses an origin server answers itself once it has stopped working on the request
_FINISHED = frozenset({500, 503})


def server_finished(exc: OutcomeUnknown) -> bool:
    """Return True when the failure was the server's own error answer (it is no longer working on it)."""
    return isinstance(exc.cause, APIError) and exc.cause.status in _FINISHED


async def spend_checked(
    send: Callable[[], Awaitable[T]],
    balance: Callable[[], Awaitable[float]],
    *,
    cost: float,
    unit: str,
    stats: Any = None,
    tries: int = 3,
    body: Any = None,
) -> T:
    """Return ``await send()``; when it raises OutcomeUnknown, find out from ``balance()`` whether the
    call was carried out (see the module docstring) and resend only when it was not (or is free).

    ``body`` (the JSON ``send`` posts) is checked first, so a body the wire cannot carry (NaN, a lone
    surrogate) is refused before even the balance is read: no request at all.
    """
    if body is not None:
        from ._validate import check_wire_json

        check_wire_json(body)
    before = await balance() if cost else None
    for attempt in range(1, tries + 1):
        try:
            return await send()
        except OutcomeUnknown as exc:
            if attempt >= tries:
                raise
            if not cost:
                _count(stats, "resent_free")
                continue
            after = await balance()
            assert before is not None
            if after < before:
                _count(stats, "outcome_spent")
                err = exc.checked(
                    f"the balance fell from {before:g} to {after:g} {unit}, so the request "
                    "was carried out and paid for, but its answer was lost; it was not sent again."
                )
                err.spent = before - after
                raise err from None
            if not server_finished(exc):
                raise exc.checked(
                    f"the balance is still {after:g} {unit}, but the server may still be "
                    "working on it; check the balance again in a minute before repeating."
                ) from None
            _count(stats, "resent_after_check")
    raise AssertionError("unreachable")  # pragma: no cover


def _count(stats: Any, key: str) -> None:
    if stats is not None:
        stats[key] += 1
