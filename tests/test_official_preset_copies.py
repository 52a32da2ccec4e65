"""Official presets are read and checked once, and every call still gets its own independent copy."""

from __future__ import annotations

import json
from importlib import resources

from naikit.novelai.presets import GlobalSettings, Preset
from naikit.novelai.text import prepare_request


def test_each_official_preset_is_independent():
    a = Preset.official("kayra")
    a.temperature = 2.5
    a.name = "mine"
    b = Preset.official("kayra")
    assert b.temperature != 2.5 and b.name != "mine"
    assert a.to_dict()["parameters"] is not b.to_dict()["parameters"]


def test_unchanged_official_preset_gives_back_its_file_text():
    folder = resources.files("naikit") / "data" / "presets"
    for model, name in (("kayra", None), ("erato", "Golden Arrow"), ("kayra", "Carefree")):
        p = Preset.official(model, name)
        files = [f for f in (folder).iterdir() if f.is_dir()]
        texts = [
            e.read_text(encoding="utf-8")
            for d in files
            for e in d.iterdir()
            if e.name.endswith(".preset") and json.loads(e.read_text(encoding="utf-8"))["name"] == p.name
        ]
        assert p.to_json() in texts


def test_the_whitelist_is_a_fresh_list_each_request():
    settings = GlobalSettings()
    wl = settings.whitelist("kayra")
    assert wl and all(isinstance(i, int) for i in wl)
    first = list(wl)
    wl.clear()  # a caller changing its list does not change the next request's
    assert settings.whitelist("kayra") == first
    body = prepare_request(
        "Hello", None, model="kayra", max_length=4, global_settings=GlobalSettings(rep_pen_whitelist=True)
    )[0]
    assert body["parameters"]["repetition_penalty_whitelist"] == first
