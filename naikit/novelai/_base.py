"""The typed core every area of the NovelAI client builds on: :class:`ClientCore`.

:class:`~naikit.novelai.client.AsyncNovelAI` is composed of area mixins (account, raw objects, keystore,
content, stories, text, GLM text, image, modules, voice). Each of them inherits from ``ClientCore``, which
holds, with their real types, what they all use: the transport, the validation switch (``validate`` and
``_check``), readiness and login state (``_ensure_ready``, ``_call``, the token and the pending
credentials), the embedded sandbox, the secrets to mask, and the account's encryption key (the
candidates derived from email and password, or a key given) with the backup folder named after it.

Credentials are resolved on the first call that needs them, in this order: what the constructor or a
``login*`` method was given; ``NAI_TOKEN``; ``NAI_USERNAME`` + ``NAI_PASSWORD``; otherwise the embedded
offline sandbox with its demo account (announced once, in one line). Hosts: ``hosts=``/``base_url=``;
else ``NAI_BASE_URL`` (one URL for all three hosts, what ``naikit lab`` sets) or ``NAI_API_BASE`` /
``NAI_IMAGE_BASE`` / ``NAI_TEXT_BASE``; else NovelAI's real hosts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Protocol

from .._once import OnceGate
from .._secret import Secret
from .._settings import Hosts, RetryPolicy, Timeouts
from .._shapes import check
from .._transport import Transport
from .._validate import check_path
from .._wire import redact
from ..errors import (
    AccessKeyRejected,
    APIError,
    AuthError,
    CredentialsError,
    InputError,
    TokenExpired,
    TokenRejected,
)
from . import shapes
from .auth import EmailCase, Token, access_key, check_access_key

__all__ = ["ClientCore"]

#: Credentials known but not used yet: a token, an email with its password, or an access key.
Pending = (
    tuple[Literal["token"], Token]
    | tuple[Literal["password"], tuple[str, Secret]]
    | tuple[Literal["key"], Secret]
)


class _Server(Protocol):
    """The embedded sandbox as the client sees it (its type lives beside the clients, not under them)."""

    @property
    def url(self) -> str: ...


class ClientCore:
    """The state and request helpers shared by every area of the NovelAI client (see the module docs).

    Construct with any one of: ``token`` (a login JWT or a ``pst-`` persistent token), ``email`` +
    ``password``, ``access_key``; or nothing, to use the environment or, failing that, the offline
    sandbox. ``validate`` (default True) checks every response against the documented shapes and raises
    ResponseShapeError naming the field that differs. ``sandbox``: None = automatic, True = always the
    embedded sandbox, False = never.
    """

    def __init__(
        self,
        token: str | Secret | None = None,
        *,
        email: str | None = None,
        password: str | Secret | None = None,
        access_key: str | Secret | None = None,
        base_url: str | None = None,
        hosts: Hosts | None = None,
        sandbox: bool | None = None,
        validate: bool = True,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        email_case: EmailCase = "lower",
        max_concurrent_generations: int = 1,
    ):
        # From here on every secret is a Secret: frame locals and attributes show <hidden>.
        password, access_key, token = Secret.wrap(password), Secret.wrap(access_key), Secret.wrap(token)
        if base_url is not None and hosts is not None:
            raise InputError("base_url", base_url, "either base_url or hosts, not both")
        if (email is None) != (password is None):
            raise CredentialsError("password" if email else "email", None, "email and password together")
        given = sum(x is not None for x in (token, email, access_key))
        if given > 1:
            raise CredentialsError("token", "<hidden>", "only one of token, email+password, access_key")
        self._explicit_hosts = hosts or (Hosts.single(base_url) if base_url is not None else None)
        self._token_arg = Token(token.reveal()) if token is not None else None
        if access_key is not None:
            check_access_key(access_key)
        self._pending: Pending | None = None
        if self._token_arg is not None:
            self._pending = ("token", self._token_arg)
        elif email is not None and password is not None:
            self._pending = ("password", (email, password))
        elif access_key is not None:
            self._pending = ("key", access_key)
        self._secrets: list[Secret | str] = [s for s in (password, access_key, token) if s]
        self.sandbox_mode = sandbox
        self.validate = validate
        self.email_case: EmailCase = email_case
        # A token given up front is visible at once (``client.token``); its expiry is checked on use.
        self._token: Token | None = self._token_arg
        self._ready = False
        self._ready_gate = OnceGate()
        self._sandbox: _Server | None = None
        hosts_now = self._explicit_hosts or _hosts_from_env() or Hosts()
        self.transport = Transport(
            hosts_now,
            retry=retry,
            timeouts=timeouts,
            max_concurrent_generations=max_concurrent_generations,
            error_mapper=self._map_error,
        )
        if self._token_arg is not None:
            self.transport.set_token(self._token_arg.value)
        # the encryption key: one given (set_encryption_key), or derived from credentials given to unlock()
        # (else from the login's), each derivation kept; and the key that last opened the keystore
        self._explicit_keys: list[tuple[str, bytes]] | None = None
        self._unlock_creds: tuple[str, Secret] | None = None
        self._derived_keys: dict[tuple[str, EmailCase], bytes] = {}
        self._opened_key: bytes | None = None
        self._backup_base: Path | None = None

    # -- representation ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        state = f"token={self._token.kind}" if self._token else "not logged in"
        where = "sandbox" if self._sandbox is not None else self.transport.hosts.api
        return f"{type(self).__name__}({where}, {state})"

    @property
    def hosts(self) -> Hosts:
        """Return the hosts this client talks to."""
        return self.transport.hosts

    @property
    def token(self) -> Token | None:
        """Return the current Bearer token (its value hidden in repr), or None before login."""
        return self._token

    @property
    def stats(self) -> dict[str, int]:
        """Return counts of requests, attempts and retries per reason since the client was made."""
        return dict(self.transport.stats)

    @property
    def is_sandbox(self) -> bool:
        """Return True when this client talks to the embedded offline sandbox."""
        return self._sandbox is not None

    # -- lifecycle ---------------------------------------------------------------------------------
    async def close(self) -> None:
        """Close the HTTP session; returns None. The client can be used again afterwards."""
        await self.transport.close()

    # -- credentials -------------------------------------------------------------------------------
    def _map_error(self, err: APIError, url: str) -> APIError:
        """Turn a 401 into the precise auth error (rejected key vs expired or rejected token)."""
        if err.status != 401 or not isinstance(err, AuthError):
            return err
        kw = dict(url=err.url, body=err.body)
        if url.endswith("/user/login"):
            return AccessKeyRejected(
                401,
                err.message,
                hint="the access key was rejected: check email and password (naikit lower-cases the email "
                "by default; try email_case='verbatim' for an account made by a tool that did not)",
                **kw,
            )
        tok = self._token
        expired = tok is not None and tok.expires_at is not None and "expired" in err.message.lower()
        try:
            if tok is not None:
                tok.check_not_expired()
        except CredentialsError:
            expired = True
        if expired:
            return TokenExpired(401, err.message, hint="the access token expired: log in again", **kw)
        return TokenRejected(
            401,
            err.message,
            hint="the token was not accepted (revoked, mistyped, or for another service): log in again "
            "or create a new persistent token",
            **kw,
        )

    async def _ensure_ready(self) -> None:
        """Resolve hosts and credentials once (login if needed); returns None."""
        if self._ready:  # every call after the first: no gate to enter
            return
        await self._ready_gate.run(lambda: self._ready, self._resolve_ready)

    async def _resolve_ready(self) -> None:
        """Resolve the credentials now (under the gate of :meth:`_ensure_ready`); returns None."""
        pending = self._pending
        if pending is None and self.sandbox_mode is not True:
            pending = _credentials_from_env()
        if (
            pending is None
            and self.sandbox_mode is not False
            and (self.sandbox_mode is True or (self._explicit_hosts is None and _hosts_from_env() is None))
        ):
            await self._use_sandbox()
            return
        if pending is None:
            raise CredentialsError(
                "credentials",
                None,
                "a token, email+password or access key",
                "Pass them to the client, call login(...), or set NAI_TOKEN or NAI_USERNAME and "
                "NAI_PASSWORD.",
            )
        await self._login_pending(pending)

    async def _use_sandbox(self) -> None:
        if self._sandbox is None:
            await self._start_sandbox()
        email, password = _demo_credentials()
        await self._login_pending(("password", (email, password)))

    async def _login_pending(self, pending: Pending) -> None:
        if pending[0] == "token":
            self._set_token(pending[1])
        elif pending[0] == "key":
            await self._login_key(pending[1])
        else:
            email, password = pending[1]
            await self._login_key(Secret(access_key(email, password, email_case=self.email_case)))
        self._ready = True

    def _set_token(self, token: Token) -> None:
        token.check_not_expired()
        self._token = token
        self.transport.set_token(token.value)
        self._ready = True

    async def _login_key(self, key: str | Secret) -> Token:
        key = Secret(check_access_key(key))
        resp = await self.transport.request("POST", "api", "/user/login", json={"key": key}, auth=False)
        token = Token(self._check(resp.body, shapes.ACCESS_TOKEN, "POST /user/login")["accessToken"])
        self._set_token(token)
        return token

    async def login(self, email: str, password: str | Secret) -> Token:
        """Log in with email and password; return the access token (also kept for later calls).

        The access key is derived locally (Argon2, spec §1.3); the password never leaves the machine.
        """
        password = Secret(password)
        key = Secret(access_key(email, password, email_case=self.email_case))
        # Kept as email+password (not just the key) so the content methods can derive the encryption key.
        self._pending = ("password", (email, password))
        self._secrets += [password, key]
        no_hosts_chosen = self._explicit_hosts is None and _hosts_from_env() is None
        if self._sandbox is None and self.sandbox_mode is True:
            await self._ensure_hosts_only()
        elif self._sandbox is None and no_hosts_chosen:
            # Real credentials given before any call: talk to NovelAI, not the sandbox.
            self.sandbox_mode = False
        return await self._login_key(key)

    async def login_with_key(self, access_key: str | Secret) -> Token:
        """Log in with a precomputed 64-character access key; return the access token."""
        access_key = Secret(check_access_key(access_key))
        self._secrets.append(access_key)
        self._pending = ("key", access_key)
        if self._sandbox is None and self.sandbox_mode is True:
            await self._ensure_hosts_only()
        return await self._login_key(access_key)

    async def login_with_token(self, token: str | Secret) -> Token:
        """Use a login JWT or a ``pst-`` persistent token (no request is made); return it as a Token."""
        token = Secret(token)
        tok = Token(token.reveal())
        self._secrets.append(token)
        self._pending = ("token", tok)
        self._set_token(tok)
        return tok

    # -- request helpers ---------------------------------------------------------------------------
    def _check(self, body: Any, shape: Any, what: str) -> Any:
        """Return ``body``, checked against ``shape`` when ``validate`` is on (ResponseShapeError if not)."""
        return check(body, shape, what) if self.validate else body

    async def _call(self, method: str, path: str, *, host: str = "api", auth: bool = True, **kw: Any) -> Any:
        """Send one request (logging in first when ``auth``); return the parsed body."""
        if auth:
            if not self._ready:  # (what _ensure_ready checks first: no coroutine for it once ready)
                await self._ensure_ready()
        else:
            await self._ensure_hosts_only()
        resp = await self.transport.request(method, host, path, auth=auth, **kw)
        return resp.body

    async def _ensure_hosts_only(self) -> None:
        """For unauthenticated calls: start the sandbox if that is where this client will talk."""
        if self._sandbox is not None:
            return
        automatic = (
            self.sandbox_mode is None
            and not self._ready
            and self._pending is None
            and self._explicit_hosts is None
            and _hosts_from_env() is None
            and _credentials_from_env() is None
        )
        if self.sandbox_mode is True or automatic:
            await self._start_sandbox()

    async def _start_sandbox(self) -> None:
        from .._embedded import start_embedded

        email, _ = _demo_credentials()
        server = await start_embedded(
            "novelai",
            "no NovelAI credentials in the environment; using the offline sandbox at {url} "
            f"(demo account {email})",
        )
        self._sandbox = server
        self.transport.hosts = Hosts.single(server.url)

    # -- the encryption key ----------------------------------------------------------------------------
    async def set_encryption_key(self, key: bytes) -> None:
        """Use this 32-byte key to open the keystore (instead of deriving it from email and password)."""
        if not isinstance(key, (bytes, bytearray)) or len(key) != 32:
            n = len(key) if isinstance(key, (bytes, bytearray)) else type(key).__name__
            raise CredentialsError("key", f"<{n} bytes>", "the 32-byte encryption key")
        self._explicit_keys = [("the encryption key given", bytes(key))]

    def _credentials(self) -> tuple[str, str | Secret] | None:
        """Return the (email, password) the encryption key derives from, or None when none is known."""
        if self._unlock_creds is not None:
            return self._unlock_creds
        pending = self._pending
        if pending is not None and pending[0] == "password":
            return pending[1]
        if self._sandbox is not None and pending is None:
            return _demo_credentials()
        if pending is None and self.sandbox_mode is not True:
            env = _credentials_from_env()
            if env is not None and env[0] == "password":
                return env[1]
        return None

    def _key_candidates(self) -> list[tuple[str, bytes]]:
        """Return (label, key) for every key to try on the keystore: the one given, else the key derived
        from the email lower-cased and as typed (this client's ``email_case`` first)."""
        if self._explicit_keys:
            return self._explicit_keys
        creds = self._credentials()
        if creds is None:
            raise CredentialsError(
                "password",
                None,
                "the account's email and password",
                "The keystore is encrypted with a key derived from email and password; a token alone "
                "cannot open it. Call unlock(email, password) or set NAI_USERNAME and NAI_PASSWORD.",
            )
        from .auth import encryption_key

        email, password = creds
        first = self.email_case
        out: list[tuple[str, bytes]] = []
        cases: tuple[EmailCase, EmailCase] = (first, "verbatim" if first == "lower" else "lower")
        for case in dict.fromkeys(cases):
            cache_key = (email, case)
            if cache_key not in self._derived_keys:
                self._derived_keys[cache_key] = encryption_key(email, password, email_case=case)
            k = self._derived_keys[cache_key]
            label = (
                "the key from the email lower-cased" if case == "lower" else "the key from the email as typed"
            )
            if all(k != k2 for _, k2 in out):
                out.append((label, k))
        return out

    def _account_key(self) -> bytes:
        """Return the key that opened (or will encrypt) the keystore."""
        opened = self._opened_key
        return opened if opened is not None else self._key_candidates()[0][1]

    def _fingerprint(self) -> str:
        from .backup import account_fingerprint

        creds = self._credentials()
        token = self._token
        return account_fingerprint(creds[0] if creds else None, token.value if token else None)

    # -- backups --------------------------------------------------------------------------------------
    @property
    def backup_dir(self) -> Path:
        """Return the folder that holds this account's backups (``~/.naikit/backups/<fingerprint>``)."""
        from .backup import backup_root

        base = self._backup_base or backup_root()
        return Path(base) / self._fingerprint()

    async def set_backup_dir(self, path: str | Path) -> Path:
        """Keep backups (full and before-overwrite) under ``path`` instead of ``~/.naikit/backups``;
        return the account's folder there."""
        self._backup_base = Path(check_path(path)).expanduser()
        return self.backup_dir

    def _redact(self, text: str) -> str:
        """Return ``text`` with every secret this client holds masked."""
        tok = self._token.value if self._token else None
        return redact(text, tok, *self._secrets)


def _demo_credentials() -> tuple[str, Secret]:
    """Return the embedded sandbox's demo account (email, password); the one place the client reads it."""
    from .._embedded import DEMO_EMAIL, DEMO_PASSWORD

    return DEMO_EMAIL, Secret(DEMO_PASSWORD)


def _hosts_from_env() -> Hosts | None:
    base = os.environ.get("NAI_BASE_URL")
    if base:
        return Hosts.single(base)
    api, image, text = (os.environ.get(k) for k in ("NAI_API_BASE", "NAI_IMAGE_BASE", "NAI_TEXT_BASE"))
    if api or image or text:
        d = Hosts()
        return Hosts(api=api or d.api, image=image or d.image, text=text or d.text)
    return None


def _credentials_from_env() -> Pending | None:
    token = os.environ.get("NAI_TOKEN")
    if token:
        return ("token", Token(token))
    user, pw = os.environ.get("NAI_USERNAME"), Secret.wrap(os.environ.get("NAI_PASSWORD"))
    if user and pw:
        return ("password", (user, pw))
    if user or pw:
        raise CredentialsError(
            "NAI_PASSWORD" if user else "NAI_USERNAME", None, "both NAI_USERNAME and NAI_PASSWORD set"
        )
    return None
