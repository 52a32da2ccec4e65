"""The account itself: registration, login recovery, access key and email, subscription and records.

``AccountAPI`` is an area of :class:`naikit.novelai.async_client.AsyncNovelAI` (spec §3.1, the ``/user`` calls
about the account rather than its stored objects). A call that would make stories unreadable or delete
them (a new access key, a recovery that wipes content, deleting the account) first downloads the whole
account into a local backup.
"""

from __future__ import annotations

from typing import Any

from .._outcome import server_finished
from .._secret import Secret, reveal
from .._validate import check_bool, check_text
from ..errors import AccessKeyRejected, APIError, InputError, OutcomeUnknown
from . import shapes
from .account import AccountInformation, Priority, Subscription, UserAccountData
from .auth import Token, access_key, check_access_key, check_email, hashed_email
from .objects_api import ObjectsAPI

__all__ = ["AccountAPI"]


class AccountAPI(ObjectsAPI):
    """Area: the account's own calls (register, recovery, keys, verification, subscription, records)."""

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
        password: str | Secret,
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

    async def change_access_key(
        self,
        current_access_key: str | Secret,
        new_access_key: str | Secret,
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

    async def verify_email(self, verification_token: str | Secret) -> bool:
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
        recovery_token: str | Secret,
        email: str,
        new_password: str | Secret,
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
