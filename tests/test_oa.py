"""GLM-4.6 / Xialong over /oa/v1: the client (naikit.novelai.oa) against the sandbox (naikit.sandbox.oa).

The request-body fixtures are written by hand from the website's code (January 2026 client,
``_app-3519e562baaa896c.js``: module 31621's sampling builder maps preset keys to request fields, module
48667 sends ``{...parameters, prompt: <token ids>, stream: true}`` with ``top_k`` deleted when 0, and
module 86131 holds the "default-glm" preset).
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sandbox_fixtures import DEMO

from naikit import errors, sandbox
from naikit.novelai.async_client import AsyncNovelAI
from naikit.novelai.auth import hashed_email
from naikit.novelai.client import NovelAI
from naikit.novelai.glm_prompt import build_prompt, default_texts
from naikit.novelai.models import text_model
from naikit.novelai.oa import parse_token_count
from naikit.novelai.presets import Preset
from naikit.sandbox.generation_lock import generation_locks
from naikit.sandbox.http import STATE

ASSISTANT = "<|assistant|>\n<think></think>\n"
STORY = "The door opened.\nShe walked in."

# What the website's builder sends for its default GLM preset (module 86131 values through module 31621's
# mapping): every field but ``prompt``.
SITE_BODY = {
    "model": "glm-4-6",
    "max_tokens": 60,
    "temperature": 1,
    "top_p": 0.95,
    "top_k": 40,
    "min_p": 0,
    "frequency_penalty": 0,
    "presence_penalty": 0,
    "unified_linear": 0,
    "unified_quadratic": 0,
    "unified_increase_linear_with_entropy": 0,
    "unified_cubic": 0,
    "stop": [],
    "stream": True,
}


def raw(sb, token, method, path, body=None):
    req = urllib.request.Request(
        sb.url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def capture(client: NovelAI) -> list[tuple[str, dict]]:
    """Record the (path, json body) of every request and stream the async transport sends."""
    t = client._async.transport
    seen: list[tuple[str, dict]] = []
    orig_stream, orig_request = t.stream, t.request

    def stream(method, host, path, **kw):
        seen.append((path, kw.get("json")))
        return orig_stream(method, host, path, **kw)

    async def request(method, host, path, **kw):
        seen.append((path, kw.get("json")))
        return await orig_request(method, host, path, **kw)

    t.stream, t.request = stream, request
    return seen


# -- the request body, field by field ---------------------------------------------------------------------
def _site_prompt(memory: bool) -> str:
    sys_prompt = default_texts()["system_prompt"]
    prefill = default_texts()["prefill"]
    if memory:
        user = "<|user|>\nRelevant persistent information:\n\nTitle: A\n\nTags: b\n\n***\n\nWrite./nothink"
        an = "<|system|>\n[ Style: sad ]"
    else:
        user, an = "<|user|>\nWrite./nothink", ""
    return (
        "[gMASK]<sop><|system|>\n"
        + sys_prompt
        + user
        + an
        + ASSISTANT
        + prefill
        + "The door opened.\n\nShe walked in."
    )


@pytest.mark.parametrize("memory", [False, True])
@pytest.mark.parametrize("model", ["glm-4-6", "xialong-v1"])
def test_story_body_equals_the_websites(sb, token, model, memory):
    with NovelAI(base_url=sb.url, **DEMO) as client:
        seen = capture(client)
        kw = dict(memory="Title: A\nTags: b", authors_note="[ Style: sad ]") if memory else {}
        gen = client.generate(build_prompt(STORY, **kw), Preset.official(model))
    sent = [b for p, b in seen if p == "/oa/v1/completions"]
    assert len(sent) == 1
    body = sent[0]
    text = _site_prompt(memory)
    # the site tokenizes in the browser and sends ids; naikit gets the same ids from the token-count
    # endpoint (here: the sandbox's stand-in tokens, asked for directly)
    status, _, answer = raw(
        sb, token, "POST", "/oa/v1/internal/token-count", {"model": model, "prompt": text}
    )
    assert status == 200
    expected = {**SITE_BODY, "model": model, "prompt": json.loads(answer)["encoded"]}
    # xialong-v1 (after the bundle): the same preset values and prompt structure are a guess
    assert set(body) == set(expected)
    for key in expected:
        assert body[key] == expected[key], key
        assert type(body[key]) is type(expected[key]), key
    assert "logprobs" not in body and "logit_bias" not in body and "recaptcha_token" not in body
    assert gen.parameters == {k: v for k, v in body.items() if k != "prompt"}


def test_top_k_zero_is_left_out_and_overrides_take_either_name(nai):
    seen = capture(nai)
    nai.generate("[gMASK]<sop>Hi", Preset.official("glm"), top_k=0, max_tokens=5, frequency_penalty=0.25)
    body = [b for p, b in seen if p == "/oa/v1/completions"][-1]
    assert "top_k" not in body and body["max_tokens"] == 5 and body["frequency_penalty"] == 0.25
    nai.generate("[gMASK]<sop>Hi", model="glm", max_length=7, stop_sequences=["\n\n"])
    body = [b for p, b in seen if p == "/oa/v1/completions"][-1]
    assert body["max_tokens"] == 7 and body["stop"] == ["\n\n"]


def test_disabled_sampler_sends_its_neutral_value(nai):
    p = Preset.official("glm").copy("t")
    p.top_p = 0.5
    p.disable("top_p")
    seen = capture(nai)
    nai.generate("[gMASK]<sop>Hi", p, max_tokens=3)
    body = [b for p_, b in seen if p_ == "/oa/v1/completions"][-1]
    assert body["top_p"] == 1.0


# -- results ------------------------------------------------------------------------------------------------
def test_generate_and_stream(nai):
    g = nai.generate(STORY, model="glm", max_length=12)
    assert g.model == "glm-4-6" and g.finish_reason in ("stop", "length")
    assert g.text and len(g.tokens) == g.usage["completion_tokens"] <= 12
    assert g.usage["counted"] and g.usage["prompt_tokens"] == nai.count_tokens(STORY, "glm")
    assert "first_token_s" in g.timings and g.pieces is not None and "".join(g.pieces) == g.text
    df = g.to_frame()
    assert list(df["token_id"]) == g.tokens
    events = list(nai.generate_stream(STORY, model="glm", max_length=12))
    assert events[-1].final and not any(e.final for e in events[:-1])
    final = events[-1].generation
    assert final.text == "".join(e.text for e in events) == g.text  # same request, same seeded draws
    assert final.tokens == g.tokens


def test_stop_strings_end_the_text(nai):
    g = nai.generate(STORY, model="glm", max_length=60, stop=["e"])
    assert "e" not in g.text and g.finish_reason == "stop"


def test_chat_and_chat_stream(nai):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell me of the sea."}]
    g = nai.chat(msgs, model="glm", max_tokens=10)
    assert isinstance(g.text, str) and g.text and g.finish_reason in ("stop", "length")
    assert g.parameters["enable_thinking"] is False and "messages" not in g.parameters
    events = list(nai.chat_stream(msgs, model="glm", max_tokens=10))
    assert events[-1].final and events[-1].generation.text == g.text


def test_chat_refuses_array_content_and_native_models(nai):
    with pytest.raises(errors.InputError, match=r"messages\[0\]\.content"):
        nai.chat([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    with pytest.raises(errors.InputError, match="served over /oa/v1"):
        nai.chat([{"role": "user", "content": "hi"}], model="kayra")


def test_text_models_and_token_counts(nai):
    df = nai.text_models()
    assert list(df["id"]) == ["xialong-v1", "glm-4-6"]
    row = df.set_index("id").loc["glm-4-6"]
    assert (row["context_tablet"], row["context_scroll"], row["context_opus"]) == (8192, 12288, 28672)
    # special tokens at GLM's ids (spec §4.2, the nai-tok vector's special positions)
    ids = nai.token_ids("[gMASK]a<|system|>b<|user|>c<|assistant|>d")
    assert [i for i in ids if i >= 151329] == [151331, 151335, 151336, 151337]
    assert nai.count_tokens("[gMASK]<sop>", "xialong") == 2


def test_token_count_parser():
    assert parse_token_count({"length": 3, "encoded": [1, 2, 3]}) == (3, [1, 2, 3])
    assert parse_token_count({"token_count": 4}) == (4, None)
    assert parse_token_count({"tokens": [5, 6]}) == (2, [5, 6])
    for bad in ([], {"length": -1}, {"encoded": ["a"]}, "x", None):
        with pytest.raises(errors.ResponseShapeError):
            parse_token_count(bad)


# -- refused before sending ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kw", "field"),
    [
        (dict(model="glm-5"), "model"),
        (dict(model="glm", tail_free_sampling=0.9), "tail_free_sampling"),
        (dict(model="glm", repetition_penalty=1.1), "repetition_penalty"),
        (dict(model="glm", max_length=0), "max_length"),
        (dict(model="glm", max_tokens=1025), "max_tokens"),
        (dict(model="glm", stop=[""]), "stop"),
        (dict(model="glm", seed=-3), "seed"),
        (dict(model="glm", module="theme_textadventure"), "module"),
    ],
)
def test_bad_input_refused_before_sending(nai, kw, field):
    seen = capture(nai)
    with pytest.raises(errors.InputError) as e:
        nai.generate("Hello", **kw)
    assert field in str(e.value)
    assert not [p for p, _ in seen if p.startswith("/oa/v1/completions")]


def test_prompt_over_the_context(nai):
    long = "[gMASK]<sop>" + "word " * 300
    seen = capture(nai)
    with pytest.raises(errors.InputError, match="at most 40 tokens"):
        nai.generate(long, model="glm", max_length=60, context_tokens=100)
    assert not [p for p, _ in seen if p == "/oa/v1/completions"]
    g = nai.generate(long, model="glm", max_length=10, context_tokens=100, truncate=True)
    body = [b for p, b in seen if p == "/oa/v1/completions"][-1]
    assert len(body["prompt"]) == 90 and body["prompt"][:2] == [151331, 151333]
    assert g.usage["prompt_tokens"] == 90


# -- tiers, the generation lock ------------------------------------------------------------------
def test_xialong_refused_below_opus():
    with sandbox.start() as box:
        acct = box.store.account_by_email_hash(hashed_email(sandbox.DEMO_EMAIL))
        box.store.update_account(acct.id, tier=1)
        with NovelAI(base_url=box.url, **DEMO) as client:
            seen = capture(client)
            with pytest.raises(errors.InputError, match="needs Opus"):
                client.generate("Hi", model="xialong", max_length=5)
            assert not [p for p, _ in seen if p.startswith("/oa/v1/comp")]
            # glm-4-6 works on Tablet, with Tablet's context (8192)
            with pytest.raises(errors.InputError, match="context of 8192"):
                client.generate("[gMASK]" + "a " * 9000, model="glm", max_length=10)
        # the sandbox refuses it too (a client that does not check)
        tok = box.create_persistent_token()
        status, _, text = raw(box, tok, "POST", "/oa/v1/completions", {"model": "xialong-v1", "prompt": "x"})
        assert status == 403 and json.loads(text)["message"] == "Not eligible for this model"


def test_two_generations_at_once_never_meet_a_429(sb):
    async def main():
        async with AsyncNovelAI(base_url=sb.url, **DEMO) as c:
            gens = await asyncio.gather(*(c.generate(STORY, model="glm", max_length=8) for _ in range(3)))
            return gens, c.stats

    gens, stats = asyncio.run(main())
    assert len(gens) == 3 and all(g.text for g in gens)
    assert stats.get("retry_429", 0) == 0


def test_locked_from_outside_is_waited_out(sb):
    state = sb.app[STATE]
    acct = sb.store.account_by_email_hash(hashed_email(sandbox.DEMO_EMAIL))
    locks = generation_locks(state)
    assert locks.acquire(acct.id, "text", 1)  # "another tab" is generating

    async def main():
        async with AsyncNovelAI(base_url=sb.url, **DEMO) as c:
            waits: list[float] = []

            async def sleep(s):
                waits.append(s)
                if len(waits) == 2:
                    locks.release(acct.id, "text")  # the other tab finishes

            c.transport.sleep = sleep
            g = await c.generate(STORY, model="glm", max_length=5)
            return g, c.stats, waits

    g, stats, waits = asyncio.run(main())
    assert g.text and stats["retry_429"] == 2 and len(waits) == 2


def test_sandbox_stream_format_and_broken_chat(sb, token):
    status, ctype, text = raw(
        sb,
        token,
        "POST",
        "/oa/v1/completions",
        {"model": "glm-4-6", "prompt": "Once", "max_tokens": 5, "stream": True},
    )
    assert status == 200 and ctype.startswith("text/event-stream")
    events = [e for e in text.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[len("data: ") :]) for e in events[:-1]]
    for c in chunks:
        assert c["object"] == "text_completion" and c["model"] == "glm-4-6"
        assert set(c["choices"][0]) >= {"index", "text", "token_ids", "finish_reason"}
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    # the non-streamed chat answer is as broken as the real one
    status, _, text = raw(
        sb,
        token,
        "POST",
        "/oa/v1/chat/completions",
        {"model": "glm-4-6", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4},
    )
    body = json.loads(text)
    assert status == 200 and body["object"] == "chat.completion.chunk"
    assert (
        body["choices"][0]["text"] == ""
        and body["choices"][0]["token_ids"]
        and "message" not in body["choices"][0]
    )
    status, _, text = raw(
        sb, token, "POST", "/oa/v1/chat/completions",
        {"model": "glm-4-6", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
    )  # fmt: skip
    assert status == 400 and "cannot unmarshal array into Go struct field" in json.loads(text)["message"]
    status, _, text = raw(sb, token, "GET", "/oa/v1/models")
    assert json.loads(text)["object"] == "list"


def test_model_table_entries():
    glm, xl = text_model("glm"), text_model("xialong")
    assert (glm.value, glm.api, glm.max_output) == ("glm-4-6", "oa", 1024)
    assert glm.available_on("tablet") and not xl.available_on("scroll") and xl.available_on(3)


def test_seed_goes_in_the_body_and_compare_takes_glm_presets(nai):
    from naikit.comparison import compare

    seen = capture(nai)
    a = nai.generate(STORY, model="glm", max_length=10, seed=1)
    body = [b for p, b in seen if p == "/oa/v1/completions"][-1]
    assert body["seed"] == 1 and a.seed == 1
    b = nai.generate(STORY, model="glm", max_length=10, seed=1)
    assert a.text == b.text
    hot = Preset.official("glm").copy("Hot")
    hot.temperature = 1.5
    cmp = compare(STORY, [Preset.official("glm"), hot], seeds=[0, 1], client=nai, max_length=8)
    assert set(cmp.generations) == {("Default", 0), ("Default", 1), ("Hot", 0), ("Hot", 1)}
    assert all(g.model == "glm-4-6" for g in cmp.generations.values())
    with pytest.raises(errors.InputError, match="tail_free_sampling"):
        compare(STORY, [hot], seeds=[0], client=nai, tail_free_sampling=0.5)


def test_explainer_replays_the_glm_chain():
    from naikit.explain import explain_step

    p = Preset.official("glm")  # temperature 1, top_k 40, top_p 0.95; min_p disabled
    dist = {i: -0.1 * i for i in range(60)}
    ex = explain_step(dist, p, kind="logits")
    assert ex.stages == ["temperature", "top_k", "top_p"]
    assert len(ex.probs[2]) == 40  # top-k kept the 40 most likely
    assert ex.removed_by(50) == "top_k"


def test_preset_editor_shows_only_glm_controls():
    from naikit.widgets.presets import preset_editor

    ed = preset_editor(Preset.official("glm"))
    assert set(ed.sampler_rows) == {"temperature", "top_k", "top_p", "min_p"}
    assert "tail_free_sampling" not in ed.controls and "max_length" in ed.controls
    ed.controls["temperature"].value = 0.8
    assert ed._preset.temperature == 0.8


def test_special_token_table_matches_the_spec():
    from naikit.novelai.oa import GLM_EOS, GLM_SPECIAL

    # spec novelai-oa.md §4.2 (confirmed rows) and GLM-4.6's generation_config EOS list
    confirmed = {
        "<|endoftext|>": 151329,
        "[gMASK]": 151331,
        "<sop>": 151333,
        "<|system|>": 151335,
        "<|user|>": 151336,
        "<|assistant|>": 151337,
        "<think>": 151350,
        "</think>": 151351,
    }
    assert {k: GLM_SPECIAL[k] for k in confirmed} == confirmed
    assert GLM_EOS == {151329, 151336, 151338}


def test_spec_vector_special_positions(sb, token):
    # nai-tok's vector: [gMASK] 151331 first, then <|system|> 151335, <|user|> 151336, <|assistant|> 151337
    # between the words; the sandbox's ordinary-text ids are a stand-in, its special ids are GLM's
    text = "[gMASK]this is a test where da goose is cooked<|system|>no<|user|>yes<|assistant|>maybe"
    status, _, answer = raw(
        sb, token, "POST", "/oa/v1/internal/token-count", {"model": "glm-4-6", "prompt": text}
    )
    ids = json.loads(answer)["encoded"]
    assert status == 200 and ids[0] == 151331
    assert [i for i in ids if i >= 151329] == [151331, 151335, 151336, 151337]
    assert json.loads(answer)["length"] == len(ids)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"model": "glm-4-6", "prompt": "x", "max_tokens": 0}, 400, "max_tokens"),
        ({"model": "glm-4-6", "prompt": "x", "max_tokens": 4096}, 400, "max_tokens"),
        ({"model": "glm-9", "prompt": "x"}, 400, "model must be one of"),
        ({"model": "glm-4-6", "prompt": "word " * 28700, "max_tokens": 10}, 400, "prompt is too long"),
        ({"model": "glm-4-6", "prompt": {"a": 1}}, 400, "prompt must be"),
        ({"model": "glm-4-6", "prompt": "x", "n": 2}, 400, "n must be 1"),
        ({"model": "glm-4-6", "prompt": "x", "temperature": -1}, 400, "temperature"),
    ],
)
def test_sandbox_refuses_like_the_service(sb, token, body, status, words):
    got, ctype, text = raw(sb, token, "POST", "/oa/v1/completions", body)
    assert got == status and ctype.startswith("application/json")
    assert words in json.loads(text)["message"] and json.loads(text)["statusCode"] == status


def test_faults_on_oa_follow_the_send_once_rule(sb):
    # a 429 (the server did not act) is waited out and retried; a 500 after the request was sent is not
    # resent (text generation is send-once, see SEND_RULES) but raised with what to check
    sb.faults = "429=0.5,retry_after=0,seed=4,paths=/oa/v1/completions"
    try:

        async def main():
            async with AsyncNovelAI(base_url=sb.url, **DEMO) as c:

                async def no_wait(_s):
                    return None

                c.transport.sleep = no_wait
                gens = [await c.generate(STORY, model="glm", max_length=4, seed=i) for i in range(4)]
                sb.faults = "500=1.0,paths=/oa/v1/completions"
                with pytest.raises(errors.OutcomeUnknown, match="repeat it"):
                    await c.generate(STORY, model="glm", max_length=4, seed=9)
                return gens, c.stats

        gens, stats = asyncio.run(main())
    finally:
        sb.faults = None
    assert all(g.text for g in gens) and stats.get("retry_429", 0) >= 1


def test_without_token_count_the_prompt_goes_as_text(nai, monkeypatch):
    from naikit.errors import NotFound

    t = nai._async.transport
    orig = t.request

    async def request(method, host, path, **kw):
        if path == "/oa/v1/internal/token-count":
            raise NotFound(404, "Not Found", url=path)
        return await orig(method, host, path, **kw)

    monkeypatch.setattr(t, "request", request)
    seen = capture(nai)
    g = nai.generate("[gMASK]<sop>A fresh prompt nobody counted", model="glm", max_length=4)
    body = [b for p, b in seen if p == "/oa/v1/completions"][-1]
    assert body["prompt"] == "[gMASK]<sop>A fresh prompt nobody counted"
    assert g.usage["prompt_tokens"] is None


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "choices",
                        "text",
                        "token_ids",
                        "finish_reason",
                        "delta",
                        "content",
                        "error",
                        "usage",
                        "length",
                        "encoded",
                        "logprobs",
                    ]
                ),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_oa_parsers_end_in_naikit_errors(data):
    from naikit.errors import NaikitError
    from naikit.novelai.oa_api import _Assembler

    for chat in (False, True):
        try:
            _Assembler(chat).add(data, "POST /oa/v1/completions")
        except NaikitError:
            pass
    try:
        parse_token_count(data)
    except NaikitError:
        pass


def test_sandbox_output_follows_the_samplers(nai):
    # top_k = 1 leaves one candidate: every seed draws the same text; with the default preset seeds differ
    greedy = {nai.generate(STORY, model="glm", max_length=12, top_k=1, seed=s).text for s in range(4)}
    assert len(greedy) == 1
    free = {nai.generate(STORY, model="glm", max_length=12, temperature=2.0, seed=s).text for s in range(4)}
    assert len(free) > 1


def test_count_table_and_budget_ask_the_server_for_glm(nai):
    from naikit.tokenizers import TokenizerUnavailable, budget, count_table, tokenize

    text = "The lamp had gone out again."
    df = count_table(text, ["erato", "glm", "xialong"]).set_index("model")
    assert df.loc["glm-4-6", "tokens"] == "unavailable" and df.loc["glm-4-6", "limit"] == 28672
    df = count_table(text, ["erato", "glm", "xialong"], tier="tablet", client=nai).set_index("model")
    assert df.loc["glm-4-6", "tokens"] == nai.count_tokens(text, "glm") and df.loc["glm-4-6", "limit"] == 8192
    assert df.loc["xialong-v1", "status"] == "not on this tier"
    b = budget(text, "glm", "scroll", client=nai)
    assert b.fits and b.limit == 12288
    with pytest.raises(TokenizerUnavailable, match="token-count endpoint"):
        tokenize(text, "glm")
    with pytest.raises(errors.InputError, match="client"):
        budget(text, "glm", client=object())


def test_the_lock_is_shared_with_image_generation(sb, token):
    acct = sb.store.account_by_email_hash(hashed_email(sandbox.DEMO_EMAIL))
    locks = generation_locks(sb.app[STATE])
    assert locks.acquire(acct.id, "image", 1)  # an image generation is running
    try:
        status, _, text = raw(sb, token, "POST", "/oa/v1/completions", {"model": "glm-4-6", "prompt": "x"})
        assert status == 429 and json.loads(text)["message"] == "Concurrent generation is locked"
    finally:
        locks.release(acct.id, "image")
    assert locks.running(acct.id, "text") == 0
    status, _, _ = raw(
        sb, token, "POST", "/oa/v1/completions", {"model": "glm-4-6", "prompt": "x", "max_tokens": 2}
    )
    assert status == 200


def test_logprobs_come_back_in_the_openai_form(nai):
    seen = capture(nai)
    g = nai.generate(STORY, model="glm", max_length=5, num_logprobs=3)
    body = [b for p, b in seen if p == "/oa/v1/completions"][-1]
    assert body["logprobs"] == 3
    lp = g.oa_logprobs
    assert lp and all(set(e) >= {"tokens", "token_logprobs", "top_logprobs", "text_offset"} for e in lp)
    assert all(len(e["top_logprobs"][0]) <= 3 for e in lp)
    with pytest.raises(errors.InputError, match="logprobs"):
        nai.generate(STORY, model="glm", logprobs=99)


@pytest.mark.parametrize("cut", ["no_done", "empty"])
def test_a_cut_off_oa_stream_is_an_error_carrying_the_text(cut):
    from aiohttp import web

    chunk = {"choices": [{"index": 0, "text": "Once upon", "token_ids": [1, 2], "finish_reason": None}]}
    body = b"" if cut == "empty" else b"data: " + json.dumps(chunk).encode() + b"\n\n"

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(body)  # then the answer ends: no finish_reason, no data: [DONE]
        await resp.write_eof()
        return resp

    async def main():
        app = web.Application()
        app.router.add_post("/oa/v1/completions", handler)  # token-count answers 404: the prompt goes as text
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            async with AsyncNovelAI(base_url=f"http://127.0.0.1:{port}", token="pst-" + "x" * 60) as c:
                with pytest.raises(errors.StreamIncomplete) as e:
                    async for _ in c.generate_stream(STORY, model="glm", max_length=12):
                        pass
                return e.value
        finally:
            await runner.cleanup()

    err = asyncio.run(main())
    assert err.partial == ("" if cut == "empty" else "Once upon") and "[DONE]" in str(err)
