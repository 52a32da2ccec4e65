"""The account's keystore, decrypted: reading it with the account key and writing it back safely.

``KeystoreAPI`` is an area of :class:`naikit.novelai.async_client.AsyncNovelAI`. :meth:`KeystoreAPI.keystore`
decrypts the keystore with the key derived from the account's email and password (spec §1.3; both email
cases are tried, and a wrong password raises :class:`~.crypto.WrongKey` listing every attempt).

:meth:`KeystoreAPI.set_keystore` is refused when what would be sent does not decrypt with the account key,
replaces a key, or drops a key that objects use or that another client added; the server's current
keystore is written to a timestamped local backup first, and the PUT carries the ``changeIndex`` last read
so a concurrent save by another client (409) becomes :class:`~naikit.errors.EditConflict`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._secret import Secret
from .._validate import check_bool
from ..errors import Conflict, EditConflict, InputError, UnsafeWrite, WrongKey
from .objects_api import ObjectsAPI

# the content and crypto modules load with the first call that needs them, not with the client (import
# time): each method imports what it uses; annotations name them for type checkers only
if TYPE_CHECKING:
    from .crypto import Keystore

__all__ = ["KeystoreAPI"]


class KeystoreAPI(ObjectsAPI):
    """Area: the decrypted keystore (unlock, read, safe write)."""

    async def unlock(self, email: str, password: str | Secret) -> Keystore:
        """Derive the encryption key from ``email`` and ``password``; return the keystore it opens.

        Needed when the client logged in with a token only (a token cannot decrypt anything).
        """
        from .auth import _check_password, _norm_email

        _norm_email(email, "verbatim")
        _check_password(password)
        password = Secret(password)  # kept masked (see README, Security)
        self._secrets.append(password)
        self._explicit_keys = None
        self._unlock_creds = (email, password)
        return await self.keystore()

    # -- keystore -----------------------------------------------------------------------------------
    async def keystore(self) -> Keystore:
        """Return the account's decrypted keystore.

        A fresh account (the server holds null) gives a keystore in state ``"missing"``; nothing is created
        on the server until you call :meth:`set_keystore`. Raises :class:`WrongKey` (listing each key tried)
        when the password or key is wrong.
        """
        from .crypto import Keystore

        raw = await self.keystore_raw()
        candidates = self._key_candidates()
        try:
            ks = Keystore.decrypt(raw, candidates)
        except ValueError as exc:
            raise WrongKey("the keystore", [f"it is malformed: {exc}"]) from None
        if ks.state == "ok":
            for _label, k in candidates:
                try:
                    Keystore.decrypt(raw, k)
                except WrongKey:
                    continue
                self._opened_key = k
                break
        else:
            self._opened_key = candidates[0][1]
        return ks

    async def set_keystore(self, keystore: Keystore, *, force: bool = False, backup: bool = True) -> Keystore:
        """Upload ``keystore`` after the safety checks; return it as read back from the server.

        Refused (:class:`UnsafeWrite`, nothing sent) when: what would be sent does not decrypt back to the
        same keys with the account key; a key of an existing meta would change; or a key on the server
        would be dropped that objects still use, that you did not remove yourself, or that was added since
        you read it. ``force=True`` skips only the drop checks. The server's current keystore is backed up
        locally first (``backup=False`` skips that).
        """
        from .crypto import Keystore

        check_bool(force, "force")
        check_bool(backup, "backup")
        if not isinstance(keystore, Keystore):
            raise InputError("keystore", keystore, "a Keystore (from nai.keystore())")
        key = self._account_key()
        new_raw = keystore.encrypt(key)
        try:
            check = Keystore.decrypt(new_raw, key)
        except (WrongKey, ValueError) as exc:
            raise UnsafeWrite(
                "keystore", "<keystore>", "a keystore that opens with the account key", str(exc)
            ) from None
        if check.keys_copy() != keystore.keys_copy():
            raise UnsafeWrite("keystore", "<keystore>", "a keystore that decrypts to its own keys")
        current_raw, index = await self._keystore_indexed()
        if current_raw == new_raw:
            return check
        if current_raw is not None:
            try:
                current = Keystore.decrypt(current_raw, self._key_candidates())
            except (WrongKey, ValueError) as exc:
                if not force:
                    raise UnsafeWrite(
                        "keystore",
                        "<keystore>",
                        "a keystore replacing one that opens with the account key",
                        f"The keystore on the server does not open ({exc}); replacing it could lose every "
                        "story. Pass force=True only if you are sure.",
                    ) from None
                current = Keystore()
            await self._check_keystore_drop(keystore, current, force)
        if backup:
            from .backup import write_safety_backup

            await write_safety_backup(self, "keystore", keystore_raw=current_raw)
        try:
            # changeIndex: the server refuses (409) if another client wrote the keystore since the read above
            await self.set_keystore_raw(new_raw, check=False, backup=False, change_index=index)
        except Conflict:
            raise EditConflict(
                "keystore",
                "<keystore>",
                "a keystore nobody else changed while it was being saved",
                "Another client saved the keystore at the same moment; nothing was written. Read it again "
                "(nai.keystore()), redo the change and save.",
            ) from None
        back = await self.keystore_raw()
        if back != new_raw:
            raise WrongKey("the keystore read back", ["the server holds different bytes than were sent"])
        self._opened_key = key
        return check

    async def _check_keystore_drop(self, new: Keystore, current: Keystore, force: bool) -> None:
        new_keys, cur_keys = new.keys_copy(), current.keys_copy()
        replaced = sorted(m for m in cur_keys if m in new_keys and new_keys[m] != cur_keys[m])
        if replaced:
            raise UnsafeWrite(
                "keystore",
                "<keystore>",
                "the same key for every meta already on the server",
                f"The key of {', '.join(replaced)} would change; its objects would become unreadable.",
            )
        dropped = sorted(m for m in cur_keys if m not in new_keys)
        if not dropped or force:
            return
        removed_here = set(new._original or {}) - set(new_keys)
        unknown = [m for m in dropped if m not in removed_here]
        if unknown:
            raise EditConflict(
                "keystore",
                "<keystore>",
                "a keystore holding every key on the server",
                f"{len(unknown)} key(s) on the server are not in this keystore ({', '.join(unknown[:5])}): "
                "another client added them after you read it. Read the keystore again and redo the change.",
            )
        used = await self._metas_in_use()
        in_use = [m for m in dropped if m in used]
        if in_use:
            raise UnsafeWrite(
                "keystore",
                "<keystore>",
                "a keystore that keeps every key objects use",
                f"Objects still use {', '.join(in_use[:5])}: delete them first, or they become unreadable.",
            )

    async def _metas_in_use(self) -> dict[str, list[str]]:
        from .content import ENCRYPTED_TYPES

        used: dict[str, list[str]] = {}
        for t in ENCRYPTED_TYPES:
            for o in await self.list_objects(t):
                used.setdefault(o.meta, []).append(f"{t}/{o.id}")
        return used
