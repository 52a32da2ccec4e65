"""Text request bodies against novelai.net's own request preparation (January 2026 bundle).

``site_parameters`` below is written from a reading of the website's ``prepareRequest`` (chunks/pages/
_app-*.js) and its token tables (module 62090, copied into tests/data/site_text_tables.json), with the
site's default user settings (continue to sentence end on, token probabilities off, default bias on, ban
brackets on) and a fresh story (prefix "vanilla"). It never calls naikit's request builder; the token ids
of the whitelist strings come from naikit's tokenizers, whose ids are tested against references in
test_tokenizers.py.

Named differences (README, "Where naikit differs from the website"): naikit asks for 10 logprobs by
default (``num_logprobs``), and sends min_length/max_length as given (range-checked) where the site
clamps them to 1..500.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from naikit.novelai.models import TEXT_MODELS
from naikit.novelai.presets import BanList, BiasGroup, GlobalSettings, Preset, build_request
from naikit.tokenizers import b64_to_tokens, encode

TABLES = json.loads((Path(__file__).parent / "data" / "site_text_tables.json").read_text("utf-8"))

# The site's tokenizer per model (its function from model to encoder type).
SITE_TOKENIZER = {
    "genji-jp-6b-v2": "Genji",
    "krake-v2": "Pile",
    "infillmodel": "NAIInline",
    "kayra-v1": "NerdstashV2",
    "clio-v1": "Nerdstash",
    "llama-3-erato-v1": "Llama3",
}  # every other model: GPT2
SAMPLER_ID = {
    "temperature": 0, "top_k": 1, "top_p": 2, "tfs": 3, "top_a": 4, "typical_p": 5, "cfg": 6, "top_g": 7,
    "mirostat": 8, "math1": 9, "min_p": 10,
}  # fmt: skip
SAMPLER_PARAMS = {
    "temperature": ["temperature"], "top_k": ["top_k"], "top_p": ["top_p"], "tfs": ["tail_free_sampling"],
    "top_a": ["top_a"], "typical_p": ["typical_p"], "cfg": ["cfg_scale", "cfg_uc"], "top_g": ["top_g"],
    "mirostat": ["mirostat_tau", "mirostat_lr"],
    "math1": ["math1_temp", "math1_quad", "math1_quad_entropy_scale"],
    "min_p": ["min_p"],
}  # fmt: skip
DROPPED_FROM_PRESET = {
    "textGenerationSettingsVersion",
    "eos_token_id",
    "bad_words_ids",
    "logit_bias_groups",
    "order",
}
PHRASE_BIAS = lambda model: model not in ("2.7B", "infillmodel")  # noqa: E731
WHITELIST_MODELS = {"clio-v1", "kayra-v1", "llama-3-erato-v1"}
RESCALED = {
    "6B",
    "6B-v3",
    "6B-v4",
    "euterpe-v0",
    "euterpe-v2",
    "genji-python-6b",
    "genji-jp-6b",
    "genji-jp-6b-v2",
}
PREFIX_MODELS = {
    "6B",
    "6B-v3",
    "6B-v4",
    "euterpe-v0",
    "euterpe-v2",
    "krake-v1",
    "krake-v2",
    "clio-v1",
    "kayra-v1",
}
MIROSTAT = {"clio-v1", "kayra-v1", "llama-3-erato-v1"}
MATH1 = MIN_P = {"kayra-v1", "llama-3-erato-v1"}


def bracket_bans(tok: str) -> list[list[int]]:
    return {
        "Genji": TABLES["bracket"]["Genji"],
        "Pile": TABLES["bracket"]["Pile"],
        "GPT2": TABLES["bracket"]["GPT2"],
        "Nerdstash": TABLES["bracket"]["Nerdstash"],
        "NerdstashV2": TABLES["bracket"]["Nerdstash"],
        "Llama3": TABLES["bracket"]["Llama3"],
    }.get(tok, [])


def japanese(text: str) -> bool:
    ranges = [
        (0x3000, 0x303F),
        (0x3040, 0x309F),
        (0x30A0, 0x30FF),
        (0xFF00, 0xFF9F),
        (0x4E00, 0x9FAF),
        (0x3400, 0x4DBF),
    ]
    n = sum(1 for ch in text if any(a <= ord(ch) <= b for a, b in ranges))
    return n > 0 and n / len(text) > 0.3


def whitelist(tok: str, model: str) -> list[int]:
    out = []
    for s in TABLES["whitelist_strings"][tok]:
        ids = encode(s, model)
        if len(ids) == 1:
            out += ids
    return out


def phrase_bias(groups: list[dict]) -> list[dict]:
    """The site's merge of bias groups: equal sequences share the mean bias, flags or-ed."""
    out: list[dict] = []
    for g in groups:
        for seq in g["sequences"]:
            same = [e for e in out if e["sequence"] == seq]
            if same:
                e = same[0]
                e["bias"] += g["bias"]
                e["ensure_sequence_finish"] = e["ensure_sequence_finish"] or g["esf"]
                e["generate_once"] = e["generate_once"] or g["once"]
                e["number"] += 1
            else:
                out.append(
                    {
                        "sequence": seq,
                        "bias": g["bias"],
                        "ensure_sequence_finish": g["esf"],
                        "generate_once": g["once"],
                        "number": 1,
                    }
                )
    return [
        {k: (e["bias"] / e["number"] if k == "bias" else v) for k, v in e.items() if k != "number"}
        for e in out
    ]


def site_parameters(preset: dict, model: str, context: str, bans=(), bias_groups=(), stops=()) -> dict:
    """The ``parameters`` novelai.net sends for this preset file, model and context."""
    tok = SITE_TOKENIZER.get(model, "GPT2")
    n = {k: v for k, v in preset["parameters"].items() if k not in DROPPED_FROM_PRESET}
    n["bad_words_ids"] = ([[16067]] if tok == "Llama3" else []) + [list(b) for b in bans]
    n["bad_words_ids"] += bracket_bans(tok)  # ban brackets: on by default
    if tok == "Llama3" and japanese(context):
        n["bad_words_ids"] += [[933, 34184, 128039], [34184, 9]]
    s = phrase_bias(list(bias_groups)) if PHRASE_BIAS(model) else []
    if tok == "Genji":
        s += [
            {"sequence": [t], "bias": -0.25, "ensure_sequence_finish": False, "generate_once": False}
            for t in (7398, 15864, 29146, 4707)
        ]
    if stops:
        n["stop_sequences"] = [list(x) for x in stops]
    default = {
        "GPT2": [[8162], [46256, 224]],
        "Pile": [[9264]],
        "Nerdstash": [[23], [21]],
        "NerdstashV2": [[23], [21]],
    }
    if PHRASE_BIAS(model):
        d = -0.08 if tok in ("Nerdstash", "NerdstashV2") else -0.12
        for seq in default.get(tok, []):
            if not any(e["sequence"] == seq for e in s):
                s.append(
                    {"sequence": seq, "bias": d, "ensure_sequence_finish": False, "generate_once": False}
                )
    h = preset["parameters"]["repetition_penalty"]
    if model in RESCALED:
        h = -((h - 1) * (1 - 1.525) / 7) + 1
    prefix = "vanilla"  # a new story; models without modules are always sent "vanilla"
    if model == "genji-jp-6b-v2":
        s = [{**e, "bias": -1 * e["bias"]} for e in s]
    f = []
    for e in preset["parameters"].get("order", []):
        if e["enabled"]:
            if e["id"] == "top_g":
                n.pop("top_g", None)
                continue
            f.append(SAMPLER_ID[e["id"]])
        else:
            for k in SAMPLER_PARAMS[e["id"]]:
                n.pop(k, None)
    for name, supported in (
        ("cfg", set()),
        ("top_g", {"clio-v1", "kayra-v1"}),
        ("mirostat", MIROSTAT),
        ("math1", MATH1),
        ("min_p", MIN_P),
    ):
        if model not in supported:
            for k in SAMPLER_PARAMS[name]:
                n.pop(k, None)
            f = [i for i in f if i != SAMPLER_ID[name]]
    if n.get("repetition_penalty_default_whitelist") and model in WHITELIST_MODELS:
        n["repetition_penalty_whitelist"] = whitelist(tok, model)
    n.pop("repetition_penalty_default_whitelist", None)
    if n.get("top_k", 0) < 0:
        del n["top_k"]
    if "top_p" in n and (n["top_p"] <= 0 or n["top_p"] > 1):
        del n["top_p"]
    if "tail_free_sampling" in n and (n["tail_free_sampling"] <= 0 or n["tail_free_sampling"] > 1):
        del n["tail_free_sampling"]
    if not n["bad_words_ids"]:
        del n["bad_words_ids"]
    if n.get("repetition_penalty_range") == 0:
        del n["repetition_penalty_range"]
    if n.get("repetition_penalty_slope") == 0:
        del n["repetition_penalty_slope"]
    out = {
        **n,
        "min_length": n["min_length"],  # named difference: the site clamps to 1..500
        "max_length": n["max_length"],
        "repetition_penalty": h,
        "generate_until_sentence": True,
        "use_cache": False,
        "use_string": False,
        "return_full_text": False,
        "prefix": prefix,
        "order": f,
        "bracket_ban": True,
    }
    if s:
        out["logit_bias_exp"] = s
    return out


def _official() -> list[tuple[str, str]]:
    return [(m.value, name) for m in TEXT_MODELS for name in Preset.official_names(m)]


@pytest.mark.parametrize("model,name", _official())
def test_every_official_preset_builds_the_sites_body(model, name):
    preset = Preset.official(model, name)
    prompt = "The tavern was quiet."
    body = build_request(prompt, preset, global_settings=GlobalSettings(num_logprobs=-1))
    expected = site_parameters(json.loads(preset.to_json()), model, prompt)
    assert body["parameters"] == expected
    assert body["model"] == model and body["use_new_shared_trial"] is True
    ids = encode(prompt, model, bos=model == "llama-3-erato-v1")
    assert b64_to_tokens(body["input"], model) == ids


@pytest.mark.parametrize("model", ["llama-3-erato-v1", "kayra-v1", "genji-jp-6b-v2", "infillmodel"])
def test_bans_biases_and_stops_in_the_sites_order(model):
    preset = Preset.official(model)
    prompt = "静かな夜だった。彼女は窓の外を見た。"
    body = build_request(
        prompt,
        preset,
        global_settings=GlobalSettings(num_logprobs=-1),
        bans=BanList([5, 6], [7]),
        biases=[
            BiasGroup(1.0, [9, 10], generate_once=True),
            BiasGroup(-0.5, [9, 10], [11], ensure_sequence_finish=True),
        ],
        stop_sequences=[[12, 13]],
    )
    groups = [
        {"bias": 1.0, "sequences": [[9, 10]], "esf": False, "once": True},
        {"bias": -0.5, "sequences": [[9, 10], [11]], "esf": True, "once": False},
    ]
    expected = site_parameters(json.loads(preset.to_json()), model, prompt, [[5, 6], [7]], groups, [[12, 13]])
    assert body["parameters"] == expected
    if model == "llama-3-erato-v1":  # 11 sequences always-on and bracket, 2 more for a Japanese context
        assert body["parameters"]["bad_words_ids"][:3] == [[16067], [5, 6], [7]]
        assert len(body["parameters"]["bad_words_ids"]) == 3 + 10 + 2
    merged = [e for e in body["parameters"].get("logit_bias_exp", []) if e["sequence"] == [9, 10]]
    if model == "infillmodel":  # the site sends no phrase biases for the Inline model
        assert merged == []
    else:
        sign = -1 if model == "genji-jp-6b-v2" else 1
        assert merged == [
            {"sequence": [9, 10], "bias": sign * 0.25, "ensure_sequence_finish": True, "generate_once": True}
        ]


def test_settings_switched_off_leave_out_what_the_site_leaves_out():
    preset = Preset.official("kayra")
    gs = GlobalSettings(
        num_logprobs=-1, ban_brackets=False, bias_dinkus_asterism=False, generate_until_sentence=False
    )
    params = build_request("Hi", preset, global_settings=gs)["parameters"]
    assert params["bracket_ban"] is False and params["generate_until_sentence"] is False
    assert "bad_words_ids" not in params and "logit_bias_exp" not in params and "num_logprobs" not in params
    # naikit's one default that differs: 10 logprobs
    assert build_request("Hi", preset)["parameters"]["num_logprobs"] == 10
    # a call's own values win over the settings, as the site's parameter overrides do
    over = build_request("Hi", preset, num_logprobs=30, generate_until_sentence=False)["parameters"]
    assert over["num_logprobs"] == 30 and over["generate_until_sentence"] is False


def test_whitelist_only_when_the_preset_asks():
    asks = [
        (m, n) for m, n in _official() if Preset.official(m, n).get("repetition_penalty_default_whitelist")
    ]
    silent = [(m, n) for m, n in _official() if m in WHITELIST_MODELS and (m, n) not in asks]
    assert asks and silent
    for m, n in silent:
        assert "repetition_penalty_whitelist" not in build_request("x", Preset.official(m, n))["parameters"]
    m, n = asks[0]
    wl = build_request("x", Preset.official(m, n))["parameters"]["repetition_penalty_whitelist"]
    assert wl == whitelist(SITE_TOKENIZER[m], m)
    forced = GlobalSettings(rep_pen_whitelist=True)
    assert build_request("x", Preset.official(*silent[0]), global_settings=forced)["parameters"][
        "repetition_penalty_whitelist"
    ]
