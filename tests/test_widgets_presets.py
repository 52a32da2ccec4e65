"""The preset editor widget in plain pytest: controls, sync both ways, samplers, files, Generate."""

from __future__ import annotations

import pytest

from naikit.novelai.presets import Preset
from naikit.widgets.presets import PresetEditor, preset_editor

PROMPT = "The old lighthouse keeper climbed the stairs"


def test_controls_cover_the_preset_without_changing_it():
    for name in Preset.official_names("kayra") + Preset.official_names("euterpe"):
        model = "kayra" if name in Preset.official_names("kayra") else "euterpe"
        p = Preset.official(model, name)
        before = p.to_json()
        ed = PresetEditor(p)
        assert p.to_json() == before  # building the controls never alters values (top_k 1000 etc.)
        for key in ("temperature", "top_k", "top_p", "max_length", "repetition_penalty"):
            assert key in ed.controls
            if key in p:
                assert ed.controls[key].value == pytest.approx(p[key])
    ed = PresetEditor(Preset.official("erato", "Golden Arrow"))
    assert {"math1_temp", "math1_quad", "min_p", "cfg_scale", "mirostat_tau", "phrase_rep_pen"} <= set(
        ed.controls
    )
    assert ed.controls["phrase_rep_pen"].options == (
        "off",
        "very_light",
        "light",
        "medium",
        "aggressive",
        "very_aggressive",
    )


def test_sync_both_ways():
    p = Preset.official("kayra", "Carefree")
    ed = preset_editor(p)
    ed.controls["temperature"].value = 1.23
    assert p.temperature == 1.23
    p.top_k = 77
    assert ed.controls["top_k"].value == 77
    p.name = "Mine"
    assert ed.name.value == "Mine"
    ed.name.value = "Ours"
    assert p.name == "Ours"


def test_refused_value_is_put_back():
    p = Preset.official("kayra")
    ed = PresetEditor(p)
    t = p.temperature
    slider = ed.controls["temperature"]
    assert slider.min > 0, "the slider cannot reach the refused temperature 0"
    slider.min = 0.0  # as if a value the preset refuses arrived anyway
    slider.value = 0.0
    assert p.temperature == t and slider.value == t
    assert "temperature" in ed.status.value


def test_sliders_follow_the_website_ranges_and_never_clamp_a_preset():
    import ipywidgets as widgets

    p = Preset.official("kayra", "Carefree")
    ed = PresetEditor(p)
    temp = ed.controls["temperature"]
    assert isinstance(temp, widgets.FloatSlider) and (temp.min, temp.max) == (0.01, 2.5)
    assert isinstance(ed.controls["repetition_penalty_range"], widgets.IntSlider)
    before = p.to_json()
    p.top_k = 5000  # beyond the website's 300: the slider widens instead of clamping
    assert ed.controls["top_k"].value == 5000 and ed.controls["top_k"].max >= 5000
    p.top_k = Preset.official("kayra", "Carefree").top_k
    assert p.to_json() == before
    # moving a slider by one step is an edit; a snap finer than the step is not
    temp.value = round(temp.value + temp.step, 4)
    assert p.temperature == temp.value
    p.temperature = 1.12345
    temp.value = 1.12
    assert p.temperature == 1.12345


def test_samplers_switch_and_reorder():
    p = Preset.official("kayra", "Carefree")
    ed = PresetEditor(p)
    first = p.order[0][0]
    ed.enabled_boxes[first].value = False
    assert not p.is_enabled(first)
    ed.move(first, +1)
    assert p.order[1][0] == first
    samplers_rows = [c for c in ed.body.children if c in ed.sampler_rows.values()]
    assert samplers_rows[1] is ed.sampler_rows[first]  # the widget follows the order
    p.enable(first)
    assert ed.enabled_boxes[first].value is True
    ed.enabled_boxes["math1"].value = True  # a sampler absent from Carefree's order is appended
    assert p.is_enabled("math1")


def test_load_official_and_files(tmp_path):
    ed = PresetEditor()
    ed.model.value = "llama-3-erato-v1"
    assert "Golden Arrow" in ed.official.options
    ed.official.value = "Wilder"
    ed.load_official.click()
    assert ed.preset.name == "Wilder" and ed.preset.model == "llama-3-erato-v1"
    ed.controls["top_p"].value = 0.9
    path = tmp_path / "mine.preset"
    ed.path.value = str(path)
    ed.save_file.click()
    assert Preset.load(path).top_p == 0.9
    ed2 = PresetEditor()
    ed2.path.value = str(path)
    ed2.load_file.click()
    assert ed2.preset == ed.preset
    ed2.path.value = str(tmp_path / "missing.preset")
    ed2.load_file.click()
    assert "No such file" in ed2.status.value and ed2.preset.name == "Wilder"


def test_generate_button(nai):
    ed = PresetEditor(Preset.official("kayra"), client=nai, prompt=PROMPT)
    ed.controls["max_length"].value = 8
    ed.generate_button.click()
    g = ed.last_generation
    # "continue to sentence end" is on by default (as on the website), so the output may pass max_length
    assert g is not None and len(g.tokens) >= 1 and g.parameters["max_length"] == 8
    assert g.parameters["generate_until_sentence"] is True
    assert "nk-tok" in ed.output.value  # the logprob view
    ed.prompt.value = ""
    ed.generate_button.click()
    assert "prompt" in ed.status.value


def _distinct(ed: PresetEditor, seeds: int = 10) -> int:
    return len({ed.generate(seed=s).text for s in range(seeds)})


def test_raising_temperature_or_top_k_widens_the_output(nai):
    p = Preset.official("kayra", "Carefree").set_order(["top_k", "temperature"])
    ed = PresetEditor(p, client=nai, prompt=PROMPT)
    ed.controls["max_length"].value = 10
    ed.controls["top_k"].value = 1
    ed.controls["temperature"].value = 1.0
    greedy = _distinct(ed)
    ed.controls["top_k"].value = 30
    wider = _distinct(ed)
    ed.controls["temperature"].value = 0.25
    cold = _distinct(ed)
    ed.controls["temperature"].value = 2.0
    hot = _distinct(ed)
    assert greedy == 1 and wider > greedy
    assert hot > cold


def test_load_official_keeps_editing_the_users_preset():
    mine = Preset.official("kayra", "Carefree")
    ed = PresetEditor(mine)
    other = next(n for n in Preset.official_names("kayra") if n != "Carefree")
    ed.official.value = other
    ed.load_official.click()
    assert ed.preset is mine, "the editor still edits the user's object"
    assert mine.name == other and mine == Preset.official("kayra", other)
    ed.controls["max_length"].value = 77
    assert mine["max_length"] == 77
    # another model's preset, loaded in place as well; the same through the method, which returns it
    ed.model.value = "llama-3-erato-v1"
    assert ed.use_official("Wilder") is mine and mine.model == "llama-3-erato-v1" and mine.name == "Wilder"
    assert ed.official.value == "Wilder"


def test_official_dropdown_shows_the_preset_being_edited():
    mine = Preset.new("kayra-v1", name="My own")
    ed = PresetEditor(mine)
    assert ed.official.value == "My own (being edited)"
    ed.load_official.click()  # nothing official picked: refused, the preset unchanged
    assert "pick one first" in ed.status.value and mine.name == "My own"
    official = Preset.official("kayra", "Carefree")
    ed2 = PresetEditor(official)
    assert ed2.official.value == "Carefree"
    official.name = "Carefree, tuned"
    assert ed2.official.value == "Carefree, tuned (being edited)"
    ed2.model.value = "llama-3-erato-v1"  # browsing another model's presets still names yours first
    assert (
        ed2.official.options[0] == "Carefree, tuned (being edited)" and "Golden Arrow" in ed2.official.options
    )


def test_save_file_writes_outside_the_notebook_folder(tmp_path, monkeypatch):
    out = tmp_path / "out"
    cwd = tmp_path / "notebooks"
    cwd.mkdir()
    monkeypatch.setenv("NAIKIT_OUTPUT_DIR", str(out))
    monkeypatch.chdir(cwd)
    ed = PresetEditor(Preset.official("kayra", "Carefree"))
    ed.save_file.click()  # no name: the preset's own
    assert (out / "presets" / "Carefree.preset").is_file()
    ed.path.value = "tuned.preset"
    ed.save_file.click()
    assert (out / "presets" / "tuned.preset").is_file() and str(
        out / "presets" / "tuned.preset"
    ) in ed.status.value
    assert list(cwd.iterdir()) == [], "nothing lands next to the notebook"
    absolute = tmp_path / "elsewhere" / "abs.preset"
    assert ed.save(str(absolute)) == absolute and absolute.is_file()
    ed2 = PresetEditor()
    ed2.path.value = "tuned.preset"  # loading finds it where Save file put it
    ed2.load_file.click()
    assert ed2.preset.name == "Carefree"
