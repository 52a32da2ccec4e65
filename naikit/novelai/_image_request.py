"""The body of ``POST /ai/generate-image`` as the website builds it, after :func:`validate_request` has
refused what the service would reject (see :mod:`naikit.novelai.image_models`)."""

from __future__ import annotations

import json
import os
import random
import re
from typing import Any, Literal

from .._validate import check_choice, check_instance, check_int, check_number, check_text
from ..errors import InputError
from ._image_inputs import (
    Character,
    CharacterReference,
    Vibe,
    _b64,
    _fit,
    _snap,
    grid_position,
    letterbox,
    load_image,
)
from ._image_preset import ImageModelSpec, ImagePreset, model_spec
from .image_tables import (
    ACTIONS,
    MAX_CHARACTERS,
    MAX_PIXELS,
    MAX_SIDE,
    MAX_VIBES,
    _data,
    max_n_samples,
    quality_tags,
    samplers_for,
    schedules_for,
    uc_presets,
)

# ---------------------------------------------------------------------------------------------- checks


def _as_items(value: Any, field_name: str, allowed: str) -> list[Any]:
    """Return ``value`` (None, a list or a tuple) as a list; anything else is refused naming the field."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise InputError(field_name, value, allowed + " (or None)")
    return list(value)


def validate_request(
    preset: ImagePreset,
    action: str = "generate",
    *,
    image: Any = None,
    mask: Any = None,
    characters: list[Character] | None = None,
    vibes: list[Vibe] | None = None,
    character_references: list[CharacterReference] | None = None,
) -> ImageModelSpec:
    """Check everything the service would refuse; return the model spec (InputError names the field)."""
    check_instance(preset, ImagePreset, "preset", "an ImagePreset (ImagePreset.default(model))")
    spec = model_spec(preset.model)
    g = spec.generation
    check_choice(action, "action", ACTIONS, allowed="one of " + ", ".join(ACTIONS))
    for name in ("width", "height"):
        v = getattr(preset, name)
        if not isinstance(v, int) or isinstance(v, bool) or v % 64 or not 64 <= v <= MAX_SIDE:
            raise InputError(name, v, f"a multiple of 64 from 64 to {MAX_SIDE}")
    if preset.width * preset.height > MAX_PIXELS:
        raise InputError(
            "width",
            f"{preset.width}x{preset.height}",
            f"at most {MAX_PIXELS} pixels (e.g. 1024x3072 or 1536x2048)",
        )
    check_int(preset.steps, "steps", lo=1, hi=50)
    limit = max_n_samples(preset.width, preset.height)
    check_int(preset.n_samples, "n_samples", lo=1, hi=limit)
    check_number(preset.scale, "scale", lo=0, hi=10 if g not in ("v1", "v2") else 25)
    check_int(preset.seed, "seed", lo=0, hi=2**32 - 1)
    check_number(preset.cfg_rescale, "cfg_rescale", lo=0, hi=1, none=True)
    check_number(preset.uncond_scale, "uncond_scale", lo=0, hi=1.5, none=True)
    check_number(preset.controlnet_strength, "controlnet_strength", lo=0, hi=1, none=True)
    allowed = samplers_for(spec)
    check_choice(
        preset.sampler, "sampler", allowed, allowed=f"a sampler {spec.value} accepts: " + ", ".join(allowed)
    )
    if preset.steps in (3, 9, 27, 36, 37) and preset.sampler in ("ddim", "plms", "ddim_v3"):
        # The website refuses these: "This combination of sampling type and steps is known to error."
        raise InputError(
            "steps", preset.steps, f"not 3, 9, 27, 36 or 37 with {preset.sampler} (the service errors)"
        )
    # Samplers that take no schedule: the website drops it, so any value is fine (it is not sent).
    if (preset.noise_schedule is not None or spec.is_v4_plus) and preset.sampler not in _NO_SCHEDULE_SAMPLERS:
        ok = schedules_for(spec, preset.sampler)
        if preset.noise_schedule not in ok:
            raise InputError(
                "noise_schedule",
                preset.noise_schedule,
                f"for {preset.sampler} on {spec.value}: " + ", ".join(ok),
            )
    if preset.uc_preset is not None and preset.uc_preset not in uc_presets(spec):
        raise InputError("uc_preset", preset.uc_preset, f"for {spec.value}: " + ", ".join(uc_presets(spec)))
    check_text(preset.uc, "uc")
    if preset.quality_preset is not None and (g != "v5" or preset.quality_preset not in V5_QUALITY_PRESETS):
        raise InputError(
            "quality_preset",
            preset.quality_preset,
            "on V5: " + ", ".join(V5_QUALITY_PRESETS) + "; older models: None (use quality_toggle)",
        )
    if preset.transparent_background and g != "v5":
        raise InputError("transparent_background", True, f"False on {spec.value} (a V5 option)")
    if action == "img2img":
        if image is None:
            raise InputError("image", None, "an image for img2img")
        check_number(preset.strength if preset.strength is not None else 0.7, "strength", lo=0.01, hi=0.99)
        check_number(preset.noise if preset.noise is not None else 0.0, "noise", lo=0, hi=0.99)
    if action == "infill":
        if image is None or mask is None:
            raise InputError("mask" if image is not None else "image", None, "an image and a mask for infill")
        if spec.inpaint_value is None:
            raise InputError("model", spec.value, "a model with an inpainting variant (V1, V3, V4, V4.5, V5)")
        check_number(preset.inpaint_strength, "inpaint_strength", lo=0.01, hi=1, none=True)
    chars = _as_items(characters, "characters", "a list of Character")
    if chars:
        if not spec.is_v4_plus:
            raise InputError(
                "characters", f"{len(chars)} character(s)", "character prompts on V4, V4.5 or V5 only"
            )
        most = V5_MAX_CHARACTERS if g == "v5" else MAX_CHARACTERS
        if len(chars) > most:
            raise InputError("characters", f"{len(chars)} characters", f"at most {most} on {spec.value}")
        for i, c in enumerate(chars):
            if not isinstance(c, Character) or not isinstance(c.prompt, str) or not isinstance(c.uc, str):
                raise InputError(f"characters[{i}]", c, "a Character(prompt, uc='', position=None)")
            if c.position is not None:
                grid_position(c.position, f"characters[{i}].position")
    vs = _as_items(vibes, "vibes", "a list of Vibe objects, encodings or pictures")
    if vs:
        if g in ("v1", "v2", "v5"):
            raise InputError("vibes", f"{len(vs)} vibe(s)", "vibe transfer on V3, V4 or V4.5 only")
        if len(vs) > MAX_VIBES:
            raise InputError("vibes", f"{len(vs)} vibes", f"at most {MAX_VIBES}")
        for i, v in enumerate(vs):
            check_instance(v, Vibe, f"vibes[{i}]", "a Vibe (naikit.novelai.vibes.encode or Vibe(image=...))")
            check_number(v.strength, f"vibes[{i}].strength", lo=0, hi=1)
            check_number(v.information_extracted, f"vibes[{i}].information_extracted", lo=0.01, hi=1)
            if g == "v3" and v.image is None:
                raise InputError(f"vibes[{i}].image", None, "the reference picture itself on V3")
            if g != "v3" and not v.encoding:
                raise InputError(
                    f"vibes[{i}].encoding",
                    None,
                    "an encoding from /ai/encode-vibe on V4+ (nai.encode_vibe(image) or a .naiv4vibe file)",
                    "Sending the raw picture would silently apply no vibe.",
                )
    refs = _as_items(character_references, "character_references", "a list of CharacterReference")
    if refs:
        if g != "v4.5":
            raise InputError(
                "character_references", f"{len(refs)} reference(s)", "character reference on V4.5 only"
            )
        if vs:
            raise InputError("character_references", f"{len(refs)} reference(s)", "no vibes at the same time")
        for i, r in enumerate(refs):
            check_instance(
                r, CharacterReference, f"character_references[{i}]", "a CharacterReference(image, ...)"
            )
            check_number(r.strength, f"character_references[{i}].strength", lo=0, hi=1)
            check_number(r.fidelity, f"character_references[{i}].fidelity", lo=0, hi=1)
            check_choice(
                r.kind,
                f"character_references[{i}].kind",
                ("character&style", "character", "style"),
                allowed="character&style, character or style",
            )
    return spec


# ---------------------------------------------------------------------------------------------- request


#: V5's quality presets (``qualityPresetId``) and the suffix each adds.
V5_QUALITY_PRESETS: tuple[str, ...] = ("standard", "light", "none")


def _quality_suffix(spec: ImageModelSpec, preset: ImagePreset) -> tuple[str, str]:
    """Return (prefix, suffix) the website adds to the prompt for these settings ("" when off)."""
    if spec.generation == "v5":
        qp = _v5_quality(preset)
        suffix = _data()["groups"]["v5"]["quality_presets"][qp]
        # Transparent background goes before the quality tags (V5 website).
        return "", (", transparent background" if preset.transparent_background else "") + suffix
    if not preset.quality_toggle:
        return "", ""
    return quality_tags(spec)


def _v5_quality(preset: ImagePreset) -> str:
    if preset.quality_preset is not None:
        return preset.quality_preset
    return "standard" if preset.quality_toggle else "none"


# The website's "Text:" block marker on V4+ prompts: quality tags go before the first one.
_TEXT_BLOCK = re.compile(r"(?:^|\s|[,.:\[\]{}])text:(?!:)", re.IGNORECASE)
_PIPE, _DOUBLE = "\U000103b9", "\U00012137"  # placeholders the website uses while splitting on "|"


def _first_segment(prompt: str) -> tuple[str, str]:
    """Split a V4+ prompt at its first "|" that is not part of a "||...||" span: (first, rest with "|")."""
    marked = _DOUBLE.join(
        seg.replace("|", _PIPE) if i % 2 else seg for i, seg in enumerate(prompt.split("||"))
    )
    first, sep, rest = marked.partition("|")

    def back(t: str) -> str:
        return t.replace(_PIPE, "|").replace(_DOUBLE, "||")

    return back(first), back(sep + rest)


def _with_quality(spec: ImageModelSpec, prompt: str, preset: ImagePreset) -> str:
    """Return the prompt with the website's quality tags (V4+: on the first segment, before any "Text:")."""
    pre, suf = _quality_suffix(spec, preset)
    if not pre and not suf:
        return prompt
    if spec.is_v4_plus:
        first, rest = _first_segment(prompt)
        m = _TEXT_BLOCK.search(first)
        if m is None:
            return f"{pre}{first}{suf}{rest}"
        # The website rejoins every piece with the first marker it found (later markers take its spelling).
        pieces = _TEXT_BLOCK.split(first)
        return m.group(0).join([f"{pre}{pieces[0]}{suf}", *pieces[1:]]) + rest
    out = []
    for seg in prompt.split("|"):
        w = re.search(r"(:[\d.]+$)", seg)
        weight = w.group(1) if w else ""
        body = seg[: len(seg) - len(weight)] if weight else seg
        out.append(f"{pre}{body}{suf}{weight}")
    return "|".join(out)


def _combine_uc(spec: ImageModelSpec, preset: ImagePreset, prompt: str) -> str:
    """Return the negative prompt the website builds from the UC preset, the prompt and the user's UC.

    Curated models never get "nsfw, "; other models get it before a preset (not "none") unless the prompt
    says nsfw in any case. With "none", V1-V3's "lowres" is kept only while the user's UC is empty.
    """
    user = preset.uc
    if preset.uc_preset is None:
        return user
    table = list(uc_presets(spec).items())
    idx = [name for name, _ in table].index(preset.uc_preset)
    text, last = table[idx][1], table[-1][1]
    add_nsfw = spec.family != "curated" and "nsfw" not in prompt.lower()
    if spec.is_v4_plus and add_nsfw and text:
        first, _, rest = user.partition("|")
        first = f"{text}, {first}" if first else text
        return "nsfw, " + first + ("|" + rest if "|" in user else "")
    out = text
    if add_nsfw and out != last:
        out = "nsfw, " + out if out else "nsfw"
    if user:
        if idx == len(table) - 1:
            out = ""
        out = f"{out}, {user}" if out else user
    return out


def _sized(raw: Any, field_name: str, size: tuple[int, int], resize: str, mask: bool = False) -> str:
    png, got, pil = load_image(raw, field_name)
    if got != size:
        if resize != "resize":
            raise InputError(
                field_name,
                f"{got[0]}x{got[1]}",
                f"an image of {size[0]}x{size[1]} (the generation size)",
                "Pass resize='resize' to have naikit resize it, or change width/height.",
            )
        return _b64(_fit(pil, size, mask))
    if mask:
        return _b64(_fit(pil, size, True))
    return _b64(png)


def build_request(
    prompt: str,
    preset: ImagePreset | None = None,
    action: str = "generate",
    *,
    image: Any = None,
    mask: Any = None,
    characters: list[Character] | None = None,
    vibes: list[Vibe] | None = None,
    character_references: list[CharacterReference] | None = None,
    resize: Literal["refuse", "resize"] = "refuse",
    rng: random.Random | None = None,
) -> dict[str, Any]:
    """Return the JSON body of ``POST /ai/generate-image`` (``{input, model, action, parameters}``).

    Validates first (InputError on anything the service would refuse). A seed of 0 is replaced by a random
    one, leaving room for ``seed + i`` of every sample. An img2img image or an inpaint mask of another size
    than width×height is refused unless ``resize="resize"``. For ``infill`` the model's inpainting variant is
    used.
    """
    preset = preset or ImagePreset.default()
    check_text(prompt, "prompt", allowed="a non-empty string", empty=False)
    check_choice(resize, "resize", ("refuse", "resize"))
    spec = validate_request(
        preset, action, image=image, mask=mask, characters=characters, vibes=vibes,
        character_references=character_references,
    )  # fmt: skip
    g = spec.generation
    model = spec.inpaint_value if action == "infill" and not spec.inpainting else spec.value
    v5 = g == "v5"
    old = g in ("v1", "v2", "v3")
    has_image = action in ("img2img", "infill")

    full_prompt = _with_quality(spec, prompt, preset)
    uc = _combine_uc(spec, preset, full_prompt)

    seed = preset.seed
    if seed == 0:
        seed = (rng or random).randint(1, 2**32 - preset.n_samples)
    sampler = "ddim_v3" if preset.sampler == "ddim" and spec.value == "nai-diffusion-3" else preset.sampler

    # SMEA: V1-V3 turn autoSmea into sm by image area and never send it; V4+ send autoSmea and no sm.
    sm, sm_dyn = preset.smea, preset.smea_dyn
    if old and preset.auto_smea:
        if preset.width * preset.height >= (2166785 if g == "v3" else 1064961):
            sm = True
        else:
            sm = sm_dyn = False
    if has_image:
        sm = sm_dyn = False
    if sampler == "nai_smea":
        sampler, sm = "k_euler_ancestral", True
    elif sampler == "nai_smea_dyn":
        sampler, sm, sm_dyn = "k_euler_ancestral", True, True
    if sm_dyn and not sm:
        sm_dyn = False
    if sampler in _NO_SMEA_SAMPLERS:
        sm = sm_dyn = False

    p: dict[str, Any] = {
        "params_version": preset.params_version if preset.params_version is not None else 4 if v5 else 3
    }
    p.update(
        width=preset.width, height=preset.height, scale=preset.scale, sampler=sampler, steps=preset.steps
    )
    p.update(n_samples=preset.n_samples, seed=seed)
    if has_image:
        p["strength"] = preset.strength if preset.strength is not None else 0.7
        p["noise"] = preset.noise if preset.noise is not None else 0.0
    if v5:
        p["ucPresetId"] = preset.uc_preset if preset.uc_preset is not None else "none"
        p["qualityPresetId"] = _v5_quality(preset)
    else:
        if preset.uc_preset is not None:
            p["ucPreset"] = list(uc_presets(spec)).index(preset.uc_preset)
        p["qualityToggle"] = preset.quality_toggle
    if not old and preset.auto_smea is not None:
        p["autoSmea"] = preset.auto_smea
    if old:
        p["sm"] = sm
        if g == "v3":
            p["sm_dyn"] = sm_dyn
    p["dynamic_thresholding"] = bool(preset.decrisper) if old else False
    for key, value in (
        ("controlnet_strength", preset.controlnet_strength),
        ("legacy", preset.legacy),
        ("add_original_image", preset.add_original_image),
        ("legacy_v3_extend", preset.legacy_v3_extend),
    ):
        if value is not None:
            p[key] = value
    # V1 and V2 have no noise schedule (nor cfg_rescale); some samplers never take one.
    schedule = (
        preset.noise_schedule if g not in ("v1", "v2") and sampler not in _NO_SCHEDULE_SAMPLERS else None
    )
    if g not in ("v1", "v2"):
        if preset.cfg_rescale is not None:
            p["cfg_rescale"] = preset.cfg_rescale
        if schedule is not None:
            p["noise_schedule"] = schedule
    if preset.uncond_scale is not None and g != "v1":
        p["uncond_scale"] = preset.uncond_scale or 1e-5
    if not v5 and g not in ("v1", "v2"):
        p["skip_cfg_above_sigma"] = (
            variety_sigma(spec, preset.width, preset.height) if preset.variety_boost else None
        )
    elif v5 and preset.variety_boost:
        p["skip_cfg_above_sigma"] = variety_sigma(spec, preset.width, preset.height)
    if spec.is_v4_plus:
        for key, value in (
            ("legacy_uc", preset.legacy_uc),
            ("normalize_reference_strength_multiple", preset.normalize_reference_strength_multiple),
            ("inpaintImg2ImgStrength", preset.inpaint_strength),
        ):
            if value is not None:
                p[key] = value
    bug, brownian = preset.deliberate_euler_ancestral_bug, preset.prefer_brownian
    if sampler == "k_euler_ancestral" and schedule != "native":
        bug = False if bug is None else bug
        brownian = True if brownian is None else brownian
    if bug is not None:
        p["deliberate_euler_ancestral_bug"] = bug
    if brownian is not None:
        p["prefer_brownian"] = brownian
    if preset.image_format is not None:
        p["image_format"] = preset.image_format
    if v5:
        p["straight_alpha"] = True if preset.straight_alpha is None else preset.straight_alpha
        if preset.transparent_background:
            p["tag_hint_transparent_background"] = True
    p["negative_prompt"] = uc
    if preset.duplicate_uc:
        p["uc"] = uc

    # Characters: the website leaves out disabled ones and those with an empty prompt (and V1-V3 send []).
    chars = [c for c in (characters or []) if c.enabled and c.prompt]
    centers = []
    for c in chars:
        x, y = grid_position(c.position)
        if not v5 and c.position is not None and not isinstance(c.position, str):
            x, y = _snap(x), _snap(y)
        centers.append({"x": x, "y": y})
    p["characterPrompts"] = [
        {"prompt": c.prompt, "uc": c.uc, "center": ctr, "enabled": True}
        for c, ctr in zip(chars, centers, strict=False)
    ]
    if spec.is_v4_plus:
        if v5:
            use_coords = True if preset.use_coords is None else preset.use_coords
        else:
            positioned = any(c.position is not None for c in chars)
            use_coords = positioned if preset.use_coords is None else preset.use_coords
        p["use_coords"] = use_coords
        p["v4_prompt"] = {
            "caption": {
                "base_caption": full_prompt,
                "char_captions": [
                    {"char_caption": c.prompt, "centers": [ctr]}
                    for c, ctr in zip(chars, centers, strict=True)
                ],
            },
            "use_coords": use_coords,
            "use_order": True,
        }
        p["v4_negative_prompt"] = {
            "caption": {
                "base_caption": uc,
                "char_captions": [
                    {"char_caption": c.uc, "centers": [ctr]} for c, ctr in zip(chars, centers, strict=True)
                ],
            },
            "legacy_uc": bool(preset.legacy_uc),
        }

    size = (preset.width, preset.height)
    if has_image:
        p["image"] = _sized(image, "image", size, resize)
        # The website's extra noise seed is the seed minus one.
        p["extra_noise_seed"] = seed - 1
    if action == "img2img":
        p["color_correct"] = False
    if action == "infill":
        p["mask"] = _sized(mask, "mask", size, resize, mask=True)
        strength = preset.inpaint_strength if preset.inpaint_strength is not None else 1.0
        if spec.is_v4_plus and strength != 1:
            # Inpainting with less than full strength is an img2img inside the mask (V4+).
            p["img2img"] = {"strength": strength, "color_correct": True}

    if vibes:
        strengths = [v.strength for v in vibes]
        if g == "v3":
            p["reference_image_multiple"] = [_b64(load_image(v.image, "vibes")[0]) for v in vibes]
            p["reference_information_extracted_multiple"] = [v.information_extracted for v in vibes]
        else:
            p["reference_image_multiple"] = [v.encoding for v in vibes]
            total = sum(abs(s) for s in strengths)
            if preset.normalize_reference_strength_multiple and len(strengths) > 1 and total > 1:
                # The website divides the strengths by their sum when they add up to more than 1.
                strengths = [s / total for s in strengths]
        p["reference_strength_multiple"] = strengths

    if character_references:
        p["director_reference_images"] = [_b64(letterbox(r.image)[0]) for r in character_references]
        p["director_reference_descriptions"] = [
            {"caption": {"base_caption": r.kind, "char_captions": []}, "legacy_uc": False}
            for r in character_references
        ]
        p["director_reference_information_extracted"] = [1.0 for _ in character_references]
        p["director_reference_strength_values"] = [r.strength for r in character_references]
        p["director_reference_secondary_strength_values"] = [1 - r.fidelity for r in character_references]

    p.update(preset.extra)
    return {
        "input": full_prompt,
        "model": model,
        "action": action,
        "parameters": _js_numbers(p),
        "use_new_shared_trial": True,
    }


def _js_numbers(value: Any) -> Any:
    """Return ``value`` with whole floats as ints, so the JSON reads as the website's (JavaScript has one
    number type: it writes 5, never 5.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _js_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_js_numbers(v) for v in value]
    return value


# Samplers the website sends without SMEA, and those it sends without a noise schedule.
_NO_SMEA_SAMPLERS = frozenset(("ddim", "plms", "k_lms", "nai_smea", "nai_smea_dyn", "ddim_v3"))
_NO_SCHEDULE_SAMPLERS = _NO_SMEA_SAMPLERS | {"k_dpm_fast"}

#: The latent area (4 x 104 x 152 of an 832x1216 image) Variety+'s sigma is given for.
_VARIETY_AREA = 4 * 104 * 152


def variety_sigma(model: str | ImageModelSpec, width: int, height: int) -> float:
    """Return Variety+'s ``skip_cfg_above_sigma``: the model's sigma (V4.5/V5 58, older 19) scaled by
    the square root of the image's latent area over 832x1216's, as the website does."""
    spec = model_spec(model)
    base = 58 if spec.generation in ("v4.5", "v5") else 19
    return base * ((4 * (width // 8) * (height // 8)) / _VARIETY_AREA) ** 0.5


V5_MAX_CHARACTERS = 22


def v5_multipart(body: dict[str, Any], boundary: str | None = None) -> tuple[bytes, str]:
    """Return (multipart body, Content-Type) of a V5 request: one ``request`` part holding the JSON, as
    the V5 website posts it to ``/ai/generate-image-stream``."""
    boundary = boundary or "naikit" + os.urandom(12).hex()
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="request"; filename="blob"\r\n'
        "Content-Type: application/json\r\n\r\n"
    ).encode("ascii")
    return head + payload + f"\r\n--{boundary}--\r\n".encode(
        "ascii"
    ), f"multipart/form-data; boundary={boundary}"
