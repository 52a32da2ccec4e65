# ruff: noqa: E501  (tables of website strings and reference cases read best one per line)
"""naikit's image request bodies and Anlas estimates against novelai-api 0.34.1 (REF, V1-V4.5) and
novelai-sdk 0.14.1 (SDK, V4.5/V5, character reference), each run in its throwaway venv.

Bodies must be equal except for the named differences below, where the reference client disagrees
with the website; each difference is asserted to exist (so a fixed upstream shows up) and is then
applied to the reference body before the comparison. novelai-api is also pointed at the sandbox and
generates V3 and V4.5 images.
"""

from __future__ import annotations

import base64
import io
import json

import pytest
from refclients import run_script

from naikit.novelai import image_models as im
from naikit.novelai.image_models import Character, CharacterReference, ImagePreset

pytestmark = pytest.mark.interop


def _png(size=(832, 1216), color=(120, 60, 30), mode="RGB") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format="PNG")
    return buf.getvalue()


def _mask(size=(832, 1216)) -> bytes:
    from PIL import Image

    m = Image.new("RGB", size, (0, 0, 0))
    m.paste((255, 255, 255), (64, 64, 320, 320))
    buf = io.BytesIO()
    m.save(buf, format="PNG")
    return buf.getvalue()


IMG = _png()
MASK = _mask()
IMG_B64 = base64.b64encode(IMG).decode()
MASK_B64 = base64.b64encode(MASK).decode()

# name: (REF model, REF preset overrides, REF action, REF kwargs, REF characters, naikit builder)
REF_CASES: dict[str, dict] = {
    "v1-full": dict(
        model="nai-diffusion", ref={"seed": 42, "uc": "bad hands"}, nk=dict(seed=42, uc="bad hands")
    ),
    "v1-curated-light": dict(
        model="safe-diffusion",
        ref={"seed": 7, "uc_preset": "Preset_Low_Quality", "quality_toggle": False},
        nk=dict(seed=7, uc_preset="light", quality_toggle=False),
    ),
    "v1-furry": dict(
        model="nai-diffusion-furry",
        ref={"seed": 9, "uc_preset": "Preset_Bad_Anatomy"},
        nk=dict(seed=9, uc_preset="badAnatomy"),
    ),
    "v2-smea": dict(model="nai-diffusion-2", ref={"seed": 3, "smea": True}, nk=dict(seed=3, smea=True)),
    "v3-nsfw-ddim": dict(
        model="nai-diffusion-3",
        prompt="nsfw, 1girl",
        ref={"seed": 11, "sampler": "ddim", "uc": "extra"},
        nk=dict(seed=11, sampler="ddim", uc="extra"),
    ),
    "v3-furry": dict(model="nai-diffusion-furry-3", ref={"seed": 5, "scale": 7}, nk=dict(seed=5, scale=7.0)),
    "v3-img2img": dict(
        model="nai-diffusion-3",
        action="IMG2IMG",
        ref={"seed": 13},
        kwargs={"image": IMG_B64, "strength": 0.5, "noise": 0.1},
        nk=dict(seed=13, strength=0.5, noise=0.1),
        nk_action="img2img",
    ),
    "v3-infill": dict(
        model="nai-diffusion-3-inpainting",
        action="INPAINTING",
        ref={"seed": 17},
        kwargs={"image": IMG_B64, "mask": MASK_B64},
        nk=dict(seed=17),
        nk_action="infill",
    ),
    "v4-curated-characters": dict(
        model="nai-diffusion-4-curated-preview",
        ref={"seed": 21, "characters": [{"prompt": "boy"}, {"prompt": "girl", "uc": "hat"}]},
        nk=dict(seed=21),
        chars=[Character("boy"), Character("girl", "hat")],
    ),
    "v4-full-light": dict(
        model="nai-diffusion-4-full",
        ref={
            "seed": 23,
            "uc_preset": "Preset_Light",
            "scale": 7,
            "steps": 28,
            "noise_schedule": "exponential",
        },
        nk=dict(seed=23, uc_preset="light", scale=7.0, steps=28, noise_schedule="exponential"),
    ),
    "v4-full-infill": dict(
        model="nai-diffusion-4-full-inpainting",
        action="INPAINTING",
        ref={"seed": 25},
        kwargs={"image": IMG_B64, "mask": MASK_B64},
        nk=dict(seed=25),
        nk_action="infill",
    ),
    "v4.5-curated-positions": dict(
        model="nai-diffusion-4-5-curated",
        ref={
            "seed": 27,
            "characters": [{"prompt": "boy", "position": "B2"}, {"prompt": "girl", "position": "D4"}],
        },
        nk=dict(seed=27),
        chars=[Character("boy", position="B2"), Character("girl", position="D4")],
    ),
    "v4.5-full-spec-example": dict(
        model="nai-diffusion-4-5-full",
        ref={
            "seed": 42,
            "characters": [{"prompt": "boy"}, {"prompt": "girl", "uc": "bad hands", "position": "A3"}],
        },
        nk=dict(seed=42),
        chars=[Character("boy"), Character("girl", "bad hands", "A3")],
    ),
    "v4.5-full-variety": dict(
        model="nai-diffusion-4-5-full",
        ref={"seed": 29, "variety_plus": True, "uc": "watermark"},
        nk=dict(seed=29, variety_boost=True, uc="watermark"),
    ),
    "v4.5-full-img2img": dict(
        model="nai-diffusion-4-5-full",
        action="IMG2IMG",
        ref={"seed": 31},
        kwargs={"image": IMG_B64, "strength": 0.6, "noise": 0.0},
        nk=dict(seed=31, strength=0.6, noise=0.0),
        nk_action="img2img",
    ),
}

REF_BODY_SCRIPT = r"""
import asyncio, json, sys
from novelai_api import NovelAIAPI
from novelai_api.ImagePreset import ImageModel, ImagePreset, ImageGenerationType, UCPreset

cases = json.loads(sys.stdin.read())
out = {}

async def main():
    api = NovelAIAPI()
    captured = {}
    async def fake(prompt, model, action, parameters):
        captured["body"] = {"input": prompt, "model": model.value, "action": action.value, "parameters": parameters}
        if False:
            yield None
    api.low_level.generate_image = fake
    for name, case in cases.items():
        model = ImageModel(case["model"])
        preset = ImagePreset.from_default_config(model)
        for k, v in case["ref"].items():
            if k == "uc_preset":
                v = UCPreset[v]
            preset[k] = v
        action = ImageGenerationType[case.get("action", "NORMAL")]
        async for _ in api.high_level.generate_image(case.get("prompt", "1girl, sky"), model, preset, action,
                                                      **case.get("kwargs", {})):
            pass
        out[name] = captured.pop("body")
    print(json.dumps(out))

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def ref_bodies() -> dict[str, dict]:
    import subprocess

    from refclients import python_for

    payload = {k: {kk: vv for kk, vv in v.items() if kk in ("model", "ref", "action", "kwargs", "prompt")}
               for k, v in REF_CASES.items()}  # fmt: skip
    proc = subprocess.run(
        [str(python_for("novelai-api")), "-c", REF_BODY_SCRIPT],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def naikit_body(name: str) -> dict:
    case = REF_CASES[name]
    preset = ImagePreset.default(case["model"]).replace(**case["nk"])
    action = case.get("nk_action", "generate")
    extra = {}
    if action in ("img2img", "infill"):
        extra["image"] = IMG
    if action == "infill":
        extra["mask"] = MASK
    return im.build_request(
        case.get("prompt", "1girl, sky"), preset, action, characters=case.get("chars"), **extra
    )


# ---- named differences: REF -> what the website sends ---------------------------------------------------
# The expectation is the website's body for the same inputs (website_image_reference.site_body, written from
# the bundle), never naikit's: each named difference writes the website's value into REF's body, and naikit's
# own deliberate differences (test_website_image.NAMED) assert the exact value naikit sends.

_UI = {
    "A3": {"x": 0.1, "y": 0.5},
    "B2": {"x": 0.3, "y": 0.3},
    "D4": {"x": 0.7, "y": 0.7},
    None: {"x": 0.5, "y": 0.5},
}


def _ui(chars):
    return [{"prompt": c.prompt, "uc": c.uc, "center": _UI[c.position], "enabled": True} for c in chars or []]


# name: site_body keyword arguments for the same inputs as the REF case
SITE_CASES: dict[str, dict] = {
    "v1-full": dict(model="nai-diffusion", seed=42, uc="bad hands"),
    "v1-curated-light": dict(model="safe-diffusion", seed=7, params={"ucPreset": 1, "qualityToggle": False}),
    "v1-furry": dict(model="nai-diffusion-furry", seed=9, params={"ucPreset": 1}),
    "v2-smea": dict(model="nai-diffusion-2", seed=3, params={"sm": True}),
    "v3-nsfw-ddim": dict(model="nai-diffusion-3", prompt="nsfw, 1girl", seed=11, uc="extra", params={"sampler": "ddim_v3"}),
    "v3-furry": dict(model="nai-diffusion-furry-3", seed=5, params={"scale": 7}),
    "v3-img2img": dict(model="nai-diffusion-3", seed=13, action="img2img", image=IMG_B64, params={"strength": 0.5, "noise": 0.1}),
    "v3-infill": dict(model="nai-diffusion-3", seed=17, action="infill", image=IMG_B64, mask=MASK_B64),
    "v4-curated-characters": dict(model="nai-diffusion-4-curated-preview", seed=21, chars=[Character("boy"), Character("girl", "hat")]),
    "v4-full-light": dict(model="nai-diffusion-4-full", seed=23, params={"ucPreset": 1, "scale": 7, "steps": 28, "noise_schedule": "exponential"}),
    "v4-full-infill": dict(model="nai-diffusion-4-full", seed=25, action="infill", image=IMG_B64, mask=MASK_B64),
    "v4.5-curated-positions": dict(model="nai-diffusion-4-5-curated", seed=27, params={"use_coords": True},
                                   chars=[Character("boy", position="B2"), Character("girl", position="D4")]),
    "v4.5-full-spec-example": dict(model="nai-diffusion-4-5-full", seed=42, params={"use_coords": True},
                                   chars=[Character("boy"), Character("girl", "bad hands", "A3")]),
    "v4.5-full-variety": dict(model="nai-diffusion-4-5-full", seed=29, uc="watermark", variety=True),
    "v4.5-full-img2img": dict(model="nai-diffusion-4-5-full", seed=31, action="img2img", image=IMG_B64, params={"strength": 0.6, "noise": 0.0}),
}  # fmt: skip


def site_expectation(name: str, nk: dict) -> dict:
    """The website's body for the case, with naikit's named deliberate differences applied (each asserting
    naikit's value; the mask is compared pixel by pixel, then its encoding is taken)."""
    from test_website_image import NAMED
    from website_image_reference import site_body

    kw = dict(SITE_CASES[name])
    chars = kw.pop("chars", None)
    sb = site_body(kw.pop("model"), kw.pop("prompt", "1girl, sky"), characters=_ui(chars), **kw)
    for fn in NAMED.values():
        fn(sb, nk)
    if "mask" in sb["parameters"]:
        from PIL import Image

        a = Image.open(io.BytesIO(base64.b64decode(sb["parameters"]["mask"]))).convert("L")
        b = Image.open(io.BytesIO(base64.b64decode(nk["parameters"]["mask"]))).convert("L")
        assert a.tobytes() == b.tobytes()
        sb["parameters"]["mask"] = nk["parameters"]["mask"]
    return sb


_GONE = object()


def _get(body: dict, path: str):
    cur = body
    for k in path.split("."):
        if not isinstance(cur, dict) or k not in cur:
            return _GONE
        cur = cur[k]
    return cur


def _put(body: dict, path: str, value) -> None:
    keys = path.split(".")
    cur = body
    for k in keys[:-1]:
        cur = cur.setdefault(k, {})
    if value is _GONE:
        cur.pop(keys[-1], None)
    else:
        cur[keys[-1]] = json.loads(json.dumps(value))


def _fields(*paths: str):
    """A named difference on these fields: REF's value is replaced by the website's."""

    def apply(ref: dict, site: dict) -> bool:
        changed = False
        for path in paths:
            want = _get(site, path)
            if _get(ref, path) != want:
                changed = True
                _put(ref, path, want)
        return changed

    return apply


P = "parameters."
DIFFERENCES = {
    # REF's own preset defaults are an older website's (steps 28, k_euler on V3, scale 6 on V4, params_version 1)
    "older-defaults": _fields(*(P + k for k in ("params_version", "steps", "sampler", "scale", "noise_schedule",
                                                "autoSmea", "auto_smea", "uncond_scale"))),
    "ucPreset": _fields(P + "ucPreset"),  # REF sends its own enum value (Heavy = 4), not the list index
    "quality-tags": _fields("input", P + "v4_prompt.caption.base_caption"),  # REF: "location" on V4.5, V3 tags on furry V3
    "uc-texts-and-nsfw": _fields(P + "negative_prompt", P + "v4_negative_prompt.caption.base_caption"),
    "uc-copy": _fields(P + "uc"),  # REF also sends the UC as ``uc``; the website deletes it
    "smea-fields": _fields(P + "sm", P + "sm_dyn"),  # the website drops sm/sm_dyn on V4+ and sm_dyn on V1/V2
    "schedule-fields": _fields(P + "cfg_rescale", P + "skip_cfg_above_sigma", P + "dynamic_thresholding"),
    "euler-ancestral-flags": _fields(P + "deliberate_euler_ancestral_bug", P + "prefer_brownian"),
    "image_format": _fields(P + "image_format"),  # the website always sends the user's format (png)
    "use_new_shared_trial": _fields("use_new_shared_trial"),
    "characterPrompts": _fields(P + "characterPrompts"),  # REF: no ``enabled``; none at all before V4
    "use_coords": _fields(P + "use_coords", P + "v4_prompt.use_coords"),  # REF keeps false with positions
    "legacy_uc": _fields(P + "legacy_uc", P + "v4_negative_prompt.legacy_uc"),
    "img2img-fields": _fields(P + "strength", P + "noise", P + "extra_noise_seed", P + "color_correct",
                              P + "add_original_image"),  # REF: no extra_noise_seed / color_correct
    "variety-boost": _fields(P + "skip_cfg_above_sigma"),  # REF: 19 on V4.5; the website 58 (size-scaled)
}  # fmt: skip


def _apply_all(ref: dict, site: dict) -> set[str]:
    return {name for name, fn in DIFFERENCES.items() if fn(ref, site)}


@pytest.mark.parametrize("name", list(REF_CASES))
def test_body_equals_novelai_api_except_named_differences(ref_bodies, name):
    ref = json.loads(json.dumps(ref_bodies[name]))
    nk = naikit_body(name)
    site = site_expectation(name, nk)
    _apply_all(ref, site)
    assert ref == json.loads(json.dumps(nk))


@pytest.mark.parametrize("difference", list(DIFFERENCES))
def test_each_named_difference_exists_in_novelai_api(ref_bodies, difference):
    # A difference that no case shows any more means upstream changed: drop it from the list.
    hits = []
    for name in REF_CASES:
        ref = json.loads(json.dumps(ref_bodies[name]))
        if DIFFERENCES[difference](ref, site_expectation(name, naikit_body(name))):
            hits.append(name)
    assert hits, f"{difference}: novelai-api no longer differs from the website here"


# ------------------------------------------------------------------------------------------- novelai-sdk

SDK_BODY_SCRIPT = r"""
import json, sys, base64
from novelai.types.user.image import GenerateImageParams, Character, CharacterReference
from novelai._utils.converter import convert_user_params_to_api_request
cases = json.loads(sys.stdin.read())
out = {}
for name, c in cases.items():
    kw = dict(c["kw"])
    if "characters" in kw:
        kw["characters"] = [Character(**ch) for ch in kw["characters"]]
    if "character_references" in kw:
        kw["character_references"] = [CharacterReference(image=base64.b64decode(r.pop("image")), **r)
                                      for r in kw["character_references"]]
    try:
        req = convert_user_params_to_api_request(GenerateImageParams(**kw), None)
        out[name] = json.loads(req.model_dump_json(exclude_none=True))
    except Exception as exc:
        out[name] = {"error": type(exc).__name__ + ": " + str(exc)[:300]}
print(json.dumps(out))
"""

REF_IMG_PORTRAIT = base64.b64encode(_png((600, 900), (10, 200, 90))).decode()
REF_IMG_LANDSCAPE = base64.b64encode(_png((900, 600), (10, 200, 90))).decode()

SDK_CASES = {
    "v5-full": dict(kw=dict(prompt="1girl", model="nai-diffusion-5-full", seed=42, uc_preset="strong")),
    "v5-curated-chars": dict(
        kw=dict(
            prompt="two people",
            model="nai-diffusion-5-curated",
            seed=43,
            uc_preset="strong",
            characters=[
                {"prompt": "boy", "position": [0.25, 0.4]},
                {"prompt": "girl", "negative_prompt": "hat"},
            ],
        ),
        chars=[Character("boy", position=(0.25, 0.4)), Character("girl", "hat")],
    ),
    "v4.5-charref": dict(
        kw=dict(
            prompt="portrait",
            model="nai-diffusion-4-5-full",
            seed=44,
            uc_preset="light",
            character_references=[
                {"image": REF_IMG_PORTRAIT, "type": "character", "strength": 0.8, "fidelity": 0.7}
            ],  # fmt: skip
        ),
        refs=[CharacterReference(base64.b64decode(REF_IMG_PORTRAIT), "character", 0.8, 0.7)],
    ),
    "v4.5-charref-landscape": dict(
        kw=dict(
            prompt="portrait",
            model="nai-diffusion-4-5-full",
            seed=45,
            uc_preset="light",
            character_references=[{"image": REF_IMG_LANDSCAPE}],
        ),
        refs=[CharacterReference(base64.b64decode(REF_IMG_LANDSCAPE))],
    ),
    "v5-uc-none": dict(kw=dict(prompt="1girl", model="nai-diffusion-5-full", seed=46, uc_preset="none")),
}
_SDK_UC = {"strong": "heavy", "light": "light", "none": "none"}


@pytest.fixture(scope="module")
def sdk_bodies() -> dict[str, dict]:
    import subprocess

    from refclients import python_for

    proc = subprocess.run(
        [str(python_for("novelai-sdk")), "-c", SDK_BODY_SCRIPT],
        input=json.dumps({k: {"kw": v["kw"]} for k, v in SDK_CASES.items()}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def sdk_like_body(name: str) -> dict:
    """The naikit body for an SDK case (the website's defaults; the SDK's hard-coded values are differences)."""
    kw = SDK_CASES[name]["kw"]
    preset = ImagePreset.default(kw["model"]).replace(seed=kw["seed"], uc_preset=_SDK_UC[kw["uc_preset"]])
    return im.build_request(
        kw["prompt"], preset, characters=SDK_CASES[name].get("chars"),
        character_references=SDK_CASES[name].get("refs"),
    )  # fmt: skip


def sdk_site(name: str, nk: dict) -> dict:
    """The website's body for an SDK case (website_image_reference: the bundle for V4.5, the V5 spec)."""
    import website_image_reference as site

    kw = SDK_CASES[name]["kw"]
    uc = _SDK_UC[kw["uc_preset"]]
    chars = [
        {"prompt": c.prompt, "uc": c.uc, "center": {"x": c.position[0], "y": c.position[1]} if c.position
         else {"x": 0.5, "y": 0.5}}
        for c in SDK_CASES[name].get("chars") or []
    ]  # fmt: skip
    if "diffusion-5" in kw["model"]:
        return site.v5_body(kw["model"], kw["prompt"], seed=kw["seed"], uc_preset=uc, characters=chars)
    refs = []
    for i, r in enumerate(SDK_CASES[name].get("refs") or []):
        from PIL import Image

        w, h = Image.open(io.BytesIO(r.image)).size
        canvas, _ = site.reference_canvas(w, h)
        # The letterboxed picture itself is drawn by a browser canvas: check naikit's canvas size, use its bytes.
        got = nk["parameters"]["director_reference_images"][i]
        assert Image.open(io.BytesIO(base64.b64decode(got))).size == canvas
        refs.append({"image": got, "description": r.kind, "information_extracted": 1,
                     "strength": r.strength, "fidelity": r.fidelity})  # fmt: skip
    names = [n for n, _ in site.UC_PRESETS[kw["model"]]]
    return site.site_body(kw["model"], kw["prompt"], seed=kw["seed"], params={"ucPreset": names.index(uc)},
                          character_references=refs)  # fmt: skip


SDK_DIFFERENCES = {
    # the SDK puts the quality tags in v4_prompt only; ``input`` stays the bare prompt
    "input-without-quality-tags": _fields("input"),
    # the SDK glues its preset after the user UC with stray commas and never adds "nsfw, "
    "uc-commas-no-nsfw": _fields(P + "negative_prompt", P + "v4_negative_prompt.caption.base_caption"),
    # V5: the SDK sends the V4.5 preset fields (ucPreset number, qualityToggle), not ucPresetId/qualityPresetId
    "v5-preset-ids": _fields(P + "ucPreset", P + "qualityToggle", P + "ucPresetId", P + "qualityPresetId"),
    # V5 defaults: the SDK keeps V4.5's scale 5 and positions-only use_coords; the website sends 7 and true
    "v5-defaults": _fields(P + "scale", P + "use_coords", P + "v4_prompt.use_coords", P + "straight_alpha"),
    # fields the website does not send (sm/sm_dyn on V4+, strength/noise without an image) or sends and the
    # SDK does not (image_format, null skip_cfg_above_sigma on V4.5, the V4+ inpaint strength)
    "dropped-and-missing-fields": _fields(P + "sm", P + "sm_dyn", P + "strength", P + "noise", P + "image_format",
                                          P + "skip_cfg_above_sigma", P + "inpaintImg2ImgStrength"),
    # the SDK hard-codes add_original_image and normalize_reference_strength_multiple to false
    "sdk-hard-coded-false": _fields(P + "add_original_image", P + "normalize_reference_strength_multiple"),
    # the SDK always letterboxes a character reference to portrait
    "charref-canvas": _fields(P + "director_reference_images"),
    # fidelity 0.7: the website sends 1 - 0.7 as computed (0.30000000000000004), the SDK 0.3
    "charref-secondary-strength": _fields(P + "director_reference_secondary_strength_values"),
}  # fmt: skip


@pytest.mark.parametrize("name", [n for n in SDK_CASES if n != "v5-uc-none"])
def test_body_equals_novelai_sdk_except_named_differences(sdk_bodies, name):
    sdk = json.loads(json.dumps(sdk_bodies[name]))
    assert "error" not in sdk, sdk
    nk = sdk_like_body(name)
    site = sdk_site(name, nk)
    for fn in SDK_DIFFERENCES.values():
        fn(sdk, site)
    assert sdk == json.loads(json.dumps(nk))


@pytest.mark.parametrize("difference", list(SDK_DIFFERENCES))
def test_each_named_sdk_difference_exists(sdk_bodies, difference):
    hits = [
        name
        for name in SDK_CASES
        if name != "v5-uc-none"
        and SDK_DIFFERENCES[difference](
            json.loads(json.dumps(sdk_bodies[name])), sdk_site(name, sdk_like_body(name))
        )
    ]
    assert hits, f"{difference}: novelai-sdk no longer differs from the website here"


def test_named_sdk_difference_ucpreset_none_is_refused_by_sdk_itself(sdk_bodies):
    # SDK maps "none" to ucPreset 4 but its own schema caps ucPreset at 3: it cannot send "none" at all.
    assert "error" in sdk_bodies["v5-uc-none"] and "ucPreset" in sdk_bodies["v5-uc-none"]["error"]
    nk = sdk_like_body("v5-uc-none")
    assert nk["parameters"]["ucPresetId"] == "none" and nk["parameters"]["negative_prompt"] == ""


def test_named_sdk_difference_landscape_reference_canvas(sdk_bodies):
    from PIL import Image

    sdk = sdk_bodies["v4.5-charref-landscape"]["parameters"]["director_reference_images"][0]
    nk = sdk_like_body("v4.5-charref-landscape")["parameters"]["director_reference_images"][0]
    assert Image.open(io.BytesIO(base64.b64decode(sdk))).size == (1024, 1536)  # SDK: always portrait
    assert Image.open(io.BytesIO(base64.b64decode(nk))).size == (1536, 1024)  # the website: nearest ratio


# ------------------------------------------------------------------------------------ cost vs novelai-sdk

SDK_COST_SCRIPT = r"""
import json, sys, base64, io
from novelai.types.api.image import ImageParameters
from novelai.utils.anlas import calculate_anlas, calculate_augment_anlas
from novelai.types.user.image import GenerateImageParams, ControlNet, ControlNetImage
cases = json.loads(sys.stdin.read())
out = {}
fields = set(ImageParameters.model_fields)
for name, c in cases.items():
    if c["kind"] == "augment":
        out[name] = calculate_augment_anlas(c["tool"], c["width"], c["height"], is_opus=c["opus"]).total_anlas
    elif c["kind"] == "vibes":
        imgs = [ControlNetImage(image=base64.b64decode(c["png"])) for _ in range(c["n"])]
        for i in range(c["cached"]):
            imgs[i]._vibe_data = "AAAA"
        p = GenerateImageParams(prompt="x", model=c["model"], size=tuple(c["size"]), steps=c["steps"],
                                n_samples=c["n_samples"], controlnet=ControlNet(images=imgs), seed=1)
        out[name] = p.calculate_anlas(is_opus=c["opus"]).total_anlas
    else:
        params = {k: v for k, v in c["parameters"].items() if k in fields and k not in ("ucPreset",)}
        out[name] = calculate_anlas(c["model"], ImageParameters(**params), is_opus=c["opus"]).total_anlas
print(json.dumps(out))
"""


def _cost_cases() -> dict[str, tuple[dict, dict]]:
    """name -> (case sent to the SDK, naikit body or augment spec)."""
    cases: dict[str, tuple[dict, dict]] = {}
    sizes = [(832, 1216), (1024, 1024), (512, 768), (1216, 832), (1024, 1536), (1472, 1472), (64, 64)]
    models = ["nai-diffusion-3", "nai-diffusion-furry-3", "nai-diffusion-4-full", "nai-diffusion-4-curated-preview",
              "nai-diffusion-4-5-full", "nai-diffusion-4-5-curated", "nai-diffusion-5-full"]  # fmt: skip
    k = 0
    for model in models:
        for (w, h), steps, n, opus in [((832, 1216), 23, 1, False), ((1024, 1536), 28, 2, True),
                                       ((1024, 1024), 50, 1, True), ((512, 768), 28, 4, True)]:  # fmt: skip
            preset = ImagePreset.default(model).replace(width=w, height=h, steps=steps, n_samples=n, seed=1)
            body = im.build_request("x", preset)
            cases[f"{k:02d}-{model}-{w}x{h}-{steps}-{n}-{'opus' if opus else 'paid'}"] = (
                {"kind": "params", "model": body["model"], "parameters": body["parameters"], "opus": opus},
                {"body": body, "opus": opus},
            )
            k += 1
    for i, (w, h) in enumerate(sizes):
        preset = ImagePreset.default("v4.5").replace(width=w, height=h, steps=28, n_samples=1, seed=1,
                                                     strength=0.45)  # fmt: skip
        body = im.build_request("x", preset, "img2img", image=_png((w, h)))
        cases[f"i2i-{i}-{w}x{h}"] = (
            {"kind": "params", "model": body["model"], "parameters": body["parameters"], "opus": False},
            {"body": body, "opus": False},
        )
    for smea, dyn in [(True, False), (True, True)]:
        preset = ImagePreset.default("v3").replace(smea=smea, smea_dyn=dyn, seed=1)
        body = im.build_request("x", preset)
        cases[f"v3-smea-{smea}-{dyn}"] = (
            {"kind": "params", "model": body["model"], "parameters": body["parameters"], "opus": False},
            {"body": body, "opus": False},
        )
    preset = ImagePreset.default("v4.5").replace(seed=1, n_samples=2)
    body = im.build_request("x", preset, character_references=[CharacterReference(_png((600, 900)))])
    cases["charref-2-samples"] = (
        {"kind": "params", "model": body["model"], "parameters": body["parameters"], "opus": True},
        {"body": body, "opus": True},
    )
    png = base64.b64encode(_png((64, 64))).decode()
    for n, cached in [(2, 0), (6, 6), (6, 2)]:
        vibes = [im.Vibe(encoding="AAAA") for _ in range(n)]
        preset = ImagePreset.default("v4.5").replace(seed=1)
        body = im.build_request("x", preset, vibes=vibes)
        cases[f"vibes-{n}-cached-{cached}"] = (
            {
                "kind": "vibes",
                "model": body["model"],
                "size": [832, 1216],
                "steps": 23,
                "n_samples": 1,
                "n": n,
                "cached": cached,
                "png": png,
                "opus": False,
            },  # fmt: skip
            {"body": body, "opus": False, "uncached": n - cached},
        )
    for tool, w, h, opus in [("lineart", 832, 1216, True), ("bg-removal", 832, 1216, True),
                             ("colorize", 2048, 2048, False), ("emotion", 512, 512, True)]:  # fmt: skip
        cases[f"augment-{tool}-{w}x{h}"] = (
            {"kind": "augment", "tool": tool, "width": w, "height": h, "opus": opus},
            {"augment": (tool, w, h, opus)},
        )
    return cases


def test_cost_estimates_equal_novelai_sdk():
    cases = _cost_cases()
    assert len(cases) >= 30
    out = json.loads(_run_sdk_cost({k: v[0] for k, v in cases.items()}))
    mismatches = {}
    for name, (_, ours) in cases.items():
        if "augment" in ours:
            tool, w, h, opus = ours["augment"]
            got = im.estimate_augment_cost(tool, w, h, opus=opus).total
        else:
            got = im.estimate_cost(
                ours["body"], opus=ours["opus"], uncached_vibes=ours.get("uncached", 0)
            ).total
        want = out[name]
        if name == "charref-2-samples":
            # Named difference: the SDK still gives Opus its free sample with a character reference; the
            # website does not (its free rule needs no reference). The website's price, plus 5 per sample:
            import website_image_reference as site

            p = ours["body"]["parameters"]
            assert want == site.site_cost(ours["body"]["model"], p, opus=False) // 2 + 5 * p["n_samples"]
            want = (
                site.site_cost(ours["body"]["model"], p, opus=True, character_reference=True)
                + 5 * p["n_samples"]
            )
        if got != want:
            mismatches[name] = (got, want)
    assert not mismatches


def _run_sdk_cost(payload: dict) -> str:
    import subprocess

    from refclients import python_for

    proc = subprocess.run(
        [str(python_for("novelai-sdk")), "-c", SDK_COST_SCRIPT],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_cost_v1_v2_equal_novelai_api():
    script = r"""
import json, sys
from novelai_api.ImagePreset import ImagePreset, ImageModel, ImageGenerationType, ImageSampler
out = []
for c in json.loads(sys.stdin.read()):
    p = ImagePreset.from_default_config(ImageModel(c["model"]))
    p.resolution = tuple(c["size"]); p.steps = c["steps"]; p.n_samples = c["n"]
    p.sampler = ImageSampler[c["sampler"]]; p.smea = c["smea"]
    out.append(p.calculate_cost(c["opus"], c["version"]))
print(json.dumps(out))
"""
    import subprocess

    from refclients import python_for

    cases = []
    for model, version in (("nai-diffusion", 1), ("nai-diffusion-2", 2)):
        for size, steps, n, sampler, smea, opus in [
            ((512, 768), 28, 1, "k_euler_ancestral", False, True),
            ((640, 640), 28, 2, "k_euler", False, True),
            ((1024, 1536), 28, 1, "k_euler_ancestral", False, False),
            ((832, 1216), 50, 2, "k_dpmpp_2m", False, False),
            ((1024, 1024), 28, 1, "k_euler", True, False),
        ]:
            cases.append(dict(model=model, version=version, size=size, steps=steps, n=n, sampler=sampler,
                              smea=smea, opus=opus))  # fmt: skip
    proc = subprocess.run([str(python_for("novelai-api")), "-c", script], input=json.dumps(cases),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    ref = json.loads(proc.stdout)
    ours = []
    for c in cases:
        preset = ImagePreset.default(c["model"]).replace(width=c["size"][0], height=c["size"][1], steps=c["steps"],
                                                         n_samples=c["n"], sampler=c["sampler"], smea=c["smea"],
                                                         seed=1, auto_smea=False)  # fmt: skip
        # (auto_smea off: REF prices the SMEA flag as given; the website's autoSmea would turn it on at 1 MPx)
        ours.append(im.estimate_cost(im.build_request("x", preset), opus=c["opus"]).total)
    assert ours == ref


# -------------------------------------------------------------------------- novelai-api against sandbox

REF_AGAINST_SANDBOX = r"""
import asyncio, json, sys, io, zipfile
from aiohttp import ClientSession
import novelai_api._low_level as ll
from novelai_api import NovelAIAPI
from novelai_api.ImagePreset import ImageModel, ImagePreset

async def main(url, email, password):
    ll.IMAGE_API_ADDRESS = url
    out = {}
    async with ClientSession() as session:
        api = NovelAIAPI(session)
        api.BASE_ADDRESS = url
        await api.high_level.login(email, password)
        for model in (ImageModel.Anime_v3, ImageModel.Anime_v45_Full):
            preset = ImagePreset.from_default_config(model)
            preset.seed = 1234
            preset.resolution = (512, 768)
            got = [(name, len(data), data[:8].hex()) async for name, data in
                   api.high_level.generate_image("1girl, sky", model, preset)]
            out[model.value] = got
        tags = await api.low_level.suggest_tags("cat", ImageModel.Anime_v3)
        out["tags"] = [t["tag"] for t in tags["tags"]]
    print(json.dumps(out))

asyncio.run(main(*sys.argv[1:4]))
"""


def test_novelai_api_generates_v3_and_v45_images_on_the_sandbox():
    from naikit import sandbox

    srv = sandbox.start()
    try:
        out = json.loads(run_script("novelai-api", REF_AGAINST_SANDBOX, srv.url, sandbox.DEMO_EMAIL,
                                    sandbox.DEMO_PASSWORD))  # fmt: skip
    finally:
        srv.stop()
    for model in ("nai-diffusion-3", "nai-diffusion-4-5-full"):
        assert [name for name, _, _ in out[model]] == ["image_0.png"]
        assert out[model][0][2] == "89504e470d0a1a0a"  # a PNG signature
        assert out[model][0][1] > 1000
    assert out["tags"][0] == "cat"
