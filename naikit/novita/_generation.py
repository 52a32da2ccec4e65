"""The Novita client's v3 async generation: txt2img, img2img, inpainting, upscale, img2video, txt2video."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._validate import (
    check_mapping,
)
from . import requests as rq
from ._base import NovitaBase
from .tasks import Task, TaskResult

__all__ = ["GenerationArea"]


def _extra(extra: Mapping[str, Any] | None, response_image_type: str, custom_storage: Any) -> dict[str, Any]:
    """Return the body's ``extra``: the caller's own (checked), else one for ``response_image_type``;
    with ``custom_storage`` added either way."""
    ex = (
        check_mapping(extra, "extra", none=False)
        if extra is not None
        else rq.build_extra(response_image_type=response_image_type)
    )
    if custom_storage is not None:
        ex["custom_storage"] = rq.build_extra(custom_storage=custom_storage)["custom_storage"]
    return ex


class GenerationArea(NovitaBase):
    """Image and video generation as v3 async tasks (``wait=True`` polls and downloads the result)."""

    async def txt2img(
        self,
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
        response_image_type: str = "png",
        custom_storage: Any = None,
        extra: Mapping[str, Any] | None = None,
        wait: bool = True,
        **wait_options: Any,
    ) -> TaskResult | Task:
        """Generate images from a prompt (``POST /v3/async/txt2img``); return the TaskResult.

        With ``wait=False`` return the Task at once.

        LoRAs: ``[LoRA(name, strength)]`` or ``{name: strength}`` (at most 5; a trained model's name works
        once it is SERVING). ``extra`` = :func:`~naikit.novita.requests.build_extra` for NSFW checks and
        webhooks; ``custom_storage`` = ``S3Storage(region, bucket, path)``. ``wait_options``: see
        :meth:`wait_for_task`.
        """
        ex = _extra(extra, response_image_type, custom_storage)
        body = rq.txt2img_request(
            prompt,
            model_name=model_name,
            negative_prompt=negative_prompt,
            width=width,
            height=height,
            image_num=image_num,
            steps=steps,
            guidance_scale=guidance_scale,
            sampler_name=sampler_name,
            seed=seed,
            clip_skip=clip_skip,
            sd_vae=sd_vae,
            loras=loras,
            embeddings=embeddings,
            hires_fix=hires_fix,
            refiner=refiner,
            enable_transparent_background=enable_transparent_background,
            restore_faces=restore_faces,
            extra=ex,
        )
        return await self._run("txt2img", body, wait, wait_options)

    async def img2img(
        self,
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
        response_image_type: str = "png",
        custom_storage: Any = None,
        extra: Mapping[str, Any] | None = None,
        wait: bool = True,
        **wait_options: Any,
    ) -> TaskResult | Task:
        """Transform an image (``POST /v3/async/img2img``; at most 16 MP and 10 MB); return the TaskResult.

        ``controlnet_units``: ``[ControlNetUnit(model_name, image, strength, preprocessor)]``; the size
        defaults to the input image's (the official SDK silently uses 512x512).
        """
        ex = _extra(extra, response_image_type, custom_storage)
        body = rq.img2img_request(
            image,
            prompt,
            model_name=model_name,
            negative_prompt=negative_prompt,
            width=width,
            height=height,
            image_num=image_num,
            steps=steps,
            guidance_scale=guidance_scale,
            sampler_name=sampler_name,
            seed=seed,
            clip_skip=clip_skip,
            sd_vae=sd_vae,
            loras=loras,
            embeddings=embeddings,
            strength=strength,
            controlnet_units=controlnet_units,
            ip_adapters=ip_adapters,
            extra=ex,
        )
        return await self._run("img2img", body, wait, wait_options)

    async def inpainting(
        self,
        image: Any,
        mask: Any,
        prompt: str,
        *,
        model_name: str,
        response_image_type: str = "png",
        extra: Mapping[str, Any] | None = None,
        wait: bool = True,
        request_options: Mapping[str, Any] | None = None,
        **wait_options: Any,
    ) -> TaskResult | Task:
        """Repaint the white part of ``mask`` (``POST /v3/async/inpainting``); return the TaskResult.

        ``request_options`` passes the other fields of :func:`~naikit.novita.requests.inpainting_request`
        (negative_prompt, steps, strength, mask_blur, loras, ...).
        """
        ex = _extra(extra, response_image_type, None)
        body = rq.inpainting_request(
            image,
            mask,
            prompt,
            model_name=model_name,
            extra=ex,
            **check_mapping(request_options, "request_options"),
        )
        return await self._run("inpainting", body, wait, wait_options)

    async def upscale(
        self,
        image: Any,
        *,
        model_name: str = "RealESRGAN_x4plus_anime_6B",
        scale_factor: float = 2,
        response_image_type: str = "png",
        wait: bool = True,
        **wait_options: Any,
    ) -> TaskResult | Task:
        """Upscale an image (``POST /v3/async/upscale``; <= 2048x2048, factor (1, 4]); return the result."""
        body = rq.upscale_request(
            image,
            model_name=model_name,
            scale_factor=scale_factor,
            extra=rq.build_extra(response_image_type=response_image_type),
        )
        return await self._run("upscale", body, wait, wait_options)

    async def img2video(
        self,
        image: Any,
        *,
        wait: bool = True,
        video_options: Mapping[str, Any] | None = None,
        **wait_options: Any,
    ) -> TaskResult | Task:
        """Animate an image with SVD / SVD-XT (``POST /v3/async/img2video``); return the TaskResult.

        ``video_options`` passes the fields of :func:`~naikit.novita.requests.img2video_request`.
        """
        body = rq.img2video_request(image, **check_mapping(video_options, "video_options"))
        wait_options.setdefault("timeout", 900.0)
        return await self._run("img2video", body, wait, wait_options)

    async def txt2video(
        self,
        prompts: Any,
        *,
        model_name: str,
        wait: bool = True,
        video_options: Mapping[str, Any] | None = None,
        **wait_options: Any,
    ) -> TaskResult | Task:
        """Make a video from prompts (``POST /v3/async/txt2video``); return the TaskResult (``.videos``).

        Unlike the official SDK, ``seed`` and ``closed_loop`` in ``video_options`` are really sent.
        """
        body = rq.txt2video_request(
            prompts, model_name=model_name, **check_mapping(video_options, "video_options")
        )
        wait_options.setdefault("timeout", 900.0)
        return await self._run("txt2video", body, wait, wait_options)
