"""Response shapes of NovelAI's account API (spec §3.1), derived from the record declarations.

Each record of :mod:`naikit.novelai.account` declares its wire fields once; the shapes here are computed
from those declarations (``Subscription.shape()`` and so on), so a field added to a record is checked
too. The shape language and its checker live in :mod:`naikit._shapes`; answers that have no record
(a login token, the keystore wrapper) keep a literal shape here.
"""

from __future__ import annotations

from .account import AccountInformation, Priority, Subscription, UserAccountData, UserObject

__all__ = [
    "ACCOUNT_INFORMATION",
    "PRIORITY",
    "SUBSCRIPTION",
    "USER_DATA",
    "USER_ACCOUNT_DATA",
    "KEYSTORE",
    "OBJECT_LIST",
    "ACCESS_TOKEN",
]

ACCOUNT_INFORMATION = AccountInformation.shape()
PRIORITY = Priority.shape()
SUBSCRIPTION = Subscription.shape()
USER_DATA = UserObject.shape()
USER_ACCOUNT_DATA = UserAccountData.shape()

KEYSTORE = {"keystore": (str, None)}
OBJECT_LIST = {"objects": [USER_DATA]}
ACCESS_TOKEN = {"accessToken": str}
