# ruff: noqa: E501  (tables of website strings read best one per line)
"""What NovelAI's website builds for an image request, written from a reading of its January 2026 bundle
(``chunks/pages/_app-*.js``: the quality-tag table, the UC preset lists, the UC combiner, the per-model
defaults and capabilities, the request class that deletes and adds fields; ``chunks/5036-*.js``: the image
page that fills the parameters before sending) and, for V5 (August 2026, after the bundle), from the V5
request spec checked against the production client (search index id 59907336530).

Nothing here imports naikit: the tests compare naikit's bodies with :func:`site_body`.
"""

from __future__ import annotations

import re
from typing import Any

# ---- quality tags (_app: the function returning {qualityTags, suffix} per model) ---------------------
QUALITY: dict[str, tuple[str, str]] = {
    "nai-diffusion-4-5-full": ("", ", very aesthetic, masterpiece, no text"),
    "nai-diffusion-4-5-full-inpainting": ("", ", very aesthetic, masterpiece, no text"),
    "nai-diffusion-4-5-curated": ("", ", very aesthetic, masterpiece, no text, -0.8::feet::, rating:general"),
    "nai-diffusion-4-5-curated-inpainting": (
        "",
        ", very aesthetic, masterpiece, no text, -0.8::feet::, rating:general",
    ),
    "nai-diffusion-4-full": ("", ", no text, best quality, very aesthetic, absurdres"),
    "nai-diffusion-4-full-inpainting": ("", ", no text, best quality, very aesthetic, absurdres"),
    "nai-diffusion-4-curated-preview": ("", ", rating:general, best quality, very aesthetic, absurdres"),
    "nai-diffusion-4-curated-inpainting": ("", ", rating:general, best quality, very aesthetic, absurdres"),
    "nai-diffusion-2": ("very aesthetic, best quality, absurdres, ", ""),
    "nai-diffusion-3": ("", ", best quality, amazing quality, very aesthetic, absurdres"),
    "nai-diffusion-3-inpainting": ("", ", best quality, amazing quality, very aesthetic, absurdres"),
    "nai-diffusion-furry-3": ("", ", {best quality}, {amazing quality}"),
    "nai-diffusion-furry-3-inpainting": ("", ", {best quality}, {amazing quality}"),
}
QUALITY_DEFAULT = ("masterpiece, best quality, ", "")  # every other model (V1)

# ---- UC presets (_app: the list of {category, name, text} per model; index = ucPreset) -------------
_V1 = [
    (
        "heavy",
        "lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, cropped, worst quality, low quality, normal quality, jpeg artifacts, signature, watermark, username, blurry",
    ),
    (
        "light",
        "lowres, text, cropped, worst quality, low quality, normal quality, jpeg artifacts, signature, watermark, username, blurry",
    ),
    ("none", "lowres"),
]
_V1_FURRY = [
    (
        "lowQuality",
        "worst quality, low quality, what has science done, what, nightmare fuel, eldritch horror, where is your god now, why",
    ),
    (
        "badAnatomy",
        "{worst quality}, low quality, distracting watermark, [nightmare fuel], {{unfinished}}, deformed, outline, pattern, simple background",
    ),
    ("none", "low res"),
]
_V2 = [
    (
        "heavy",
        "lowres, bad, text, error, missing, extra, fewer, cropped, jpeg artifacts, worst quality, bad quality, watermark, displeasing, unfinished, chromatic aberration, scan, scan artifacts",
    ),
    ("light", "lowres, jpeg artifacts, worst quality, watermark, blurry, very displeasing"),
    ("none", "lowres"),
]
_V3 = [
    (
        "heavy",
        "lowres, {bad}, error, fewer, extra, missing, worst quality, jpeg artifacts, bad quality, watermark, unfinished, displeasing, chromatic aberration, signature, extra digits, artistic error, username, scan, [abstract]",
    ),
    ("light", "lowres, jpeg artifacts, worst quality, watermark, blurry, very displeasing"),
    (
        "humanFocus",
        "lowres, {bad}, error, fewer, extra, missing, worst quality, jpeg artifacts, bad quality, watermark, unfinished, displeasing, chromatic aberration, signature, extra digits, artistic error, username, scan, [abstract], bad anatomy, bad hands, @_@, mismatched pupils, heart-shaped pupils, glowing eyes",
    ),
    ("none", "lowres"),
]
_V3_FURRY = [
    (
        "heavy",
        "{{worst quality}}, [displeasing], {unusual pupils}, guide lines, {{unfinished}}, {bad}, url, artist name, {{tall image}}, mosaic, {sketch page}, comic panel, impact (font), [dated], {logo}, ych, {what}, {where is your god now}, {distorted text}, repeated text, {floating head}, {1994}, {widescreen}, absolutely everyone, sequence, {compression artifacts}, hard translated, {cropped}, {commissioner name}, unknown text, high contrast",
    ),
    (
        "light",
        "{worst quality}, guide lines, unfinished, bad, url, tall image, widescreen, compression artifacts, unknown text",
    ),
    ("none", "lowres"),
]
_V4_CURATED = [
    (
        "heavy",
        "blurry, lowres, error, film grain, scan artifacts, worst quality, bad quality, jpeg artifacts, very displeasing, chromatic aberration, logo, dated, signature, multiple views, gigantic breasts, white blank page, blank page",
    ),
    (
        "light",
        "blurry, lowres, error, worst quality, bad quality, jpeg artifacts, very displeasing, logo, dated, signature, white blank page, blank page",
    ),
    ("none", ""),
]
_V4_FULL = [
    (
        "heavy",
        "blurry, lowres, error, film grain, scan artifacts, worst quality, bad quality, jpeg artifacts, very displeasing, chromatic aberration, multiple views, logo, too many watermarks, white blank page, blank page",
    ),
    (
        "light",
        "blurry, lowres, error, worst quality, bad quality, jpeg artifacts, very displeasing, white blank page, blank page",
    ),
    ("none", ""),
]
_V45_CURATED = [
    (
        "heavy",
        "blurry, lowres, upscaled, artistic error, film grain, scan artifacts, worst quality, bad quality, jpeg artifacts, very displeasing, chromatic aberration, halftone, multiple views, logo, too many watermarks, negative space, blank page",
    ),
    (
        "light",
        "blurry, lowres, upscaled, artistic error, scan artifacts, jpeg artifacts, logo, too many watermarks, negative space, blank page",
    ),
    (
        "humanFocus",
        "blurry, lowres, upscaled, artistic error, film grain, scan artifacts, bad anatomy, bad hands, worst quality, bad quality, jpeg artifacts, very displeasing, chromatic aberration, halftone, multiple views, logo, too many watermarks, @_@, mismatched pupils, glowing eyes, negative space, blank page",
    ),
    ("none", ""),
]
_V45_FULL = [
    (
        "heavy",
        "lowres, artistic error, film grain, scan artifacts, worst quality, bad quality, jpeg artifacts, very displeasing, chromatic aberration, dithering, halftone, screentone, multiple views, logo, too many watermarks, negative space, blank page",
    ),
    (
        "light",
        "lowres, artistic error, scan artifacts, worst quality, bad quality, jpeg artifacts, multiple views, very displeasing, too many watermarks, negative space, blank page",
    ),
    (
        "furryFocus",
        "{worst quality}, distracting watermark, unfinished, bad quality, {widescreen}, upscale, {sequence}, {{grandfathered content}}, blurred foreground, chromatic aberration, sketch, everyone, [sketch background], simple, [flat colors], ych (character), outline, multiple scenes, [[horror (theme)]], comic",
    ),
    (
        "humanFocus",
        "lowres, artistic error, film grain, scan artifacts, worst quality, bad quality, jpeg artifacts, very displeasing, chromatic aberration, dithering, halftone, screentone, multiple views, logo, too many watermarks, negative space, blank page, @_@, mismatched pupils, glowing eyes, bad anatomy",
    ),
    ("none", ""),
]
UC_PRESETS: dict[str, list[tuple[str, str]]] = {
    "nai-diffusion": _V1, "safe-diffusion": _V1, "nai-diffusion-inpainting": _V1, "safe-diffusion-inpainting": _V1,
    "nai-diffusion-furry": _V1_FURRY, "furry-diffusion-inpainting": _V1_FURRY,
    "nai-diffusion-2": _V2,
    "nai-diffusion-3": _V3, "nai-diffusion-3-inpainting": _V3,
    "nai-diffusion-furry-3": _V3_FURRY, "nai-diffusion-furry-3-inpainting": _V3_FURRY,
    "nai-diffusion-4-curated-preview": _V4_CURATED, "nai-diffusion-4-curated-inpainting": _V4_CURATED,
    "nai-diffusion-4-full": _V4_FULL, "nai-diffusion-4-full-inpainting": _V4_FULL,
    "nai-diffusion-4-5-curated": _V45_CURATED, "nai-diffusion-4-5-curated-inpainting": _V45_CURATED,
    "nai-diffusion-4-5-full": _V45_FULL, "nai-diffusion-4-5-full-inpainting": _V45_FULL,
}  # fmt: skip
#: Models that never get "nsfw, " before their UC preset (the bundle's curated set).
CURATED = {
    "safe-diffusion", "safe-diffusion-inpainting", "nai-diffusion-4-curated-preview",
    "nai-diffusion-4-curated-inpainting", "nai-diffusion-4-5-curated", "nai-diffusion-4-5-curated-inpainting",
}  # fmt: skip

# ---- per-model defaults (_app: the default parameters per model) ------------------------------------
_SD = dict(
    params_version=3,
    width=512,
    height=768,
    scale=10,
    sampler="k_euler_ancestral",
    steps=28,
    n_samples=1,
    strength=0.7,
    noise=0,
    ucPreset=0,
    qualityToggle=True,
    autoSmea=False,
    sm=False,
    sm_dyn=False,
    dynamic_thresholding=False,
    controlnet_strength=1,
    legacy=False,
    add_original_image=True,
    cfg_rescale=0,
    noise_schedule="native",
    legacy_v3_extend=False,
    skip_cfg_above_sigma=None,
)
_V4X = dict(
    use_coords=False, legacy_uc=False, normalize_reference_strength_multiple=True, inpaintImg2ImgStrength=1
)
DEFAULTS: dict[str, dict[str, Any]] = {
    "sd": _SD,
    "nai-diffusion-2": {**_SD, "width": 832, "height": 1216, "autoSmea": True},
    "v4": {**_SD, "width": 832, "height": 1216, "scale": 5.5, "steps": 23, "noise_schedule": "karras", **_V4X},
    "v4.5": {**_SD, "width": 832, "height": 1216, "scale": 5, "steps": 23, "noise_schedule": "karras", **_V4X},
    "nai-diffusion-3": {**_SD, "width": 832, "height": 1216, "scale": 5, "steps": 23, "autoSmea": True, "noise_schedule": "karras"},
    "nai-diffusion-furry-3": {**_SD, "width": 832, "height": 1216, "scale": 6.2, "steps": 23, "autoSmea": True, "noise_schedule": "karras"},
}  # fmt: skip


def family(model: str) -> str:
    """The bundle's model groups (which capability set and which defaults a model has)."""
    if "diffusion-4-5" in model:
        return "v4.5"
    if "diffusion-4" in model:
        return "v4"
    if model.startswith(("nai-diffusion-3", "nai-diffusion-furry-3")):
        return "v3"
    if model == "nai-diffusion-2":
        return "v2"
    return "sd"


def defaults(model: str) -> dict[str, Any]:
    """The website's default parameters for a (non-inpainting) model."""
    f = family(model)
    key = {"v4": "v4", "v4.5": "v4.5", "sd": "sd"}.get(f, model)
    return dict(DEFAULTS[key])


# ---- capabilities (_app: the per-model capability table) --------------------------------------------
def caps(model: str) -> dict[str, Any]:
    """The capability flags the request builder reads."""
    f = family(model)
    old = f in ("sd", "v2", "v3")
    return {
        "noiseSchedule": f in ("v3", "v4", "v4.5"),
        "cfgDelay": f in ("v3", "v4", "v4.5"),
        "cfgDelaySigma": 58 if f == "v4.5" else 19,
        "smea": old,
        "smeaDyn": f == "v3",
        "dynamicThresholding": old,
        "autoSmea": old,
        "v4Prompts": f in ("v4", "v4.5"),
        "text": f in ("v4", "v4.5"),
        "img2imgInpainting": f in ("v4", "v4.5"),
        "autoSmeaArea": 2166785 if f in ("v3", "v4", "v4.5") else 1064961,
    }


# ---- the prompt and the UC ----------------------------------------------------------------------------
_TEXT = re.compile(r"(?:^|\s|[,.:[\]{}])text:(?!:)", re.IGNORECASE)


def _split_v4(prompt: str) -> list[str]:
    """The bundle's character-prompt splitter: "|" separates, "||...||" protects, at most 6 parts."""
    a, b = "\U000103b9", "\U00012137"
    e = b.join(a.join(seg.split("|")) if i % 2 == 1 else seg for i, seg in enumerate(prompt.split("||")))
    t = e.split("|")
    r = t[:5]
    if len(t) > 5:
        r.append("|".join(t[5:]))
    return [x.replace(a, "|").replace(b, "||") for x in r]


def with_quality(prompt: str, model: str, pre_suf: tuple[str, str] | None = None) -> str:
    """The bundle's quality-tag function (V4+: first segment, before "Text:"; older: every "|" part)."""
    pre, suf = pre_suf if pre_suf is not None else QUALITY.get(model, QUALITY_DEFAULT)
    if caps(model)["v4Prompts"] or model.startswith("nai-diffusion-5"):
        parts = _split_v4(prompt)
        first = parts[0]  # every V4+ model has the "Text:" capability
        pieces = _TEXT.split(first)
        m = _TEXT.search(first)
        sep = m.group(0) if m else ""
        parts[0] = sep.join([pre + pieces[0] + suf, *pieces[1:]])
        return "|".join(parts)
    out = []
    for seg in prompt.split("|"):
        m = re.search(r"(:[\d.]+$)", seg)
        w = m.group(1) if m else None
        body = seg[: -len(w)] if w else seg
        out.append(pre + body + suf + (w or ""))
    return "|".join(out)


def combine_uc(model: str, index: int, prompt: str, user: str, presets: list[tuple[str, str]] | None = None,
               curated: bool | None = None) -> str:  # fmt: skip
    """The bundle's UC combiner (index = ucPreset; prompt = the prompt with quality tags)."""
    i = presets if presets is not None else UC_PRESETS[model]
    cur = (model in CURATED) if curated is None else curated
    t = index if 0 <= index < len(i) else len(i) - 1
    if caps(model)["v4Prompts"] or model.startswith("nai-diffusion-5"):
        o = "|".join(seg if r != 0 or i[t][1] == "" else (i[t][1] if seg == "" else f"{i[t][1]}, {seg}")
                     for r, seg in enumerate(user.split("|")))  # fmt: skip
        if not cur and i[t][1] != "" and "nsfw" not in prompt.lower():
            return "nsfw" + (", " if i[t][1] != "" else "") + o
    o = i[t][1]
    if not cur and o != i[-1][1] and "nsfw" not in prompt.lower():
        o = "nsfw" + (", " if o != "" else "") + o
    if user:
        if t == len(i) - 1:
            o = ""
        if o != "":
            o += ", "
        o += user
    return o


def inpainting_of(model: str) -> str:
    """The bundle's model -> inpainting model map."""
    return {
        "nai-diffusion": "nai-diffusion-inpainting", "safe-diffusion": "safe-diffusion-inpainting",
        "nai-diffusion-furry": "furry-diffusion-inpainting", "nai-diffusion-3": "nai-diffusion-3-inpainting",
        "nai-diffusion-furry-3": "nai-diffusion-furry-3-inpainting",
        "nai-diffusion-4-curated-preview": "nai-diffusion-4-curated-inpainting",
        "nai-diffusion-4-full": "nai-diffusion-4-full-inpainting",
        "nai-diffusion-4-5-curated": "nai-diffusion-4-5-curated-inpainting",
        "nai-diffusion-4-5-full": "nai-diffusion-4-5-full-inpainting",
    }[model]  # fmt: skip


# ---- the whole request ------------------------------------------------------------------------------
_NO_SMEA = {"ddim", "plms", "k_lms", "nai_smea", "nai_smea_dyn", "ddim_v3"}
_NO_SCHEDULE = _NO_SMEA | {"k_dpm_fast"}


def site_body(
    model: str,
    prompt: str,
    *,
    seed: int,
    uc: str = "",
    params: dict[str, Any] | None = None,
    action: str = "generate",
    image: str | None = None,
    mask: str | None = None,
    characters: list[dict[str, Any]] | None = None,
    variety: bool = False,
    character_references: list[dict[str, Any]] | None = None,
    vibes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The body the website sends: defaults of ``model`` + ``params`` (UI changes) through the image page
    and the request class. ``characters``: UI objects {prompt, uc, center, enabled}. ``image``/``mask``:
    base64 as they are after the page's resizing. For infill, ``model`` is the base model."""
    send_model = inpainting_of(model) if action == "infill" else model
    c = caps(send_model)
    i = defaults(model)
    i.update(params or {})
    if variety:  # the Variety+ toggle sets the model's sigma
        i["skip_cfg_above_sigma"] = c["cfgDelaySigma"]
    i["seed"] = seed
    if image is not None:
        i["image"] = image
    if mask is not None:
        i["mask"] = mask
    if action == "infill":
        i["add_original_image"] = False  # the page composites the result itself
    i["characterPrompts"] = list(characters or [])
    p = with_quality(prompt, send_model) if i["qualityToggle"] else prompt
    i["uc"] = combine_uc(send_model, i["ucPreset"], p, uc)
    # the image page before sending
    if c["autoSmea"]:
        if i.get("autoSmea") and i["width"] * i["height"] >= c["autoSmeaArea"]:
            i["sm"] = True
        elif i.get("autoSmea"):
            i["sm"] = i["sm_dyn"] = False
        i.pop("autoSmea", None)
    if i.get("image"):
        i["sm"] = i["sm_dyn"] = False
        i.setdefault("extra_noise_seed", i["seed"] - 1)
    if action == "img2img":
        i["color_correct"] = False
    if c["img2imgInpainting"] and i.get("mask") and i.get("inpaintImg2ImgStrength", 1) != 1:
        i["img2img"] = {"strength": i.get("inpaintImg2ImgStrength", 1), "color_correct": True}
    else:
        i.pop("img2img", None)
    refs = [r for r in character_references or [] if r.get("enabled", True)]
    # vibes {encoding | image, strength, information_extracted, enabled}: only without a character reference
    if vibes and family(send_model) != "sd" and family(send_model) != "v2" and not refs:
        if c["v4Prompts"]:  # encoded vibes; none while inpainting
            if not i.get("mask"):
                on = [x for x in vibes if x.get("enabled", True)]
                i["reference_image_multiple"] = [x["encoding"] for x in on]
                i["reference_strength_multiple"] = [x["strength"] for x in on]
                if (
                    i.get("normalize_reference_strength_multiple")
                    and len(i["reference_strength_multiple"]) > 1
                ):
                    total = sum(abs(x) for x in i["reference_strength_multiple"])
                    if total != 0 and total > 1:
                        i["reference_strength_multiple"] = [
                            x / total for x in i["reference_strength_multiple"]
                        ]
        else:
            on = [x for x in vibes if x.get("enabled", True)]
            i["reference_image_multiple"] = [x["image"] for x in on]
            i["reference_information_extracted_multiple"] = [x["information_extracted"] for x in on]
            i["reference_strength_multiple"] = [x["strength"] for x in on]
    if refs and family(send_model) == "v4.5":
        # {image: the letterboxed picture (see reference_canvas), description, information_extracted, strength, fidelity}
        i["director_reference_images"] = [r["image"] for r in refs]
        i["director_reference_descriptions"] = [
            {"caption": {"base_caption": f"{r['description']}", "char_captions": []}, "legacy_uc": False}
            for r in refs
        ]
        i["director_reference_information_extracted"] = [r["information_extracted"] for r in refs]
        i["director_reference_strength_values"] = [r["strength"] for r in refs]
        i["director_reference_secondary_strength_values"] = [1 - r["fidelity"] for r in refs]
    if c["v4Prompts"]:
        i["characterPrompts"] = [
            x for x in i["characterPrompts"] if len(x["prompt"]) > 0 and x.get("enabled", True)
        ]
        chars = i["characterPrompts"]
        i["v4_prompt"] = {
            "caption": {
                "base_caption": p,
                "char_captions": [
                    {"char_caption": x["prompt"], "centers": [dict(x["center"])]} for x in chars
                ],
            }
        }
        i["v4_negative_prompt"] = {
            "caption": {
                "base_caption": i["uc"],
                "char_captions": [{"char_caption": x["uc"], "centers": [dict(x["center"])]} for x in chars],
            }
        }
        i["v4_prompt"]["use_coords"] = i["use_coords"]
        i["v4_prompt"]["use_order"] = True
        i["v4_negative_prompt"]["legacy_uc"] = i["legacy_uc"]
    # the request class
    o = i
    if not o.get("image"):
        o.pop("strength", None)
        o.pop("noise", None)
    if o["sampler"] == "nai_smea":
        o["sampler"], o["sm"] = "k_euler_ancestral", True
    if o["sampler"] == "nai_smea_dyn":
        o["sampler"], o["sm"], o["sm_dyn"] = "k_euler_ancestral", True, True
    if o.get("sm_dyn") and not o.get("sm"):
        o["sm_dyn"] = False
    if o["sampler"] in _NO_SMEA:
        o["sm"] = o["sm_dyn"] = False
    if o.get("uc"):
        o["negative_prompt"] = o.pop("uc")
    if action != "infill":
        o.pop("mask", None)
    if o.get("uncond_scale") == 0:
        o["uncond_scale"] = 1e-5
    if family(send_model) == "sd":
        o.pop("uncond_scale", None)
    if not c["noiseSchedule"]:
        o.pop("cfg_rescale", None)
        o.pop("noise_schedule", None)
    if send_model in (
        "nai-diffusion-inpainting",
        "safe-diffusion-inpainting",
        "nai-diffusion-3-inpainting",
        "furry-diffusion-inpainting",
        "nai-diffusion-furry-3-inpainting",
    ) and o["sampler"] in ("ddim", "ddim_v3"):
        o["sampler"] = "k_euler_ancestral"
    if o["sampler"] in _NO_SCHEDULE:
        o.pop("noise_schedule", None)
    if o["sampler"] == "k_euler_ancestral" and o.get("noise_schedule") != "native":
        o["deliberate_euler_ancestral_bug"] = False
        o["prefer_brownian"] = True
    if o.get("skip_cfg_above_sigma"):
        w, h = o["width"], o["height"]
        o["skip_cfg_above_sigma"] *= ((4 * (w // 8) * (h // 8)) / (4 * 104 * 152)) ** 0.5
    if not c["cfgDelay"]:
        o.pop("skip_cfg_above_sigma", None)
    if not c["smea"]:
        o.pop("sm", None)
        o.pop("sm_dyn", None)
    if not c["smeaDyn"]:
        o.pop("sm_dyn", None)
    if not c["dynamicThresholding"]:
        o["dynamic_thresholding"] = False
    o["image_format"] = "png"  # the user setting "preferredImageFormat", default png
    return {"input": p, "model": send_model, "action": action, "parameters": o, "use_new_shared_trial": True}


def reference_canvas(width: int, height: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The website's character-reference letterbox: the canvas whose aspect ratio is nearest (first wins a
    tie), and the picture's scaled size on it (rounded), for a width x height picture."""
    canvases = [(1024, 1536), (1536, 1024), (1472, 1472)]
    e = width / height
    n = canvases[0]
    for t in canvases:
        if abs(t[0] / t[1] - e) < abs(n[0] / n[1] - e):
            n = t
    o = n[0] / n[1]
    if e > o:
        a, s = n[0], int(n[0] / e + 0.5)
    else:
        s, a = n[1], int(n[1] * e + 0.5)
    return n, (a, s)


# ---- V5 (the V5 request spec, id 59907336530; not in the January bundle) ------------------------------
V5_QUALITY = {
    "standard": ", very aesthetic, masterpiece, no text",
    "light": ", very aesthetic, amazing quality, no text",
    "none": "",
}
V5_UC = {
    "heavy": _V45_FULL[0][1],
    "light": "lowres, bad hands, bad anatomy, artistic error, sepia, white haze, worst quality, very displeasing, jpeg artifacts, 0::ai-generated::",
    "humanFocus": _V45_FULL[3][1],
    "furryFocus": _V45_FULL[2][1],
    "none": "",
}
V5_FIXED = dict(params_version=4, width=832, height=1216, scale=7, sampler="k_euler_ancestral", steps=23, n_samples=1,
                noise_schedule="karras", use_coords=True, legacy=False, legacy_uc=False, autoSmea=False, cfg_rescale=0,
                normalize_reference_strength_multiple=True, straight_alpha=True, dynamic_thresholding=False,
                controlnet_strength=1, legacy_v3_extend=False, add_original_image=True, inpaintImg2ImgStrength=1,
                deliberate_euler_ancestral_bug=False, prefer_brownian=True, image_format="png")  # fmt: skip


def v5_body(model: str, prompt: str, *, seed: int, uc: str = "", uc_preset: str = "heavy", quality: str = "standard",
            transparent: bool = False, characters: list[dict[str, Any]] | None = None, stream: bool = False,
            action: str = "generate", image: str | None = None, mask: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The V5 website's body: base prompt + ", transparent background" + quality suffix (before "Text:");
    UC = (Full only, non-none UC, no nsfw in the prompt) "nsfw, " + preset + user UC, empty items skipped;
    use_coords always true; every character ``enabled: true``."""
    suffix = (", transparent background" if transparent else "") + V5_QUALITY[quality]
    # Nothing to add (quality none, no transparent background): the prompt as typed, as with V4.5's toggle off.
    full = with_quality(prompt, model, ("", suffix)) if suffix else prompt
    # The spec's order (Full only: "nsfw, " unless the prompt says nsfw, then the preset, then the user's UC,
    # empty items skipped) is what the bundle's combiner gives with V5's list, so the combiner is used
    # (it also fixes a UC that starts with "|").
    names = list(V5_UC)
    neg = combine_uc(
        model, names.index(uc_preset), full, uc, presets=list(V5_UC.items()), curated="curated" in model
    )
    p: dict[str, Any] = dict(V5_FIXED, seed=seed, ucPresetId=uc_preset, qualityPresetId=quality)
    if transparent:
        p["tag_hint_transparent_background"] = True
    chars = [dict(x, enabled=True) for x in characters or []]
    p["characterPrompts"] = chars
    p["negative_prompt"] = neg
    p["v4_prompt"] = {
        "caption": {
            "base_caption": full,
            "char_captions": [{"char_caption": x["prompt"], "centers": [x["center"]]} for x in chars],
        },
        "use_coords": True,
        "use_order": True,
    }
    p["v4_negative_prompt"] = {
        "caption": {
            "base_caption": neg,
            "char_captions": [{"char_caption": x["uc"], "centers": [x["center"]]} for x in chars],
        },
        "legacy_uc": False,
    }
    if image is not None:  # img2img / inpaint: the V4.5 page's rules (the V5 spec names no change)
        p.update(image=image, strength=0.7, noise=0, extra_noise_seed=seed - 1)
        if action == "img2img":
            p["color_correct"] = False
    if mask is not None:
        p["mask"] = mask
        p["add_original_image"] = False  # the page composites the result itself
    if stream:
        p["stream"] = "msgpack"
    send = model + "-inpainting" if action == "infill" else model
    return {"input": full, "model": send, "action": action, "parameters": p, "use_new_shared_trial": True}


def js_json(value: Any) -> str:
    """``JSON.stringify`` of a body (keys sorted: the comparison leaves key order out): JavaScript has one
    number type, so a whole number is written without ".0"."""
    import json

    def norm(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v

    return json.dumps(norm(value), sort_keys=True, ensure_ascii=False)


# ---- Anlas (_app: the price function and the free-sample rule) -----------------------------------------
def site_cost(model: str, p: dict[str, Any], *, opus: bool, character_reference: bool = False) -> int:
    """The website's Anlas for a parameters object (V1/V2 only on its exp-curve branch: plms/ddim/k_euler/
    k_euler_ancestral/k_lms at <= 1 MPx). -3 = refused (over 140 per image)."""
    import math

    h, w = p["height"], p["width"]
    m = max(w * h, 65536)
    y = p.get("inpaintImg2ImgStrength", 1) if p.get("mask") else p["strength"] if p.get("image") else 1
    steps, v = p["steps"], p["n_samples"]
    if opus and not character_reference and w * h <= 1048576 and steps <= 28:
        v -= 1
    if family(model) in ("v3", "v4", "v4.5") or model.startswith("nai-diffusion-5"):
        sm, dyn = p.get("sm"), p.get("sm") and p.get("sm_dyn")
        cost = math.ceil(2951823174884865e-21 * w * h + 5753298233447344e-22 * w * h * steps) * (
            1.4 if dyn else 1.2 if sm else 1
        )
    else:
        assert m <= 1048576 and p["sampler"] in ("plms", "ddim", "k_euler", "k_euler_ancestral", "k_lms")
        cost = (
            (15.266497014243718 * math.exp(w * h / 1048576 * 0.6326248927474729) + -15.225164493059737)
            / 28
            * steps
        )
    per = max(math.ceil(cost * y), 2)
    return -3 if per > 140 else per * v


def max_samples(width: int, height: int) -> int:
    """The website's samples-per-request table (it lowers n_samples to this)."""
    n, i = width * height, 0
    for limit, t in [
        (3145728, 4),
        (1572864, 4),
        (1310720, 4),
        (524288, 4),
        (409600, 6),
        (360448, 8),
        (262144, 8),
        (245760, 8),
    ]:
        if n <= limit:
            i = t
        else:
            break
    return i
