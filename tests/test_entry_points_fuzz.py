"""Every public entry point tried with bad values: wrong types, None, NaN, inf, huge numbers, empty and odd
strings. The entry points are found by introspection (the clients' public methods, the constructors, the
names ``naikit`` exports and their public class and static methods), so a new one is covered without
editing this file.

What is asserted, per call (one bad value in one parameter, the others plausible):
- no raw exception: only naikit errors (``NaikitError``) or a normal return;
- a refusal (``InputError``) comes before anything is sent: the sandbox's request counter did not move;
- a value that can never be valid JSON on the wire (NaN, inf, a lone surrogate, an arbitrary object) never
  reaches the server (no request counted when the call ends in a naikit error, no 5xx ever);
- nothing hangs (every call has a generous deadline that only a hang can reach).

Run ``python tests/test_entry_points_fuzz.py`` to print the counts instead of asserting.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import math
import os
import sys
import tempfile
from collections import Counter
from typing import Any

import pytest

import naikit
from naikit import sandbox as sb
from naikit._settings import RetryPolicy
from naikit.errors import APIError, InputError, NaikitError, ServerError
from naikit.novelai.async_client import AsyncNovelAI
from naikit.novita.async_client import AsyncNovita


class _Opaque:
    """An object no entry point can use."""

    def __repr__(self) -> str:
        return "<opaque>"


# Bad values. The "never" ones can never be valid on the wire: a request carrying them is a defect.
NEVER: list[Any] = [math.nan, math.inf, -math.inf, "\ud800", "a\udfffb", _Opaque()]
ODD: list[Any] = [None, True, [], {}, 1e308, -1, 10**30, "", " ", "x" * 5000, b"\xff", "a\x00b", -1e300]
BAD_VALUES: list[Any] = NEVER + ODD
# Far above what any refusal or sandbox call takes; only a hang (a wait that never ends) reaches it.
DEADLINE = float(os.environ.get("NAIKIT_FUZZ_DEADLINE", "90"))


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 100, 50)).save(buf, "PNG")
    return buf.getvalue()


# Plausible values for parameters that have no default, so one bad value at a time reaches its own check.
GOOD: dict[str, Any] = {
    "prompt": "a cat",
    "prompts": "a cat",
    "object_type": "stories",
    "object_id": "abc",
    "meta": "m",
    "data": "eyJhIjoxfQ==",
    "email": "someone@example.com",
    "password": "a password",
    "new_password": "a new password",
    "recaptcha": "captcha",
    "verification_token": "v" * 64,
    "recovery_token": "r" * 32,
    "token": "pst-" + "a" * 64,
    "access_key": "a" * 64,
    "payment_processor": "paddle",
    "subscription_id": "sub",
    "new_plan": "opus",
    "settings": {"a": 1},
    "module_id": "abc",
    "story": "abc",
    "endpoint": "txt2img",
    "body": {"prompt": "a cat"},
    "task": "task-id",
    "url": "http://127.0.0.1:9/x",
    "tool": "lineart",
    "text": "hello",
    "amount": 2000,
    "name": "n",
    "base_model": "v1-5-pruned-emaonly",
    "captions": ["a cat"],
    "instance_prompt": "a cat",
    "model_name": "sd_xl_base_1.0.safetensors",
    "presets": None,  # filled in by _good()
    "keystore": "e30=",
    "path": "does-not-exist.preset",
    "directory": None,  # a temporary folder, filled in by _good()
    "key": b"k" * 32,
    "item": None,
    "result": None,
}
# Calls that change the account for every later call, or wait by design: tried with bad values only.
SKIP_GOOD = {"delete_account", "recover_account", "change_access_key", "set_keystore", "set_encryption_key"}
# Calls that change whom the client is logged in as: each runs on a client of its own.
OWN_CLIENT = {
    "login",
    "login_with_key",
    "login_with_token",
    "register",
    "recover_account",
    "change_access_key",
    "unlock",
    "set_encryption_key",
}
SKIP = {"close"}


def _good(name: str, tmp: str) -> Any:
    if name in ("image", "mask", "face_image"):
        return _png()
    if name == "images":
        return [_png()]
    if name == "directory":
        return tmp
    if name == "presets":
        return [naikit.ImagePreset()]
    return GOOD.get(name, "x")


def _calls(func: Any, tmp: str, skip_good: bool = False) -> list[tuple[str, Any, tuple, dict]]:
    """Return (param, bad value, args, kwargs) for every parameter of ``func`` and every bad value."""
    sig = inspect.signature(func)
    params = [
        p
        for p in sig.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    out = []
    for target in params:
        for bad in BAD_VALUES:
            args: list[Any] = []
            kwargs: dict[str, Any] = {}
            for p in params:
                if p is target:
                    value = bad
                elif p.default is not p.empty:
                    continue
                else:
                    value = bad if skip_good else _good(p.name, tmp)
                if p.kind == p.KEYWORD_ONLY:
                    kwargs[p.name] = value
                else:
                    args.append(value)
            out.append((target.name, bad, tuple(args), kwargs))
    return out


def _never(value: Any) -> bool:
    return any(value is v for v in NEVER)


class Tally:
    """Counts outcomes and keeps a line per defect."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.defects: list[str] = []

    def add(
        self, where: str, param: str, bad: Any, outcome: str, sent: int, exc: BaseException | None
    ) -> None:
        self.outcomes[outcome] += 1
        label = f"{where}({param}={naikit.errors._short(bad)})"
        if outcome == "raw":
            self.defects.append(f"raw {type(exc).__name__}: {label}: {str(exc)[:120]}")
        elif outcome == "hang":
            self.defects.append(f"hang: {label}")
        elif outcome == "5xx":
            self.defects.append(f"5xx: {label}: {str(exc)[:120]}")
        elif outcome == "input" and sent:
            self.outcomes["sent_before_refusal"] += 1
            self.defects.append(f"{sent} request(s) before refusal: {label}: {str(exc)[:100]}")
        elif _never(bad) and outcome == "api":
            self.outcomes["never_value_sent"] += 1
            self.defects.append(f"never-valid value reached the server: {label}: {str(exc)[:100]}")

    def raw(self) -> int:
        return self.outcomes["raw"]


async def _drain(value: Any) -> Any:
    if inspect.isawaitable(value):
        value = await value
    if hasattr(value, "__aiter__"):
        async for _ in value:
            pass
    return value


def _classify(exc: BaseException | None) -> str:
    if exc is None:
        return "ok"
    if isinstance(exc, InputError):
        return "input"
    if isinstance(exc, ServerError) or (isinstance(exc, APIError) and exc.status >= 500):
        return "5xx"
    if isinstance(exc, APIError):
        return "api"
    if isinstance(exc, NaikitError):
        return "naikit"
    return "raw"


async def _fuzz_clients(server: sb.Sandbox, tally: Tally, tmp: str) -> None:
    from naikit.sandbox.novita_store import DEMO_KEY

    retry = RetryPolicy(attempts=1)
    clock = server.clock

    async def fake_sleep(seconds: float) -> None:  # polling waits move the sandbox's clock, not real time
        clock.advance(seconds)
        await asyncio.sleep(0)

    def fresh_nai() -> AsyncNovelAI:
        c = AsyncNovelAI(base_url=server.url, sandbox=False, retry=retry)
        c.poll_clock, c.poll_sleep = clock.now, fake_sleep
        return c

    nai = fresh_nai()
    await nai.login(sb.DEMO_EMAIL, sb.DEMO_PASSWORD)
    nov = AsyncNovita(DEMO_KEY, base_url=server.url, sandbox=False, retry=retry)
    nov.poll_clock, nov.poll_sleep = clock.now, fake_sleep
    try:
        for client in (nai, nov):
            for name, func in inspect.getmembers(type(client), callable):
                if (
                    name.startswith("_")
                    or name in SKIP
                    or isinstance(inspect.getattr_static(type(client), name), property)
                ):
                    continue
                for param, bad, args, kwargs in _calls(func, tmp, skip_good=name in SKIP_GOOD):
                    own = client is nai and name in OWN_CLIENT
                    target = fresh_nai() if own else client
                    bound = getattr(target, name)
                    before = server.stats()["requests"]
                    exc: BaseException | None = None
                    try:
                        await asyncio.wait_for(_drain(bound(*args, **kwargs)), DEADLINE)
                    except asyncio.TimeoutError as e:
                        tally.add(f"{type(client).__name__}.{name}", param, bad, "hang", 0, e)
                        continue
                    except Exception as e:  # noqa: BLE001 - counting is the point
                        exc = e
                    finally:
                        if own:
                            await target.close()
                    sent = server.stats()["requests"] - before
                    tally.add(f"{type(client).__name__}.{name}", param, bad, _classify(exc), sent, exc)
    finally:
        await nai.close()
        await nov.close()


async def _fuzz_constructors(server: sb.Sandbox, tally: Tally, tmp: str) -> None:
    """The constructors and a first call (subscription / user_info): no raw exception, nothing sent."""
    for cls, first in ((AsyncNovelAI, "subscription"), (AsyncNovita, "user_info")):
        for param, bad, args, kwargs in _calls(cls.__init__, tmp, skip_good=True):
            kwargs.setdefault("sandbox", False) if param != "sandbox" else None
            if param != "base_url" and param != "hosts":
                kwargs.setdefault("base_url", server.url)
            before = server.stats()["requests"]
            exc = None
            try:
                client = cls(*args, **kwargs)
                try:
                    await asyncio.wait_for(getattr(client, first)(), DEADLINE)
                finally:
                    await client.close()
            except asyncio.TimeoutError as e:
                tally.add(cls.__name__, param, bad, "hang", 0, e)
                continue
            except Exception as e:  # noqa: BLE001
                exc = e
            sent = server.stats()["requests"] - before
            outcome = _classify(exc)
            # a bad credential may be refused by the server (401): that is a server refusal, not a defect
            tally.add(cls.__name__, param, bad, outcome, sent, exc)


def _offline_targets() -> list[tuple[str, Any]]:
    """Return (label, callable) for every exported function and every public class/static method."""
    targets: list[tuple[str, Any]] = []
    for name in sorted(naikit._EXPORTS):
        obj = getattr(naikit, name)
        if name in ("NovelAI", "AsyncNovelAI", "Novita", "AsyncNovita"):
            continue
        if inspect.isclass(obj):
            targets.append((name, obj))
            for attr, raw in vars(obj).items():
                if attr.startswith("_") or not isinstance(raw, (classmethod, staticmethod)):
                    continue
                targets.append((f"{name}.{attr}", getattr(obj, attr)))
        elif callable(obj):
            targets.append((name, obj))
    return targets


# How to make a plain instance of an exported class, to try its methods; classes not listed are made with no
# arguments when they allow it.
INSTANCES: dict[str, Any] = {
    "BiasGroup": lambda: naikit.BiasGroup(1.0),
    "Keystore": lambda: naikit.Keystore.new(),
}
# Methods that are not entry points for users: the retry policy's jitter draw (the transport's internals),
# and methods that write files or register callbacks (tried by their own tests).
SKIP_METHODS = {"RetryPolicy.delay", "Preset.save", "Preset.observe"}


def _instance_targets() -> list[tuple[str, Any]]:
    """Return (label, factory-bound method caller) for the public methods of every exported class."""
    out: list[tuple[str, Any]] = []
    for name in sorted(naikit._EXPORTS):
        cls = getattr(naikit, name)
        if not inspect.isclass(cls) or name in ("NovelAI", "AsyncNovelAI", "Novita", "AsyncNovita"):
            continue
        make = INSTANCES.get(name, cls)
        try:
            make()
        except Exception:  # noqa: BLE001 - needs arguments: its constructor is fuzzed instead
            continue
        for attr, raw in vars(cls).items():
            label = f"{name}.{attr}"
            if attr.startswith("_") or label in SKIP_METHODS or not inspect.isfunction(raw):
                continue
            out.append((label, (make, attr, raw)))
    return out


def _fuzz_offline(tally: Tally, tmp: str) -> None:
    skip = {"xy_plot", "compare"}  # take a client and run generations: covered by their own tests
    saved = [os.dup(fd) for fd in (0, 1, 2)]  # an entry point taking an int as a file would close them
    for label, func in _offline_targets():
        if label in skip:
            continue
        try:
            calls = _calls(func, tmp)
        except (TypeError, ValueError):
            continue  # no signature (a C type)
        for param, bad, args, kwargs in calls:
            exc = None
            try:
                result = func(*args, **kwargs)
                if inspect.isawaitable(result):  # pragma: no cover - no async offline function today
                    result.close()
            except Exception as e:  # noqa: BLE001
                exc = e
            for fd, copy in zip((0, 1, 2), saved, strict=True):
                try:
                    os.fstat(fd)
                except OSError:
                    os.dup2(copy, fd)
                    tally.defects.append(f"{label}({param}={bad!r}) closed file descriptor {fd}")
            tally.add(label, param, bad, _classify(exc), 0, exc)
    for label, (make, attr, raw) in _instance_targets():
        for param, bad, args, kwargs in _calls(raw, tmp):
            exc = None
            try:
                getattr(make(), attr)(*args, **kwargs)
            except Exception as e:  # noqa: BLE001
                exc = e
            tally.add(label, param, bad, _classify(exc), 0, exc)
    for copy in saved:
        os.close(copy)


def run_all() -> Tally:
    """Run every fuzz pass against a fresh sandbox; return the tally."""
    tally = Tally()
    from naikit.sandbox.clock import FakeClock

    here, backups = os.getcwd(), os.environ.get("NAIKIT_BACKUP_DIR")
    with tempfile.TemporaryDirectory() as tmp, sb.start(clock=FakeClock()) as server:
        # whatever an entry point writes under a relative name, or as a backup, lands in tmp
        os.chdir(tmp)
        os.environ["NAIKIT_BACKUP_DIR"] = os.path.join(tmp, "backups")
        try:
            _fuzz_offline(tally, tmp)
            asyncio.run(_fuzz_constructors(server, tally, tmp))
            asyncio.run(_fuzz_clients(server, tally, tmp))
        finally:
            os.chdir(here)
            if backups is None:
                os.environ.pop("NAIKIT_BACKUP_DIR", None)
            else:
                os.environ["NAIKIT_BACKUP_DIR"] = backups
    return tally


@pytest.mark.filterwarnings("ignore")
def test_every_entry_point_refuses_bad_values_before_sending(monkeypatch):
    for k in list(os.environ):
        if k.startswith(("NAI_", "NOVITA_")):
            monkeypatch.delenv(k)
    tally = run_all()
    assert sum(tally.outcomes.values()) > 3000  # the enumeration really found the entry points
    assert tally.defects == []


if __name__ == "__main__":  # pragma: no cover
    t = run_all()
    print(dict(t.outcomes))
    kinds = Counter(d.split(":")[0] for d in t.defects)
    print(dict(kinds))
    for line in t.defects:
        print(line)
    sys.exit(1 if t.defects else 0)


# ------------------------------------------------------------------- the cases the issue named, one by one


@pytest.fixture(scope="module")
def server():
    with sb.start() as s:
        yield s


def _jwt(claims: str) -> str:
    import base64

    def part(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    header = part('{"alg":"HS256"}')
    return f"{header}.{part(claims)}.{part('sig')}"


def test_a_token_from_before_time_is_expired_not_an_overflow(server):
    async def run() -> None:
        nai = AsyncNovelAI(_jwt('{"exp": -1e300}'), base_url=server.url, sandbox=False)
        before = server.stats()["requests"]
        with pytest.raises(naikit.errors.CredentialsError, match="expired"):
            await nai.subscription()
        assert server.stats()["requests"] == before
        await nai.close()

    asyncio.run(run())


def test_a_token_with_nan_expiry_is_refused_as_malformed():
    with pytest.raises(naikit.errors.CredentialsError):
        naikit.Token(_jwt('{"exp": NaN}'))


@pytest.mark.parametrize("url", ["http://[::1", "http://[::1]:99999", "http://\ud800.x", "http://a\x00b"])
def test_a_malformed_base_url_is_an_input_error(url):
    with pytest.raises(InputError, match="base_url"):
        AsyncNovelAI(base_url=url)
    with pytest.raises(InputError, match="base_url"):
        AsyncNovita("k", base_url=url)


@pytest.mark.parametrize("path", [0, 1, 2, True, 3.5])
def test_preset_load_refuses_a_number_and_leaves_the_descriptor_open(path):
    with pytest.raises(InputError, match="path"):
        naikit.Preset.load(path)
    os.fstat(1)  # still open


def test_bad_ids_are_refused_before_a_request(server):
    async def run() -> None:
        nai = AsyncNovelAI(base_url=server.url, sandbox=False)
        await nai.login(sb.DEMO_EMAIL, sb.DEMO_PASSWORD)
        before = server.stats()["requests"]
        for call in (
            lambda: nai.content_item("stories", "../x"),
            lambda: nai.content_item("stories", None),
            lambda: nai.story_text(None),
            lambda: nai.story_text("\ud800"),
            lambda: nai.lorebook(""),
            lambda: nai.lorebook(["x"]),
            lambda: nai.backup(__file__),  # a file where the backup folder belongs
        ):
            with pytest.raises(InputError):
                await call()
        assert server.stats()["requests"] == before
        await nai.close()

    asyncio.run(run())


@pytest.mark.parametrize(
    "data",
    [{"score": math.nan}, {"score": math.inf}, {"t": "\ud800"}, [1, -math.inf], {"x": {1, 2}}, {1: "a"}],
)
def test_non_json_content_is_refused_before_a_request(server, data):
    async def run() -> None:
        nai = AsyncNovelAI(base_url=server.url, sandbox=False)
        await nai.login(sb.DEMO_EMAIL, sb.DEMO_PASSWORD)
        before = server.stats()["requests"]
        for t in ("stories", "presets"):
            with pytest.raises(InputError, match="data"):
                await nai.create_content(t, data)
        assert server.stats()["requests"] == before
        await nai.close()

    asyncio.run(run())


def test_novita_nan_in_a_body_is_refused_before_a_request(server):
    from naikit.sandbox.novita_store import DEMO_KEY

    async def run() -> None:
        nov = AsyncNovita(DEMO_KEY, base_url=server.url, sandbox=False)
        before = server.stats()["requests"]
        with pytest.raises(InputError, match="strength"):
            await nov.submit("img2img", {"request": {"strength": math.nan}})
        with pytest.raises(InputError, match="extra"):
            await nov.txt2img("a cat", model_name="m", extra={"x": math.inf}, wait=False)
        with pytest.raises(InputError, match="extra"):
            await nov.txt2img("a cat", model_name="m", extra=[1], wait=False)
        assert server.stats()["requests"] == before
        await nov.close()

    asyncio.run(run())


def test_image_lists_of_the_wrong_shape_are_input_errors(server):
    async def run() -> None:
        nai = AsyncNovelAI(base_url=server.url, sandbox=False)
        await nai.login(sb.DEMO_EMAIL, sb.DEMO_PASSWORD)
        before = server.stats()["requests"]
        with pytest.raises(InputError, match="character_references"):
            await nai.generate_image("a cat", character_references=[None])
        with pytest.raises(InputError, match="presets"):
            await nai.generate_images("a cat", None)
        with pytest.raises(InputError, match="characters"):
            await nai.generate_image("a cat", characters="a girl")
        assert server.stats()["requests"] == before
        await nai.close()

    asyncio.run(run())


def test_the_sandbox_answers_lone_surrogates_with_a_400_envelope(server):
    import urllib.request

    token = server.create_persistent_token()
    for path, method, body in [
        ("/user/objects/stories", "PUT", b'{"meta": "\\ud800", "data": "eA=="}'),
        ("/user/objects/stories", "PUT", b'{"meta": "m", "data": "\\udc80"}'),
        ("/ai/generate", "POST", b'{"input": "\\ud800", "model": "kayra-v1", "parameters": {}}'),
        (
            "/ai/generate-image",
            "POST",
            b'{"input": "a", "model": "nai-diffusion-3", "parameters": {"scale": NaN}}',
        ),
        ("/ai/module/train", "POST", b'{"data": "\\ud800", "name": "\\ud800", "lr": 1e400, "steps": 1}'),
    ]:
        req = urllib.request.Request(
            server.url + path,
            data=body,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=60)
        assert err.value.code == 400, (path, body)
        envelope = json.loads(err.value.read())
        assert envelope["statusCode"] == 400 and envelope["message"]
