"""naikit's text requests against `novelai-api` 0.34.1 (throwaway venv), and that client on the sandbox.

1. For every official preset and a fixed prompt (plain, and with bans, biases, stop sequences and other
   global settings), naikit's input and model equal novelai-api's and its parameters equal what the
   website builds (test_site_text.site_parameters, written from the site's bundle); novelai-api differs
   from the website only in the keys named in NOVELAI_API_DIFFERS, the main ones with their own test.
2. novelai-api pointed at `naikit serve` generates and streams with its own Kayra and Erato presets.
"""

from __future__ import annotations

import functools
import json

import pytest
from refclients import run_script
from served import naikit_serve
from test_site_text import site_parameters

from naikit.novelai.presets import SAMPLER_KEYS, BanList, BiasGroup, GlobalSettings, Preset, build_request
from naikit.sandbox import DEMO_EMAIL, DEMO_PASSWORD
from naikit.tokenizers import LLAMA3_BOS, b64_to_tokens, decode, encode

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


def _extras(entry: dict) -> bool:
    return entry["variant"] == "extras"


def naikit_body(entry: dict) -> dict:
    p = Preset.official(entry["model"], entry["preset"])
    kw: dict = {}
    if _extras(entry):
        kw = dict(
            global_settings=GlobalSettings(num_logprobs=5),
            bans=BanList(" dragon", [1, 2]),
            biases=[BiasGroup(0.5, " castle", [5, 6], ensure_sequence_finish=True)],
            stop_sequences=["\n", [7, 8]],
            module="vanilla",
            max_length=33,
        )
    return build_request(PROMPT, p, **kw)


def site_body_parameters(entry: dict) -> dict:
    """What novelai.net sends for the same inputs (test_site_text.site_parameters, from its bundle)."""
    model = entry["model"]
    preset = json.loads(Preset.official(model, entry["preset"]).to_json())
    bans: list = []
    groups: list = []
    stops: list = []
    if _extras(entry):
        preset["parameters"]["max_length"] = 33
        bans = [encode(" dragon", model), [1, 2]]
        groups = [{"bias": 0.5, "sequences": [encode(" castle", model), [5, 6]], "esf": True, "once": False}]
        stops = [encode("\n", model), [7, 8]]
    params = site_parameters(preset, model, PROMPT, bans, groups, stops)
    # naikit's named difference: it asks for logprobs by default (10; here 5 as asked)
    params["num_logprobs"] = 5 if _extras(entry) else 10
    return params


def _strip_bos(seq: list[int]) -> list[int]:
    return seq[1:] if seq and seq[0] == LLAMA3_BOS else seq


def test_every_official_preset_same_body_as_the_website():
    entries = ref_bodies()
    assert len(entries) == 2 * 47
    for entry in entries:
        mine = naikit_body(entry)
        where = (entry["model"], entry["preset"], entry["variant"])
        # input and model as novelai-api sends them, parameters as the website builds them
        assert mine["input"] == entry["body"]["input"], where
        assert mine["model"] == entry["body"]["model"], where
        assert mine["parameters"] == site_body_parameters(entry), where
        from naikit.novelai.models import text_model

        host = (
            "https://text.novelai.net"
            if text_model(entry["model"]).host == "text"
            else "https://api.novelai.net"
        )
        assert entry["base"] == host and entry["endpoint"] == "/ai/generate"


# Where novelai-api 0.34.1 differs from the website (naikit follows the website). Each key maps to why.
NOVELAI_API_DIFFERS = {
    "tail_free_sampling": "kept for disabled samplers",
    "cfg_scale": "kept for disabled samplers (the site never sends CFG)",
    "cfg_uc": "kept for disabled samplers (the site never sends CFG)",
    "mirostat_tau": "kept for disabled samplers",
    "mirostat_lr": "kept for disabled samplers",
    "math1_temp": "kept for disabled samplers",
    "math1_quad": "kept for disabled samplers",
    "math1_quad_entropy_scale": "kept for disabled samplers",
    "top_g": "sent (the site never sends Top-G)",
    "min_p": "kept for disabled samplers",
    "order": "keeps the CFG and Top-G ids",
    "repetition_penalty_whitelist": "always sent, in set order, Erato's with BOS",
    "bad_words_ids": "Erato's with BOS, 7 bans instead of 11; Genji-JP's always",
    "stop_sequences": "Erato's with BOS",
    "logit_bias_exp": "Erato's with BOS; no default bias unless asked; no Genji biases",
    "generate_until_sentence": "off by default",
    "num_logprobs": "its own default",
    "prefix": "the module given, where the site sends vanilla",
    "bracket_ban": "only sent when on",
    "repetition_penalty": "not rescaled for Genji",
    "eos_token_id": "sent from the Inline preset",
}


def test_novelai_api_differs_from_the_website_only_where_named():
    seen: set[str] = set()
    for entry in ref_bodies():
        ref = entry["body"]["parameters"]
        site = site_body_parameters(entry)
        for key in set(ref) | set(site):
            if ref.get(key) != site.get(key):
                assert key in NOVELAI_API_DIFFERS, (key, entry["model"], entry["preset"], entry["variant"])
                seen.add(key)
    assert {"repetition_penalty_whitelist", "bad_words_ids", "generate_until_sentence"} <= seen


def test_difference_disabled_sampler_parameters():
    """novelai-api keeps tail_free_sampling, cfg_* and mirostat_* of disabled samplers; the site doesn't."""
    seen = set()
    for entry in ref_bodies():
        p = Preset.official(entry["model"], entry["preset"])
        site = site_body_parameters(entry)
        mine = naikit_body(entry)["parameters"]
        for sampler, keys in SAMPLER_KEYS.items():
            if sampler in p.enabled_samplers:
                continue
            for k in keys:
                assert k not in site and k not in mine
                if k in entry["body"]["parameters"]:
                    seen.add(k)
    assert {"tail_free_sampling", "cfg_scale", "cfg_uc", "mirostat_tau", "mirostat_lr"} <= seen


def test_difference_erato_bos_in_sequences():
    """novelai-api starts Erato's stop sequences, bans, bias phrases and whitelist with BOS (128000)."""
    entry = next(e for e in ref_bodies() if e["model"] == "llama-3-erato-v1" and _extras(e))
    ref = entry["body"]["parameters"]
    mine = naikit_body(entry)["parameters"]
    newline = encode("\n", "erato")
    assert ref["stop_sequences"][0] == [LLAMA3_BOS, *newline] and mine["stop_sequences"][0] == newline
    assert LLAMA3_BOS in ref["repetition_penalty_whitelist"]
    assert LLAMA3_BOS not in mine.get("repetition_penalty_whitelist", [])
    castle = encode(" castle", "erato")
    assert ref["logit_bias_exp"][0]["sequence"] == [LLAMA3_BOS, *castle]
    assert mine["logit_bias_exp"][0]["sequence"] == castle
    # Erato's bans: the site's always-on [16067], yours, then its 10 bracket bans
    assert mine["bad_words_ids"][:3] == [[16067], encode(" dragon", "erato"), [1, 2]]
    assert len(mine["bad_words_ids"]) == 13
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
