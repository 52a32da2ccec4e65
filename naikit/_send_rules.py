"""What may be sent twice: one table, for the whole package, of the endpoints that create or spend."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["SendRule", "SEND_RULES", "send_rule"]


@dataclass(frozen=True)
class SendRule:
    """Whether a request may be sent again after it failed once it had been sent.

    ``once`` requests create something or spend money: they are resent only when the server cannot have
    acted (a 429, or a connection that failed before the request went out); any later failure (5xx,
    Cloudflare 52x, a dropped connection, a timeout) raises OutcomeUnknown, whose ``check`` is this
    rule's ``check`` text. Other requests (reads, replacements, deletions) are retried on every
    retryable failure.
    """

    name: str
    once: bool
    check: str = ""


#: Every endpoint that creates or spends, with what to check when its outcome is unknown. One table for
#: the whole package: (method, path regex) -> rule; first match wins. The README's "Retries" section
#: lists the same rules.
SEND_RULES: tuple[tuple[str, str, SendRule], ...] = (
    (
        "PUT",
        r"/user/objects/[^/]+",
        SendRule(
            "create object",
            True,
            "list_objects(<type>) and look for an object with this meta (naikit does this itself for "
            "create_object and returns the object when it finds it)",
        ),
    ),
    (
        "POST",
        r"/ai/generate-image(-stream)?",
        SendRule(
            "image generation",
            True,
            "your Anlas balance (subscription().anlas): a drop means the image was drawn and paid for",
        ),
    ),
    (
        "POST",
        r"/ai/(augment-image|upscale|encode-vibe)",
        SendRule("paid image tool", True, "your Anlas balance (subscription().anlas)"),
    ),
    (
        "POST",
        r"/ai/generate(-stream)?",
        SendRule(
            "text generation",
            True,
            "a text generation stores nothing and costs no Anlas (a free trial counts it); repeat it",
        ),
    ),
    (
        "POST",
        r"/oa/v1/.*",
        SendRule("text generation (/oa/v1)", True, "nothing is stored; repeat it if you want"),
    ),
    ("POST", r"/ai/generate-voice", SendRule("text to speech", True, "repeat it if you want")),
    ("GET", r"/ai/generate-voice", SendRule("text to speech", True, "repeat it if you want")),
    (
        "POST",
        r"/ai/module/train",
        SendRule(
            "module training", True, "the module list (modules()): a new module in training means it started"
        ),
    ),
    (
        "POST",
        r"/ai/module/buy-training-steps",
        SendRule("buy training steps", True, "your training steps and Anlas (subscription())"),
    ),
    (
        "POST",
        r"/user/(register|subscription/.*|giftkey.*)",
        SendRule("account change", True, "your account (subscription()) before repeating"),
    ),
    (
        "POST",
        r"/v3/async/.*",
        SendRule(
            "Novita task",
            True,
            "your Novita credit balance (user()) and the task list in the Novita console; naikit compares "
            "the balance itself",
        ),
    ),
    (
        "POST",
        r"/v3/training/[^/]+",
        SendRule("Novita training", True, "training_tasks(): a task with this task_name means it started"),
    ),
    ("POST", r"/v3/assets/training_dataset", SendRule("Novita upload URL", False)),
    ("POST", r"/v3/[a-z0-9-]+", SendRule("Novita paid tool", True, "your Novita credit balance (user())")),
    ("POST", r"/user/login", SendRule("login", False)),
    ("POST", r"/ai/(annotate-image|generate-prompt)", SendRule("free tool", False)),
)
_SAFE = SendRule("read or replace", False)
_POST_DEFAULT = SendRule("unlisted POST", True, "the service's state before repeating it")


@functools.cache
def _compiled_rules() -> list[tuple[str, re.Pattern[str], SendRule]]:
    # compiled at the first request, not at import (sixteen patterns)
    return [(m, re.compile(rx + r"/?"), r) for m, rx, r in SEND_RULES]


@functools.lru_cache(maxsize=4096)  # every call asks; paths repeat (ids aside), the table never changes
def send_rule(method: str, path: str) -> SendRule:
    """Return the SendRule of ``method path`` (the table above; an unlisted POST counts as creating)."""
    method = method.upper()
    path = urlsplit(path).path
    for m, rx, rule in _compiled_rules():
        if m == method and rx.fullmatch(path):
            return rule
    return _POST_DEFAULT if method == "POST" else _SAFE
