# Generated from naikit.novita.async_client.AsyncNovita by .ci/gen_blocking_stubs.py; do not edit.

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from naikit._secret import Secret
from naikit._settings import RetryPolicy, Timeouts
from naikit.novita._case import EditedImage
from naikit.novita.tasks import Task, TaskResult
from naikit.novita.training import ModelCatalogue, TrainingList, TrainingStatus, UserInfo

class BlockingMethods:
    """Typed view of Novita's generated methods."""

    def __init__(
        self,
        api_key: str | Secret | None = None,
        *,
        base_url: str | None = None,
        sandbox: bool | None = None,
        validate: bool = True,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
    ) -> None: ...
    @property
    def base_url(self) -> str:
        """Return the base URL requests go to."""
        ...

    def cleanup(self, image: Any, mask: Any, *, response_image_type: str = "png") -> EditedImage:
        """Return the image with the white part of ``mask`` erased (``POST /v3/cleanup``)."""
        ...

    def download(self, result: TaskResult) -> TaskResult:
        """Fetch every file of ``result`` that has no bytes yet (with retries); return ``result``."""
        ...

    def fetch_url(self, url: str) -> bytes:
        """Return the bytes at ``url`` (a result file), retrying 429/5xx/connection failures."""
        ...

    def img2img(
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
        """Transform an image (``POST /v3/async/img2img``; at most 16 MP and 10 MB); return the TaskResult."""
        ...

    def img2prompt(self, image: Any) -> str:
        """Return a prompt describing the image (``POST /v3/img2prompt``)."""
        ...

    def img2video(
        self,
        image: Any,
        *,
        wait: bool = True,
        video_options: Mapping[str, Any] | None = None,
        **wait_options: Any,
    ) -> TaskResult | Task:
        """Animate an image with SVD / SVD-XT (``POST /v3/async/img2video``); return the TaskResult."""
        ...

    def inpainting(
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
        """Repaint the white part of ``mask`` (``POST /v3/async/inpainting``); return the TaskResult."""
        ...

    @property
    def is_sandbox(self) -> bool:
        """Return True when this client talks to the embedded offline sandbox."""
        ...

    def list_trainings(
        self, *, task_type: str | None = None, limit: int = 50, max_pages: int | None = None
    ) -> TrainingList:
        """Return every training task (``GET /v3/training``), following ``next_cursor`` over all pages."""
        ...

    def merge_face(self, image: Any, face_image: Any, *, response_image_type: str = "png") -> EditedImage:
        """Return ``image`` with the face of ``face_image`` (``POST /v3/merge-face``; each <= 2048x2048)."""
        ...

    def models(
        self,
        *,
        types: str | None = None,
        query: str | None = None,
        is_sdxl: bool | None = None,
        is_inpainting: bool | None = None,
        visibility: str | None = None,
        source: str | None = None,
        limit: int = 100,
        max_pages: int | None = None,
    ) -> ModelCatalogue:
        """Return the model catalogue (``GET /v3/model``), following ``next_cursor`` over every page."""
        ...

    def reimagine(self, image: Any, *, response_image_type: str = "png") -> EditedImage:
        """Return a variation of the image (``POST /v3/reimagine``)."""
        ...

    def remove_background(self, image: Any, *, response_image_type: str = "png") -> EditedImage:
        """Return the image with its background made transparent (``POST /v3/remove-background``)."""
        ...

    def remove_text(self, image: Any, *, response_image_type: str = "png") -> EditedImage:
        """Return the image with text removed (``POST /v3/remove-text``)."""
        ...

    def replace_background(self, image: Any, prompt: str, *, response_image_type: str = "png") -> EditedImage:
        """Return the image with a new background made from ``prompt`` (``POST /v3/replace-background``)."""
        ...

    @property
    def stats(self) -> dict[str, int]:
        """Return counts of requests, attempts and retries per reason since the client was made."""
        ...

    def submit(self, endpoint: str, body: Mapping[str, Any]) -> Task:
        """POST ``body`` to ``/v3/async/<endpoint>`` (or an absolute ``/v3/...`` path); return the Task."""
        ...

    def task_result(self, task: Task | str) -> TaskResult:
        """Return one status of a task (``GET /v3/async/task-result``) without waiting or downloading."""
        ...

    def train_style(
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
        """Start a style LoRA training (``POST /v3/training/style``), one caption per image; return its ..."""
        ...

    def train_subject(
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
        """Start a subject (face) LoRA training (``POST /v3/training/subject``); return its Task."""
        ...

    def training_status(self, task: Task | str, kind: str | None = None) -> TrainingStatus:
        """Return a training task's status, progress and model (``GET /v3/training/{subject|style}``)."""
        ...

    def txt2img(
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
        """Generate images from a prompt (``POST /v3/async/txt2img``); return the TaskResult."""
        ...

    def txt2video(
        self,
        prompts: Any,
        *,
        model_name: str,
        wait: bool = True,
        video_options: Mapping[str, Any] | None = None,
        **wait_options: Any,
    ) -> TaskResult | Task:
        """Make a video from prompts (``POST /v3/async/txt2video``); return the TaskResult (``.videos``)."""
        ...

    def upload_training_images(self, images: Sequence[Any], *, concurrency: int = 4) -> list[str]:
        """Upload images for a training (presigned PUT per image, retried); return their assets ids, in ..."""
        ...

    def upscale(
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
        ...

    def user_info(self) -> UserInfo:
        """Return the account's features and credit balance (``GET /v3/user``)."""
        ...

    def wait_for_task(
        self,
        task: Task | str,
        *,
        timeout: float = 300.0,
        interval: float = 0.5,
        max_interval: float = 5.0,
        progress: Any = None,
        callback: Callable[[TaskResult], Any] | None = None,
        download: bool = True,
        raise_on_failure: bool = True,
    ) -> TaskResult:
        """Poll a task until it succeeds or fails; return its TaskResult, files downloaded when ..."""
        ...

    def wait_for_training(
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
        ...
