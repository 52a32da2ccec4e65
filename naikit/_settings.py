"""A client's connection settings: the NovelAI hosts (with the base-URL check), the retry policy and the
timeouts. Plain frozen dataclasses, so a notebook can build, compare and print them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .errors import InputError

if TYPE_CHECKING:
    import random

__all__ = ["RETRY_STATUSES", "Hosts", "RetryPolicy", "Timeouts", "check_base_url"]

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
