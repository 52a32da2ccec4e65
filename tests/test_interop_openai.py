"""The official ``openai`` package from PyPI (throwaway venv), pointed at `naikit serve`'s ``/oa/v1``, runs
a completion, a streamed completion, a streamed chat and ``models.list()`` unmodified."""

from __future__ import annotations

import json
import urllib.request

import pytest
import refclients
from served import naikit_serve

from naikit import sandbox

pytestmark = pytest.mark.interop

SCRIPT = r"""
import json, sys
from openai import OpenAI

url, token = sys.argv[1:3]
c = OpenAI(base_url=url + "/oa/v1", api_key=token, max_retries=0)
out = {}
r = c.completions.create(model="glm-4-6", prompt="[gMASK]<sop>The lighthouse", max_tokens=8)
ch = r.choices[0]
out["completion"] = [r.object, r.model, ch.text, ch.finish_reason, r.usage.completion_tokens]
pieces, finish = [], None
for chunk in c.completions.create(model="glm-4-6", prompt="The lighthouse", max_tokens=8, stream=True):
    pieces.append(chunk.choices[0].text)
    finish = chunk.choices[0].finish_reason or finish
out["stream"] = ["".join(pieces), len(pieces), finish]
deltas, finish = [], None
stream = c.chat.completions.create(
    model="xialong-v1", messages=[{"role": "user", "content": "Tell me of the sea."}],
    max_tokens=8, stream=True,
)
for chunk in stream:
    deltas.append(chunk.choices[0].delta.content or "")
    finish = chunk.choices[0].finish_reason or finish
out["chat"] = ["".join(deltas), finish]
out["models"] = [m.id for m in c.models.list()]
print(json.dumps(out))
"""


def _login(url: str) -> str:
    req = urllib.request.Request(
        url + "/user/login",
        data=json.dumps({"key": sandbox.demo_access_key()}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())["accessToken"]


def test_openai_sdk_runs_completions_chat_and_models():
    with naikit_serve() as url:
        token = _login(url)
        out = json.loads(refclients.run_script("openai", SCRIPT, url, token, timeout=600))
    obj, model, text, finish, n = out["completion"]
    assert (
        (obj, model) == ("text_completion", "glm-4-6")
        and text
        and finish in ("stop", "length")
        and 0 < n <= 8
    )
    text, chunks, finish = out["stream"]
    assert text and chunks >= 2 and finish in ("stop", "length")
    text, finish = out["chat"]
    assert text and finish in ("stop", "length")
    assert out["models"] == ["xialong-v1", "glm-4-6"]
