"""Response shapes of NovelAI's account API (spec §3.1); :mod:`naikit._shapes` holds the checker and
explains how a shape is written.
"""

from __future__ import annotations

from .._shapes import Number, check

__all__ = ["Number", "check", "ACCOUNT_INFORMATION", "PRIORITY", "SUBSCRIPTION", "USER_DATA"]


ACCOUNT_INFORMATION = {
    "emailVerified": bool,
    "emailVerificationLetterSent": bool,
    "trialActivated": bool,
    "trialActionsLeft": Number,
    "accountCreatedAt": Number,
    "trialImagesLeft?": Number,
}

PRIORITY = {"maxPriorityActions": Number, "nextRefillAt": Number, "taskPriority": Number}

SUBSCRIPTION = {
    "tier": int,
    "active": bool,
    "expiresAt": Number,
    "perks": {
        "maxPriorityActions": Number,
        "startPriority": Number,
        "contextTokens": Number,
        "unlimitedMaxPriority": bool,
        "moduleTrainingSteps": Number,
        "voiceGeneration?": bool,
        "imageGeneration?": bool,
        "unlimitedImageGeneration?": bool,
        "unlimitedImageGenerationLimits?": [{"resolution": Number, "maxPrompts": Number}],
    },
    "trainingStepsLeft": {"fixedTrainingStepsLeft": Number, "purchasedTrainingSteps": Number},
    "accountType?": int,
    "isGracePeriod?": bool,
    "paymentProcessorData?": (dict, None),
}

USER_DATA = {
    "id": str,
    "meta": str,
    "data": str,
    "lastUpdatedAt": Number,
    "changeIndex": Number,
    "type": str,
}

KEYSTORE = {"keystore": (str, None)}
OBJECT_LIST = {"objects": [USER_DATA]}
ACCESS_TOKEN = {"accessToken": str}

USER_ACCOUNT_DATA = {
    "priority": PRIORITY,
    "subscription": SUBSCRIPTION,
    "keystore": (KEYSTORE, str, None),
    "settings": (str, dict, None),
    "information": ACCOUNT_INFORMATION,
}
