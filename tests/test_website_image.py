# ruff: noqa: E501  (reference cases read best one per line)
"""naikit's image request bodies against what NovelAI's website builds (tests/website_image_reference.py,
written from the website's bundle and the V5 spec, not from naikit): every model's default, every UC preset
with quality tags on and off, prompts that say NSFW in another case, "|" and "Text:" prompts, Variety+
at several sizes, img2img, inpaint, characters; V5 generate, img2img, inpaint and the streamed request.

Where naikit deliberately differs, the difference is named in ``NAMED`` and asserts the exact value naikit
sends (see README, "Where naikit differs from the website").
"""

from __future__ import annotations

import base64
import io
import json

import pytest
import website_image_reference as site
from hypothesis import given, settings
from hypothesis import strategies as st

from naikit.novelai import image_models as im
from naikit.novelai.image_models import Character, ImagePreset

BASE_MODELS = [
    "safe-diffusion", "nai-diffusion", "nai-diffusion-furry", "nai-diffusion-2", "nai-diffusion-3",
    "nai-diffusion-furry-3", "nai-diffusion-4-curated-preview", "nai-diffusion-4-full", "nai-diffusion-4-5-curated",
    "nai-diffusion-4-5-full",
]  # fmt: skip
SEED = 1234567


def _png(size, color=(120, 60, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def _mask(size) -> bytes:
    from PIL import Image

    m = Image.new("RGB", size, (0, 0, 0))
    m.paste((255, 255, 255), (64, 64, 320, 320))
    buf = io.BytesIO()
    m.save(buf, format="PNG")
    return buf.getvalue()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# ---- named differences: naikit's deliberate choices, each asserting the value naikit sends ------------


def _empty_uc(sb: dict, nk: dict) -> bool:
    """An empty combined UC: the site sends ``uc: ""`` (it moves only a non-empty one to negative_prompt);
    naikit sends ``negative_prompt: ""``, the field the service reads."""
    p = sb["parameters"]
    if p.get("uc") != "":
        return False
    assert nk["parameters"]["negative_prompt"] == "" and "uc" not in nk["parameters"]
    del p["uc"]
    p["negative_prompt"] = ""
    return True


def _inpaint_original(sb: dict, nk: dict) -> bool:
    """Inpaint: the site sends add_original_image false and pastes the original back in the browser;
    naikit has no browser, so it asks the service to keep the unmasked part (true)."""
    if sb["action"] != "infill":
        return False
    assert sb["parameters"]["add_original_image"] is False
    assert nk["parameters"]["add_original_image"] is True
    sb["parameters"]["add_original_image"] = True
    return True


NAMED = {"empty-uc": _empty_uc, "inpaint-add-original-image": _inpaint_original}


def _same(sb: dict, nk: dict) -> set[str]:
    applied = {name for name, fn in NAMED.items() if fn(sb, nk)}
    assert json.loads(json.dumps(nk)) == sb
    # and the JSON text itself (key order aside): whole numbers as the website writes them
    assert json.dumps(nk, sort_keys=True, ensure_ascii=False) == site.js_json(sb)
    return applied


def _nk(model: str, prompt: str, *, action: str = "generate", chars=None, **changes) -> dict:
    preset = ImagePreset.default(model).replace(seed=SEED, **changes)
    kw = {}
    if action in ("img2img", "infill"):
        kw["image"] = _png(preset.size)
    if action == "infill":
        kw["mask"] = _mask(preset.size)
    return im.build_request(prompt, preset, action, characters=chars, **kw)


# ---- every model's default and every UC / quality preset ----------------------------------------------


@pytest.mark.parametrize("model", BASE_MODELS)
def test_default_body_equals_the_website(model):
    _same(site.site_body(model, "1girl, sky", seed=SEED), _nk(model, "1girl, sky"))


CASES = [
    ("1girl, sky", ""),
    ("1girl, sky", "bad hands"),
    ("NSFW, 1girl", "extra"),  # the prompt says nsfw in another case: no "nsfw, " before the preset
    ("a cat:1.2|a dog:0.8", "hat"),  # V1-V3: tags on every part, before the weight
    ("two people | a dog | a cat", "|left"),  # V4+: tags on the first part; UC starting with "|"
    ("a poster. Text: hello world", "blur"),  # V4+: tags before the "Text:" block
]


@pytest.mark.parametrize("model", BASE_MODELS)
@pytest.mark.parametrize("quality", [True, False])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_every_uc_preset_and_quality_equals_the_website(model, quality, case):
    prompt, uc = CASES[case]
    names = [n for n, _ in site.UC_PRESETS[model]]
    for index, name in enumerate(names):
        sb = site.site_body(
            model, prompt, seed=SEED, uc=uc, params={"ucPreset": index, "qualityToggle": quality}
        )
        nk = _nk(model, prompt, uc=uc, uc_preset=name, quality_toggle=quality)
        _same(sb, nk)


def test_uc_presets_and_quality_tags_are_the_websites():
    for model, table in site.UC_PRESETS.items():
        assert list(im.uc_presets(model).items()) == table, model
    for model in site.UC_PRESETS:
        assert im.quality_tags(model) == site.QUALITY.get(model, site.QUALITY_DEFAULT), model


@pytest.mark.parametrize("model", ["nai-diffusion-3", "nai-diffusion-4-full", "nai-diffusion-4-5-full"])
@pytest.mark.parametrize("size", [(832, 1216), (1024, 1024), (640, 640), (1536, 2048), (448, 576)])
def test_variety_plus_is_scaled_by_image_size(model, size):
    w, h = size
    sb = site.site_body(model, "x", seed=SEED, params={"width": w, "height": h}, variety=True)
    nk = _nk(model, "x", width=w, height=h, variety_boost=True)
    _same(sb, nk)
    # and the number itself, by hand: 58 (V4.5) or 19 at 832x1216, sqrt of the latent-area ratio elsewhere
    base = 58 if "4-5" in model else 19
    expected = base * ((w // 8) * (h // 8) / (104 * 152)) ** 0.5
    assert nk["parameters"]["skip_cfg_above_sigma"] == pytest.approx(expected, rel=1e-12)
    if size == (832, 1216):
        assert nk["parameters"]["skip_cfg_above_sigma"] == base


@pytest.mark.parametrize("model", BASE_MODELS)
def test_img2img_equals_the_website(model):
    size = tuple(site.defaults(model)[k] for k in ("width", "height"))
    sb = site.site_body(model, "x", seed=SEED, action="img2img", image=_b64(_png(size)),
                        params={"strength": 0.55, "noise": 0.1})  # fmt: skip
    nk = _nk(model, "x", action="img2img", strength=0.55, noise=0.1)
    _same(sb, nk)
    assert nk["parameters"]["extra_noise_seed"] == SEED - 1 and nk["parameters"]["color_correct"] is False


INPAINTABLE = [m for m in BASE_MODELS if m != "nai-diffusion-2"]


@pytest.mark.parametrize("model", INPAINTABLE)
@pytest.mark.parametrize("strength", [1.0, 0.5])
def test_inpaint_equals_the_website(model, strength):
    size = tuple(site.defaults(model)[k] for k in ("width", "height"))
    params = {"inpaintImg2ImgStrength": strength} if site.caps(model)["v4Prompts"] else {}
    sb = site.site_body(model, "x", seed=SEED, action="infill", image=_b64(_png(size)), mask=_b64(_mask(size)),
                        params=params)  # fmt: skip
    nk = _nk(model, "x", action="infill", inpaint_strength=strength)
    assert "inpaint-add-original-image" in _same(sb, nk)
    if site.caps(model)["v4Prompts"] and strength != 1:
        assert nk["parameters"]["img2img"] == {"strength": 0.5, "color_correct": True}
    else:
        assert "img2img" not in nk["parameters"]


@pytest.mark.parametrize(
    "model", ["nai-diffusion-4-full", "nai-diffusion-4-5-curated", "nai-diffusion-4-5-full"]
)
def test_characters_disabled_and_empty_are_left_out_as_on_the_website(model):
    ui = [
        {"prompt": "boy", "uc": "hat", "center": {"x": 0.1, "y": 0.3}, "enabled": True},
        {"prompt": "girl", "uc": "", "center": {"x": 0.9, "y": 0.9}, "enabled": False},
        {"prompt": "", "uc": "x", "center": {"x": 0.5, "y": 0.5}, "enabled": True},
        {"prompt": "cat", "uc": "", "center": {"x": 0.5, "y": 0.5}, "enabled": True},
    ]
    sb = site.site_body(model, "three", seed=SEED, characters=ui, params={"use_coords": True})
    chars = [Character("boy", "hat", "A2"), Character("girl", position="E5", enabled=False),
             Character("", "x"), Character("cat", position="C3")]  # fmt: skip
    _same(sb, _nk(model, "three", chars=chars))


@pytest.mark.parametrize(
    "changes",
    [
        {"sampler": "k_euler", "noise_schedule": "karras"},  # no euler-ancestral flags
        {"sampler": "k_dpmpp_2m", "noise_schedule": "exponential", "cfg_rescale": 0.3},
        {"smea": True, "smea_dyn": True, "decrisper": True},  # V4+: sm/sm_dyn deleted, decrisper forced off
        {"uncond_scale": 0.0},  # sent as 1e-5
        {"width": 1216, "height": 1856},  # V3 autoSmea turns SMEA on above its area
    ],
)
@pytest.mark.parametrize("model", ["nai-diffusion-3", "nai-diffusion-4-5-full"])
def test_changed_settings_equal_the_website(model, changes):
    params = {k: v for k, v in changes.items() if k in ("sampler", "noise_schedule", "cfg_rescale", "width",
                                                        "height", "uncond_scale")}  # fmt: skip
    params.update({"sm": changes["smea"], "sm_dyn": changes["smea_dyn"]} if "smea" in changes else {})
    if "decrisper" in changes:
        params["dynamic_thresholding"] = True
    if "v4.5" in model or "4-5" in model:
        params.pop("dynamic_thresholding", None)
    sb = site.site_body(model, "x", seed=SEED, params=params)
    _same(sb, _nk(model, "x", **changes))


# ---- V5 ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["nai-diffusion-5-full", "nai-diffusion-5-curated"])
@pytest.mark.parametrize("uc_preset", list(site.V5_UC))
@pytest.mark.parametrize("quality", list(site.V5_QUALITY))
def test_v5_every_uc_and_quality_preset_equals_the_website(model, uc_preset, quality):
    for prompt, uc in CASES[:3]:
        sb = site.v5_body(model, prompt, seed=SEED, uc=uc, uc_preset=uc_preset, quality=quality)
        nk = _nk(model, prompt, uc=uc, uc_preset=uc_preset, quality_preset=quality)
        _same(sb, nk)


def test_v5_transparent_background_and_free_positions():
    sb = site.v5_body("nai-diffusion-5-full", "a fox", seed=SEED, transparent=True,
                      characters=[{"prompt": "fox", "uc": "", "center": {"x": 0.308, "y": 0.254}},
                                  {"prompt": "owl", "uc": "blur", "center": {"x": 0.5, "y": 0.5}}])  # fmt: skip
    nk = _nk("nai-diffusion-5-full", "a fox", transparent_background=True,
             chars=[Character("fox", position=(0.308, 0.254)), Character("owl", "blur")])  # fmt: skip
    _same(sb, nk)
    assert nk["input"] == "a fox, transparent background, very aesthetic, masterpiece, no text"


def test_v5_img2img_and_inpaint_equal_the_website():
    size = (832, 1216)
    sb = site.v5_body("nai-diffusion-5-full", "x", seed=SEED, action="img2img", image=_b64(_png(size)))
    _same(sb, _nk("nai-diffusion-5-full", "x", action="img2img"))
    sb = site.v5_body("nai-diffusion-5-full", "x", seed=SEED, action="infill", image=_b64(_png(size)),
                      mask=_b64(_mask(size)))  # fmt: skip
    nk = _nk("nai-diffusion-5-full", "x", action="infill")
    assert "inpaint-add-original-image" in _same(sb, nk)


def test_v5_stream_request_is_one_multipart_request_part():
    body = site.v5_body("nai-diffusion-5-full", "x", seed=SEED, stream=True)
    nk = _nk("nai-diffusion-5-full", "x")
    nk["parameters"]["stream"] = "msgpack"
    data, ctype = im.v5_multipart(nk, boundary="BOUNDARY")
    assert ctype == "multipart/form-data; boundary=BOUNDARY"
    head = (b'--BOUNDARY\r\nContent-Disposition: form-data; name="request"; filename="blob"\r\n'
            b"Content-Type: application/json\r\n\r\n")  # fmt: skip
    assert data.startswith(head) and data.endswith(b"\r\n--BOUNDARY--\r\n")
    assert json.loads(data[len(head) : -len(b"\r\n--BOUNDARY--\r\n")]) == body


def test_v5_curated_has_no_inpainting_model():
    with pytest.raises(im.InputError) as err:
        _nk("nai-diffusion-5-curated", "x", action="infill")
    assert err.value.field == "model"


# ---- mutation guard: a changed constant in the builder fails here ---------------------------------------


def test_variety_sigma_and_extra_noise_seed_are_the_websites_numbers():
    p = _nk("nai-diffusion-4-5-full", "x", variety_boost=True)["parameters"]
    assert p["skip_cfg_above_sigma"] == 58
    p = _nk("nai-diffusion-4-full", "x", variety_boost=True)["parameters"]
    assert p["skip_cfg_above_sigma"] == 19
    p = _nk("nai-diffusion-4-5-full", "x", action="img2img")["parameters"]
    assert p["extra_noise_seed"] == SEED - 1


# ---- Anlas ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        "nai-diffusion",
        "nai-diffusion-2",
        "nai-diffusion-3",
        "nai-diffusion-4-full",
        "nai-diffusion-4-5-full",
        "nai-diffusion-5-full",
    ],
)
@pytest.mark.parametrize("size", [(832, 1216), (1024, 1024), (640, 640), (192, 256), (64, 64), (1024, 1536)])
@pytest.mark.parametrize("steps,n,opus", [(23, 1, True), (28, 2, True), (29, 1, True), (50, 1, False)])
def test_anlas_estimate_equals_the_websites_price(model, size, steps, n, opus):
    w, h = size
    if im.max_n_samples(w, h) < n:
        return
    old = model in ("nai-diffusion", "nai-diffusion-2")
    if old and w * h > 1048576:
        return  # the table branch: its tables are not in the reference
    body = _nk(model, "x", width=w, height=h, steps=steps, n_samples=n)
    want = site.site_cost(model, body["parameters"], opus=opus)
    est = im.estimate_cost(body, opus=opus)
    assert (est.total if not est.over_cap else -3) == want


@pytest.mark.parametrize("strength", [0.3, 0.55, 0.99])
def test_anlas_img2img_inpaint_and_character_reference(strength):
    body = _nk("nai-diffusion-4-5-full", "x", action="img2img", strength=strength)
    assert im.estimate_cost(body).total == site.site_cost(
        "nai-diffusion-4-5-full", body["parameters"], opus=False
    )
    body = _nk("nai-diffusion-4-5-full", "x", action="infill", inpaint_strength=strength)
    assert im.estimate_cost(body).total == site.site_cost(
        "nai-diffusion-4-5-full-inpainting", body["parameters"], opus=False
    )
    # a character reference takes the free Opus sample away (plus its own 5 Anlas per sample)
    body = im.build_request(
        "x",
        ImagePreset.default("v4.5").replace(seed=1),
        character_references=[im.CharacterReference(_png((600, 900)))],
    )
    est = im.estimate_cost(body, opus=True)
    assert not est.opus_free
    assert est.total - est.character_reference == site.site_cost(
        "nai-diffusion-4-5-full", body["parameters"], opus=True, character_reference=True
    )


@pytest.mark.parametrize("strengths", [[0.6], [0.3, 0.4], [0.6, 0.7], [0.9, 0.8, 0.5]])
def test_vibe_strengths_normalised_as_on_the_website(strengths):
    vibes = [im.Vibe(encoding=f"ENC{k}", strength=v) for k, v in enumerate(strengths)]
    sb = site.site_body("nai-diffusion-4-5-full", "x", seed=SEED,
                        vibes=[{"encoding": f"ENC{k}", "strength": v} for k, v in enumerate(strengths)])  # fmt: skip
    nk = im.build_request("x", ImagePreset.default("v4.5").replace(seed=SEED), vibes=vibes)
    _same(sb, nk)
    total = sum(abs(v) for v in strengths)
    if len(strengths) > 1 and total > 1:
        assert nk["parameters"]["reference_strength_multiple"] == pytest.approx(
            [v / total for v in strengths]
        )


def test_v5_medium_effort_model():
    # spec §8.2: nai-diffusion-5-full-medium (+ -inpainting), 14 steps, k_euler_ancestral, cfg_rescale 0
    nk = _nk("nai-diffusion-5-full-medium", "x")
    p = nk["parameters"]
    assert (nk["model"], p["steps"], p["sampler"], p["cfg_rescale"], p["params_version"]) == (
        "nai-diffusion-5-full-medium", 14, "k_euler_ancestral", 0, 4,
    )  # fmt: skip
    assert (
        _nk("nai-diffusion-5-full-medium", "x", action="infill")["model"]
        == "nai-diffusion-5-full-medium-inpainting"
    )


_PIECES = ["a", "b c", ", ", "|", "||", "nsfw", "NSFW", "text:", " Text:", "text::", ":1.2", ".", "{x}", ""]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8).map("".join).filter(str.strip),
    st.lists(st.sampled_from(_PIECES), max_size=5).map("".join)
    | st.sampled_from(["|x", "||a|b||", "y|", "NSFW"]),
    st.sampled_from(BASE_MODELS + ["nai-diffusion-5-full", "nai-diffusion-5-curated"]),
    st.integers(0, 4),
    st.booleans(),
)
def test_prompt_and_uc_building_equals_the_website_for_odd_prompts(prompt, uc, model, index, quality):
    if model.startswith("nai-diffusion-5"):
        names = list(site.V5_UC)
        name = names[index % len(names)]
        sb = site.v5_body(
            model, prompt, seed=SEED, uc=uc, uc_preset=name, quality="standard" if quality else "none"
        )
        nk = _nk(model, prompt, uc=uc, uc_preset=name, quality_toggle=quality)
    else:
        names = [n for n, _ in site.UC_PRESETS[model]]
        i = index % len(names)
        sb = site.site_body(model, prompt, seed=SEED, uc=uc, params={"ucPreset": i, "qualityToggle": quality})
        nk = _nk(model, prompt, uc=uc, uc_preset=names[i], quality_toggle=quality)
    _same(sb, nk)


def test_samples_per_request_follow_the_websites_table():
    for w in range(64, 3073, 64):
        for h in range(64, 3073, 64):
            if w * h <= im.MAX_PIXELS:
                assert im.max_n_samples(w, h) == site.max_samples(w, h), (w, h)
