"""The Novita client's synchronous case endpoints (remove or replace a background, clean up, remove text,
reimagine, merge a face, describe an image) and their answer, :class:`EditedImage`."""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Any

from .._outcome import spend_checked
from . import requests as rq
from ._base import NovitaBase

if TYPE_CHECKING:  # pragma: no cover
    import PIL.Image

__all__ = ["CaseArea", "EditedImage"]


class EditedImage:
    """The answer of a synchronous case endpoint: one image (``.image`` as PIL, ``.data`` bytes)."""

    def __init__(self, data: bytes, image_type: str, endpoint: str):
        self.data = data
        self.image_type = image_type
        self.endpoint = endpoint

    @property
    def image(self) -> PIL.Image.Image:
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
        return f"EditedImage({self.endpoint}, {self.image_type}, {len(self.data)} bytes)"


class CaseArea(NovitaBase):
    """The synchronous case endpoints: one request, one image (or prompt) back, billed per call."""

    async def _case(self, endpoint: str, images: dict[str, Any], **kw: Any) -> EditedImage:
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

        return EditedImage(base64.b64decode(data["image_file"]), data["image_type"], endpoint)

    async def remove_background(self, image: Any, *, response_image_type: str = "png") -> EditedImage:
        """Return the image with its background made transparent (``POST /v3/remove-background``)."""
        return await self._case(
            "remove-background", {"image_file": image}, response_image_type=response_image_type
        )

    async def replace_background(
        self, image: Any, prompt: str, *, response_image_type: str = "png"
    ) -> EditedImage:
        """Return the image with a new background made from ``prompt`` (``POST /v3/replace-background``)."""
        return await self._case(
            "replace-background",
            {"image_file": image},
            prompt=prompt,
            response_image_type=response_image_type,
        )

    async def cleanup(self, image: Any, mask: Any, *, response_image_type: str = "png") -> EditedImage:
        """Return the image with the white part of ``mask`` erased (``POST /v3/cleanup``)."""
        return await self._case(
            "cleanup", {"image_file": image, "mask_file": mask}, response_image_type=response_image_type
        )

    async def remove_text(self, image: Any, *, response_image_type: str = "png") -> EditedImage:
        """Return the image with text removed (``POST /v3/remove-text``)."""
        return await self._case("remove-text", {"image_file": image}, response_image_type=response_image_type)

    async def reimagine(self, image: Any, *, response_image_type: str = "png") -> EditedImage:
        """Return a variation of the image (``POST /v3/reimagine``)."""
        return await self._case("reimagine", {"image_file": image}, response_image_type=response_image_type)

    async def merge_face(
        self, image: Any, face_image: Any, *, response_image_type: str = "png"
    ) -> EditedImage:
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
