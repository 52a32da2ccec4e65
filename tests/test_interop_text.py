"""naikit's text requests against `novelai-api` 0.34.1 (throwaway venv), and that client on the sandbox.

1. For every official preset and a fixed prompt (plain, and with bans, biases, stop sequences and other
   global settings), the body naikit builds equals the one novelai-api sends, except for the named
   differences where novelai-api is wrong; each difference has its own test showing it.
2. novelai-api pointed at `naikit serve` generates and streams with its own Kayra and Erato presets.
"""

from __future__ import annotations

import copy
import functools
import json

import pytest
from refclients import run_script
from served import naikit_serve

from naikit.novelai.presets import SAMPLER_KEYS, BanList, BiasGroup, GlobalSettings, Preset, build_request
from naikit.sandbox import DEMO_EMAIL, DEMO_PASSWORD
from naikit.tokenizers import LLAMA3_BOS, b64_to_tokens, decode

pytestmark = pytest.mark.interop

PROMPT = "The old lighthouse keeper climbed the stairs"

# Captures the body novelai-api would send, for every official preset, without any network.
REF_BODIES = r"""
import asyncio, copy, json, sys
from aiohttp import ClientSession
from novelai_api import NovelAIAPI
from novelai_api.Preset import Preset, Model
from novelai_api.GlobalSettings import GlobalSettings
from novelai_api.BanList import BanList
from novelai_api.BiasGroup import BiasGroup

class Captured(Exception):
    pass

async def main(prompt):
    out = []
    async with ClientSession() as session:
        api = NovelAIAPI(session)
        async def fake_request(method, endpoint, data=None, base_address=None):
            raise Captured(json.dumps({"endpoint": endpoint, "base": base_address, "body": data}))
            yield
        api.low_level.request = fake_request
        for model in Model:
            for preset in Preset[model]:
                for variant in ("plain", "extras"):
                    kw = {}
                    gs = GlobalSettings()
                    if variant == "extras":
                        gs = GlobalSettings(bias_dinkus_asterism=True, num_logprobs=5,
                                            generate_until_sentence=True)
                        kw = dict(bad_words=BanList(" dragon", [1, 2]),
                                  biases=[BiasGroup(0.5, True, False).add(" castle", [5, 6])],
                                  stop_sequences=["\n", [7, 8]], prefix="vanilla", max_length=33)
                    try:
                        await api.high_level.generate(prompt, model, copy.deepcopy(preset), gs, **kw)
                    except Captured as c:
                        out.append({"model": model.value, "preset": preset.name, "variant": variant,
                                    **json.loads(str(c))})
    print(json.dumps(out))

asyncio.run(main(sys.argv[1]))
"""


@functools.lru_cache(maxsize=1)
def ref_bodies() -> tuple[dict, ...]:
    return tuple(json.loads(run_script("novelai-api", REF_BODIES, PROMPT)))


def naikit_body(entry: dict) -> dict:
    p = Preset.official(entry["model"], entry["preset"])
    kw: dict = {}
    if entry["variant"] == "extras":
        kw = dict(
            global_settings=GlobalSettings(
                bias_dinkus_asterism=True, num_logprobs=5, generate_until_sentence=True
            ),
            bans=BanList(" dragon", [1, 2]),
            biases=[BiasGroup(0.5, " castle", [5, 6], ensure_sequence_finish=True)],
            stop_sequences=["\n", [7, 8]],
            module="vanilla",
            max_length=33,
        )
    return build_request(PROMPT, p, **kw)


def _strip_bos(seq: list[int]) -> list[int]:
    return seq[1:] if seq and seq[0] == LLAMA3_BOS else seq


def normalise_ref(entry: dict) -> dict:
    """novelai-api's parameters with the named differences taken out (each is tested below)."""
    params = copy.deepcopy(entry["body"]["parameters"])
    enabled = set(Preset.official(entry["model"], entry["preset"]).enabled_samplers)
    for sampler, keys in SAMPLER_KEYS.items():  # difference 1: parameters of disabled samplers
        if sampler not in enabled:
            for k in keys:
                params.pop(k, None)
    if entry["model"] == "llama-3-erato-v1":  # difference 2: BOS in Erato's sequences
        for k in ("bad_words_ids", "stop_sequences"):
            if k in params:
                params[k] = [_strip_bos(s) for s in params[k]]
        if "logit_bias_exp" in params:
            params["logit_bias_exp"] = [
                {**e, "sequence": _strip_bos(e["sequence"])} for e in params["logit_bias_exp"]
            ]
        params["repetition_penalty_whitelist"] = [
            t for t in params["repetition_penalty_whitelist"] if t != LLAMA3_BOS
        ]
    params["repetition_penalty_whitelist"] = sorted(params["repetition_penalty_whitelist"])  # 3: set order
    return params


def test_every_official_preset_same_body_as_novelai_api():
    entries = ref_bodies()
    assert len(entries) == 2 * 47
    for entry in entries:
        mine = naikit_body(entry)
        where = (entry["model"], entry["preset"], entry["variant"])
        assert mine["input"] == entry["body"]["input"], where
        assert mine["model"] == entry["body"]["model"], where
        assert mine["parameters"] == normalise_ref(entry), where
        # the same host as novelai-api (text host for Kayra and Erato, api host otherwise)
        from naikit.novelai.models import text_model

        host = (
            "https://text.novelai.net"
            if text_model(entry["model"]).host == "text"
            else "https://api.novelai.net"
        )
        assert entry["base"] == host and entry["endpoint"] == "/ai/generate"


def test_difference_disabled_sampler_parameters():
    """novelai-api keeps tail_free_sampling, cfg_* and mirostat_* of disabled samplers; naikit drops them."""
    seen = set()
    for entry in ref_bodies():
        p = Preset.official(entry["model"], entry["preset"])
        mine = naikit_body(entry)["parameters"]
        for sampler, keys in SAMPLER_KEYS.items():
            if sampler in p.enabled_samplers:
                continue
            for k in keys:
                assert k not in mine
                if k in entry["body"]["parameters"]:
                    seen.add(k)
    assert {"tail_free_sampling", "cfg_scale", "cfg_uc", "mirostat_tau", "mirostat_lr"} <= seen


def test_difference_erato_bos_in_sequences():
    """novelai-api starts Erato's stop sequences, bans, bias phrases and whitelist with BOS (128000)."""
    entry = next(e for e in ref_bodies() if e["model"] == "llama-3-erato-v1" and e["variant"] == "extras")
    ref = entry["body"]["parameters"]
    mine = naikit_body(entry)["parameters"]
    assert ref["stop_sequences"][0] == [LLAMA3_BOS, 198] and mine["stop_sequences"][0] == [198]
    assert LLAMA3_BOS in ref["repetition_penalty_whitelist"]
    assert LLAMA3_BOS not in mine["repetition_penalty_whitelist"]
    assert ref["logit_bias_exp"][0]["sequence"][0] == LLAMA3_BOS
    assert mine["logit_bias_exp"][0]["sequence"][0] != LLAMA3_BOS
    # the prompt itself does start with BOS in both
    assert b64_to_tokens(entry["body"]["input"], "erato")[0] == LLAMA3_BOS


# -- novelai-api against the sandbox -----------------------------------------------------------------

REF_GENERATE = r"""
import asyncio, json, sys
from aiohttp import ClientSession
import novelai_api._low_level as low
from novelai_api import NovelAIAPI
from novelai_api.Preset import Preset, Model
from novelai_api.GlobalSettings import GlobalSettings
from novelai_api.utils import b64_to_tokens

async def main(url, email, password):
    low.TEXT_API_ADDRESS = url
    low.GENERAL_API_ADDRESS = url
    out = {}
    async with ClientSession() as session:
        api = NovelAIAPI(session)
        api.BASE_ADDRESS = url
        await api.high_level.login(email, password)
        for model in (Model.Kayra, Model.Erato, Model.Euterpe):
            preset = Preset.from_default(model) or Preset.from_official(model, "Golden Arrow")
            gs = GlobalSettings(num_logprobs=3)
            res = await api.high_level.generate("The old lighthouse keeper", model, preset, gs, max_length=12)
            width = 4 if model is Model.Erato else 2
            events = []
            hl = api.high_level
            stream = hl.generate_stream("The old lighthouse keeper", model, preset, gs, max_length=12)
            async for e in stream:
                events.append(e)
            out[model.value] = {
                "output": b64_to_tokens(res["output"], width),
                "logprobs": len(res.get("logprobs") or []),
                "stream": [b64_to_tokens(e["token"], width)[0] for e in events],
                "ptrs": [e["ptr"] for e in events],
                "final": [e["final"] for e in events],
                "first_logprobs": events[0]["logprobs"],
            }
    print(json.dumps(out))

asyncio.run(main(*sys.argv[1:4]))
"""


@pytest.fixture(scope="module")
def served():
    with naikit_serve() as url:
        yield url


def test_novelai_api_generates_and_streams_on_the_sandbox(served):
    out = json.loads(run_script("novelai-api", REF_GENERATE, served, DEMO_EMAIL, DEMO_PASSWORD))
    for model in ("kayra-v1", "llama-3-erato-v1", "euterpe-v2"):
        got = out[model]
        assert 1 <= len(got["output"]) <= 12
        assert got["logprobs"] == len(got["output"])
        # the stream is the same generation as the non-stream call (same body, same seed)
        assert got["stream"] == got["output"]
        assert got["ptrs"] == list(range(len(got["stream"])))
        assert got["final"][-1] is True and not any(got["final"][:-1])
        lp = got["first_logprobs"]
        assert set(lp) == {"chosen", "before", "after"} and len(lp["before"]) == 3
        assert decode(got["output"], model).strip()
