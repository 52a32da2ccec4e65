"""The Novita client's LoRA training: uploads, subject and style trainings, their status and list."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Callable, Sequence
from typing import Any

from .._novita_limits import MAX_TRAINING_IMAGES, MB
from .._poll import poll
from .._validate import (
    check_choice,
    check_int,
)
from ..errors import InputError, OutcomeUnknown
from . import requests as rq
from ._base import NovitaBase, task_id_of
from .tasks import Task
from .training import TrainingList, TrainingStatus, TrainingTask

__all__ = ["TrainingArea"]


class TrainingArea(NovitaBase):
    """Subject and style LoRA trainings: images uploaded to presigned URLs, then a task to poll."""

    async def upload_training_images(self, images: Sequence[Any], *, concurrency: int = 4) -> list[str]:
        """Upload images for a training (presigned PUT per image, retried); return their assets ids, in order.

        PNG, JPEG and WebP are sent as they are (the official SDK re-encodes everything to JPEG, losing
        alpha); other formats are converted to PNG. At most 50 images.
        """
        prepared = [_training_image(im, i) for i, im in enumerate(_image_list(images))]
        check_int(concurrency, "concurrency", lo=1, hi=16)
        sem = asyncio.Semaphore(concurrency)

        async def one(raw: bytes, ext: str) -> str:
            async with sem:
                # asking again for an upload URL is harmless (an unused slot), so it may be retried
                grant = await self._call("POST", "/v3/assets/training_dataset", json={"file_extension": ext})
                grant = self._check(
                    grant, {"assets_id": str, "upload_url": str}, "POST /v3/assets/training_dataset"
                )
                await self._put_url(grant["upload_url"], raw, f"image/{ext}")
                return grant["assets_id"]

        return list(await asyncio.gather(*(one(raw, ext) for raw, ext in prepared)))

    async def train_subject(
        self,
        name: str,
        base_model: str,
        images: Sequence[Any],
        *,
        instance_prompt: str,
        class_prompt: str = "person",
        width: int = 512,
        height: int = 512,
        components: Any = None,
        **expert: Any,
    ) -> Task:
        """Start a subject (face) LoRA training (``POST /v3/training/subject``); return its Task.

        ``expert``: learning_rate (1e-4, 1e-5, 1e-6, 2e-4 or 5e-5), max_train_steps, train_batch_size
        (1–4), seed, lr_scheduler, lr_warmup_steps, with_prior_preservation, prior_loss_weight,
        train_text_encoder, lora_r / lora_alpha / lora_text_encoder_r / lora_text_encoder_alpha (4–128).
        Everything is checked before any image is uploaded.
        """
        es = rq.expert_setting(
            "subject", instance_prompt=instance_prompt, class_prompt=class_prompt, **expert
        )
        return await self._train("subject", name, base_model, images, None, width, height, es, components)

    async def train_style(
        self,
        name: str,
        base_model: str,
        images: Sequence[Any],
        captions: Sequence[str],
        *,
        width: int = 512,
        height: int = 512,
        components: Any = None,
        **expert: Any,
    ) -> Task:
        """Start a style LoRA training (``POST /v3/training/style``), one caption per image; return its Task.

        ``expert``: learning_rate, max_train_steps, train_batch_size, seed, lr_scheduler, lr_warmup_steps.
        """
        es = rq.expert_setting("style", **expert)
        return await self._train("style", name, base_model, images, captions, width, height, es, components)

    async def _train(
        self,
        kind: str,
        name: str,
        base_model: str,
        images: Any,
        captions: Any,
        width: int,
        height: int,
        es: dict[str, Any],
        components: Any,
    ) -> Task:
        images = _image_list(images)
        # Validate the whole request with placeholder ids first: nothing is uploaded for a bad request.
        placeholders = [f"pending-{i}" for i in range(len(images))]
        for i, im in enumerate(images):
            _training_image(im, i)
        rq.training_request(
            kind,
            name=name,
            base_model=base_model,
            assets_ids=placeholders,
            captions=captions,
            width=width,
            height=height,
            expert=es,
            components=components,
        )
        assets = await self.upload_training_images(images)
        body = rq.training_request(
            kind,
            name=name,
            base_model=base_model,
            assets_ids=assets,
            captions=captions,
            width=width,
            height=height,
            expert=es,
            components=components,
        )
        try:
            data = await self._call("POST", f"/v3/training/{kind}", json=body)
        except OutcomeUnknown as exc:
            # the answer was lost: a task with this name in the training list is the one just started
            data = {"task_id": await self._recover_training(exc, kind, name)}
        task_id = self._check(data, {"task_id": str}, f"POST /v3/training/{kind}")["task_id"]
        self.task_ids.append(task_id)
        return Task(task_id, f"training/{kind}")

    async def _recover_training(self, exc: OutcomeUnknown, kind: str, name: str) -> str:
        """Return the id of the training task named ``name`` that a lost answer created, or raise."""
        known = set(self.task_ids)
        found = [
            t.task_id
            for t in (await self.list_trainings(task_type=kind)).tasks
            if t.name == name and t.task_id not in known
        ]
        if len(found) == 1:
            self.transport.stats["recovered"] += 1
            return found[0]
        raise exc.checked(
            f"list_trainings() shows {len(found)} new '{kind}' tasks named {name!r}"
            + (" (more than one: pick yours by its creation time)." if found else "; it may still appear.")
        ) from None

    async def training_status(self, task: Task | str, kind: str | None = None) -> TrainingStatus:
        """Return a training task's status, progress and model (``GET /v3/training/{subject|style}``)."""
        task_id = task_id_of(task)
        kind = kind or _kind_of(task)
        check_choice(kind, "kind", ("subject", "style"), "Pass kind= when giving a bare task id.")
        data = await self._call("GET", f"/v3/training/{kind}", params={"task_id": task_id})
        data = self._check(
            data, {"task_id": str, "task_status": str, "models?": ([dict], None)}, f"GET /v3/training/{kind}"
        )
        return TrainingStatus.from_json(data, kind)

    async def wait_for_training(
        self,
        task: Task | str,
        kind: str | None = None,
        *,
        timeout: float = 3600.0,
        interval: float = 2.0,
        max_interval: float = 30.0,
        progress: Any = None,
        callback: Callable[[TrainingStatus], Any] | None = None,
        raise_on_failure: bool = True,
    ) -> TrainingStatus:
        """Poll a training until it failed or its model is SERVING; return the final TrainingStatus."""
        task_id = task_id_of(task)
        kind = kind or _kind_of(task)
        check_choice(kind, "kind", ("subject", "style"), "Pass kind= when giving a bare task id.")
        return await poll(
            lambda: self.training_status(task_id, kind),
            task_id,
            timeout=timeout,
            interval=interval,
            max_interval=max_interval,
            progress=progress,
            callback=callback,
            raise_on_failure=raise_on_failure,
            what=f"{kind} LoRA",
            now=self.poll_clock,
            sleep=self.poll_sleep,
        )

    async def list_trainings(
        self, *, task_type: str | None = None, limit: int = 50, max_pages: int | None = None
    ) -> TrainingList:
        """Return every training task (``GET /v3/training``), following ``next_cursor`` over all pages."""
        if task_type is not None:
            check_choice(task_type, "task_type", ("subject", "style"))
        check_int(limit, "limit", lo=1, hi=100)
        check_int(max_pages, "max_pages", lo=1, none=True)
        params: dict[str, str] = {"pagination.limit": str(limit)}
        if task_type is not None:
            params["task_type"] = task_type
        shape = {"tasks": ([dict], None)}
        tasks, pages, _ = await self._pages(
            "/v3/training", params, "tasks", shape, TrainingTask.from_json, max_pages
        )
        return TrainingList(tuple(tasks), pages)


def _kind_of(task: Task | str) -> str:
    if isinstance(task, Task) and task.endpoint.startswith("training/"):
        return task.endpoint.split("/", 1)[1]
    return ""


def _image_list(images: Any) -> list[Any]:
    if isinstance(images, (str, bytes, os.PathLike)) or not isinstance(images, Sequence):
        try:
            from PIL import Image

            if isinstance(images, Image.Image):
                images = [images]
        except ImportError:  # pragma: no cover
            pass
    if not isinstance(images, (list, tuple)) or not images:
        raise InputError("images", images, "a non-empty list of images (PIL, bytes, paths)")
    if len(images) > MAX_TRAINING_IMAGES:
        raise InputError(
            "images", f"<{len(images)} images>", f"at most {MAX_TRAINING_IMAGES} images per task"
        )
    return list(images)


def _training_image(image: Any, i: int) -> tuple[bytes, str]:
    """Return (bytes, extension) of a training image; PNG/JPEG/WebP are kept, others become PNG."""
    import base64

    from PIL import Image

    b64, _ = rq.image_to_base64(image, f"images[{i}]", max_bytes=30 * MB)
    raw = base64.b64decode(b64)
    with Image.open(io.BytesIO(raw)) as im:
        fmt = (im.format or "").upper()
        if fmt in ("PNG", "JPEG", "WEBP"):
            return raw, fmt.lower()
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        return buf.getvalue(), "png"
