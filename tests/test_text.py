"""The client's generate / generate_stream against the sandbox: hosts, the Generation result, streams
(whole characters), checks before sending, context length, use_string and seeds."""

from __future__ import annotations

import asyncio
import socket

import pytest
from sandbox_fixtures import DEMO

from naikit import errors
from naikit._transport import Hosts, RetryPolicy
from naikit.novelai.async_client import AsyncNovelAI
from naikit.novelai.client import NovelAI
from naikit.novelai.generation import Generation
from naikit.novelai.presets import BiasGroup, GlobalSettings, Preset
from naikit.tokenizers import encode, token_bytes

PROMPT = "The old lighthouse keeper climbed the stairs"


def _dead() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_generate_result(nai):
    # "continue to sentence end" is on by default (as on the website) and may run past max_length
    exact = GlobalSettings(generate_until_sentence=False)
    g = nai.generate(PROMPT, "Carefree", model="kayra", max_length=15, seed=1, global_settings=exact)
    assert isinstance(g, Generation) and g.model == "kayra-v1" and g.preset == "Carefree"
    assert 1 <= len(g.tokens) <= 15 and g.text.startswith(" ")
    assert g.parameters["generate_until_sentence"] is False
    assert nai.generate(PROMPT, "Carefree", model="kayra", max_length=15, seed=1).parameters[
        "generate_until_sentence"
    ]
    assert (
        g.parameters["max_length"] == 15
        and g.parameters["order"] == Preset.official("kayra").to_parameters()["order"]
    )
    frame = g.to_frame()
    assert list(frame.columns) == [
        "position",
        "token_id",
        "piece",
        "logprob_before",
        "logprob_after",
        "chosen",
        "alternatives",
    ]
    assert list(frame["token_id"]) == g.tokens and "".join(frame["piece"]) == g.text
    long = g.logprobs_frame()
    assert set(long["list"]) == {"before", "after"} and long["chosen"].any()
    html = g._repr_html_()
    assert "nk-tok" in html and "Carefree" in html  # the logprob view of issue 2
    assert g.timings["total_s"] > 0 and g.mean_logprob < 0
    assert "kayra-v1" in repr(g) and str(g) == g.text


def test_right_host_per_model(sb):
    dead = _dead()
    one = RetryPolicy(attempts=1)
    with NovelAI(hosts=Hosts(api=sb.url, image=sb.url, text=dead), retry=one, **DEMO) as c:
        assert c.generate(PROMPT, model="euterpe", max_length=3).tokens
        with pytest.raises(errors.TransportError):
            c.generate(PROMPT, model="kayra", max_length=3)
    with NovelAI(hosts=Hosts(api=dead, image=dead, text=sb.url), retry=one, token=_token(sb)) as c:
        assert c.generate(PROMPT, model="erato", max_length=3).tokens
        with pytest.raises(errors.TransportError):
            c.generate(PROMPT, model="clio", max_length=3)


def _token(sb):
    return sb.create_persistent_token()


def test_stream_matches_generate(nai):
    g = nai.generate(PROMPT, model="erato", max_length=20, seed=4)
    events = list(nai.generate_stream(PROMPT, model="erato", max_length=20, seed=4))
    assert [e.final for e in events] == [False] * (len(events) - 1) + [True]
    assert "".join(e.text for e in events) == g.text
    final = events[-1].generation
    assert final.text == g.text and final.tokens == g.tokens and final.raw_logprobs == g.raw_logprobs
    assert final.timings["first_token_s"] <= final.timings["total_s"]


def test_stream_never_splits_a_character(nai):
    # force a character that llama3 spells with two byte tokens; the stream gives it whole, once
    dragon = "\U0001f409"
    assert len(encode(dragon, "erato")) >= 2
    bias = BiasGroup(60.0, dragon, ensure_sequence_finish=True, generate_once=True)
    events = list(nai.generate_stream(PROMPT, model="erato", max_length=6, biases=bias))
    texts = [e.text for e in events]
    tokens = events[-1].generation.tokens
    assert tokens[:3] == encode(dragon, "erato")  # the bias forced the dragon's three byte tokens first
    assert texts[:3] == ["", "", dragon]  # held back until whole, then given once
    # the same characters as decoding every byte at once (the sandbox's toy model may go on to emit lone
    # byte tokens, which are invalid UTF-8 whichever way they are decoded)
    assert "".join(texts) == token_bytes(tokens, "erato").decode("utf-8", "replace")
    assert events[-1].generation.text == "".join(texts)


def test_use_string(nai):
    g = nai.generate(PROMPT, "Golden Arrow", model="erato", max_length=10, use_string=True)
    assert g.parameters["use_string"] is True and g.text and g.tokens
    events = list(nai.generate_stream(PROMPT, "Golden Arrow", model="erato", max_length=10, use_string=True))
    assert "".join(e.text for e in events) == g.text


def test_seeds(nai):
    a = nai.generate(PROMPT, model="kayra", max_length=12, seed=2)
    b = nai.generate(PROMPT, model="kayra", max_length=12, seed=2)
    assert a.text == b.text
    texts = {
        nai.generate(PROMPT, model="kayra", max_length=12, seed=s, temperature=2.0).text for s in range(6)
    }
    assert len(texts) > 1
    with pytest.raises(errors.InputError, match="seed"):
        nai.generate(PROMPT, model="kayra", seed=-1)


@pytest.mark.parametrize(
    "kwargs,field",
    [
        (dict(temperature=0), "temperature"),
        (dict(top_p=1.2), "top_p"),
        (dict(order=["temperature", "nucleus"]), "order[1].id"),
        (dict(module="special_openings"), "module"),
        (dict(preset="Nope"), "name"),
        (dict(preset=Preset.official("kayra")), "preset"),
        (dict(stop_sequences="\n"), "stop_sequences"),
        (dict(max_length=0), "max_length"),
    ],
)
def test_bad_input_refused_before_sending(nai, kwargs, field):
    before = nai.stats.get("attempts", 0)
    with pytest.raises(errors.InputError) as e:
        nai.generate(PROMPT, model="erato", **kwargs)
    assert e.value.field == field
    assert nai.stats.get("attempts", 0) == before


def test_context_too_long(nai):
    long = "word " * 9000
    before = nai.stats.get("attempts", 0)
    with pytest.raises(errors.InputError, match="truncate=True") as e:
        nai.generate(long, model="kayra", max_length=5)
    assert e.value.field == "prompt" and nai.stats.get("attempts", 0) == before
    g = nai.generate(long, model="kayra", max_length=5, truncate=True)
    assert g.tokens
    g = nai.generate(long, model="erato", max_length=5, truncate=True, context_tokens=100)
    assert g.tokens
    with pytest.raises(errors.InputError, match="context_tokens"):
        nai.generate("hi", model="kayra", context_tokens=1)


def test_async_client(sb):
    async def main():
        async with AsyncNovelAI(base_url=sb.url, **DEMO) as c:
            g = await c.generate(PROMPT, model="clio", max_length=5)
            assert g.model == "clio-v1" and g.tokens
            events = [ev async for ev in c.generate_stream(PROMPT, model="clio", max_length=5)]
            assert len(events) == len(g.tokens) and events[-1].generation.tokens == g.tokens

    asyncio.run(main())


def test_prepare_request_without_network():
    from naikit.novelai.text import prepare_request

    body, p, m = prepare_request(PROMPT, "Golden Arrow", model="erato", max_length=20)
    assert m.value == "llama-3-erato-v1" and p.name == "Golden Arrow"
    assert body["parameters"]["order"] == [9, 2] and body["parameters"]["max_length"] == 20
