"""Secrets (password, access key, token) never show in repr/str, exceptions, tracebacks or logs."""

from __future__ import annotations

import io
import logging
import traceback
from pathlib import Path

import pytest

from naikit import errors, sandbox
from naikit._settings import RetryPolicy
from naikit.novelai.async_client import AsyncNovelAI
from naikit.novelai.auth import access_key
from naikit.novelai.client import NovelAI
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


# ------------------------------------------------------------------- swapped credentials, frame locals


def _shown(exc: BaseException) -> str:
    """Everything an exception shows: str, repr, its value attribute and its formatted traceback."""
    return "\n".join(
        [str(exc), repr(exc), repr(getattr(exc, "value", None)), "".join(traceback.format_exception(exc))]
    )


def test_swapped_email_and_password_never_show_the_password():
    from naikit.novelai.auth import encryption_key, hashed_email

    with sandbox.start() as sb:
        attempts = [
            lambda: access_key(PASSWORD, EMAIL),
            lambda: encryption_key(PASSWORD, EMAIL),
            lambda: hashed_email(PASSWORD),
            lambda: NovelAI(email=PASSWORD, password=EMAIL, base_url=sb.url).information(),
            lambda: NovelAI(base_url=sb.url).login(PASSWORD, EMAIL),
            lambda: NovelAI(base_url=sb.url).register(PASSWORD, EMAIL, "recaptcha-ok"),
            lambda: NovelAI(base_url=sb.url).request_account_recovery(PASSWORD),
            lambda: NovelAI(base_url=sb.url).resend_email_verification(" " + PASSWORD + "@x "),
        ]
        for attempt in attempts:
            with pytest.raises(errors.InputError) as e:
                attempt()
            assert e.value.field == "email"
            assert PASSWORD not in _shown(e.value)
            assert "swapped" in str(e.value)  # and it says what to check
        assert "no '@'" in str(pytest.raises(errors.InputError, access_key, PASSWORD, EMAIL).value)


def _serialise(value, depth=0, seen=None) -> str:
    """What an error tracker such as Sentry records of a local: containers walked, anything else repr()."""
    seen = set() if seen is None else seen
    if depth > 8 or id(value) in seen:
        return "..."
    if isinstance(value, dict):
        seen.add(id(value))
        return "{" + ",".join(_serialise(k, depth + 1, seen) + ":" + _serialise(v, depth + 1, seen)
                              for k, v in value.items()) + "}"  # fmt: skip
    if isinstance(value, (list, tuple, set, frozenset)):
        seen.add(id(value))
        return "[" + ",".join(_serialise(v, depth + 1, seen) for v in value) + "]"
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - a tracker records that repr failed, nothing else
        return "<repr failed>"


def _recorded_locals(exc: BaseException) -> str:
    """The locals of every naikit frame an error tracker would record for ``exc`` and its chain."""
    import naikit

    root = str(Path(naikit.__file__).parent)
    out: list[str] = []
    while exc is not None:
        tb = exc.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if frame.f_code.co_filename.startswith(root):
                out.extend(f"{name}={_serialise(v)}" for name, v in frame.f_locals.items())
            tb = tb.tb_next
        out.append(_serialise(exc.args))
        out.extend(_serialise(v) for v in vars(exc).values())
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return "\n".join(out)


def test_frame_locals_an_error_tracker_records_hold_no_secret():
    from naikit import Novita, Secret
    from naikit.novelai.auth import access_key as derive

    novita_key = "nv-secret-key-0123456789abcdef"
    with sandbox.start() as sb:
        c = NovelAI(base_url=sb.url)
        tok = c.register(EMAIL, PASSWORD, "recaptcha-ok")
        pst = sb.create_persistent_token(EMAIL)
        key = derive(EMAIL, PASSWORD)
        other = derive(EMAIL, PASSWORD + "-new")
        c.request_account_recovery(EMAIL)
        recovery = sb.outbox[-1]["token"]
        refused = "http://127.0.0.1:1"
        quick = RetryPolicy(attempts=1, backoff=0)
        failures = [
            lambda: NovelAI(email=EMAIL, password=PASSWORD + "x", base_url=sb.url).information(),
            lambda: NovelAI(email=EMAIL, password=PASSWORD, base_url=refused, retry=quick).information(),
            lambda: NovelAI(pst, base_url=refused, retry=quick).information(),
            lambda: NovelAI(access_key=key, base_url=refused, retry=quick).information(),
            lambda: c.create_object("stories", "m" * 200, "x"),
            lambda: c.change_access_key(other, key, force=True),
            lambda: c.recover_account(recovery[:-4] + "zzzz", EMAIL, PASSWORD + "-new"),
            lambda: NovelAI(base_url=refused, retry=quick).login(EMAIL, PASSWORD),
            lambda: Novita(novita_key, base_url=refused, retry=quick).user_info(),
            lambda: Novita(novita_key + " x"),
            lambda: NovelAI(tok.value + " x", base_url=sb.url),
        ]
        recorded = []
        for failure in failures:
            with pytest.raises(errors.NaikitError) as e:
                failure()
            recorded.append(_recorded_locals(e.value))
        c.close()
    corpus = "\n".join(recorded)
    assert "<hidden>" in corpus  # the secrets were there, masked
    for name, value in {
        "password": PASSWORD,
        "access key": key,
        "new access key": other,
        "jwt": tok.value,
        "persistent token": pst,
        "recovery token": recovery[:-4],
        "novita key": novita_key,
    }.items():
        assert value not in corpus, f"the {name} is in a frame an error tracker records"
    assert repr(Secret("x")) == str(Secret("x")) == f"{Secret('x')}" == "<hidden>"


def test_a_secret_refuses_to_be_pickled():
    import pickle

    from naikit import Secret

    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(Secret(PASSWORD))
    assert Secret(Secret(PASSWORD)).reveal() == PASSWORD and Secret.wrap(None) is None
