"""Novita.ai clients: :class:`AsyncNovita` (the core) and :class:`Novita` (same methods, blocking).

The API key comes from the constructor or ``NOVITA_API_KEY``; with neither, the client uses naikit's
embedded offline sandbox with its demo key (announced once, in one line). The base URL comes from
``base_url=``, else ``NOVITA_BASE_URL`` (or ``NOVITA_API_URI``, what Novita's own examples read), else
``https://api.novita.ai``. The key is held by the transport and never appears in a repr, log line or
exception.

Generation methods submit a v3 async task and, with ``wait=True`` (the default), poll it with a
time-based timeout and a growing interval, then download the results (with retries) so ``.images``
gives PIL images. ``wait=False`` returns the :class:`~naikit.novita.tasks.Task` at once. Every submitted
task id is also appended to ``client.task_ids``; errors raised while waiting carry ``task_id``.
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .. import _runner
from .._outcome import spend_checked
from .._secret import Secret, reveal
from .._settings import Hosts, RetryPolicy, Timeouts
from .._transport import Transport
from .._validate import check_bool, check_mapping, check_text, check_wait_options, check_wire_text
from ..errors import CredentialsError, InputError, NaikitError, OutcomeUnknown
from . import requests as rq
from ._blocking import BlockingMethods
from .errors import attach_task, map_error
from .tasks import TASK_RESULT_SHAPE, MediaFile, Task, TaskResult, poll
from .training import ModelCatalogue, ModelInfo, TrainingList, TrainingStatus, TrainingTask, UserInfo

__all__ = ["AsyncNovita", "Novita", "ImageResult", "DEFAULT_BASE_URL"]

DEFAULT_BASE_URL = "https://api.novita.ai"
_WAIT_KEYS = {"timeout", "interval", "max_interval", "progress", "callback", "download", "raise_on_failure"}


class ImageResult:
    """The answer of a synchronous case endpoint: one image (``.image`` as PIL, ``.data`` bytes)."""

    def __init__(self, data: bytes, image_type: str, endpoint: str):
        self.data = data
        self.image_type = image_type
        self.endpoint = endpoint

    @property
    def image(self) -> Any:
        """Return the image as a PIL image."""
        from PIL import Image

        im = Image.open(io.BytesIO(self.data))
        im.load()
        return im

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the image bytes to ``path`` unchanged; returns None."""
        with open(path, "wb") as fh:
            fh.write(self.data)

    def _repr_html_(self) -> str:
        import base64

        mime = "image/jpeg" if self.image_type == "jpeg" else f"image/{self.image_type}"
        b64 = base64.b64encode(self.data).decode("ascii")
        return (
            f"<figure class='naikit-novita-image'>"
            f"<img src='data:{mime};base64,{b64}' style='max-width:256px'/>"
            f"<figcaption>{self.endpoint} ({self.image_type}, {len(self.data)} bytes)</figcaption></figure>"
        )

    def __repr__(self) -> str:
        return f"ImageResult({self.endpoint}, {self.image_type}, {len(self.data)} bytes)"


def _base_from_env() -> str | None:
    return os.environ.get("NOVITA_BASE_URL") or os.environ.get("NOVITA_API_URI") or None


def _check_key(key: Any) -> Secret:
    """Return the key as a Secret if it can be a Novita key, else raise (never showing it)."""
    key = Secret.wrap(key) if isinstance(key, (str, Secret)) else key
    if not isinstance(key, Secret) or not _plausible_key(key.reveal()):
        raise CredentialsError(
            "api_key",
            key if isinstance(key, Secret) else type(key).__name__,
            "a Novita API key (printable ASCII, no spaces)",
        )
    return key


def _plausible_key(value: Any) -> bool:
    # sent in a header: printable ASCII only (controls and lone surrogates cannot travel there)
    return (
        isinstance(value, str)
        and bool(value.strip())
        and value.isascii()
        and value.isprintable()
        and not any(c.isspace() for c in value)
    )


class AsyncNovita:
    """Async client for Novita.ai's v3 image, video, training, model and account APIs.

    ``api_key``: a Novita key (else ``NOVITA_API_KEY``, else the sandbox). ``sandbox``: None = automatic,
    True = always the embedded sandbox, False = never. ``validate`` checks response shapes.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        sandbox: bool | None = None,
        validate: bool = True,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
    ):
        # kept as a Secret from here on: frame locals and attributes show <hidden>
        api_key = _check_key(api_key) if api_key is not None else None
        self._key_arg = api_key
        self._base_arg = base_url
        self.sandbox_mode = sandbox
        self.validate = validate
        self._sandbox: Any = None
        self._ready = False
        self._ready_lock: asyncio.Lock | None = None
        base = base_url or _base_from_env() or DEFAULT_BASE_URL
        self.transport = Transport(
            Hosts.single(base),
            retry=retry,
            timeouts=timeouts,
            user_agent="naikit-novita",
            error_mapper=map_error,
        )
        self._file_transports: dict[str, Transport] = {}
        #: every task id this client submitted, oldest first (generation and training)
        self.task_ids: list[str] = []
        # Replaceable so tests can drive polling with the sandbox's fake clock instead of waiting.
        self.poll_clock: Callable[[], float] = time.monotonic
        self.poll_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def __repr__(self) -> str:
        where = "sandbox" if self._sandbox is not None else self.transport.hosts.api
        key = "key=<hidden>" if (self._key_arg or self.transport.has_token) else "no key yet"
        return f"{type(self).__name__}({where}, {key})"

    @property
    def base_url(self) -> str:
        """Return the base URL requests go to."""
        return self.transport.hosts.api

    @property
    def is_sandbox(self) -> bool:
        """Return True when this client talks to the embedded offline sandbox."""
        return self._sandbox is not None

    @property
    def stats(self) -> dict[str, int]:
        """Return counts of requests, attempts and retries per reason since the client was made."""
        return dict(self.transport.stats)

    async def __aenter__(self) -> AsyncNovita:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP sessions of the running loop; returns None. The client can be used again."""
        await self.transport.close()
        for t in self._file_transports.values():
            await t.close()

    # -- credentials -------------------------------------------------------------------------------
    async def _ensure_ready(self) -> None:
        if self._ready:
            return
        if self._ready_lock is None:
            self._ready_lock = asyncio.Lock()
        async with self._ready_lock:
            if self._ready:
                return
            key = self._key_arg if self.sandbox_mode is not True else None
            if key is None and self.sandbox_mode is not True:
                env = Secret.wrap(os.environ.get("NOVITA_API_KEY"))
                key = _check_key(env) if env else None
            if key is None:
                automatic = self.sandbox_mode is None and self._base_arg is None and _base_from_env() is None
                if self.sandbox_mode is True or automatic:
                    key = await self._start_sandbox()
                else:
                    raise CredentialsError(
                        "api_key", None, "a Novita API key", "Pass api_key= or set NOVITA_API_KEY."
                    )
            self.transport.set_token(reveal(key))
            self._ready = True

    async def _start_sandbox(self) -> str:
        from .._embedded import start_embedded
        from ..sandbox.novita_store import DEMO_KEY

        server = await start_embedded(
            "novita",
            "no NOVITA_API_KEY in the environment; using the offline Novita sandbox at {url} (demo key)",
        )
        self._sandbox = server
        self.transport.hosts = Hosts.single(server.url)
        return DEMO_KEY

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        await self._ensure_ready()
        resp = await self.transport.request(method, "api", path, **kw)
        return resp.body

    def _check(self, body: Any, shape: Any, what: str) -> Any:
        if not self.validate:
            return body
        from ..novelai.shapes import check

        return check(body, shape, what)

    # -- files on other hosts (S3 results, presigned uploads) ---------------------------------------
    def _file_transport(self, url: str) -> tuple[Transport, str]:
        try:
            parts = urlsplit(url)
        except ValueError:
            raise InputError("url", url, "an absolute http(s) URL") from None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError("url", url, "an absolute http(s) URL")
        origin = f"{parts.scheme}://{parts.netloc}"
        t = self._file_transports.get(origin)
        if t is None:
            t = self._file_transports[origin] = Transport(
                Hosts.single(origin), retry=self.transport.retry, timeouts=self.transport.timeouts
            )
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return t, path

    async def fetch_url(self, url: str) -> bytes:
        """Return the bytes at ``url`` (a result file), retrying 429/5xx/connection failures."""
        check_text(url, "url", allowed="an absolute http(s) URL", empty=False)
        t, path = self._file_transport(url)
        resp = await t.request("GET", "api", path, auth=False)
        body = resp.body
        if isinstance(body, str):
            return body.encode()
        if not isinstance(body, bytes):
            raise NaikitError(f"GET {url.split('?')[0]}: expected a file, got {resp.content_type}")
        return body

    async def _put_url(self, url: str, data: bytes, content_type: str) -> None:
        t, path = self._file_transport(url)
        await t.request("PUT", "api", path, data=data, auth=False, headers={"Content-Type": content_type})

    # -- tasks -------------------------------------------------------------------------------------
    async def submit(self, endpoint: str, body: Mapping[str, Any]) -> Task:
        """POST ``body`` to ``/v3/async/<endpoint>`` (or an absolute ``/v3/...`` path); return the Task.

        The raw form of every generation method, for bodies built with :mod:`naikit.novita.requests`.
        Not resent after a dropped connection (it would start and bill a second task).
        """
        if not isinstance(endpoint, str) or not endpoint:
            raise InputError("endpoint", endpoint, "an endpoint such as 'txt2img' or '/v3/async/txt2img'")
        path = check_wire_text(endpoint if endpoint.startswith("/") else f"/v3/async/{endpoint}", "endpoint")
        sent = dict(check_mapping(body, "body", none=False))
        data = await spend_checked(
            lambda: self._call("POST", path, json=sent),
            self._credit_balance,
            body=sent,
            cost=1,  # every task is billed; the amount is unknown in advance, only "paid" matters here
            unit="credits",
            stats=self.transport.stats,
        )
        task_id = self._check(data, {"task_id": str}, f"POST {path}")["task_id"]
        self.task_ids.append(task_id)
        return Task(task_id, endpoint.rsplit("/", 1)[-1])

    async def task_result(self, task: Task | str) -> TaskResult:
        """Return one status of a task (``GET /v3/async/task-result``) without waiting or downloading."""
        task_id = _task_id(task)
        data = await self._call("GET", "/v3/async/task-result", params={"task_id": task_id})
        return TaskResult.from_json(self._check(data, TASK_RESULT_SHAPE, "GET /v3/async/task-result"))

    async def wait_for_task(
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
        """Poll a task until it succeeds or fails; return its TaskResult, files downloaded when ``download``.

        ``timeout`` is seconds of wall time (TaskTimeout after it; the task may still finish). ``progress``:
        None = a bar in notebooks, True/False, or an object with ``update``/``close``. A failed task
        raises TaskFailed (``raise_on_failure=False`` returns it instead). Errors carry ``task_id``.
        """
        task_id = _task_id(task)
        check_wait_options(
            timeout=timeout, interval=interval, max_interval=max_interval, callback=callback,
            raise_on_failure=raise_on_failure, download=download, progress=progress,
        )  # fmt: skip
        result: TaskResult = await poll(
            lambda: self.task_result(task_id),
            task_id,
            timeout=timeout,
            interval=interval,
            max_interval=max_interval,
            progress=progress,
            callback=callback,
            raise_on_failure=raise_on_failure,
            what=getattr(task, "endpoint", "") or "task",
            now=self.poll_clock,
            sleep=self.poll_sleep,
        )
        if download and result.succeeded:
            await self.download(result)
        return result

    async def download(self, result: TaskResult) -> TaskResult:
        """Fetch every file of ``result`` that has no bytes yet (with retries); return ``result``.

        Files stay aligned with their URLs: nothing is dropped. A file that cannot be fetched raises,
        with ``task_id`` and ``result`` attached (the URLs are valid for ``ttl`` seconds).
        """
        if not isinstance(result, TaskResult):
            raise InputError("result", result, "a TaskResult from task_result() or wait_for_task()")
        files = [f for f in result.files if f.data is None]

        async def one(f: MediaFile) -> None:
            f.data = await self.fetch_url(f.url)

        try:
            await asyncio.gather(*(one(f) for f in files))
        except Exception as exc:
            raise attach_task(exc, result.task_id, result) from None
        return result

    async def _run(self, endpoint: str, body: dict[str, Any], wait: bool, wait_kw: dict[str, Any]) -> Any:
        unknown = set(wait_kw) - _WAIT_KEYS
        if unknown:
            raise InputError(
                sorted(unknown)[0], wait_kw[sorted(unknown)[0]], "one of " + ", ".join(sorted(_WAIT_KEYS))
            )
        check_bool(wait, "wait")
        # a bad wait option found after submitting would leave a paid task nobody waits for
        check_wait_options(**wait_kw)
        task = await self.submit(endpoint, body)
        if not wait:
            return task
        return await self.wait_for_task(task, **wait_kw)

    # -- v3 async generation -----------------------------------------------------------------------
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
        ex = (
            check_mapping(extra, "extra", none=False)
            if extra is not None
            else rq.build_extra(response_image_type=response_image_type)
        )
        if custom_storage is not None:
            ex["custom_storage"] = rq.build_extra(custom_storage=custom_storage)["custom_storage"]
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
        ex = (
            check_mapping(extra, "extra", none=False)
            if extra is not None
            else rq.build_extra(response_image_type=response_image_type)
        )
        if custom_storage is not None:
            ex["custom_storage"] = rq.build_extra(custom_storage=custom_storage)["custom_storage"]
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
        ex = (
            check_mapping(extra, "extra", none=False)
            if extra is not None
            else rq.build_extra(response_image_type=response_image_type)
        )
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

    # -- synchronous case endpoints ----------------------------------------------------------------
    async def _case(self, endpoint: str, images: dict[str, Any], **kw: Any) -> ImageResult:
        body = rq.case_request(endpoint, images, **kw)
        data = await spend_checked(
            lambda: self._call("POST", f"/v3/{endpoint}", json=body),
            self._credit_balance,
            body=body,
            cost=1,
            unit="credits",
            stats=self.transport.stats,
        )
        data = self._check(data, {"image_file": str, "image_type": str}, f"POST /v3/{endpoint}")
        import base64

        return ImageResult(base64.b64decode(data["image_file"]), data["image_type"], endpoint)

    async def remove_background(self, image: Any, *, response_image_type: str = "png") -> ImageResult:
        """Return the image with its background made transparent (``POST /v3/remove-background``)."""
        return await self._case(
            "remove-background", {"image_file": image}, response_image_type=response_image_type
        )

    async def replace_background(
        self, image: Any, prompt: str, *, response_image_type: str = "png"
    ) -> ImageResult:
        """Return the image with a new background made from ``prompt`` (``POST /v3/replace-background``)."""
        return await self._case(
            "replace-background",
            {"image_file": image},
            prompt=prompt,
            response_image_type=response_image_type,
        )

    async def cleanup(self, image: Any, mask: Any, *, response_image_type: str = "png") -> ImageResult:
        """Return the image with the white part of ``mask`` erased (``POST /v3/cleanup``)."""
        return await self._case(
            "cleanup", {"image_file": image, "mask_file": mask}, response_image_type=response_image_type
        )

    async def remove_text(self, image: Any, *, response_image_type: str = "png") -> ImageResult:
        """Return the image with text removed (``POST /v3/remove-text``)."""
        return await self._case("remove-text", {"image_file": image}, response_image_type=response_image_type)

    async def reimagine(self, image: Any, *, response_image_type: str = "png") -> ImageResult:
        """Return a variation of the image (``POST /v3/reimagine``)."""
        return await self._case("reimagine", {"image_file": image}, response_image_type=response_image_type)

    async def merge_face(
        self, image: Any, face_image: Any, *, response_image_type: str = "png"
    ) -> ImageResult:
        """Return ``image`` with the face of ``face_image`` (``POST /v3/merge-face``; each <= 2048x2048)."""
        return await self._case(
            "merge-face",
            {"image_file": image, "face_image_file": face_image},
            response_image_type=response_image_type,
        )

    async def img2prompt(self, image: Any) -> str:
        """Return a prompt describing the image (``POST /v3/img2prompt``)."""
        body = rq.case_request("img2prompt", {"image_file": image})
        data = await self._call("POST", "/v3/img2prompt", json=body)
        return self._check(data, {"prompt": str}, "POST /v3/img2prompt")["prompt"]

    # -- models and account ------------------------------------------------------------------------
    async def models(
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
        """Return the model catalogue (``GET /v3/model``), following ``next_cursor`` over every page.

        ``max_pages`` stops early (the catalogue's ``next_cursor`` then says where to go on).
        """
        check_text(query, "query", none=True, max_length=1024)
        if types is not None:
            rq._choice(
                "types", types, ("checkpoint", "lora", "vae", "controlnet", "upscaler", "textualinversion")
            )
        if visibility is not None:
            rq._choice("visibility", visibility, ("public", "private"))
        if source is not None:
            rq._choice("source", source, ("civitai", "training", "uploading"))
        rq._int("limit", limit, 1, 100)
        if max_pages is not None:
            rq._int("max_pages", max_pages, 1)
        params: dict[str, str] = {"pagination.limit": str(limit)}
        for key, value in (
            ("filter.types", types),
            ("filter.query", query),
            ("filter.visibility", visibility),
            ("filter.source", source),
        ):
            if value is not None:
                params[key] = value
        for key, flag in (("filter.is_sdxl", is_sdxl), ("filter.is_inpainting", is_inpainting)):
            if flag is not None:
                params[key] = "true" if rq._bool(key, flag) else "false"
        models: list[ModelInfo] = []
        cursor, pages, seen = "", 0, set()
        while True:
            page_params = dict(params, **({"pagination.cursor": cursor} if cursor else {}))
            data = await self._call("GET", "/v3/model", params=page_params)
            data = self._check(data, {"models": ([dict], None), "pagination?": (dict, None)}, "GET /v3/model")
            pages += 1
            models += [ModelInfo.from_json(m) for m in data.get("models") or []]
            cursor = str(((data.get("pagination") or {}).get("next_cursor")) or "")
            # a cursor seen before would loop forever; an empty page ends too
            if not cursor or not data.get("models") or cursor in seen or (max_pages and pages >= max_pages):
                break
            seen.add(cursor)
        return ModelCatalogue(tuple(models), pages, cursor if max_pages and pages >= max_pages else "")

    async def user_info(self) -> UserInfo:
        """Return the account's features and credit balance (``GET /v3/user``)."""
        data = await self._call("GET", "/v3/user")
        return UserInfo.from_json(self._check(data, {"credit_balance?": (int, float, None)}, "GET /v3/user"))

    # -- training ----------------------------------------------------------------------------------
    async def upload_training_images(self, images: Sequence[Any], *, concurrency: int = 4) -> list[str]:
        """Upload images for a training (presigned PUT per image, retried); return their assets ids, in order.

        PNG, JPEG and WebP are sent as they are (the official SDK re-encodes everything to JPEG, losing
        alpha); other formats are converted to PNG. At most 50 images.
        """
        prepared = [_training_image(im, i) for i, im in enumerate(_image_list(images))]
        rq._int("concurrency", concurrency, 1, 16)
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

    async def _credit_balance(self) -> float:
        """Return the key's credit balance now (the probe that tells whether a lost task was billed)."""
        return float((await self.user_info()).credit_balance)

    async def training_status(self, task: Task | str, kind: str | None = None) -> TrainingStatus:
        """Return a training task's status, progress and model (``GET /v3/training/{subject|style}``)."""
        task_id = _task_id(task)
        kind = kind or _kind_of(task)
        rq._choice("kind", kind, ("subject", "style"), "Pass kind= when giving a bare task id.")
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
        task_id = _task_id(task)
        kind = kind or _kind_of(task)
        rq._choice("kind", kind, ("subject", "style"), "Pass kind= when giving a bare task id.")
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
            rq._choice("task_type", task_type, ("subject", "style"))
        rq._int("limit", limit, 1, 100)
        params: dict[str, str] = {"pagination.limit": str(limit)}
        if task_type is not None:
            params["task_type"] = task_type
        tasks: list[TrainingTask] = []
        cursor, pages, seen = "", 0, set()
        while True:
            page = dict(params, **({"pagination.cursor": cursor} if cursor else {}))
            data = await self._call("GET", "/v3/training", params=page)
            data = self._check(data, {"tasks": ([dict], None)}, "GET /v3/training")
            pages += 1
            tasks += [TrainingTask.from_json(t) for t in data.get("tasks") or []]
            cursor = str(((data.get("pagination") or {}).get("next_cursor")) or "")
            if not cursor or not data.get("tasks") or cursor in seen or (max_pages and pages >= max_pages):
                break
            seen.add(cursor)
        return TrainingList(tuple(tasks), pages)


def _task_id(task: Task | str) -> str:
    task_id = task.task_id if isinstance(task, Task) else task
    if (
        not isinstance(task_id, str)
        or not task_id
        or len(task_id) > 128
        or any(c in task_id for c in "/?#&\n ")
    ):
        raise InputError("task", task, "a Task or a task id string")
    return task_id


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
    if len(images) > rq.MAX_TRAINING_IMAGES:
        raise InputError(
            "images", f"<{len(images)} images>", f"at most {rq.MAX_TRAINING_IMAGES} images per task"
        )
    return list(images)


def _training_image(image: Any, i: int) -> tuple[bytes, str]:
    """Return (bytes, extension) of a training image; PNG/JPEG/WebP are kept, others become PNG."""
    import base64

    from PIL import Image

    b64, _ = rq.image_to_base64(image, f"images[{i}]", max_bytes=30 * rq.MB)
    raw = base64.b64decode(b64)
    with Image.open(io.BytesIO(raw)) as im:
        fmt = (im.format or "").upper()
        if fmt in ("PNG", "JPEG", "WEBP"):
            return raw, fmt.lower()
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        return buf.getvalue(), "png"


@_runner.sync_facade(AsyncNovita)
class Novita(BlockingMethods, _runner.SyncClient):
    """Blocking client with the same methods as :class:`AsyncNovita` and the same constructor.

    Each call runs on naikit's runner loop, so it works in scripts and inside a running Jupyter kernel.
    """

    if not TYPE_CHECKING:  # type checkers read the async client's parameters from _blocking.pyi

        def __init__(self, *args: Any, **kwargs: Any):
            args, kwargs = _runner.mask_secrets(AsyncNovita.__init__, args, kwargs)
            super().__init__(AsyncNovita(*args, **kwargs))

    @staticmethod
    def transports_of(async_client: Any) -> list[Any]:
        """Return the API transport and those of generated files and uploads (made as they are needed)."""
        return [async_client.transport, *async_client._file_transports.values()]

    @property
    def task_ids(self) -> list[str]:
        """Return every task id this client submitted, oldest first."""
        return self._async.task_ids

    @property
    def poll_clock(self) -> Callable[[], float]:
        """Return the clock polling measures its timeout with (``time.monotonic`` by default)."""
        return self._async.poll_clock

    @poll_clock.setter
    def poll_clock(self, value: Callable[[], float]) -> None:
        self._async.poll_clock = value

    @property
    def poll_sleep(self) -> Callable[[float], Awaitable[None]]:
        """Return the coroutine function polling sleeps with (``asyncio.sleep`` by default)."""
        return self._async.poll_sleep

    @poll_sleep.setter
    def poll_sleep(self, value: Callable[[float], Awaitable[None]]) -> None:
        self._async.poll_sleep = value

    @property
    def transport(self) -> Transport:
        """Return the underlying transport (retry policy, stats)."""
        return self._async.transport
