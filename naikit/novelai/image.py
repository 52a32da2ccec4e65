"""NovelAI endpoints for image generation, vibe transfer, director tools, upscale and tag suggestions.

``ImageAPI`` is an area of :class:`naikit.novelai.async_client.AsyncNovelAI` (built on the typed core
:class:`~naikit.novelai._base.ClientCore`): its public coroutine methods use the client's ``_call`` /
``transport`` and appear on the sync ``NovelAI`` automatically.

Every generation is validated and priced before anything is sent: bad input raises InputError, and a
``max_anlas`` below the estimate refuses to start (for a batch, the sum of its requests). Generations pass
the client's per-account concurrency gate and wait out 429 "Concurrent generation is locked".
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from .._outcome import spend_checked
from .._validate import check_bool, check_int, check_number
from ..errors import InputError, ResponseShapeError, StreamIncomplete
from .user_api import AccountAPI

# The request builders, tables and result classes load with the first image call, not with the client
# (import time): each method imports what it uses; annotations name them for type checkers only.
if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .image_models import Character, CharacterReference, CostEstimate, ImagePreset, Vibe
    from .images_result import GeneratedImage, ImageResult, StreamEvent

__all__ = ["ImageAPI", "BudgetExceeded"]


class BudgetExceeded(InputError):
    """The Anlas estimate is above ``max_anlas``; nothing was sent."""


def _check_budget(cost: int, max_anlas: int | None, what: str) -> None:
    if max_anlas is None:
        return
    if not isinstance(max_anlas, int) or isinstance(max_anlas, bool) or max_anlas < 0:
        raise InputError("max_anlas", max_anlas, "a whole number of Anlas >= 0 (or None for no limit)")
    if cost > max_anlas:
        raise BudgetExceeded(
            "max_anlas",
            max_anlas,
            f"at least {cost} Anlas for {what}",
            "Nothing was sent. Raise max_anlas, or lower steps, size or n_samples.",
        )


class ImageAPI(AccountAPI):
    """Area: image generation, vibe transfer, director tools, upscale and tag suggestions (issue 5)."""

    _opus_cache: bool | None = None

    async def _anlas_balance(self) -> float:
        """Return the account's Anlas now (the probe that tells whether a lost paid answer was charged)."""
        return float((await self.subscription()).anlas)

    async def _is_opus(self, opus: bool | None) -> bool:
        check_bool(opus, "opus", none=True)
        if opus is not None:
            return bool(opus)
        if self._opus_cache is None:
            sub = await self.subscription()
            self._opus_cache = bool(sub.tier == 3 and sub.active)
        return self._opus_cache

    def _preset(self, preset: ImagePreset | None, model: str | None, changes: dict[str, Any]) -> ImagePreset:
        from . import image_models as im
        from .image_models import ImagePreset

        if preset is not None and not isinstance(preset, ImagePreset):
            raise InputError("preset", preset, "an ImagePreset (ImagePreset.default(model)) or None")
        if model is not None and not isinstance(model, str):
            raise InputError("model", model, "an image model name such as 'nai-diffusion-4-5-full'")
        if preset is None:
            preset = ImagePreset.default(model or "nai-diffusion-4-5-full")
        elif model is not None:
            preset = preset.replace(model=im.model_spec(model).value)
        return preset.replace(**changes) if changes else preset

    async def _vibes_for(self, vibes: Sequence[Any] | None, model: str) -> tuple[list[Vibe] | None, int]:
        """Turn pictures into encoded vibes on V4+ (through the cache); return them and the uncached count."""
        from . import image_models as im
        from .image_models import Vibe

        if not vibes:
            return None, 0
        out: list[Vibe] = []
        uncached = 0
        spec = im.model_spec(model)
        for v in vibes:
            if isinstance(v, Vibe) and (v.encoding or spec.generation == "v3"):
                out.append(v)
                continue
            image = v.image if isinstance(v, Vibe) else v
            if spec.generation == "v3":
                out.append(Vibe(image=image))
                continue
            strength = v.strength if isinstance(v, Vibe) else 0.6
            info = v.information_extracted if isinstance(v, Vibe) else 1.0
            vb = await self.encode_vibe(
                image, model=spec.value, information_extracted=info, strength=strength
            )
            uncached += 0 if vb.cached else 1
            out.append(vb)
        return out, uncached

    async def build_image_request(
        self,
        prompt: str,
        preset: ImagePreset | None = None,
        action: str = "generate",
        **kw: Any,
    ) -> dict[str, Any]:
        """Return the body naikit would send for these inputs (validated; nothing is sent)."""
        from . import image_models as im

        return im.build_request(prompt, preset, action, **kw)

    async def estimate_image_cost(
        self,
        prompt: str,
        preset: ImagePreset | None = None,
        action: str = "generate",
        *,
        opus: bool | None = None,
        uncached_vibes: int = 0,
        **kw: Any,
    ) -> CostEstimate:
        """Return the Anlas estimate of a generation (asks the subscription once to know about Opus)."""
        from . import image_models as im

        check_int(uncached_vibes, "uncached_vibes", lo=0, hi=im.MAX_VIBES)
        body = im.build_request(prompt, preset, action, **kw)
        return im.estimate_cost(body, opus=await self._is_opus(opus), uncached_vibes=uncached_vibes)

    async def _generate(
        self,
        prompt: str,
        preset: ImagePreset,
        action: str,
        *,
        image: Any = None,
        mask: Any = None,
        characters: list[Character] | None = None,
        vibes: Sequence[Any] | None = None,
        character_references: list[CharacterReference] | None = None,
        resize: Literal["refuse", "resize"] = "refuse",
        max_anlas: int | None = None,
        opus: bool | None = None,
        label: str = "",
    ) -> ImageResult:
        from . import image_models as im
        from .image_models import Vibe
        from .image_stream import msgpack_frames
        from .images_result import GeneratedImage, ImageResult, strip_images, unzip_images

        kw = dict(image=image, mask=mask, characters=characters, character_references=character_references,
                  resize=resize)  # fmt: skip
        if vibes is not None and not isinstance(vibes, (list, tuple)):
            raise InputError("vibes", vibes, "a list of Vibe objects, encodings or pictures (or None)")
        # Validate everything (vibes included) before encoding anything: encodes cost Anlas too.
        probe_vibes = [
            v if isinstance(v, Vibe) and v.encoding else Vibe(encoding="AA==", image=v) for v in vibes or []
        ]
        if im.model_spec(preset.model).generation == "v3":
            probe_vibes = [Vibe(image=v.image if isinstance(v, Vibe) else v) for v in vibes or []]
        probe = im.build_request(prompt, preset, action, vibes=probe_vibes or None, **kw)
        is_opus = await self._is_opus(opus)
        pending = sum(1 for v in vibes or [] if not (isinstance(v, Vibe) and v.encoding))
        if im.model_spec(preset.model).generation == "v3":
            pending = 0
        estimate = im.estimate_cost(probe, opus=is_opus, uncached_vibes=pending)
        _check_budget(estimate.total, max_anlas, f"this {action}")
        encoded, _ = await self._vibes_for(vibes, preset.model)
        body = im.build_request(
            prompt, preset.replace(seed=probe["parameters"]["seed"]), action, vibes=encoded, **kw
        )
        if im.model_spec(body["model"]).generation == "v5":
            # The V5 website generates only through the msgpack stream; keep the finals, in sample order.
            body["parameters"]["stream"] = "msgpack"
            finals: dict[int, bytes] = {}
            async with self._stream_chunks(body) as chunks:
                async for d in msgpack_frames(chunks):
                    if d.get("event_type") == "final":
                        finals[int(d.get("samp_ix", len(finals)))] = bytes(d.get("image") or b"")
            files = [(f"image_{i}.png", finals[i]) for i in sorted(finals)]
        else:
            data = await spend_checked(
                lambda: self._call("POST", "/ai/generate-image", host="image", json=body, generation=True),
                self._anlas_balance,
                body=body,
                cost=estimate.total,
                unit="Anlas",
                stats=self.transport.stats,
            )
            files = unzip_images(data, "POST /ai/generate-image")
        params = body["parameters"]
        shown = strip_images(params)
        items = [
            GeneratedImage(png, dict(shown, seed=params["seed"] + i), prompt, body["model"], action, i)
            for i, (_, png) in enumerate(files)
        ]
        if self.validate and len(items) != params["n_samples"]:
            raise ResponseShapeError(
                "POST /ai/generate-image", "body", f"has {len(items)} images, not n_samples"
            )
        return ImageResult(items, dict(body, parameters=shown), estimate, label)

    async def generate_image(
        self,
        prompt: str,
        preset: ImagePreset | None = None,
        *,
        model: str | None = None,
        characters: list[Character] | None = None,
        vibes: Sequence[Any] | None = None,
        character_references: list[CharacterReference] | None = None,
        max_anlas: int | None = None,
        opus: bool | None = None,
        **changes: Any,
    ) -> ImageResult:
        """Generate pictures from a prompt; return an ImageResult (PNG bytes with their parameters).

        ``preset`` defaults to the website's defaults for ``model`` (V4.5 full); keyword ``changes`` such as
        ``seed=``, ``steps=``, ``width=`` override preset fields. ``vibes``: Vibe objects, ``.naiv4vibe``
        encodings or plain pictures (encoded and cached on V4+). ``max_anlas`` refuses to start above it.
        """
        p = self._preset(preset, model, changes)
        return await self._generate(
            prompt, p, "generate", characters=characters, vibes=vibes,
            character_references=character_references, max_anlas=max_anlas, opus=opus,
        )  # fmt: skip

    async def img2img(
        self,
        prompt: str,
        image: Any,
        preset: ImagePreset | None = None,
        *,
        strength: float = 0.7,
        noise: float = 0.0,
        model: str | None = None,
        resize: Literal["refuse", "resize"] = "refuse",
        characters: list[Character] | None = None,
        vibes: Sequence[Any] | None = None,
        max_anlas: int | None = None,
        opus: bool | None = None,
        **changes: Any,
    ) -> ImageResult:
        """Repaint ``image`` guided by the prompt (``strength`` 0.01–0.99: how much changes).

        Returns an ImageResult.

        An image of another size than width×height is refused unless ``resize="resize"``.
        """
        p = self._preset(preset, model, dict(changes, strength=strength, noise=noise))
        return await self._generate(
            prompt, p, "img2img", image=image, characters=characters, vibes=vibes, resize=resize,
            max_anlas=max_anlas, opus=opus,
        )  # fmt: skip

    async def inpaint(
        self,
        prompt: str,
        image: Any,
        mask: Any,
        preset: ImagePreset | None = None,
        *,
        model: str | None = None,
        resize: Literal["refuse", "resize"] = "refuse",
        characters: list[Character] | None = None,
        max_anlas: int | None = None,
        opus: bool | None = None,
        **changes: Any,
    ) -> ImageResult:
        """Repaint the white part of ``mask`` on ``image`` (``infill``, inpainting model).

        Image and mask must be width×height unless ``resize="resize"``; returns an ImageResult.
        """
        p = self._preset(preset, model, changes)
        return await self._generate(
            prompt, p, "infill", image=image, mask=mask, characters=characters, resize=resize,
            max_anlas=max_anlas, opus=opus,
        )  # fmt: skip

    async def generate_images(
        self,
        prompt: str | Sequence[str],
        presets: Sequence[ImagePreset],
        *,
        max_anlas: int | None = None,
        opus: bool | None = None,
        labels: Sequence[str] | None = None,
        characters: list[Character] | None = None,
        vibes: Sequence[Any] | None = None,
    ) -> list[ImageResult]:
        """Run one generation per preset (concurrently, within the limit); return results in order.

        ``prompt`` is one prompt for all or one per preset. The whole batch is validated and priced first:
        with ``max_anlas`` below the summed estimate nothing is sent.
        """
        from . import image_models as im
        from .image_models import Vibe

        if not isinstance(presets, (list, tuple)) or not presets:
            raise InputError("presets", presets, "a non-empty list of ImagePreset")
        if not isinstance(prompt, (str, list, tuple)):
            raise InputError("prompt", prompt, "a prompt or a list of prompts (one per preset)")
        prompts = [prompt] * len(presets) if isinstance(prompt, str) else list(prompt)
        if len(prompts) != len(presets):
            raise InputError(
                "prompt", f"{len(prompts)} prompts", f"one prompt or {len(presets)} (one per preset)"
            )
        if vibes is not None and not isinstance(vibes, (list, tuple)):
            raise InputError("vibes", vibes, "a list of Vibe objects, encodings or pictures (or None)")
        if labels is not None and (
            not isinstance(labels, (list, tuple))
            or len(labels) != len(presets)
            or not all(isinstance(x, str) for x in labels)
        ):
            raise InputError("labels", labels, f"{len(presets)} strings (one per preset) or None")
        bodies = []
        for pr, ps in zip(prompts, presets, strict=False):  # validated before anything is asked or sent
            probe = [Vibe(encoding="AA==", image=v) for v in vibes or []] or None
            if probe and isinstance(ps, im.ImagePreset) and im.model_spec(ps.model).generation == "v3":
                probe = [Vibe(image=v) for v in vibes or []]
            bodies.append(im.build_request(pr, ps, characters=characters, vibes=probe))
        is_opus = await self._is_opus(opus)
        total = 0
        for body in bodies:
            total += im.estimate_cost(body, opus=is_opus).total
        _check_budget(total, max_anlas, f"this batch of {len(presets)} generations")
        labels = list(labels) if labels is not None else [""] * len(presets)
        tasks = [
            self._generate(pr, ps, "generate", characters=characters, vibes=vibes, opus=is_opus, label=lb)
            for pr, ps, lb in zip(prompts, presets, labels, strict=False)
        ]
        return list(await asyncio.gather(*tasks))

    async def generate_image_stream(
        self,
        prompt: str,
        preset: ImagePreset | None = None,
        *,
        model: str | None = None,
        stream: Literal["msgpack", "sse"] = "msgpack",
        characters: list[Character] | None = None,
        max_anlas: int | None = None,
        opus: bool | None = None,
        **changes: Any,
    ) -> AsyncIterator[StreamEvent]:
        """Yield previews (``intermediate``, JPEG) and ``final`` pictures (PNG) as the service sends them."""
        from . import image_models as im
        from .image_stream import _IMAGE_STREAM, _b64, _checked_event, _stream_json, _stream_msgpack

        if stream not in ("msgpack", "sse"):
            raise InputError("stream", stream, "'msgpack' or 'sse'")
        p = self._preset(preset, model, changes)
        body = im.build_request(prompt, p, characters=characters)
        v5 = im.model_spec(p.model).generation == "v5"
        if v5 and stream != "msgpack":
            raise InputError("stream", stream, "'msgpack' on V5 (the only stream V5 answers)")
        body["parameters"]["stream"] = stream
        estimate = im.estimate_cost(body, opus=await self._is_opus(opus))
        _check_budget(estimate.total, max_anlas, "this generation")
        await self._ensure_ready()
        chunks = self._stream_chunks(body)
        what = _IMAGE_STREAM
        expected = int(body["parameters"].get("n_samples", 1))
        seen: list[StreamEvent] = []
        finals = 0
        # ``async with``: the stream is closed (and the account's gate freed) however this generator
        # ends, even when a malformed answer raises and the caller keeps the exception around.
        async with chunks:
            try:
                if stream == "sse":
                    from .._framing import SSEDecoder

                    sse = SSEDecoder(what=what)
                    async for chunk in chunks:
                        for ev in sse.feed(chunk):
                            if "data" not in ev:
                                continue
                            d = _stream_json(ev["data"], what)
                            event = _checked_event(d, what, chunks.url, seen, _b64(d.get("image", ""), what))
                            finals += event.is_final
                            yield event
                    sse.close()
                    leftover = sse.pending
                else:
                    from .._framing import FrameDecoder

                    frames = FrameDecoder(what=what)
                    async for chunk in chunks:
                        for payload in frames.feed(chunk):
                            d = _stream_msgpack(payload, what)
                            event = _checked_event(d, what, chunks.url, seen, d.get("image") or b"")
                            finals += event.is_final
                            yield event
                    leftover = bool(frames.pending)
            except StreamIncomplete as exc:
                exc.partial = list(seen)
                raise
        if leftover or finals < expected:
            why = "a truncated last frame" if leftover else f"{finals} of {expected} final pictures"
            raise StreamIncomplete(
                f"{what}: the stream ended with {why}; the {len(seen)} events that arrived are in this "
                "error's .partial. Check your Anlas balance before repeating: it may have been charged.",
                url=chunks.url,
                partial=list(seen),
            )

    def _stream_chunks(self, body: dict[str, Any]) -> Any:
        """Return the ChunkStream of a generation posted to the stream endpoint: V5 as the website does (one
        multipart ``request`` part), older models as JSON."""
        from . import image_models as im

        if im.model_spec(body["model"]).generation == "v5":
            data, ctype = im.v5_multipart(body)
            return self.transport.stream(
                "POST", "image", "/ai/generate-image-stream", data=data, headers={"Content-Type": ctype},
                generation=True,
            )  # fmt: skip
        return self.transport.stream("POST", "image", "/ai/generate-image-stream", json=body, generation=True)

    async def encode_vibe(
        self,
        image: Any,
        *,
        model: str = "nai-diffusion-4-5-full",
        information_extracted: float = 1.0,
        strength: float = 0.6,
        cache: Any = None,
    ) -> Vibe:
        """Return a Vibe for ``image`` on a V4/V4.5 model, from the cache or ``/ai/encode-vibe`` (2 Anlas).

        ``Vibe.cached`` tells which: an image is encoded (and paid for) once per model and information
        extracted.
        """
        from . import image_models as im
        from .image_models import Vibe
        from .vibes import default_cache, model_key

        model_key(model)
        spec = im.model_spec(model)
        if not isinstance(information_extracted, (int, float)) or not 0 < information_extracted <= 1:
            raise InputError("information_extracted", information_extracted, "a number in (0, 1]")
        check_number(strength, "strength", lo=0, hi=1)
        if cache is not None and not (
            callable(getattr(cache, "get", None)) and callable(getattr(cache, "put", None))
        ):
            raise InputError("cache", cache, "a VibeCache (naikit.novelai.vibes.VibeCache) or None")
        png, _, _ = im.load_image(image, "image")
        import hashlib

        h = hashlib.sha256(png).hexdigest()
        c = cache if cache is not None else default_cache()
        hit = c.get(h, spec.value, information_extracted)
        if hit is not None:
            return Vibe(
                encoding=hit, strength=strength, information_extracted=information_extracted, cached=True
            )
        body = {"image": base64.b64encode(png).decode(), "model": spec.value,
                "information_extracted": information_extracted}  # fmt: skip
        data = await self._call("POST", "/ai/encode-vibe", host="image", json=body)
        if not isinstance(data, (bytes, bytearray)) or not data:
            raise ResponseShapeError("POST /ai/encode-vibe", "body", "is not the binary encoding")
        enc = base64.b64encode(bytes(data)).decode()
        c.put(h, spec.value, information_extracted, enc)
        return Vibe(
            encoding=enc, strength=strength, information_extracted=information_extracted, cached=False
        )

    async def augment_image(
        self,
        tool: str,
        image: Any,
        *,
        prompt: str = "",
        emotion: str | None = None,
        defry: int = 0,
        max_anlas: int | None = None,
        opus: bool | None = None,
    ) -> ImageResult:
        """Run a director tool (bg-removal, lineart, sketch, colorize, emotion…); return pictures."""
        from . import image_models as im
        from .images_result import GeneratedImage, ImageResult, strip_images, unzip_images

        if tool not in im.DIRECTOR_TOOLS:
            raise InputError("tool", tool, "one of " + ", ".join(im.DIRECTOR_TOOLS))
        png, (w, h), _ = im.load_image(image, "image")
        body: dict[str, Any] = {
            "req_type": tool,
            "width": w,
            "height": h,
            "image": base64.b64encode(png).decode(),
        }
        if tool in ("colorize", "emotion"):
            if not isinstance(defry, int) or isinstance(defry, bool) or not 0 <= defry <= 5:
                raise InputError("defry", defry, "an integer from 0 (full effect) to 5 (weakest)")
            body["defry"] = defry
            if tool == "emotion":
                if emotion not in im.EMOTIONS:
                    raise InputError("emotion", emotion, "one of " + ", ".join(im.EMOTIONS))
                body["prompt"] = f"{emotion};;{prompt}"
            else:
                body["prompt"] = prompt
        estimate = im.estimate_augment_cost(tool, w, h, opus=await self._is_opus(opus))
        _check_budget(estimate.total, max_anlas, f"the {tool} tool")
        data = await self._call("POST", "/ai/augment-image", host="image", json=body, generation=True)
        files = unzip_images(data, "POST /ai/augment-image")
        shown = strip_images(body)
        items = [
            GeneratedImage(p, shown, prompt, "augment:" + tool, tool, i) for i, (_, p) in enumerate(files)
        ]
        return ImageResult(items, shown, estimate, tool)

    async def upscale(self, image: Any, *, scale: int = 2) -> GeneratedImage:
        """Upscale a picture ×2 or ×4 (``/ai/upscale``); return the result."""
        from . import image_models as im
        from .images_result import GeneratedImage, unzip_images

        if scale not in (2, 4):
            raise InputError("scale", scale, "2 or 4")
        png, (w, h), _ = im.load_image(image, "image")
        if w * h > 1024 * 1024:
            raise InputError("image", f"{w}x{h}", "at most 1024x1024 pixels to upscale")
        body = {"image": base64.b64encode(png).decode(), "width": w, "height": h, "scale": scale}
        data = await self._call("POST", "/ai/upscale", json=body, generation=True)
        files = unzip_images(data, "POST /ai/upscale")
        return GeneratedImage(
            files[0][1], {"width": w * scale, "height": h * scale, "scale": scale}, "", "upscale"
        )

    async def annotate_image(self, image: Any, *, annotator: str = "hed") -> GeneratedImage:
        """Return the ControlNet condition picture for V1/V2 (hed, midas, fake_scribble, mlsd, uniformer)."""
        from . import image_models as im
        from .images_result import GeneratedImage, unzip_images

        if annotator not in ("hed", "midas", "fake_scribble", "mlsd", "uniformer"):
            raise InputError("annotator", annotator, "hed, midas, fake_scribble, mlsd or uniformer")
        png, (w, h), _ = im.load_image(image, "image")
        body = {"model": annotator, "parameters": {"image": base64.b64encode(png).decode()}}
        data = await self._call("POST", "/ai/annotate-image", json=body)
        files = unzip_images(data, "POST /ai/annotate-image")
        return GeneratedImage(files[0][1], {"width": w, "height": h, "annotator": annotator}, "", "annotate")

    async def suggest_tags(
        self, prompt: str, *, model: str = "nai-diffusion-4-5-full", lang: str | None = None
    ) -> pd.DataFrame:
        """Return tag suggestions for the prompt's last term as a DataFrame (tag, count, confidence)."""
        import pandas as pd

        from . import image_models as im

        if not isinstance(prompt, str) or not prompt.strip():
            raise InputError("prompt", prompt, "a non-empty string (the tag being typed)")
        if lang not in (None, "jp"):
            raise InputError("lang", lang, "None or 'jp'")
        params = {"model": im.model_spec(model).value, "prompt": prompt}
        if lang:
            params["lang"] = lang
        data = await self._call("GET", "/ai/generate-image/suggest-tags", host="image", params=params)
        if lang == "jp":
            if not isinstance(data, list):
                raise ResponseShapeError("GET suggest-tags", "body", "is not a list")
            return pd.DataFrame(data, columns=["jp_tag", "en_tag", "power"])
        if not isinstance(data, dict) or not isinstance(data.get("tags"), list):
            raise ResponseShapeError("GET suggest-tags", "tags", "is missing or not a list")
        return pd.DataFrame(data["tags"], columns=["tag", "count", "confidence"])
