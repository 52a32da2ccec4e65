"""Access tokens of the sandbox: login JWTs, persistent ``pst-`` tokens, and the Bearer check.

A login token is a real HS256 JWT (``header.payload.signature``, base64url without padding): header
``{"alg":"HS256","typ":"JWT"}``, payload ``{"id": <account id>, "iat": …, "exp": iat + 30 days}`` stamped
from the sandbox clock. Its HMAC key is derived from the sandbox's signing secret, the account id and the
account's ``auth_epoch``, which a recovery or an access-key change increments: every token issued before is
then refused (401, "revoked"), with no change to the token's shape.

The signing secret is never in the SQLite store. An in-memory sandbox draws one per process; a file-backed
one keeps it in ``<data_dir>/jwt-secret`` (0600, beside the database), so its tokens survive a restart while
a copy of the database alone cannot mint tokens. Persistent tokens are ``pst-`` plus 64 random URL-safe
characters, stored hashed per account.

:func:`authenticate` is what every protected handler calls first; it answers 401 with NovelAI's error envelope
and says whether the token was missing, malformed, unknown, revoked or expired. No token is ever logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import web

    from .clock import Clock
    from .store import Account, Store

__all__ = ["TokenIssuer", "TokenError", "new_persistent_token", "authenticate", "TOKEN_LIFETIME"]

TOKEN_LIFETIME = 30 * 24 * 3600
SECRET_NAME = "jwt-secret"
_HEADER = {"alg": "HS256", "typ": "JWT"}


class TokenError(Exception):
    """A token that does not open an account; ``reason`` is "expired", "revoked", "unknown" or "malformed"."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _compact(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


def new_persistent_token() -> str:
    """Return a fresh persistent API token: ``pst-`` + 64 URL-safe characters."""
    return "pst-" + secrets.token_urlsafe(48)


class TokenIssuer:
    """Issues and checks the sandbox's login JWTs and persistent tokens against a store and a clock."""

    def __init__(self, store: Store, clock: Clock):
        self.store = store
        self.clock = clock
        self._secret = store.private_secret(SECRET_NAME)

    def __repr__(self) -> str:
        return "TokenIssuer(secret=<hidden>)"

    def _sign(self, account_id: str, epoch: int, signing_input: bytes) -> str:
        # one key per account and epoch: bumping the epoch revokes every token signed before
        key = hmac.new(self._secret, f"{account_id}:{epoch}".encode(), hashlib.sha256).digest()
        return _b64url(hmac.new(key, signing_input, hashlib.sha256).digest())

    def issue(self, account_id: str) -> str:
        """Return a login JWT for the account, valid 30 days from the sandbox clock's now."""
        account = self.store.account_by_id(account_id)
        if account is None:
            raise KeyError(account_id)
        iat = int(self.clock.now())
        payload = {"id": account_id, "iat": iat, "exp": iat + TOKEN_LIFETIME}
        signing_input = f"{_b64url(_compact(_HEADER))}.{_b64url(_compact(payload))}"
        return f"{signing_input}.{self._sign(account_id, account.auth_epoch, signing_input.encode('ascii'))}"

    def create_persistent(self, account_id: str) -> str:
        """Create, store (hashed) and return a new ``pst-`` token for the account."""
        token = new_persistent_token()
        self.store.add_persistent_token(account_id, token, created_at=int(self.clock.now()))
        return token

    def account_for(self, token: str) -> Account:
        """Return the account a JWT or ``pst-`` token opens; raise :class:`TokenError` otherwise."""
        if token.startswith("pst-"):
            account = self.store.account_for_persistent_token(token)
            if account is None:
                raise TokenError(
                    "unknown", "Unauthorized: unknown persistent token (revoked or never issued)"
                )
            return account
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError(
                "malformed",
                "Unauthorized: unknown access token (malformed: expected a JWT or a 'pst-' token)",
            )
        try:
            claims = json.loads(_unb64url(parts[1]))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise TokenError("malformed", "Unauthorized: unknown access token (malformed payload)") from None
        exp = claims.get("exp") if isinstance(claims, dict) else None
        account_id = claims.get("id") if isinstance(claims, dict) else None
        if not isinstance(exp, (int, float)) or not isinstance(account_id, str):
            raise TokenError("malformed", "Unauthorized: unknown access token (malformed payload)")
        # nothing in the payload is trusted before the signature matches
        account = self.store.account_by_id(account_id)
        if account is None:
            raise TokenError(
                "unknown",
                "Unauthorized: unknown access token (not issued by this server, or its account "
                "no longer exists)",
            )
        signing_input = f"{parts[0]}.{parts[1]}".encode("ascii", "replace")
        given = parts[2].encode("ascii", "replace")

        def signed_for(epoch: int) -> bool:
            expected = self._sign(account.id, epoch, signing_input).encode("ascii")
            return hmac.compare_digest(expected, given)

        if not signed_for(account.auth_epoch):
            if any(signed_for(epoch) for epoch in range(account.auth_epoch)):
                raise TokenError(
                    "revoked",
                    "Unauthorized: access token revoked (the account's access key changed or it "
                    "was recovered since it was issued); log in again",
                )
            raise TokenError("unknown", "Unauthorized: unknown access token (not issued by this server)")
        if exp <= self.clock.now():
            raise TokenError("expired", "Unauthorized: access token expired; log in again to get a new one")
        return account


def authenticate(request: web.Request) -> Account:
    """Return the account of the request's ``Authorization: Bearer`` token, or raise a 401 ApiError."""
    from .http import STATE, ApiError

    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if not header:
        raise ApiError(401, "Unauthorized: missing 'Authorization: Bearer <token>' header")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "Unauthorized: the Authorization header must be 'Bearer <token>'")
    try:
        return request.app[STATE].tokens.account_for(token)
    except TokenError as exc:
        raise ApiError(401, str(exc)) from None
