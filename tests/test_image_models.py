# ruff: noqa: E501  (tables of website strings and reference cases read best one per line)
"""Image models, website presets per model (quality tags, UC presets), V4+ prompt structure, validation
before sending, and Anlas estimates (pure functions, no network)."""

from __future__ import annotations

import io

import pytest

from naikit.errors import InputError
from naikit.novelai import image_models as im
from naikit.novelai.image_models import Character, CharacterReference, ImagePreset, Vibe


def _png(size=(832, 1216)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (9, 9, 9)).save(buf, format="PNG")
    return buf.getvalue()


# What the website adds, written out from the website bundle (independent of naikit/data/image/presets.json;
# tests/test_website_image.py checks every text and rule in full).
# model: (prefix, suffix, [uc preset names in website order], first words of the heavy/first preset)
WEBSITE = {
    "safe-diffusion": ("masterpiece, best quality, ", "", ["heavy", "light", "none"], "lowres, bad anatomy"),
    "nai-diffusion": ("masterpiece, best quality, ", "", ["heavy", "light", "none"], "nsfw, lowres, bad anatomy"),
    "nai-diffusion-furry": ("masterpiece, best quality, ", "", ["lowQuality", "badAnatomy", "none"],
                            "nsfw, worst quality, low quality"),
    "nai-diffusion-2": ("very aesthetic, best quality, absurdres, ", "", ["heavy", "light", "none"],
                        "nsfw, lowres, bad, text"),
    "nai-diffusion-3": ("", ", best quality, amazing quality, very aesthetic, absurdres",
                        ["heavy", "light", "humanFocus", "none"], "nsfw, lowres, {bad}"),
    "nai-diffusion-furry-3": ("", ", {best quality}, {amazing quality}",
                              ["heavy", "light", "none"], "nsfw, {{worst quality}}"),
    "nai-diffusion-4-curated-preview": ("", ", rating:general, best quality, very aesthetic, absurdres",
                                        ["heavy", "light", "none"], "blurry, lowres, error"),
    "nai-diffusion-4-full": ("", ", no text, best quality, very aesthetic, absurdres", ["heavy", "light", "none"],
                             "nsfw, blurry, lowres"),
    "nai-diffusion-4-5-curated": ("", ", very aesthetic, masterpiece, no text, -0.8::feet::, rating:general",
                                  ["heavy", "light", "humanFocus", "none"], "blurry, lowres, upscaled"),
    "nai-diffusion-4-5-full": ("", ", very aesthetic, masterpiece, no text",
                               ["heavy", "light", "furryFocus", "humanFocus", "none"], "nsfw, lowres, artistic error"),
    "nai-diffusion-5-full": ("", ", very aesthetic, masterpiece, no text",
                             ["heavy", "light", "furryFocus", "humanFocus", "none"], "nsfw, lowres, artistic error"),
}  # fmt: skip


@pytest.mark.parametrize("model", list(WEBSITE))
def test_quality_tags_and_uc_presets_per_model(model):
    prefix, suffix, names, heavy_start = WEBSITE[model]
    assert list(im.uc_presets(model)) == names
    preset = ImagePreset.default(model).replace(seed=1, uc="my uc")
    body = im.build_request("1girl", preset)
    assert body["input"] == f"{prefix}1girl{suffix}"
    first = names[0]
    p = body["parameters"]
    if "diffusion-5" in model:
        assert p["ucPresetId"] == preset.uc_preset and "ucPreset" not in p
    else:
        assert p["ucPreset"] == names.index(preset.uc_preset)
    assert p["negative_prompt"].endswith(", my uc")
    if preset.uc_preset == first:
        assert p["negative_prompt"].startswith(heavy_start)
    # "none" is the last preset; V4+ none is empty, older ones say lowres
    none = im.uc_presets(model)["none"]
    assert none == (
        ""
        if im.model_spec(model).is_v4_plus
        else ("low res" if "furry" in model and "3" not in model else "lowres")
    )
    # quality off: the prompt is sent as typed
    assert im.build_request("1girl", preset.replace(quality_toggle=False))["input"] == "1girl"


@pytest.mark.parametrize("model", [s.value for s in im.IMAGE_MODEL_SPECS])
def test_every_model_builds_a_default_request(model):
    spec = im.model_spec(model)
    action = "infill" if spec.inpainting else "generate"
    preset = ImagePreset.default(model).replace(seed=5)
    kw = {"image": _png(preset.size), "mask": _png(preset.size)} if action == "infill" else {}
    body = im.build_request("cat", preset, action, **kw)
    assert body["model"] == model
    assert body["parameters"]["seed"] == 5
    assert ("v4_prompt" in body["parameters"]) == spec.is_v4_plus


def test_website_defaults_per_generation():
    d = {g: ImagePreset.default(m) for g, m in [("v1", "v1"), ("v3", "v3"), ("v3f", "v3-furry"), ("v4", "v4"),
                                                  ("v45", "v4.5"), ("v5", "v5")]}  # fmt: skip
    assert (d["v1"].width, d["v1"].height, d["v1"].scale, d["v1"].steps) == (512, 768, 10, 28)
    assert (d["v3"].sampler, d["v3"].scale, d["v3"].steps, d["v3"].noise_schedule) == (
        "k_euler_ancestral",
        5,
        23,
        "karras",
    )
    assert d["v3f"].scale == 6.2
    assert (d["v4"].scale, d["v4"].steps, d["v4"].noise_schedule, d["v4"].auto_smea) == (
        5.5,
        23,
        "karras",
        False,
    )
    assert (d["v45"].scale, d["v45"].auto_smea) == (5, False)
    assert (d["v5"].scale, d["v5"].use_coords, d["v5"].straight_alpha) == (7, True, True)

    def version(preset):
        return im.build_request("x", preset.replace(seed=1))["parameters"]["params_version"]

    assert {version(d[k]) for k in ("v1", "v3", "v3f", "v4", "v45")} == {3} and version(d["v5"]) == 4
    # a V4.5 preset moved to V5 sends V5's params_version (and use_coords, straight_alpha)
    moved = im.build_request("x", d["v45"].replace(model="nai-diffusion-5-full", seed=1))["parameters"]
    assert (moved["params_version"], moved["use_coords"], moved["straight_alpha"]) == (4, True, True)
    assert version(d["v45"].replace(params_version=2)) == 2


def test_v4_characters_positions_and_use_coords():
    preset = ImagePreset.default("v4.5").replace(seed=3)
    free = im.build_request("x", preset, characters=[Character("a"), Character("b", "hat")])["parameters"]
    assert free["use_coords"] is False and free["v4_prompt"]["use_coords"] is False
    assert [c["center"] for c in free["characterPrompts"]] == [{"x": 0.5, "y": 0.5}] * 2
    placed = im.build_request("x", preset, characters=[Character("a", position="A1"), Character("b", "hat", "E5"),
                                                        Character("c", position=(0.33, 0.61))])["parameters"]  # fmt: skip
    assert placed["use_coords"] is True and placed["v4_prompt"]["use_coords"] is True
    assert [c["center"] for c in placed["characterPrompts"]] == [{"x": 0.1, "y": 0.1}, {"x": 0.9, "y": 0.9},
                                                                 {"x": 0.3, "y": 0.7}]  # fmt: skip
    neg = placed["v4_negative_prompt"]["caption"]["char_captions"]
    assert [c["char_caption"] for c in neg] == ["", "hat", ""]
    # V5 keeps free positions as given
    v5 = im.build_request(
        "x", ImagePreset.default("v5").replace(seed=1), characters=[Character("a", position=(0.33, 0.61))]
    )
    assert v5["parameters"]["characterPrompts"][0]["center"] == {"x": 0.33, "y": 0.61}
    # disabled characters are left out of the captions and of characterPrompts (as on the website)
    off = im.build_request("x", preset, characters=[Character("a"), Character("b", enabled=False)])[
        "parameters"
    ]
    assert len(off["v4_prompt"]["caption"]["char_captions"]) == 1 and len(off["characterPrompts"]) == 1


@pytest.mark.parametrize("prompt", ["nsfw, 1girl", "NSFW, 1girl", "1girl, Nsfw"])
def test_nsfw_prompt_in_any_case_leaves_out_the_nsfw_uc_prefix(prompt):
    p = im.build_request(prompt, ImagePreset.default("v4.5").replace(seed=1))["parameters"]
    assert p["negative_prompt"].startswith("lowres, artistic error")
    assert "uc" not in p and p["negative_prompt"] == p["v4_negative_prompt"]["caption"]["base_caption"]
    p = im.build_request("1girl", ImagePreset.default("v4.5").replace(seed=1))["parameters"]
    assert p["negative_prompt"].startswith("nsfw, lowres, artistic error")


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"width": 830}, "width"),
        ({"height": 0}, "height"),
        ({"width": 2048, "height": 2048}, "width"),
        ({"steps": 51}, "steps"),
        ({"steps": 0}, "steps"),
        ({"n_samples": 9}, "n_samples"),
        ({"width": 1024, "height": 1536, "n_samples": 5}, "n_samples"),
        ({"scale": 11}, "scale"),
        ({"sampler": "ddim"}, "sampler"),
        ({"sampler": "nai_smea_dyn"}, "sampler"),
        ({"sampler": "k_euler", "noise_schedule": "native"}, "noise_schedule"),
        ({"uc_preset": "furryFocus"}, "uc_preset"),
        ({"cfg_rescale": 1.5}, "cfg_rescale"),
        ({"seed": -1}, "seed"),
        ({"model": "nai-diffusion-3", "sampler": "ddim_v3", "steps": 27}, "steps"),
        ({"model": "nai-diffusion", "sampler": "ddim", "steps": 9, "noise_schedule": None}, "steps"),
    ],
)
def test_bad_input_is_refused_naming_the_field(changes, field):
    preset = ImagePreset.default("v4.5-curated").replace(**changes)
    with pytest.raises(InputError) as err:
        im.build_request("x", preset)
    assert err.value.field == field


def test_sampler_and_schedule_tables():
    assert "ddim_v3" in im.samplers_for("v3") and "ddim" not in im.samplers_for("v4.5")
    assert im.schedules_for("v3", "k_euler")[0] == "native"
    assert "native" not in im.schedules_for("v4", "k_euler")
    assert im.schedules_for("v3", "k_dpm_2") == ("exponential", "polyexponential")
    assert im.build_request("x", ImagePreset.default("v3").replace(sampler="ddim", seed=1))["parameters"][
        "sampler"] == "ddim_v3"  # fmt: skip


def test_img2img_and_infill_sizes_resize_or_refuse():
    preset = ImagePreset.default("v4.5").replace(seed=1)
    with pytest.raises(InputError) as err:
        im.build_request("x", preset, "img2img", image=_png((640, 640)))
    assert err.value.field == "image" and "640x640" in str(err.value)
    body = im.build_request("x", preset, "img2img", image=_png((640, 640)), resize="resize")
    import base64

    from PIL import Image

    assert Image.open(io.BytesIO(base64.b64decode(body["parameters"]["image"]))).size == (832, 1216)
    with pytest.raises(InputError) as err:
        im.build_request("x", preset, "infill", image=_png(), mask=_png((416, 608)))
    assert err.value.field == "mask"
    body = im.build_request("x", preset, "infill", image=_png(), mask=_png())
    assert body["model"] == "nai-diffusion-4-5-full-inpainting" and body["action"] == "infill"
    with pytest.raises(InputError) as err:
        im.build_request("x", preset, "img2img", image=b"not an image at all")
    assert err.value.field == "image"
    with pytest.raises(InputError):
        im.build_request("x", preset, "img2img", image=None)
    with pytest.raises(InputError) as err:
        im.build_request("x", ImagePreset.default("v2").replace(seed=1), "infill", image=_png(), mask=_png())
    assert err.value.field == "model"


def test_vibes_and_character_reference_rules():
    v45 = ImagePreset.default("v4.5").replace(seed=1)
    with pytest.raises(InputError) as err:
        im.build_request("x", v45, vibes=[Vibe(image=_png())])
    assert err.value.field == "vibes[0].encoding"
    with pytest.raises(InputError):
        im.build_request("x", ImagePreset.default("v5").replace(seed=1), vibes=[Vibe(encoding="AAAA")])
    with pytest.raises(InputError):
        im.build_request("x", v45, vibes=[Vibe(encoding="AAAA")] * 17)
    body = im.build_request("x", v45, vibes=[Vibe(encoding="AAAA", strength=0.4)])
    assert body["parameters"]["reference_image_multiple"] == ["AAAA"]
    assert body["parameters"]["reference_strength_multiple"] == [0.4]
    v3 = im.build_request("x", ImagePreset.default("v3").replace(seed=1), vibes=[Vibe(image=_png((64, 64)),
                                                                                   information_extracted=0.5)])  # fmt: skip
    assert v3["parameters"]["reference_information_extracted_multiple"] == [0.5]
    with pytest.raises(InputError):
        im.build_request(
            "x", ImagePreset.default("v4").replace(seed=1), character_references=[CharacterReference(_png())]
        )
    with pytest.raises(InputError):
        im.build_request(
            "x", v45, vibes=[Vibe(encoding="AAAA")], character_references=[CharacterReference(_png())]
        )
    cr = im.build_request(
        "x", v45, character_references=[CharacterReference(_png((900, 600)), "style", 0.5, 0.25)]
    )
    p = cr["parameters"]
    assert p["director_reference_descriptions"][0]["caption"]["base_caption"] == "style"
    assert (p["director_reference_strength_values"], p["director_reference_secondary_strength_values"]) == (
        [0.5],
        [0.75],
    )


@pytest.mark.parametrize(
    "size,canvas", [((600, 900), (1024, 1536)), ((900, 600), (1536, 1024)), ((700, 700), (1472, 1472))]
)
def test_character_reference_letterbox_sizes(size, canvas):
    from PIL import Image

    png, got = im.letterbox(_png(size))
    assert got == canvas and Image.open(io.BytesIO(png)).size == canvas


def test_cost_estimates_known_values_and_opus():
    v3 = im.build_request("x", ImagePreset.default("v3").replace(seed=1, steps=28))
    assert im.estimate_cost(v3).total == 20  # 832x1216, 28 steps (novelai-sdk gives 20 too)
    assert im.estimate_cost(v3, opus=True).total == 0
    two = im.build_request("x", ImagePreset.default("v3").replace(seed=1, n_samples=2, steps=28))
    assert im.estimate_cost(two, opus=True).total == 20 and im.estimate_cost(two).total == 40
    big = im.build_request("x", ImagePreset.default("v3").replace(seed=1, width=1024, height=1536))
    assert im.estimate_cost(big, opus=True).opus_free is False
    steps = im.build_request("x", ImagePreset.default("v3").replace(seed=1, steps=29))
    assert im.estimate_cost(steps, opus=True).total > 0
    i2i = im.build_request(
        "x", ImagePreset.default("v3").replace(seed=1, strength=0.5, steps=28), "img2img", image=_png()
    )
    assert im.estimate_cost(i2i).total == 10
    assert im.estimate_augment_cost("bg-removal", 832, 1216, opus=True).total > 0
    assert im.estimate_augment_cost("lineart", 832, 1216, opus=True).total == 0


def test_preset_replace_refuses_unknown_fields():
    with pytest.raises(InputError) as err:
        ImagePreset.default().replace(stpes=20)
    assert err.value.field == "stpes"
    with pytest.raises(InputError):
        im.model_spec("nai-diffusion-9")
