"""NovelAI credentials: access key and encryption key derivation, token kinds and their local checks.

Derivation (spec §1.3): salt = BLAKE2b-16(password[:6] + email + domain); Argon2id(t=2, m=1953 KiB, p=1)
of the password; URL-safe base64 with padding. The access key is the first 64 characters of the
64-byte hash; the encryption key is BLAKE2b-32 of the 128-byte hash's base64 with '=' removed.

Email case: NovelAI's web app and ``novelai-python`` lower-case the email before deriving, the older
``novelai-api`` uses it as typed. naikit lower-cases by default (``email_case="lower"``) so that
"Me@Mail.com" and "me@mail.com" give the key the website gives; ``email_case="verbatim"`` keeps it as
typed for accounts created by a tool that did not. The password is never altered.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from dataclasses import dataclass
from typing import Literal

from .._decode import finite, json_or
from .._secret import Secret, reveal
from .._validate import has_lone_surrogate
from ..errors import CredentialsError, InputError

__all__ = [
    "access_key",
    "encryption_key",
    "hashed_email",
    "check_access_key",
    "check_email",
    "Token",
    "ACCESS_KEY_DOMAIN",
    "ENCRYPTION_KEY_DOMAIN",
]

ACCESS_KEY_DOMAIN = "novelai_data_access_key"
ENCRYPTION_KEY_DOMAIN = "novelai_data_encryption_key"
EmailCase = Literal["lower", "verbatim"]

_ACCESS_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{64}$")


def _shown_email(value: object) -> str:
    """Describe a rejected email without showing it: it may be the password, passed in the wrong place."""
    if not isinstance(value, str):
        return f"<{type(value).__name__}>"
    traits = ["no '@'" if "@" not in value else "an '@'"]
    if value != value.strip():
        traits.append("spaces around it")
    if not value.isprintable():
        traits.append("control characters")
    return f"<{len(value)} characters, {', '.join(traits)}>"


def check_email(email: object) -> str:
    """Return ``email`` if it looks like an address (an '@', no spaces around it, no control characters or
    lone surrogates, which UTF-8 cannot hash), else raise InputError.

    The error never shows the value: email and password swapped would print the password.
    """
    if (
        not isinstance(email, str)
        or "@" not in email
        or email.strip() != email
        or not email
        or not email.isprintable()
    ):
        raise InputError(
            "email",
            _shown_email(email),
            "an email address such as 'me@example.com' (no spaces or controls)",
            "The value is not shown in case it is the password: check that email and password are not "
            "swapped.",
        )
    return email


def _norm_email(email: str, email_case: EmailCase) -> str:
    check_email(email)
    if email_case == "lower":
        return email.lower()
    if email_case == "verbatim":
        return email
    raise InputError("email_case", email_case, "'lower' or 'verbatim'")


def _check_password(password: str | Secret) -> None:
    value = reveal(password)
    if not isinstance(value, str) or not value or has_lone_surrogate(value):
        # the value itself is never shown: it is a secret
        raise InputError("password", "<hidden>", "a non-empty string without lone surrogates (U+D800-U+DFFF)")


def argon_hash(email: str, password: str | Secret, size: int, domain: str) -> str:
    """Return NovelAI's Argon2id-derived value as URL-safe base64 text (with '=' padding).

    ``email`` is used exactly as given here; callers choose its case. ``password`` may be a Secret; it is
    revealed only inside the expressions that hash it, never kept in a local of its own.
    """
    from argon2.low_level import Type, hash_secret_raw  # heavy-ish; loaded on first use

    salt = hashlib.blake2b((reveal(password)[:6] + email + domain).encode("utf-8"), digest_size=16).digest()
    raw = hash_secret_raw(
        secret=reveal(password).encode("utf-8"),
        salt=salt,
        time_cost=2,
        memory_cost=int(2_000_000 / 1024),
        parallelism=1,
        hash_len=size,
        type=Type.ID,
    )
    return base64.urlsafe_b64encode(raw).decode("ascii")


def access_key(email: str, password: str | Secret, *, email_case: EmailCase = "lower") -> str:
    """Return the 64-character access key that ``/user/login`` expects for this email and password.

    ``password`` may be a :class:`naikit.Secret`.
    """
    _check_password(password)
    return argon_hash(_norm_email(email, email_case), password, 64, ACCESS_KEY_DOMAIN)[:64]


def encryption_key(email: str, password: str | Secret, *, email_case: EmailCase = "lower") -> bytes:
    """Return the 32-byte key (XSalsa20-Poly1305) that decrypts the account's keystore."""
    _check_password(password)
    text = argon_hash(_norm_email(email, email_case), password, 128, ENCRYPTION_KEY_DOMAIN)
    return hashlib.blake2b(text.replace("=", "").encode("utf-8"), digest_size=32).digest()


def hashed_email(email: str) -> str:
    """Return the lower-case hex SHA-256 of the lower-cased email, as registration sends it."""
    return hashlib.sha256(_norm_email(email, "lower").encode("utf-8")).hexdigest()


def check_access_key(key: str | Secret, field: str = "access_key") -> str | Secret:
    """Return ``key`` if it has the form of an access key (64 URL-safe base64 characters), else raise."""
    if not isinstance(reveal(key), str) or not _ACCESS_KEY_RE.match(reveal(key)):
        shown = f"<{len(reveal(key))} characters>" if isinstance(reveal(key), str) else key
        raise CredentialsError(
            field,
            shown,
            "64 characters of URL-safe base64 (A-Z a-z 0-9 - _)",
            "An access key is derived from email and password: naikit.novelai.auth.access_key(email, "
            "password) or `naikit access-key EMAIL PASSWORD`. It is not the access token (starts with "
            "'ey') nor a persistent token ('pst-').",
        )
    return key


def _utc(seconds: float) -> str:
    """Return ``seconds`` (unix time) as UTC text; a time no calendar holds (-1e300) as the number."""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):
        return f"{seconds:g} s after 1970"


@dataclass(frozen=True, repr=False)
class Token:
    """A Bearer token: a login JWT (``ey…``) or a persistent API token (``pst-…``).

    The value never shows in repr or str; ``kind`` and ``expires_at`` (JWT only) do.
    """

    value: str

    def __post_init__(self) -> None:
        # self.value, never a local copy: an error tracker records the locals of this frame.
        # A token travels in an HTTP header: printable ASCII only (no spaces, controls or lone surrogates).
        if (
            not isinstance(self.value, str)
            or not self.value
            or not self.value.isascii()
            or not self.value.isprintable()
            or " " in self.value
        ):
            raise CredentialsError("token", "<hidden>", "a JWT ('ey…') or a persistent token ('pst-…')")
        if self.value.startswith("pst-"):
            if len(self.value) < 8:
                raise CredentialsError("token", "pst-…", "a persistent token 'pst-' + at least 4 characters")
            return
        if self.value.startswith("ey"):
            if self._claims() is None:
                raise CredentialsError(
                    "token", "ey…", "a JWT of three dot-separated base64url parts", "The token is truncated?"
                )
            return
        if _ACCESS_KEY_RE.match(self.value):
            raise CredentialsError(
                "token",
                "<64-character access key>",
                "an access token ('ey…') or a persistent token ('pst-…')",
                "This looks like an access key: use login_with_key(access_key) instead.",
            )
        raise CredentialsError("token", "<hidden>", "a JWT ('ey…') or a persistent token ('pst-…')")

    @property
    def kind(self) -> str:
        """Return ``"persistent"`` for ``pst-`` tokens, ``"jwt"`` otherwise."""
        return "persistent" if self.value.startswith("pst-") else "jwt"

    def _claims(self) -> dict | None:
        parts = self.value.split(".")
        if len(parts) != 3:
            return None
        try:
            payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        except (ValueError, binascii.Error):
            return None
        claims = json_or(payload)  # None when it is not JSON (or nests absurdly deep)
        if not isinstance(claims, dict):
            return None
        if claims.get("exp") is not None and finite(claims["exp"]) is None:
            return None  # an expiry that is no number (NaN, 1e400, text): a malformed token
        return claims

    @property
    def expires_at(self) -> float | None:
        """Return the JWT's ``exp`` (unix seconds), or None for persistent tokens or JWTs without one."""
        if self.kind != "jwt":
            return None
        return finite((self._claims() or {}).get("exp"))  # None for NaN, 1e400, text

    def check_not_expired(self, now: float | None = None) -> None:
        """Raise CredentialsError if this JWT has expired; returns None otherwise."""
        exp = self.expires_at
        if exp is not None and exp <= (time.time() if now is None else now):
            raise CredentialsError(
                "token",
                f"<jwt expired at {_utc(exp)}>",
                "an unexpired token",
                "Login tokens last 30 days: log in again, or use a persistent token ('pst-').",
            )

    def __repr__(self) -> str:
        return f"Token(kind={self.kind!r}, value=<hidden>)"

    __str__ = __repr__
