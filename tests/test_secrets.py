"""Secrets (password, access key, token) never show in repr/str, exceptions, tracebacks or logs."""

from __future__ import annotations

import io
import logging
import traceback

import pytest

from naikit import errors, sandbox
from naikit._transport import RetryPolicy
from naikit.novelai.auth import access_key
from naikit.novelai.client import AsyncNovelAI, NovelAI
from naikit.sandbox.faults import FaultPlan

PASSWORD = "correct-horse-battery-staple-42"
EMAIL = "secret-tester@naikit.dev"


def test_no_secret_anywhere(capsys):
    log_buf = io.StringIO()
    handler = logging.StreamHandler(log_buf)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    seen: list[str] = []

    def record(*objs):
        for o in objs:
            seen.append(repr(o))
            seen.append(str(o))
            if isinstance(o, BaseException):
                seen.append("".join(traceback.format_exception(o)))
                seen.append(repr(getattr(o, "body", None)))

    try:
        with sandbox.start(faults=FaultPlan(rate_500=0.3, rate_429=0.2, retry_after=0, seed=3)) as sb:
            c = NovelAI(base_url=sb.url, retry=RetryPolicy(attempts=20, backoff=0.001))
            tok = c.register(EMAIL, PASSWORD, "recaptcha-ok")
            pst = sb.create_persistent_token(EMAIL)
            record(c, c._async, c._async.transport, tok, c.token, c.subscription(), c.user_data())
            record(NovelAI(email=EMAIL, password=PASSWORD, base_url=sb.url))
            record(AsyncNovelAI(pst, base_url=sb.url))
            for bad in (
                lambda: NovelAI(base_url=sb.url, email=EMAIL, password=PASSWORD + "x").information(),
                lambda: NovelAI(pst + "zz", base_url=sb.url).information(),
                lambda: NovelAI(access_key(EMAIL, PASSWORD), base_url=sb.url),
                lambda: NovelAI(base_url=sb.url).login_with_key(access_key(EMAIL, PASSWORD)[:-3]),
                lambda: NovelAI(tok.value[:-10] + "." + "x", base_url=sb.url).information(),
                lambda: c.create_object("stories", "m" * 200, "x"),
                lambda: NovelAI(
                    pst, base_url="http://127.0.0.1:1", retry=RetryPolicy(attempts=2, backoff=0)
                ).information(),
            ):
                with pytest.raises(errors.NaikitError) as e:
                    bad()
                record(e.value)
            c.close()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    out = capsys.readouterr()
    corpus = "\n".join(seen) + log_buf.getvalue() + out.out + out.err
    assert "GET" in log_buf.getvalue() or "POST" in log_buf.getvalue(), "debug logging was captured"
    secrets = {
        "password": PASSWORD,
        "access key": access_key(EMAIL, PASSWORD),
        "access key prefix": access_key(EMAIL, PASSWORD)[:20],
        "jwt": tok.value,
        "jwt signature": tok.value.rsplit(".", 1)[1],
        "persistent token": pst,
        "persistent token body": pst[4:],
    }
    for name, value in secrets.items():
        assert value not in corpus, f"the {name} leaked"
