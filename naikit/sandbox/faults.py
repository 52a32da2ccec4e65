"""Fault injection: latency, 429 with Retry-After, 500 and dropped connections, chosen per run; and
answers lost *after* the handler acted (Cloudflare's 524, a drop), the case a client must not repeat.

A :class:`FaultPlan` says what to inject; a :class:`FaultInjector` holds the plan in force, its random
stream and the counters; :func:`fault_middleware` applies it as the outermost aiohttp middleware, so every
fault happens *before* any handler runs (a faulted request has no effect on the store).

For each request under one of the plan's ``paths`` (never under ``/_sandbox/``, so the admin endpoints stay
reachable) the injector sleeps ``latency`` seconds, then draws one number ``u`` from its seeded stream::

    u < rate_429                          -> 429 {"statusCode":429,"message":"Too many requests"}, Retry-After
    u < rate_429 + rate_500               -> 500 {"statusCode":500,"message":"Internal server error"}
    u < rate_429 + rate_500 + rate_drop   -> the connection is aborted without any response
    ... + rate_524                        -> the handler runs (it stores, charges), then 524 instead
    ... + rate_drop_after                 -> the handler runs, then the connection is aborted
    otherwise                             -> the handler runs

One draw per request keeps the sequence of faults reproducible for a given seed and request order. Replacing
the plan (``sandbox.faults = …`` or ``PUT /_sandbox/faults``) restarts the stream from the new plan's seed.

String form, for a command-line flag: ``"429=0.2,500=0.1,drop=0.05,latency=0.01,retry_after=1,seed=7"``; also
``paths=/ai/|/user/objects`` (prefixes separated by ``|``). ``""`` or ``"none"`` means no faults.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .._validate import check_number
from ..errors import InputError

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["FaultPlan", "FaultInjector", "fault_middleware", "ADMIN_PREFIX"]

ADMIN_PREFIX = "/_sandbox/"

# short names of the string form -> field names
_ALIASES = {
    "429": "rate_429",
    "500": "rate_500",
    "5xx": "rate_500",
    "drop": "rate_drop",
    "524": "rate_524",
    "drop_after": "rate_drop_after",
    "drop-after": "rate_drop_after",
    "retry-after": "retry_after",
}
_RATE_FIELDS = ("rate_429", "rate_500", "rate_drop", "rate_524", "rate_drop_after")
#: faults decided before the handler runs (the server did not act) and after it (it did)
_BEFORE = ("429", "500", "drop")
_AFTER = ("524", "drop_after")


@dataclass(frozen=True)
class FaultPlan:
    """What to inject: rates are probabilities per request (0–1, summing to at most 1), times are seconds.

    ``paths`` are path prefixes the plan applies to (default: every path except ``/_sandbox/``).
    ``seed=None`` draws from an unseeded stream (different on every run).
    """

    latency: float = 0.0
    rate_429: float = 0.0
    retry_after: float = 1.0
    rate_500: float = 0.0
    rate_drop: float = 0.0
    rate_524: float = 0.0
    rate_drop_after: float = 0.0
    seed: int | None = None
    paths: tuple[str, ...] = field(default=("/",))
    #: HTTP methods the plan applies to (empty: all), e.g. ("PUT",) to fault creates but not the listing
    methods: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # the plan is the sandbox's own setting (its errors go to the Python caller or the admin endpoint,
        # never to an emulated client), so the client side's generic number check serves
        for name in _RATE_FIELDS:
            check_number(getattr(self, name), name, lo=0, hi=1, allowed="a probability between 0 and 1")
        total = sum(getattr(self, n) for n in _RATE_FIELDS)
        if total > 1 + 1e-9:
            used = _RATE_FIELDS[:3] + tuple(n for n in _RATE_FIELDS[3:] if getattr(self, n))
            raise InputError("+".join(used), round(total, 6), "a sum of at most 1")
        for name in ("latency", "retry_after"):
            check_number(getattr(self, name), name, lo=0, allowed="a number of seconds >= 0")
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool)):
            raise InputError("seed", self.seed, "an integer or None")
        paths = (self.paths,) if isinstance(self.paths, str) else tuple(self.paths)
        if not paths or not all(isinstance(p, str) and p.startswith("/") for p in paths):
            raise InputError("paths", self.paths, "one or more path prefixes starting with '/'")
        object.__setattr__(self, "paths", paths)
        methods = (self.methods,) if isinstance(self.methods, str) else tuple(self.methods)
        if not all(isinstance(m, str) and m.isalpha() for m in methods):
            raise InputError("methods", self.methods, "HTTP method names such as 'PUT' (none: every method)")
        object.__setattr__(self, "methods", tuple(m.upper() for m in methods))

    @property
    def active(self) -> bool:
        """Return True if this plan injects anything at all."""
        return self.latency > 0 or any(getattr(self, n) > 0 for n in _RATE_FIELDS)

    def applies_to(self, path: str, method: str | None = None) -> bool:
        """Return True if a request to ``path`` is subject to this plan."""
        if path.startswith(ADMIN_PREFIX):
            return False
        if self.methods and method is not None and method.upper() not in self.methods:
            return False
        return any(path.startswith(p) for p in self.paths)

    @classmethod
    def parse(cls, text: str | None) -> FaultPlan:
        """Return the plan described by ``"429=0.2,500=0.1,drop=0.05,latency=0.01,retry_after=1,seed=7"``.

        Keys: ``429``/``rate_429``, ``500``/``5xx``/``rate_500``, ``drop``/``rate_drop``, ``524``/``rate_524``
        and ``drop_after``/``rate_drop_after`` (after the handler acted; a streamed answer already sent is not
        lost), ``latency``,
        ``retry_after``, ``seed``, ``paths`` (``|``-separated prefixes). Empty or ``"none"`` gives no faults.
        """
        if text is None or text.strip().lower() in ("", "none", "off"):
            return cls()
        values: dict[str, Any] = {}
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            key, sep, raw = item.partition("=")
            key = key.strip().lower()
            name = _ALIASES.get(key, key)
            if not sep or name not in cls.__dataclass_fields__:
                raise InputError(
                    "faults",
                    item,
                    "comma-separated key=value items; keys 429, 500, drop, 524, drop_after, latency, "
                    "retry_after, seed, paths",
                    "Example: '429=0.2,500=0.1,drop=0.05,latency=0.01,retry_after=1,seed=7'.",
                )
            raw = raw.strip()
            try:
                if name in ("paths", "methods"):
                    values[name] = tuple(p.strip() for p in raw.split("|") if p.strip())
                elif name == "seed":
                    values[name] = None if raw.lower() == "none" else int(raw)
                else:
                    values[name] = float(raw)
            except ValueError:
                raise InputError(name, raw, "a number" if name != "seed" else "an integer") from None
        return cls(**values)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultPlan:
        """Return a plan from a JSON object using field names (or the short keys of :meth:`parse`)."""
        if not isinstance(data, dict):
            raise InputError("faults", data, 'a JSON object such as {"rate_429": 0.2, "seed": 7}')
        values: dict[str, Any] = {}
        for key, value in data.items():
            name = _ALIASES.get(str(key).lower(), str(key))
            if name not in cls.__dataclass_fields__:
                raise InputError("faults", key, f"one of {', '.join(cls.__dataclass_fields__)}")
            values[name] = tuple(value) if name in ("paths", "methods") and isinstance(value, list) else value
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Return the plan as a JSON-ready dict (field names as keys)."""
        out = asdict(self)
        out["paths"] = list(self.paths)
        out["methods"] = list(self.methods)
        return out

    def __str__(self) -> str:
        items = [
            f"{k}={getattr(self, n):g}"
            for k, n in (
                ("429", "rate_429"),
                ("500", "rate_500"),
                ("drop", "rate_drop"),
                ("524", "rate_524"),
                ("drop_after", "rate_drop_after"),
            )
            if getattr(self, n)
        ]
        if self.latency:
            items.append(f"latency={self.latency:g}")
        if self.rate_429:
            items.append(f"retry_after={self.retry_after:g}")
        if self.seed is not None:
            items.append(f"seed={self.seed}")
        if self.paths != ("/",):
            items.append("paths=" + "|".join(self.paths))
        if self.methods:
            items.append("methods=" + "|".join(self.methods))
        return ",".join(items) or "none"


class FaultInjector:
    """The plan in force, its random stream and the counters; safe to change from any thread."""

    def __init__(self, plan: FaultPlan | None = None):
        self._lock = threading.Lock()
        self._plan = FaultPlan()
        self._rng = random.Random()
        self.plan = plan or FaultPlan()
        self.reset_stats()

    @property
    def plan(self) -> FaultPlan:
        """Return the plan in force."""
        return self._plan

    @plan.setter
    def plan(self, plan: FaultPlan | str | None) -> None:
        plan = as_plan(plan)
        with self._lock:
            self._plan = plan
            self._rng = random.Random(plan.seed)

    def reset_stats(self) -> None:
        """Set every counter back to zero; returns None."""
        with self._lock:
            self._counts = {"requests": 0, "faulted_paths": 0, "handled": 0, "delayed": 0}
            self._injected = {k: 0 for k in (*_BEFORE, *_AFTER)}

    def stats(self) -> dict[str, Any]:
        """Return the counters: requests seen (admin excluded), requests under the plan's paths
        (``faulted_paths``), requests that reached a handler, delayed ones, and injected 429/500/drops."""
        with self._lock:
            return {**self._counts, "injected": dict(self._injected), "plan": self._plan.to_dict()}

    def decide(self, path: str, method: str | None = None) -> tuple[float, str | None, FaultPlan]:
        """Count a request and return ``(latency, fault, plan)``; fault is "429", "500", "drop" or None."""
        with self._lock:
            if path.startswith(ADMIN_PREFIX):
                return 0.0, None, self._plan
            plan = self._plan
            self._counts["requests"] += 1
            if not plan.applies_to(path, method):
                self._counts["handled"] += 1
                return 0.0, None, plan
            self._counts["faulted_paths"] += 1
            if plan.latency:
                self._counts["delayed"] += 1
            fault: str | None = None
            if plan.active:
                u = self._rng.random()
                if u < plan.rate_429:
                    fault = "429"
                elif u < plan.rate_429 + plan.rate_500:
                    fault = "500"
                elif u < plan.rate_429 + plan.rate_500 + plan.rate_drop:
                    fault = "drop"
                elif u < plan.rate_429 + plan.rate_500 + plan.rate_drop + plan.rate_524:
                    fault = "524"
                elif (
                    u < plan.rate_429 + plan.rate_500 + plan.rate_drop + plan.rate_524 + plan.rate_drop_after
                ):
                    fault = "drop_after"
            if fault is None or fault in _AFTER:
                self._counts["handled"] += 1  # the handler runs (an after-fault loses only its answer)
            if fault is not None:
                self._injected[fault] += 1
            return plan.latency, fault, plan


def as_plan(plan: FaultPlan | str | dict | None) -> FaultPlan:
    """Return ``plan`` as a FaultPlan (parsing a string, reading a dict; None means no faults)."""
    if plan is None:
        return FaultPlan()
    if isinstance(plan, FaultPlan):
        return plan
    if isinstance(plan, str):
        return FaultPlan.parse(plan)
    if isinstance(plan, dict):
        return FaultPlan.from_dict(plan)
    raise InputError("faults", plan, "a FaultPlan, a string such as '429=0.2,seed=7', a dict or None")


def _retry_after_header(seconds: float) -> str:
    # HTTP wants delta-seconds as an integer; keep fractions only when asked for (fast tests), as clients
    # that parse floats can use them and others see a number.
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def fault_middleware(injector: FaultInjector) -> Any:
    """Return the aiohttp middleware that applies ``injector``'s plan before any handler runs."""
    from aiohttp import web

    @web.middleware
    async def faults(request: web.Request, handler: Any) -> web.StreamResponse:
        latency, fault, plan = injector.decide(request.path, request.method)
        if latency:
            await asyncio.sleep(latency)
        if fault is None:
            return await handler(request)
        if fault in _AFTER:
            # the server acts (stores, draws, charges); only its answer is lost on the way back
            response = await handler(request)
            if fault == "524" and not response.prepared:
                return web.Response(status=524, text="error code: 524", headers={"X-Sandbox-Fault": "524"})
            transport = request.transport
            if transport is not None:
                transport.abort()
            return response
        if fault == "429":
            return _envelope(
                web,
                429,
                "Too many requests",
                {"Retry-After": _retry_after_header(plan.retry_after), "X-Sandbox-Fault": "429"},
            )
        if fault == "500":
            return _envelope(web, 500, "Internal server error", {"X-Sandbox-Fault": "500"})
        return await _drop(request)

    return faults


def _envelope(web: Any, status: int, message: str, headers: dict[str, str]) -> web.Response:
    body = json.dumps({"statusCode": status, "message": message}, separators=(",", ":"))
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)


async def _drop(request: web.Request) -> web.StreamResponse:
    from aiohttp import web

    # Read the body first: closing a socket with unread input makes the kernel send RST, and the client would
    # see "connection reset" instead of the clean "server disconnected" a real dropped proxy connection gives.
    from .http import read_body

    try:
        await read_body(request)
    except Exception:  # noqa: BLE001 - the body does not matter, only that it has been consumed
        pass
    transport = request.transport
    if transport is not None:
        # abort() closes at once without writing anything; aiohttp then fails to send the response below,
        # treats that as a premature client disconnect and stays quiet.
        transport.abort()
    return web.Response(status=500, text="")
