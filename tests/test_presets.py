"""Presets: .preset files byte for byte, official presets, parameter checks, request parameters, global
settings, bans, biases, stop sequences and modules."""

from __future__ import annotations

import json
import os
from importlib import resources

import pytest

from naikit.errors import InputError
from naikit.novelai import modules_catalog as mc
from naikit.novelai._preset_file import _dump
from naikit.novelai.models import TEXT_MODELS
from naikit.novelai.presets import (
    BanList,
    BiasGroup,
    GlobalSettings,
    Preset,
    build_parameters,
    build_request,
    default_preset_name,
    official_presets,
)
from naikit.tokenizers import LLAMA3_BOS, b64_to_tokens, encode

DATA = resources.files("naikit").joinpath("data", "presets")


def _files():
    return sorted(
        (d.name, f.name)
        for d in DATA.iterdir()
        if d.is_dir()
        for f in d.iterdir()
        if f.name.endswith(".preset")
    )


def test_every_official_preset_is_shipped():
    files = _files()
    # spec §8.2's 48 (including the unused presets_2.7B) plus the GLM "Default" for glm-4-6 and xialong-v1
    assert len(files) == 50
    assert len(official_presets()) == 49  # every model naikit knows (Calliope 2.7B is not one)
    assert (DATA / "NOTICE").is_file()
    counts = {m.value: len(Preset.official_names(m)) for m in TEXT_MODELS}
    assert counts["kayra-v1"] == 5 and counts["llama-3-erato-v1"] == 5 and counts["krake-v2"] == 9


@pytest.mark.parametrize("folder,name", _files())
def test_preset_file_read_and_written_back_is_unchanged(folder, name, tmp_path):
    raw = (DATA / folder / name).read_bytes()
    if folder == "presets_2.7B":
        with pytest.raises(InputError, match="model"):
            Preset.from_json(raw)
        return
    p = Preset.load(DATA / folder / name)
    # The serializer alone (not the source text a loaded preset keeps) writes NovelAI's layout, the
    # website's JSON.stringify(preset, null, 2) plus a newline.
    layout = _dump(p.to_dict())
    if (folder, name) == ("presets_hypebot", "Default.preset"):
        # This file was edited by hand upstream: its stop_sequences sit on one line ("[[48585]]"), which
        # no JSON.stringify(..., 2) writes. naikit keeps the file's text while the preset is unchanged
        # and writes the standard layout once it changes.
        assert '"stop_sequences": [[48585]],' in raw.decode() and layout != raw.decode()
        assert layout.replace("[\n      [\n        48585\n      ]\n    ]", "[[48585]]") == raw.decode()
    else:
        assert layout.encode() == raw
    assert p.to_json().encode() == raw
    out = p.save(tmp_path / name)
    assert open(out, "rb").read() == raw
    # a change is written in NovelAI's layout and read back equal
    p.temperature = 0.77
    text = p.to_json()
    assert '"temperature": 0.77' in text and text.endswith("}\n")
    again = Preset.from_json(text)
    assert again == p and again.temperature == 0.77


def test_defaults_per_model():
    for m in TEXT_MODELS:
        p = Preset.official(m)
        assert p.model == m.value and p.name == default_preset_name(m)
    assert Preset.official("kayra").name == "Carefree"
    assert Preset.official("erato").name == "Golden Arrow"  # no default.txt upstream: naikit's choice
    assert Preset.official("kayra", "writer's daemon").name == "Writer's Daemon"
    with pytest.raises(InputError, match="Carefree") as e:
        Preset.official("kayra", "Nope")
    assert e.value.field == "name"


def test_golden_arrow_parameters_as_the_spec_shows():
    p = Preset.official("erato", "Golden Arrow")
    params = p.to_parameters()
    assert params["order"] == [9, 2]
    assert "temperature" not in params and "top_k" not in params and "tail_free_sampling" not in params
    assert "cfg_scale" not in params and "mirostat_tau" not in params and "min_p" not in params
    assert params["math1_temp"] == 0.3 and params["math1_quad"] == 0.19 and params["top_p"] == 0.995
    assert params["repetition_penalty_range"] == 2240 and params["phrase_rep_pen"] == "light"
    assert "textGenerationSettingsVersion" not in params
    assert "repetition_penalty_default_whitelist" not in params


def test_zero_range_and_slope_dropped():
    p = Preset.official("kayra", "Carefree").update(repetition_penalty_range=0, repetition_penalty_slope=0)
    params = p.to_parameters()
    assert "repetition_penalty_range" not in params and "repetition_penalty_slope" not in params


def test_sigurd_euterpe_rescale():
    for model in ("6B-v4", "euterpe-v2"):
        p = Preset.official(model).update(repetition_penalty=1.7)
        assert build_parameters(p)["repetition_penalty"] == pytest.approx(1 + 0.525 * 0.7 / 7)
    p = Preset.official("kayra").update(repetition_penalty=1.7)
    assert build_parameters(p)["repetition_penalty"] == 1.7


def test_sampler_order_editing():
    p = Preset.official("kayra", "Carefree")
    before = p.enabled_samplers
    p.disable(before[0])
    assert p.enabled_samplers == before[1:]
    p.enable("math1")
    assert p.is_enabled("math1")
    p.move("math1", 0)
    assert p.order[0] == ("math1", True)
    assert p.to_parameters()["order"][0] == 9
    p.set_order(["top_p", ("temperature", False), {"id": "top_k", "enabled": True}])
    assert p.order == [("top_p", True), ("temperature", False), ("top_k", True)]
    assert p.to_parameters()["order"] == [2, 1]
    with pytest.raises(InputError, match="order") as e:
        p.set_order(["top_p", "nucleus"])
    assert "nucleus" in str(e.value) and "typical_p" in str(e.value)
    with pytest.raises(InputError, match="at most once"):
        p.set_order(["top_p", "top_p"])
    with pytest.raises(InputError):
        p.move("top_p", 7)


def test_sampler_the_model_lacks_is_refused():
    p = Preset.official("euterpe", "Genesis").enable("math1")
    with pytest.raises(InputError, match="math1") as e:
        build_parameters(p)
    assert e.value.field == "order"


@pytest.mark.parametrize(
    "key,value",
    [
        ("temperature", 0),
        ("temperature", -1.0),
        ("top_p", 1.5),
        ("top_k", -1),
        ("top_k", 2.5),
        ("max_length", 0),
        ("phrase_rep_pen", "strong"),
        ("repetition_penalty_whitelist", ["a"]),
        ("temperature", "1.0"),
        ("temperature", True),
        ("temperature", float("nan")),
    ],
)
def test_bad_values_refused_naming_key(key, value):
    p = Preset.official("kayra")
    with pytest.raises(InputError) as e:
        p[key] = value
    assert e.value.field == key and e.value.allowed
    assert p[key] != value or key == "temperature"  # nothing was stored


def test_update_checks_all_before_applying():
    p = Preset.official("kayra")
    t = p.temperature
    with pytest.raises(InputError):
        p.update(temperature=0.5, top_p=2)
    assert p.temperature == t


def test_min_max_length_consistency():
    p = Preset.official("kayra")
    with pytest.raises(InputError, match="max_length"):
        p.min_length = p.max_length + 1
    with pytest.raises(InputError, match="min_length"):
        build_parameters(p, max_length=0 + 1, min_length=5)


def test_unknown_override_lists_known_keys():
    with pytest.raises(InputError, match="top_p") as e:
        build_parameters(Preset.official("kayra"), tempreature=1.0)
    assert e.value.field == "tempreature"


def _file(**changes):
    data = json.loads(Preset.official("kayra").to_json())
    for k, v in changes.items():
        if k.startswith("p_"):
            data["parameters"][k[2:]] = v
        else:
            data[k] = v
    return json.dumps(data)


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"p_top_k": "5"}, "parameters.top_k"),
        ({"p_temperature": None}, "parameters.temperature"),
        ({"p_order": [{"id": "nucleus", "enabled": True}]}, "parameters.order[0].id"),
        ({"p_order": [{"id": "top_k", "enabled": "yes"}]}, "parameters.order[0].enabled"),
        ({"presetVersion": 4}, "presetVersion"),
        ({"presetVersion": "3"}, "presetVersion"),
        ({"model": "gpt-5"}, "model"),
        ({"name": 5}, "name"),
        ({"parameters": []}, "parameters"),
    ],
)
def test_bad_preset_files(changes, field):
    with pytest.raises(InputError) as e:
        Preset.from_json(_file(**changes))
    assert e.value.field == field


def test_newer_version_message_says_what_to_do():
    with pytest.raises(InputError, match="newer NovelAI"):
        Preset.from_json(_file(presetVersion=9))
    with pytest.raises(InputError, match="JSON"):
        Preset.from_json("{not json")


def test_unknown_newer_keys_kept_in_file_not_sent():
    text = _file(p_future_sampler_knob=3)
    p = Preset.from_json(text)
    assert p.to_json() == text
    assert "future_sampler_knob" not in p.to_parameters()


def test_model_version_suffix_tolerated():
    data = json.loads(Preset.official("krake").to_json())
    data["model"] = "krake-v1"
    assert Preset.from_json(data).model == "krake-v2"


def test_save_never_loses_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "mine.preset"
    p = Preset.official("kayra")
    p.save(path)
    old = path.read_bytes()
    with pytest.raises(InputError):
        p.save(path, overwrite=False)
    p.temperature = 1.11

    def boom(*a):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        p.save(path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["mine.preset"]  # no temporary file left behind


def test_observers():
    p = Preset.official("kayra")
    seen = []
    stop = p.observe(lambda k, v: seen.append((k, v)))
    p.top_k = 12
    p.disable("top_k")
    p.name = "Mine"
    stop()
    p.top_k = 13
    assert seen[0] == ("top_k", 12) and seen[1][0] == "order" and seen[2] == ("name", "Mine")
    assert len(seen) == 3


def test_new_preset_and_frames():
    p = Preset.new("erato", "Blank", temperature=0.9)
    assert p.enabled_samplers == ["temperature"] and p.temperature == 0.9
    assert p.to_parameters()["order"] == [0]
    frame = p.to_frame()
    assert set(frame.columns) >= {"key", "value", "group", "sampler", "enabled"}
    assert "temperature" in p._repr_html_()
    assert "Blank" in repr(p)


# -- global settings, bans, biases, stop sequences --------------------------------------------------


def test_global_settings_tables():
    gs = GlobalSettings()
    sizes = {m: len(gs.bracket_bans(m)) for m in ("euterpe", "krake", "clio", "kayra", "erato", "genji")}
    # the website's tables (its bundle): Erato has 10 bracket bans plus one always-on ban
    assert sizes == {"euterpe": 150, "krake": 301, "clio": 19, "kayra": 19, "erato": 10, "genji": 114}
    assert [85, 85] in gs.bracket_bans("kayra") and gs.always_bans("erato") == [[16067]]
    assert len(gs.bracket_bans("erato", "静かな夜だった。")) == 12 and gs.bracket_bans("inline") == []
    genji = gs.to_parameters("genji")
    assert len(genji["bad_words_ids"]) == 114
    assert gs.whitelist("euterpe") == [] and len(gs.whitelist("kayra")) > 60
    assert LLAMA3_BOS not in gs.whitelist("erato")
    dink = GlobalSettings().to_parameters("kayra")["logit_bias_exp"]  # "default bias" is on by default
    assert [(e["sequence"], e["bias"]) for e in dink] == [([23], -0.08), ([21], -0.08)]
    assert "logit_bias_exp" not in GlobalSettings().to_parameters("erato")
    assert "logit_bias_exp" not in GlobalSettings(bias_dinkus_asterism=False).to_parameters("kayra")
    assert "num_logprobs" not in GlobalSettings(num_logprobs=-1).to_parameters("kayra")
    with pytest.raises(InputError, match="num_logprobs"):
        GlobalSettings(num_logprobs=99)
    with pytest.raises(InputError, match="ban_brackets"):
        GlobalSettings(ban_brackets="yes")


def test_bans_biases_stops_from_strings_and_tokens():
    p = Preset.official("erato")
    params = build_parameters(
        p,
        bans=[BanList(" dragon", [1, 2])],
        biases=BiasGroup(0.5, " castle", [5, 6], generate_once=True),
        stop_sequences=["\n", [7, 8]],
    )
    dragon = encode(" dragon", "erato")
    assert dragon in params["bad_words_ids"] and [1, 2] in params["bad_words_ids"]
    assert params["stop_sequences"] == [encode("\n", "erato"), [7, 8]]
    assert params["stop_sequences"][0][0] != LLAMA3_BOS  # no BOS on Erato stop sequences
    entry = params["logit_bias_exp"][0]
    assert entry == {
        "bias": 0.5,
        "ensure_sequence_finish": False,
        "generate_once": True,
        "sequence": encode(" castle", "erato"),
    }
    assert BiasGroup(1.0, "x", enabled=False).entries("kayra") == []
    assert BanList("x", enabled=False).entries("kayra") == []
    g = BiasGroup.from_data({"bias": -1, "phrases": ["a"], "ensureSequenceFinish": True, "enabled": True})
    assert g.ensure_sequence_finish and g.bias == -1


@pytest.mark.parametrize(
    "make",
    [
        lambda: BiasGroup("high", "x"),
        lambda: BiasGroup(float("inf"), "x"),
        lambda: BiasGroup(1.0, ""),
        lambda: BiasGroup(1.0, [1, -2]),
        lambda: BiasGroup(1.0, "x", generate_once=1),
        lambda: BanList(""),
        lambda: BanList([1.5]),
        lambda: build_parameters(Preset.official("kayra"), stop_sequences="\n"),
        lambda: build_parameters(Preset.official("kayra"), stop_sequences=[""]),
        lambda: build_parameters(Preset.official("kayra"), bans=["x"]),
    ],
)
def test_bad_bans_biases_stops(make):
    with pytest.raises(InputError):
        make()


def test_preset_for_another_model_refused():
    with pytest.raises(InputError, match="kayra-v1") as e:
        build_parameters(Preset.official("kayra"), "erato")
    assert e.value.field == "preset"


def test_build_request_input_encoding():
    body = build_request("Hello world", Preset.official("erato"))
    assert b64_to_tokens(body["input"], "erato") == [LLAMA3_BOS, 9906, 1917]
    assert body["input"] == "APQBALImAAB9BwAA"  # spec §10
    body = build_request("Hello world", Preset.official("kayra"))
    assert body["model"] == "kayra-v1" and b64_to_tokens(body["input"], "kayra") == encode(
        "Hello world", "kayra"
    )
    body = build_request("Hello world", Preset.official("kayra"), use_string=True)
    assert body["input"] == "Hello world" and body["parameters"]["use_string"] is True
    with pytest.raises(InputError, match="prompt"):
        build_request(3.5, Preset.official("kayra"))


# -- modules -----------------------------------------------------------------------------------------


def test_modules_per_model():
    assert mc.check_module(None, "kayra") == "vanilla"
    assert mc.check_module("special_openings", "kayra") == "special_openings"
    assert "theme_textadventure" in mc.modules_for("erato")
    with pytest.raises(InputError, match="special_openings") as e:
        mc.check_module("special_openings", "euterpe")
    assert e.value.field == "module" and "clio-v1" in str(e.value)
    with pytest.raises(InputError):
        mc.check_module("style_janeausten", "krake")  # one Krake never had
    assert mc.check_module("style_janeausten", "euterpe") == "style_janeausten"
    with pytest.raises(InputError):
        mc.check_module("theme_anything", "genji")
    custom = "euterpe-v2:" + "a" * 64 + ":" + "b" * 64
    assert mc.check_module(custom, "euterpe") == custom
    with pytest.raises(InputError, match="trained for"):
        mc.check_module(custom, "kayra")
    frame = mc.module_frame()
    assert frame.loc["special_instruct", "Kayra"] and not frame.loc["special_instruct", "Erato"]
    # the module is checked when building a request, before anything is sent
    with pytest.raises(InputError, match="module"):
        build_parameters(Preset.official("erato"), module="special_openings")
