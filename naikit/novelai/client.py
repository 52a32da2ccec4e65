"""NovelAI clients: :class:`AsyncNovelAI` (the core) and :class:`NovelAI` (same methods, blocking).

Credentials are resolved on the first call that needs them, in this order: what the constructor or a
``login*`` method was given; ``NAI_TOKEN``; ``NAI_USERNAME`` + ``NAI_PASSWORD``; otherwise the embedded
offline sandbox with its demo account (announced once, in one line). Hosts: ``hosts=``/``base_url=``;
else ``NAI_BASE_URL`` (one URL for all three hosts, what ``naikit lab`` sets) or ``NAI_API_BASE`` /
``NAI_IMAGE_BASE`` / ``NAI_TEXT_BASE``; else NovelAI's real hosts.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
from typing import TYPE_CHECKING, Any

from .. import _runner
from .._decode import json_or
from .._outcome import server_finished
from .._secret import Secret, reveal
from .._settings import Hosts, RetryPolicy, Timeouts
from .._transport import Transport
from .._validate import check_bool, check_text, check_wire_json, check_wire_text
from .._wire import redact
from ..errors import (
    AccessKeyRejected,
    APIError,
    AuthError,
    CredentialsError,
    InputError,
    OutcomeUnknown,
    TokenExpired,
    TokenRejected,
    UnsafeWrite,
    WrongKey,
)
from . import shapes
from ._blocking import BlockingMethods
from .account import (
    OBJECT_TYPES,
    AccountInformation,
    ObjectList,
    Priority,
    Subscription,
    UserAccountData,
    UserObject,
    check_object_id,
)
from .auth import EmailCase, Token, access_key, check_access_key, check_email, hashed_email
from .content import ContentAPI
from .image import ImageAPI
from .modules import ModulesAPI
from .oa import OAAPI
from .text import TextAPI
from .voice import VoiceAPI

__all__ = ["AsyncNovelAI", "NovelAI"]


def _check_type(object_type: str) -> str:
    if not isinstance(object_type, str) or object_type not in OBJECT_TYPES:
        raise InputError("object_type", object_type, "one of " + ", ".join(OBJECT_TYPES))
    return object_type


_check_id = check_object_id


def _check_meta(meta: str) -> str:
    if not isinstance(meta, str):
        raise InputError("meta", meta, "a string of at most 128 characters")
    if len(meta) > 128:
        raise InputError("meta", meta, f"a string of at most 128 characters (this one has {len(meta)})")
    check_wire_text(meta, "meta")  # before any request (a safety backup reads first)
    return meta


def _check_data(data: str) -> str:
    if not isinstance(data, str) or not data:
        raise InputError(
            "data",
            data if not isinstance(data, str) else "''",
            "a non-empty string (base64 of the encrypted or compressed object, or JSON text)",
        )
    check_wire_text(data, "data")  # before any request (a safety backup reads first)
    return data


def _check_keystore_b64(keystore: str) -> str:
    allowed = "base64 of the keystore JSON {version, nonce[24], sdata}"
    if not isinstance(keystore, str) or not keystore:
        raise InputError(
            "keystore",
            keystore,
            allowed,
            "Uploading an empty keystore would make every encrypted story unreadable; refused.",
        )
    try:
        raw = base64.b64decode(keystore, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    doc = json_or(raw) if raw else None
    if doc is None:
        raise InputError("keystore", keystore, allowed, "It does not decode as base64 JSON.")
    nonce = doc.get("nonce") if isinstance(doc, dict) else None
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("version"), int)
        or not isinstance(nonce, list)
        or len(nonce) != 24
        or not all(isinstance(b, int) and 0 <= b < 256 for b in nonce)
        or not isinstance(doc.get("sdata"), (list, str))
    ):
        raise InputError("keystore", keystore, allowed, "The decoded JSON lacks one of those fields.")
    return keystore


class AsyncNovelAI(ContentAPI, TextAPI, OAAPI, ImageAPI, ModulesAPI, VoiceAPI):
    """Async client for NovelAI's REST API (account and content endpoints; generation comes later).

    Construct with any one of: ``token`` (a login JWT or a ``pst-`` persistent token), ``email`` +
    ``password``, ``access_key``; or nothing, to use the environment or, failing that, the offline
    sandbox. Use as ``async with AsyncNovelAI() as nai:`` or call :meth:`close` at the end.

    ``validate`` (default True) checks every response against the documented shapes and raises
    ResponseShapeError naming the field that differs. ``sandbox``: None = automatic, True = always
    the embedded sandbox, False = never.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        email: str | None = None,
        password: str | None = None,
        access_key: str | None = None,
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
        self._pending: tuple[str, Any] | None = (
            ("token", self._token_arg)
            if token is not None
            else ("password", (email, password))
            if email is not None
            else ("key", access_key)
            if access_key is not None
            else None
        )
        self._secrets: list[Secret | str] = [s for s in (password, access_key, token) if s]
        self.sandbox_mode = sandbox
        self.validate = validate
        self.email_case = email_case
        # A token given up front is visible at once (``client.token``); its expiry is checked on use.
        self._token: Token | None = self._token_arg
        self._ready = False
        self._ready_lock: asyncio.Lock | None = None
        self._sandbox = None
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
    async def __aenter__(self) -> AsyncNovelAI:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

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
        if self._ready:
            return
        if self._ready_lock is None:
            self._ready_lock = asyncio.Lock()
        async with self._ready_lock:
            if self._ready:
                return
            pending = self._pending
            if pending is None and self.sandbox_mode is not True:
                pending = _credentials_from_env()
            if (
                pending is None
                and self.sandbox_mode is not False
                and (
                    self.sandbox_mode is True or (self._explicit_hosts is None and _hosts_from_env() is None)
                )
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
        from .. import sandbox as sb

        if self._sandbox is None:
            await self._start_sandbox()
        await self._login_pending(("password", (sb.DEMO_EMAIL, sb.DEMO_PASSWORD)))

    async def _login_pending(self, pending: tuple[str, Any]) -> None:
        kind, value = pending
        if kind == "token":
            self._set_token(value)
        elif kind == "key":
            await self._login_key(value)
        else:
            email, password = value
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

    async def login(self, email: str, password: str) -> Token:
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

    async def login_with_key(self, access_key: str) -> Token:
        """Log in with a precomputed 64-character access key; return the access token."""
        access_key = Secret(check_access_key(access_key))
        self._secrets.append(access_key)
        self._pending = ("key", access_key)
        if self._sandbox is None and self.sandbox_mode is True:
            await self._ensure_hosts_only()
        return await self._login_key(access_key)

    async def login_with_token(self, token: str) -> Token:
        """Use a login JWT or a ``pst-`` persistent token (no request is made); return it as a Token."""
        token = Secret(token)
        tok = Token(token.reveal())
        self._secrets.append(token)
        self._pending = ("token", tok)
        self._set_token(tok)
        return tok

    # -- request helpers ---------------------------------------------------------------------------
    def _check(self, body: Any, shape: Any, what: str) -> Any:
        return shapes.check(body, shape, what) if self.validate else body

    async def _call(self, method: str, path: str, *, host: str = "api", auth: bool = True, **kw: Any) -> Any:
        if auth:
            await self._ensure_ready()
        else:
            await self._ensure_hosts_only()
        resp = await self.transport.request(method, host, path, auth=auth, **kw)
        return resp.body

    # -- account API (spec §3.1) -------------------------------------------------------------------
    async def is_reachable(self) -> bool:
        """Return True when the API host answers ``GET /`` with a success status."""
        try:
            await self._call("GET", "/", auth=False)
        except (APIError, OSError):
            return False
        except Exception as exc:  # TransportError after retries
            from ..errors import TransportError

            if isinstance(exc, TransportError):
                return False
            raise
        return True

    async def register(
        self,
        email: str,
        password: str,
        recaptcha: str,
        *,
        giftkey: str | None = None,
        send_email: bool = True,
    ) -> Token:
        """Create an account; return its access token (also kept for later calls).

        ``send_email`` sends the hashed email (SHA-256) so that verification and recovery work.
        """
        password = Secret(password)
        check_text(
            recaptcha, "recaptcha", allowed="the reCAPTCHA response token from the website", empty=False
        )
        check_bool(send_email, "send_email")
        check_text(giftkey, "giftkey", allowed="a gift key", none=True, empty=False)
        key = Secret(access_key(email, password, email_case=self.email_case))
        self._secrets += [password, key]
        body: dict[str, Any] = {"recapcha": recaptcha, "key": key}
        if send_email:
            body["email"] = hashed_email(email)
        if giftkey is not None:
            body["giftkey"] = giftkey
        for attempt in range(3):
            try:
                data = await self._call("POST", "/user/register", json=body, auth=False)
                break
            except OutcomeUnknown as exc:
                # The answer was lost: if the account exists now, its key logs in. Never register twice.
                try:
                    token = await self._login_key(key)
                except AccessKeyRejected:
                    if server_finished(exc) and attempt < 2:
                        continue  # the server answered with its own error and made no account: try again
                    raise exc.checked(
                        "the key does not log in yet; log in with this email and password in "
                        "a minute before registering again."
                    ) from None
                self.transport.stats["recovered"] += 1
                self._pending = ("password", (email, password))
                return token
        token = Token(self._check(data, shapes.ACCESS_TOKEN, "POST /user/register")["accessToken"])
        self._pending = ("password", (email, password))
        self._set_token(token)
        return token

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
        from ..sandbox import DEMO_EMAIL

        server = await start_embedded(
            "novelai",
            "no NovelAI credentials in the environment; using the offline sandbox at {url} "
            f"(demo account {DEMO_EMAIL})",
        )
        self._sandbox = server
        self.transport.hosts = Hosts.single(server.url)

    async def change_access_key(
        self,
        current_access_key: str,
        new_access_key: str,
        *,
        new_email: str | None = None,
        force: bool = False,
    ) -> Token:
        """Replace the account's access key (a new password or email); return the new access token.

        The keystore is encrypted with a key derived from the old email and password: changing them
        without re-encrypting it makes every story unreadable. So this refuses when the account has a
        keystore, unless ``force=True`` (you re-encrypted it yourself).
        """
        current_access_key = Secret(check_access_key(current_access_key, "current_access_key"))
        new_access_key = Secret(check_access_key(new_access_key, "new_access_key"))
        self._secrets += [current_access_key, new_access_key]
        has_keystore = await self.keystore_raw() is not None
        if not force and has_keystore:
            raise InputError(
                "force",
                False,
                "True, after re-encrypting the keystore with the new credentials",
                "This account has an encrypted keystore; a new access key without a re-encrypted "
                "keystore would lose access to all encrypted content.",
            )
        if has_keystore:
            # everything as it is now, still readable with the old password
            await self._backup_before("change-access-key")
        body: dict[str, Any] = {"currentAccessKey": current_access_key, "newAccessKey": new_access_key}
        if new_email is not None:
            body["newEmail"] = hashed_email(new_email)
        data = await self._call("POST", "/user/change-access-key", json=body)
        token = Token(self._check(data, shapes.ACCESS_TOKEN, "POST /user/change-access-key")["accessToken"])
        self._pending = ("key", new_access_key)
        self._set_token(token)
        return token

    async def resend_email_verification(self, email: str) -> bool:
        """Ask for a new verification email; return True when the server accepted."""
        check_email(email)
        await self._call("POST", "/user/resend-email-verification", json={"email": email}, auth=False)
        return True

    async def verify_email(self, verification_token: str) -> bool:
        """Confirm the email with the 64-character token from the verification mail; return True."""
        verification_token = Secret(verification_token)
        if not isinstance(reveal(verification_token), str) or len(reveal(verification_token)) != 64:
            raise InputError(
                "verification_token", verification_token, "the 64-character token from the email"
            )
        await self._call(
            "POST", "/user/verify-email", json={"verificationToken": verification_token}, auth=False
        )
        return True

    async def information(self) -> AccountInformation:
        """Return the account's verification/trial state (``GET /user/information``)."""
        data = await self._call("GET", "/user/information")
        return AccountInformation.from_json(
            self._check(data, shapes.ACCOUNT_INFORMATION, "GET /user/information")
        )

    async def request_account_recovery(self, email: str) -> bool:
        """Ask for a recovery email (``POST /user/recovery/request``, 202); return True."""
        check_email(email)
        await self._call("POST", "/user/recovery/request", json={"email": email}, auth=False)
        return True

    async def recover_account(
        self,
        recovery_token: str,
        email: str,
        new_password: str,
        *,
        delete_content: bool = False,
        backup: bool = True,
    ) -> Token:
        """Set new credentials with a recovery token; return the new access token.

        ``delete_content=True`` wipes the account's stories (the keystore cannot be decrypted with a
        new password anyway); False keeps them for when the old password is found again. Before a wipe the
        whole account is first downloaded to a local backup (still encrypted: readable again if the old
        password turns up), which needs this client to be logged in; a client that is not is refused unless
        ``backup=False``.
        """
        check_bool(backup, "backup")
        recovery_token, new_password = Secret(recovery_token), Secret(new_password)
        if not isinstance(reveal(recovery_token), str) or len(reveal(recovery_token)) < 16:
            raise InputError(
                "recovery_token", recovery_token, "the token from the recovery email (16+ chars)"
            )
        if not isinstance(delete_content, bool):
            raise InputError("delete_content", delete_content, "True or False")
        if delete_content and backup:
            if not self.transport.has_token and self._pending is None:
                raise InputError(
                    "backup",
                    True,
                    "False to wipe without a local copy, or log in first so the content can be saved",
                    "delete_content=True deletes every story on the server and this client is not logged "
                    "in, so it cannot keep a local copy first.",
                )
            await self._backup_before("recover-delete-content")
        key = Secret(access_key(email, new_password, email_case=self.email_case))
        self._secrets += [new_password, key]
        body = {"recoveryToken": recovery_token, "newAccessKey": key, "deleteContent": delete_content}
        data = await self._call("POST", "/user/recovery/recover", json=body, auth=False)
        token = Token(self._check(data, shapes.ACCESS_TOKEN, "POST /user/recovery/recover")["accessToken"])
        self._pending = ("password", (email, new_password))
        self._set_token(token)
        return token

    async def delete_account(self, *, confirm: bool = False, backup: bool = True) -> bool:
        """Delete the account and everything in it; return True. Requires ``confirm=True``.

        The whole account (keystore and every object, still encrypted) is first downloaded to a local
        backup under :attr:`backup_dir` (``backup=False`` skips that).
        """
        check_bool(backup, "backup")
        if confirm is not True:
            raise InputError("confirm", confirm, "True", "Deleting an account cannot be undone.")
        if backup:
            await self._backup_before("delete-account")
        await self._call("POST", "/user/delete")
        return True

    async def _backup_before(self, what: str) -> None:
        """Download the whole account into a ``<stamp>-before-<what>`` folder (refusing on any failure)."""
        from .backup import _stamp, backup_account

        await backup_account(self, self.backup_dir / f"{_stamp()}-before-{what}", reason=f"before {what}")

    async def user_data(self) -> UserAccountData:
        """Return information, priority, subscription, keystore and settings in one record."""
        data = await self._call("GET", "/user/data")
        return UserAccountData.from_json(self._check(data, shapes.USER_ACCOUNT_DATA, "GET /user/data"))

    async def priority(self) -> Priority:
        """Return the legacy priority record (``GET /user/priority``)."""
        data = await self._call("GET", "/user/priority")
        return Priority.from_json(self._check(data, shapes.PRIORITY, "GET /user/priority"))

    async def subscription(self) -> Subscription:
        """Return tier, perks and Anlas (``GET /user/subscription``, served by the image host now)."""
        data = await self._call("GET", "/user/subscription", host="image")
        return Subscription.from_json(self._check(data, shapes.SUBSCRIPTION, "GET /user/subscription"))

    async def keystore_raw(self) -> str | None:
        """Return the keystore as the server stores it (base64 text), or None for a fresh account."""
        return (await self._keystore_indexed())[0]

    async def _keystore_indexed(self) -> tuple[str | None, int | None]:
        """Return (keystore text, its changeIndex or None when the server sends none)."""
        data = self._check(await self._call("GET", "/user/keystore"), shapes.KEYSTORE, "GET /user/keystore")
        index = data.get("changeIndex")
        ok = isinstance(index, int) and not isinstance(index, bool)
        return data["keystore"], index if ok else None

    async def set_keystore_raw(
        self, keystore: str, *, check: bool = True, change_index: int | None = None, backup: bool = True
    ) -> Any:
        """RAW keystore upload (base64 text); return the server's answer. Prefer :meth:`set_keystore`.

        Unlike :meth:`set_keystore` it does not compare keys with the server's (a key dropped or changed
        here makes stories unreadable). It does refuse an empty value or one that is not base64 of
        ``{version, nonce[24], sdata}``; with ``check=True`` (default) one that does not decrypt with this
        account's key (another account's keystore, garbage); it writes the server's current keystore to a
        local backup first (``backup=False`` skips that); ``change_index`` is sent as ``changeIndex`` so
        the server refuses (409) if the keystore changed since that index.
        """
        check_bool(check, "check")
        check_bool(backup, "backup")
        _check_keystore_b64(keystore)
        if check:
            from .crypto import Keystore

            try:
                Keystore.decrypt(keystore, self._key_candidates())
            except (WrongKey, ValueError) as exc:
                raise UnsafeWrite(
                    "keystore",
                    "<keystore>",
                    "a keystore that decrypts with this account's key (check=False skips this check)",
                    f"Refused: {exc}",
                ) from None
        if backup:
            from .backup import write_safety_backup

            current = await self.keystore_raw()
            if current is not None and current != keystore:
                await write_safety_backup(self, "keystore", keystore_raw=current)
        body: dict[str, Any] = {"keystore": keystore}
        if change_index is not None:
            body["changeIndex"] = int(change_index)
        return await self._call("PUT", "/user/keystore", json=body)

    async def list_objects(self, object_type: str) -> ObjectList:
        """Return all objects of ``object_type`` (stories, storycontent, presets, aimodules, shelf)."""
        _check_type(object_type)
        data = await self._call("GET", f"/user/objects/{object_type}")
        data = self._check(data, shapes.OBJECT_LIST, f"GET /user/objects/{object_type}")
        return ObjectList(object_type, tuple(UserObject.from_json(o) for o in data["objects"]))

    async def get_object(self, object_type: str, object_id: str) -> UserObject:
        """Return one stored object."""
        _check_type(object_type)
        _check_id(object_id)
        data = await self._call("GET", f"/user/objects/{object_type}/{object_id}")
        return UserObject.from_json(self._check(data, shapes.USER_DATA, "GET /user/objects/{type}/{id}"))

    async def create_object(self, object_type: str, meta: str, data: str) -> UserObject:
        """RAW: store a new object, ``data`` unchecked; return it as saved. Prefer ``create_content``.

        Never sent twice: when the answer is lost after sending (5xx, 52x, dropped), naikit lists the
        objects and returns the one with this meta and data if the server stored it, else raises
        OutcomeUnknown saying what to check.
        """
        _check_type(object_type)
        _check_meta(meta)
        _check_data(data)
        try:
            body = await self._call("PUT", f"/user/objects/{object_type}", json={"meta": meta, "data": data})
        except OutcomeUnknown as exc:
            return await self._recover_created(exc, object_type, meta, data)
        return UserObject.from_json(self._check(body, shapes.USER_DATA, "PUT /user/objects/{type}"))

    async def _recover_created(
        self, exc: OutcomeUnknown, object_type: str, meta: str, data: str
    ) -> UserObject:
        """Return the object a create whose answer was lost stored (found by meta and data), or raise."""
        listing = await self.list_objects(object_type)
        found = [o for o in listing if o.meta == meta and o.data == data]
        if found:
            self.transport.stats["recovered"] += 1
            # the newest match is the one just stored (an older twin, if any, was there before)
            return max(found, key=_recency)
        raise exc.checked(
            f"list_objects({object_type!r}) shows no object with this meta and data yet; "
            "the server may still be storing it, so look again before repeating."
        ) from None

    async def update_object(
        self,
        object_type: str,
        object_id: str,
        meta: str,
        data: str,
        *,
        change_index: int | None = None,
        backup: bool = True,
    ) -> UserObject:
        """RAW overwrite of an object's meta and data; return the updated object. Prefer ``save_content``.

        ``data`` is sent as given, NOT checked: garbage makes the object unreadable. The server's current
        copy is written to a local backup first (``backup=False`` skips that). ``change_index`` (the index
        you last read) is sent as ``changeIndex``: the server then refuses (409 Conflict) if another client
        saved in between; without it, a concurrent edit is silently overwritten.
        """
        check_bool(backup, "backup")
        _check_type(object_type)
        _check_id(object_id)
        _check_meta(meta)
        _check_data(data)
        if change_index is not None and (isinstance(change_index, bool) or not isinstance(change_index, int)):
            raise InputError("change_index", change_index, "an integer (the object's changeIndex) or None")
        if backup:
            from .backup import write_safety_backup

            current = await self.get_object(object_type, object_id)
            await write_safety_backup(self, f"{object_type}-{object_id}", objects=[current])
        payload: dict[str, Any] = {"meta": meta, "data": data}
        if change_index is not None:
            payload["changeIndex"] = change_index
        body = await self._call("PATCH", f"/user/objects/{object_type}/{object_id}", json=payload)
        return UserObject.from_json(self._check(body, shapes.USER_DATA, "PATCH /user/objects/{type}/{id}"))

    async def delete_object(self, object_type: str, object_id: str, *, backup: bool = True) -> UserObject:
        """Delete an object; return it as it was. ``delete_content`` is the same with a ContentObject.

        The server's copy is first written to a local backup under :attr:`backup_dir` (``backup=False``
        skips that), so a deleted story can be put back with ``restore``.
        """
        check_bool(backup, "backup")
        _check_type(object_type)
        _check_id(object_id)
        if backup:
            from .backup import write_safety_backup

            current = await self.get_object(object_type, object_id)
            await write_safety_backup(self, f"delete-{object_type}-{object_id}", objects=[current])
        body = await self._call("DELETE", f"/user/objects/{object_type}/{object_id}")
        return UserObject.from_json(self._check(body, shapes.USER_DATA, "DELETE /user/objects/{type}/{id}"))

    async def client_settings(self) -> Any:
        """Return the web app's settings blob: parsed JSON when it is JSON, else the text."""
        data = await self._call("GET", "/user/clientsettings")
        if isinstance(data, str):
            return json_or(data, data)
        return data

    async def set_client_settings(self, settings: str | dict, *, backup: bool = True) -> bool:
        """Replace the website's settings blob (a dict is sent as compact JSON text); return True.

        The current blob is first kept in a local backup (``clientsettings.json``; ``backup=False`` skips
        that): the website keeps all its settings there.
        """
        check_bool(backup, "backup")
        if isinstance(settings, dict):
            check_wire_json(settings, "settings")
            settings = json.dumps(settings, separators=(",", ":"), ensure_ascii=False)
        check_text(settings, "settings", allowed="a string or a dict")
        if backup:
            from .backup import write_safety_backup

            current = await self.client_settings()
            if current not in ("", None):
                await write_safety_backup(
                    self, "clientsettings", extras={"clientsettings.json": {"settings": current}}
                )
        await self._call(
            "PUT", "/user/clientsettings", data=settings.encode(), headers={"Content-Type": "text/plain"}
        )
        return True

    async def bind_subscription(self, payment_processor: str, subscription_id: str) -> bool:
        """Attach a payment-processor subscription to the account; return True."""
        for name, v in (("payment_processor", payment_processor), ("subscription_id", subscription_id)):
            if not isinstance(v, str) or not v:
                raise InputError(name, v, "a non-empty string")
        body = {"paymentProcessor": payment_processor, "subscriptionId": subscription_id}
        await self._call("POST", "/user/subscription/bind", json=body)
        return True

    async def change_subscription(self, new_plan: str) -> bool:
        """Switch to another subscription plan (e.g. ``"opus"``); return True."""
        if not isinstance(new_plan, str) or not new_plan:
            raise InputError("new_plan", new_plan, "a plan name such as 'tablet', 'scroll' or 'opus'")
        await self._call("POST", "/user/subscription/change", json={"newSubscriptionPlan": new_plan})
        return True

    def _redact(self, text: str) -> str:
        """Return ``text`` with every secret this client holds masked."""
        tok = self._token.value if self._token else None
        return redact(text, tok, *self._secrets)


def _hosts_from_env() -> Hosts | None:
    base = os.environ.get("NAI_BASE_URL")
    if base:
        return Hosts.single(base)
    api, image, text = (os.environ.get(k) for k in ("NAI_API_BASE", "NAI_IMAGE_BASE", "NAI_TEXT_BASE"))
    if api or image or text:
        d = Hosts()
        return Hosts(api=api or d.api, image=image or d.image, text=text or d.text)
    return None


def _credentials_from_env() -> tuple[str, Any] | None:
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


@_runner.sync_facade(AsyncNovelAI)
class NovelAI(BlockingMethods, _runner.SyncClient):
    """Blocking client with the same methods as :class:`AsyncNovelAI` and the same constructor.

    Each call runs on naikit's background event loop, so it works in scripts and inside a running
    Jupyter kernel (no global asyncio patching). Use ``with NovelAI() as nai:`` or call ``close()``.
    """

    if not TYPE_CHECKING:  # type checkers read the async client's parameters from _blocking.pyi

        def __init__(self, *args: Any, **kwargs: Any):
            args, kwargs = _runner.mask_secrets(AsyncNovelAI.__init__, args, kwargs)
            super().__init__(AsyncNovelAI(*args, **kwargs))

    @property
    def validate(self) -> bool:
        """Return whether responses are checked against the documented shapes."""
        return self._async.validate

    @validate.setter
    def validate(self, value: bool) -> None:
        self._async.validate = bool(value)


def _recency(o: UserObject) -> tuple[float, int]:
    return (o.last_updated_at.timestamp() if o.last_updated_at else 0.0, o.change_index)
