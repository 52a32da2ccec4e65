"""The sandbox never answers 5xx to client input: every route (found in the application's router, so a new
one is covered) gets fuzzed bodies, path segments and query strings, authenticated as the demo account.

Bodies are JSON objects whose keys are the field names NovelAI and Novita use, with values from a JSON
strategy that includes NaN, ±Infinity, 1e400, huge integers, lone surrogates (``"\\ud800"``), deep nesting
and wrong types; plus raw bytes that are not JSON or not UTF-8. What NovelAI answers such input with is a
4xx and its ``{"statusCode", "message"}`` envelope; a 5xx is a defect.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from naikit import sandbox as sb
from naikit.sandbox.clock import FakeClock
from naikit.sandbox.novita_store import DEMO_KEY

# Routes whose effect would end the run (the account deleted, faults injected on purpose).
EXCLUDED = {("POST", "/user/delete"), ("PUT", "/_sandbox/faults")}

FIELDS = [
    "input", "model", "parameters", "meta", "data", "key", "keystore", "email", "recapcha", "accessToken",
    "currentAccessKey", "newAccessKey", "newEmail", "recoveryToken", "deleteContent", "verificationToken",
    "paymentProcessor", "subscriptionId", "newSubscriptionPlan", "prompt", "image", "mask", "width", "height",
    "scale", "seed", "steps", "n_samples", "sampler", "temperature", "max_length", "min_length", "prefix",
    "use_string", "logprobs", "stop_sequences", "bad_words_ids", "logit_bias_exp", "text", "voice", "version",
    "opus", "req_type", "defry", "emotion", "information_extracted", "strength", "lr", "name", "description",
    "amount", "request", "extra", "model_name", "image_num", "guidance_scale", "sampler_name", "loras",
    "image_base64", "face_image_file", "task_id", "file_extension", "base_model", "image_dataset_items",
    "expert_setting", "components", "frames", "prompts", "advance", "set", "changeIndex", "characterPrompts",
    "v4_prompt", "reference_image_multiple", "action", "annotator", "tool",
]  # fmt: skip

_chars = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
_text = st.one_of(
    st.text(_chars, max_size=30),
    st.sampled_from(
        ["\ud800", "a\udfffb", "", " ", "\x00", "x" * 3000, "kayra-v1", "nai-diffusion-4-5-full"]
    ),
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([10**40, -1, 0, 2**31, 2**64]),
    st.floats(allow_nan=True, allow_infinity=True),
    _text,
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), _text), inner, max_size=4),
    ),
    max_leaves=12,
)
_bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), _json, max_size=8).map(lambda d: json.dumps(d).encode()),
    _json.map(lambda v: json.dumps(v).encode()),
    st.sampled_from(
        [
            b"",
            b"{",
            b"NaN",
            b'{"a": NaN}',
            b'{"a": Infinity}',
            b'{"a": 1e400}',
            b'{"a": -1e400}',
            b"\xff\xfe",
            b'{"\\ud800": 1}',
            b'"\\udfff"',
            b"[" * 5000 + b"]" * 5000,
            b'{"a": ' + b"9" * 5000 + b"}",
            b'{"input": "\\ud800", "model": "kayra-v1", "parameters": {}}',
            b'{"meta": "\\ud800", "data": "\\ud800"}',
        ]
    ),  # fmt: skip
    st.binary(max_size=64),
)
_segments = st.one_of(
    st.sampled_from(["x", "abc", "stories", "presets", "..", "%ED%A0%80", "%00", "%FF", "a" * 300, "%2F"]),
    st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"),
        min_size=1,
        max_size=12,
    ),
)
_queries = st.dictionaries(
    st.sampled_from(
        ["model", "prompt", "text", "voice", "seed", "opus", "version", "lang", "task_id", "kind", "to"]
        + ["pagination.limit", "pagination.cursor", "filter.types", "filter.query", "width", "height"]
    ),
    st.one_of(_text, st.sampled_from(["%ED%A0%80", "NaN", "1e400", "-1", "99999999999999999999"])),
    max_size=4,
)


@pytest.fixture(scope="module")
def server():
    with sb.start(clock=FakeClock()) as s:
        yield s


@pytest.fixture(scope="module")
def routes(server) -> list[tuple[str, str]]:
    assert server.app is not None
    found = sorted(
        {(r.method, r.resource.canonical) for r in server.app.router.routes() if r.method != "HEAD"}
    )
    return [r for r in found if r not in EXCLUDED]


@pytest.fixture(scope="module")
def token(server) -> str:
    return server.create_persistent_token()


class Poster:
    """Sends raw requests over one keep-alive connection and counts 5xx answers."""

    def __init__(self, url: str, token: str):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.token = token
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        self.failures: list[str] = []
        self.sent = 0

    def send(self, method: str, path: str, body: bytes, query: dict[str, str]) -> int:
        auth = DEMO_KEY if path.startswith(("/v3", "/novita-s3")) else self.token
        q = "&".join(f"{urllib.parse.quote(k)}={_quote(v)}" for k, v in query.items())
        target = path + ("?" + q if q else "")
        headers = {"Authorization": f"Bearer {auth}", "Content-Type": "application/json"}
        for attempt in range(2):
            try:
                self.conn.request(
                    method, target, body=body if method not in ("GET", "HEAD") else None, headers=headers
                )
                resp = self.conn.getresponse()
                resp.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                if attempt:
                    raise
        self.sent += 1
        if resp.status >= 500:
            self.failures.append(f"{resp.status} {method} {target[:120]} body={body[:120]!r}")
        return resp.status


RAW_ESCAPES = {"%ED%A0%80", "%FF", "%00", "%2F"}


def _quote(value: str) -> str:
    if value in RAW_ESCAPES:
        return value  # already percent-encoded bytes (invalid UTF-8 on purpose)
    return urllib.parse.quote(value.encode("utf-8", "surrogatepass"), safe="")


def _fill(canonical: str, segment: str) -> str:
    out = []
    for part in canonical.split("/"):
        out.append(segment if part.startswith("{") else part)
    return "/".join(out)


FIXED_BODIES = [
    b"", b"{", b"[]", b"null", b"NaN", b'{"a": NaN}', b"\xff", b'{"\\ud800": 1}', b"[" * 3000 + b"]" * 3000,
    b'{"input": "\\ud800", "model": "kayra-v1", "parameters": {"temperature": 1e400}}',
    b'{"meta": "\\ud800", "data": "\\udc80"}', b'{"prompt": "\\ud800", "model": "nai-diffusion-4-5-full"}',
    b'{"request": {"prompt": "\\ud800", "model_name": 1e400}, "extra": null}', b'{"key": ["x"]}',
]  # fmt: skip


def test_every_route_with_a_fixed_corpus(server, routes, token):
    poster = Poster(server.url, token)
    for method, canonical in routes:
        for body in FIXED_BODIES:
            poster.send(method, _fill(canonical, "abc"), body, {})
        for seg in ("%ED%A0%80", "%FF", "a" * 300, "%00"):
            poster.send(method, _fill(canonical, seg), b"{}", {"model": "%ED%A0%80", "text": "%FF"})
    assert poster.sent >= len(routes) * len(FIXED_BODIES)
    assert poster.failures == []


@settings(
    max_examples=2000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_fuzzed_requests_never_get_a_5xx(server, routes, token, data):
    poster = _poster(server, token)
    method, canonical = data.draw(st.sampled_from(routes))
    path = _fill(canonical, data.draw(_segments))
    poster.send(method, path, data.draw(_bodies), data.draw(_queries))
    assert poster.failures == []


_POSTERS: dict[str, Poster] = {}


def _poster(server: Any, token: str) -> Poster:
    p = _POSTERS.get(server.url)
    if p is None:
        p = _POSTERS[server.url] = Poster(server.url, token)
    p.failures = []
    return p
