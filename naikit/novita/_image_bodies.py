"""Bodies of Novita's image requests: txt2img, img2img, inpainting, upscale and the synchronous case
endpoints (``/v3/remove-background`` and friends)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._novita_limits import (
    CASE_ENDPOINTS,
    HIRES_UPSCALERS,
    IMAGE_TYPES,
    IP_ADAPTER_MODELS,
    MB,
    SAMPLERS,
    UPSCALERS,
)
from .._validate import (
    check_above,
    check_bool,
    check_choice,
    check_int,
    check_mapping,
    check_number,
    check_string,
)
from ..errors import InputError
from ._image_input import image_to_base64
from ._parts import build_extra, controlnet_json, embeddings_json, loras_json, put

__all__ = ["txt2img_request", "img2img_request", "inpainting_request", "upscale_request", "case_request"]


def _common(
    body: dict[str, Any],
    *,
    model_name: str,
    prompt: str,
    negative_prompt: str | None,
    image_num: int,
    steps: int,
    guidance_scale: float,
    sampler_name: str,
    seed: int | None,
    clip_skip: int | None,
    sd_vae: str | None,
    loras: Any,
    embeddings: Any,
) -> dict[str, Any]:
    body["model_name"] = check_string(model_name, "model_name")
    body["prompt"] = check_string(prompt, "prompt", hi=1024)
    if negative_prompt:
        body["negative_prompt"] = check_string(negative_prompt, "negative_prompt", hi=1024)
    body["image_num"] = check_int(image_num, "image_num", lo=1, hi=8)
    body["steps"] = check_int(steps, "steps", lo=1, hi=100)
    body["guidance_scale"] = check_number(guidance_scale, "guidance_scale", lo=1, hi=30)
    body["sampler_name"] = check_choice(sampler_name, "sampler_name", SAMPLERS)
    if seed is not None:
        body["seed"] = check_int(seed, "seed", lo=-1, hi=2**32 - 1)
    if clip_skip is not None:
        body["clip_skip"] = check_int(clip_skip, "clip_skip", lo=1, hi=12)
    if sd_vae is not None:
        body["sd_vae"] = check_string(sd_vae, "sd_vae")
    put(body, "loras", loras_json(loras))
    put(body, "embeddings", embeddings_json(embeddings))
    return body


def txt2img_request(
    prompt: str,
    *,
    model_name: str,
    negative_prompt: str | None = None,
    width: int = 512,
    height: int = 512,
    image_num: int = 1,
    steps: int = 20,
    guidance_scale: float = 7.5,
    sampler_name: str = "Euler a",
    seed: int | None = -1,
    clip_skip: int | None = None,
    sd_vae: str | None = None,
    loras: Any = None,
    embeddings: Any = None,
    hires_fix: Mapping[str, Any] | None = None,
    refiner: float | Mapping[str, Any] | None = None,
    enable_transparent_background: bool | None = None,
    restore_faces: bool | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the ``{"extra", "request"}`` body of ``POST /v3/async/txt2img``.

    ``hires_fix`` = ``{"target_width", "target_height", "strength"?, "upscaler"?}``; ``refiner`` = the
    switch point (0–1) or ``{"switch_at": x}``.
    """
    req: dict[str, Any] = {}
    _common(
        req,
        model_name=model_name,
        prompt=prompt,
        negative_prompt=negative_prompt,
        image_num=image_num,
        steps=steps,
        guidance_scale=guidance_scale,
        sampler_name=sampler_name,
        seed=seed,
        clip_skip=clip_skip,
        sd_vae=sd_vae,
        loras=loras,
        embeddings=embeddings,
    )
    req["width"] = check_int(width, "width", lo=128, hi=2048)
    req["height"] = check_int(height, "height", lo=128, hi=2048)
    if hires_fix is not None:
        if not isinstance(hires_fix, Mapping):
            raise InputError(
                "hires_fix", hires_fix, "a dict with target_width, target_height, strength, upscaler"
            )
        hf: dict[str, Any] = {
            "target_width": check_int(
                hires_fix.get("target_width"), "hires_fix.target_width", lo=128, hi=4096
            ),
            "target_height": check_int(
                hires_fix.get("target_height"), "hires_fix.target_height", lo=128, hi=4096
            ),
            "strength": check_number(hires_fix.get("strength", 0.5), "hires_fix.strength", lo=0, hi=1),
        }
        if hires_fix.get("upscaler") is not None:
            hf["upscaler"] = check_choice(hires_fix["upscaler"], "hires_fix.upscaler", HIRES_UPSCALERS)
        unknown = set(hires_fix) - {"target_width", "target_height", "strength", "upscaler"}
        if unknown:
            raise InputError(
                "hires_fix", sorted(unknown), "only target_width, target_height, strength, upscaler"
            )
        req["hires_fix"] = hf
    if refiner is not None:
        switch = refiner.get("switch_at") if isinstance(refiner, Mapping) else refiner
        req["refiner"] = {"switch_at": check_number(switch, "refiner.switch_at", lo=0, hi=1)}
    if enable_transparent_background is not None:
        req["enable_transparent_background"] = check_bool(
            enable_transparent_background, "enable_transparent_background"
        )
        if enable_transparent_background and (extra or {}).get("response_image_type", "png") != "png":
            raise InputError(
                "enable_transparent_background",
                True,
                "response_image_type='png' (a transparent JPEG is impossible)",
            )
    if restore_faces is not None:
        req["restore_faces"] = check_bool(restore_faces, "restore_faces")
    return {"extra": check_mapping(extra, "extra") or build_extra(), "request": req}


def img2img_request(
    image: Any,
    prompt: str,
    *,
    model_name: str,
    negative_prompt: str | None = None,
    width: int | None = None,
    height: int | None = None,
    image_num: int = 1,
    steps: int = 20,
    guidance_scale: float = 7.5,
    sampler_name: str = "Euler a",
    seed: int | None = -1,
    clip_skip: int | None = None,
    sd_vae: str | None = None,
    loras: Any = None,
    embeddings: Any = None,
    strength: float = 0.5,
    controlnet_units: Any = None,
    ip_adapters: Sequence[Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the body of ``POST /v3/async/img2img``; width/height default to the image's own size.

    The image must be at most 16 megapixels and 10 MB; ``strength`` is in (0, 1].
    """
    b64, (w, h) = image_to_base64(image, "image", max_bytes=10 * MB, max_pixels=16_000_000)
    req: dict[str, Any] = {"image_base64": b64}
    _common(
        req,
        model_name=model_name,
        prompt=prompt,
        negative_prompt=negative_prompt,
        image_num=image_num,
        steps=steps,
        guidance_scale=guidance_scale,
        sampler_name=sampler_name,
        seed=seed,
        clip_skip=clip_skip,
        sd_vae=sd_vae,
        loras=loras,
        embeddings=embeddings,
    )
    # The official SDK sends 512x512 whatever the input is; the image's own size (clamped) is saner.
    req["width"] = check_int(width if width is not None else min(max(w, 128), 2048), "width", lo=128, hi=2048)
    req["height"] = check_int(
        height if height is not None else min(max(h, 128), 2048), "height", lo=128, hi=2048
    )
    req["strength"] = check_above(strength, "strength", 0, hi=1)
    put(req, "controlnet", controlnet_json(controlnet_units))
    if ip_adapters is not None:
        if not isinstance(ip_adapters, (list, tuple)) or len(ip_adapters) > 1:
            raise InputError("ip_adapters", ip_adapters, "a list of at most 1 IP-adapter")
        ads = []
        for i, ad in enumerate(ip_adapters):
            ads.append(
                {
                    "model_name": check_choice(
                        ad.get("model_name"), f"ip_adapters[{i}].model_name", IP_ADAPTER_MODELS
                    ),
                    "image_base64": image_to_base64(
                        ad.get("image", ad.get("image_base64")), f"ip_adapters[{i}].image"
                    )[0],
                    "strength": check_number(
                        ad.get("strength", 1.0), f"ip_adapters[{i}].strength", lo=0, hi=1
                    ),
                }
            )
        req["ip_adapters"] = ads
    return {"extra": check_mapping(extra, "extra") or build_extra(), "request": req}


def inpainting_request(
    image: Any,
    mask: Any,
    prompt: str,
    *,
    model_name: str,
    negative_prompt: str | None = None,
    image_num: int = 1,
    steps: int = 20,
    guidance_scale: float = 7.5,
    sampler_name: str = "Euler a",
    seed: int | None = -1,
    clip_skip: int | None = None,
    sd_vae: str | None = None,
    loras: Any = None,
    embeddings: Any = None,
    strength: float | None = None,
    mask_blur: int | None = None,
    inpainting_full_res: bool = False,
    inpainting_full_res_padding: int = 8,
    inpainting_mask_invert: bool = False,
    initial_noise_multiplier: float = 0.5,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the body of ``POST /v3/async/inpainting``; image and mask of the same size (16 MP, 30 MB)."""
    img, size = image_to_base64(image, "image", max_bytes=30 * MB)
    msk, msize = image_to_base64(mask, "mask", max_bytes=30 * MB)
    if size != msize:
        raise InputError(
            "mask", f"<{msize[0]}x{msize[1]} mask>", f"a mask of the image's size {size[0]}x{size[1]}"
        )
    req: dict[str, Any] = {"image_base64": img, "mask_image_base64": msk}
    _common(
        req,
        model_name=model_name,
        prompt=prompt,
        negative_prompt=negative_prompt,
        image_num=image_num,
        steps=steps,
        guidance_scale=guidance_scale,
        sampler_name=sampler_name,
        seed=seed,
        clip_skip=clip_skip,
        sd_vae=sd_vae,
        loras=loras,
        embeddings=embeddings,
    )
    if strength is not None:
        req["strength"] = check_number(strength, "strength", lo=0, hi=1)
    if mask_blur is not None:
        req["mask_blur"] = check_int(mask_blur, "mask_blur", lo=0, hi=64)
    req["inpainting_full_res"] = int(check_bool(inpainting_full_res, "inpainting_full_res"))
    req["inpainting_full_res_padding"] = check_int(
        inpainting_full_res_padding, "inpainting_full_res_padding", lo=0, hi=256
    )
    req["inpainting_mask_invert"] = int(check_bool(inpainting_mask_invert, "inpainting_mask_invert"))
    req["initial_noise_multiplier"] = check_number(
        initial_noise_multiplier, "initial_noise_multiplier", lo=0, hi=1.5
    )
    return {"extra": check_mapping(extra, "extra") or build_extra(), "request": req}


def upscale_request(
    image: Any,
    *,
    model_name: str = "RealESRGAN_x4plus_anime_6B",
    scale_factor: float = 2,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the body of ``POST /v3/async/upscale`` (image at most 2048x2048 and 30 MB; factor in (1, 4])."""
    b64, _ = image_to_base64(image, "image", max_bytes=30 * MB, max_side=2048)
    req = {
        "model_name": check_choice(model_name, "model_name", UPSCALERS),
        "image_base64": b64,
        "scale_factor": check_above(scale_factor, "scale_factor", 1, hi=4),
    }
    return {"extra": check_mapping(extra, "extra") or build_extra(), "request": req}


def case_request(
    endpoint: str,
    images: Mapping[str, Any],
    *,
    prompt: str | None = None,
    response_image_type: str = "png",
    enterprise_plan: bool = False,
) -> dict[str, Any]:
    """Return the flat body of a synchronous case endpoint (``/v3/remove-background`` and friends)."""
    spec = CASE_ENDPOINTS[check_choice(endpoint, "endpoint", tuple(CASE_ENDPOINTS))]
    body: dict[str, Any] = {}
    for key in spec["images"]:
        body[key] = image_to_base64(
            images.get(key), key, max_bytes=spec["max_bytes"], max_side=spec["max_side"]
        )[0]
    if spec.get("prompt"):
        body["prompt"] = check_string(prompt, "prompt", hi=1024)
    if not spec.get("no_extra"):
        body["extra"] = {
            "response_image_type": check_choice(response_image_type, "response_image_type", IMAGE_TYPES),
            "enterprise_plan": {"enabled": check_bool(enterprise_plan, "enterprise_plan")},
        }
    return body
