"""Bodies of Novita's video requests: img2video (SVD / SVD-XT) and txt2video."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._novita_limits import IMG2VIDEO_MODELS, IMG2VIDEO_RESIZE, MB, VIDEO_TYPES
from .._validate import check_bool, check_choice, check_int, check_number, check_string
from ..errors import InputError
from ._image_input import image_to_base64
from ._parts import embeddings_json, loras_json, put

__all__ = ["img2video_request", "txt2video_request"]


def img2video_request(
    image: Any,
    *,
    model_name: str = "SVD-XT",
    frames_num: int | None = None,
    frames_per_second: int = 6,
    image_file_resize_mode: str = "CROP_TO_ASPECT_RATIO",
    steps: int = 20,
    seed: int | None = -1,
    motion_bucket_id: int = 127,
    cond_aug: float = 0.02,
    enable_frame_interpolation: bool = False,
    response_video_type: str = "mp4",
) -> dict[str, Any]:
    """Return the flat body of ``POST /v3/async/img2video`` (frames: 14 for SVD, 25 for SVD-XT; 6 fps)."""
    check_choice(model_name, "model_name", tuple(IMG2VIDEO_MODELS))
    frames = IMG2VIDEO_MODELS[model_name] if frames_num is None else frames_num
    check_choice(
        frames, "frames_num", (IMG2VIDEO_MODELS[model_name],), f"{model_name} makes exactly that many frames"
    )
    body: dict[str, Any] = {
        "model_name": model_name,
        "image_file": image_to_base64(image, "image", max_bytes=30 * MB, max_side=2048)[0],
        "frames_num": frames,
        "frames_per_second": check_choice(frames_per_second, "frames_per_second", (6,)),
        "image_file_resize_mode": check_choice(
            image_file_resize_mode, "image_file_resize_mode", IMG2VIDEO_RESIZE
        ),
        "steps": check_int(steps, "steps", lo=1, hi=50),
        "motion_bucket_id": check_int(motion_bucket_id, "motion_bucket_id", lo=1, hi=255),
        "cond_aug": check_number(cond_aug, "cond_aug", lo=0, hi=1),
        "enable_frame_interpolation": check_bool(enable_frame_interpolation, "enable_frame_interpolation"),
        "extra": {
            "response_video_type": check_choice(response_video_type, "response_video_type", VIDEO_TYPES)
        },
    }
    if seed is not None:
        body["seed"] = check_int(seed, "seed", lo=-1, hi=2**32 - 1)
    return body


def txt2video_request(
    prompts: Sequence[tuple[str, int] | Mapping[str, Any]] | str,
    *,
    model_name: str,
    width: int = 512,
    height: int = 512,
    steps: int = 20,
    frames: int = 16,
    negative_prompt: str | None = None,
    guidance_scale: float = 7.5,
    seed: int | None = -1,
    loras: Any = None,
    embeddings: Any = None,
    clip_skip: int | None = None,
    closed_loop: bool | None = None,
    response_video_type: str = "mp4",
) -> dict[str, Any]:
    """Return the flat body of ``POST /v3/async/txt2video``: prompts as ``[(text, frames), ...]`` (8–64 frames
    each, 128 in all) or one string shown for ``frames`` frames."""
    if isinstance(prompts, str):
        prompts = [(prompts, frames)]
    if not isinstance(prompts, (list, tuple)) or not prompts:
        raise InputError("prompts", prompts, "a string or a non-empty list of (prompt, frames)")
    items = []
    for i, p in enumerate(prompts):
        if isinstance(p, Mapping):
            text, n = p.get("prompt"), p.get("frames")
        elif isinstance(p, (list, tuple)) and len(p) == 2:
            text, n = p
        else:
            raise InputError(f"prompts[{i}]", p, "a (prompt, frames) pair or {'prompt': ..., 'frames': ...}")
        items.append(
            {
                "prompt": check_string(text, f"prompts[{i}].prompt", hi=1024),
                "frames": check_int(n, f"prompts[{i}].frames", lo=8, hi=64),
            }
        )
    total = sum(it["frames"] for it in items)
    if total > 128:
        raise InputError("prompts", f"<{total} frames in all>", "at most 128 frames over all prompts")
    body: dict[str, Any] = {
        "model_name": check_string(model_name, "model_name"),
        "width": check_int(width, "width", lo=256, hi=1024),
        "height": check_int(height, "height", lo=256, hi=1024),
        "steps": check_int(steps, "steps", lo=1, hi=50),
        "prompts": items,
        "guidance_scale": check_number(guidance_scale, "guidance_scale", lo=1, hi=30),
        "extra": {
            "response_video_type": check_choice(response_video_type, "response_video_type", VIDEO_TYPES)
        },
    }
    if negative_prompt:
        body["negative_prompt"] = check_string(negative_prompt, "negative_prompt", hi=1024)
    if seed is not None:
        body["seed"] = check_int(seed, "seed", lo=-1, hi=2**32 - 1)
    put(body, "loras", loras_json(loras))
    put(body, "embeddings", embeddings_json(embeddings))
    if clip_skip is not None:
        body["clip_skip"] = check_int(clip_skip, "clip_skip", lo=1, hi=12)
    if closed_loop is not None:
        body["closed_loop"] = check_bool(closed_loop, "closed_loop")
    return body
