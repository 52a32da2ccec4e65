"""The Novita client's model catalogue (``GET /v3/model``, every page)."""

from __future__ import annotations

from .._validate import (
    check_bool,
    check_choice,
    check_int,
    check_text,
)
from ._base import NovitaBase
from .training import ModelCatalogue, ModelInfo

__all__ = ["CatalogueArea"]


class CatalogueArea(NovitaBase):
    """The model catalogue: checkpoints, LoRAs, VAEs, ... with filters, following every cursor."""

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
            check_choice(
                types, "types", ("checkpoint", "lora", "vae", "controlnet", "upscaler", "textualinversion")
            )
        if visibility is not None:
            check_choice(visibility, "visibility", ("public", "private"))
        if source is not None:
            check_choice(source, "source", ("civitai", "training", "uploading"))
        check_int(limit, "limit", lo=1, hi=100)
        if max_pages is not None:
            check_int(max_pages, "max_pages", lo=1)
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
                params[key] = "true" if check_bool(flag, key) else "false"
        shape = {"models": ([dict], None), "pagination?": (dict, None)}
        models, pages, cursor = await self._pages(
            "/v3/model", params, "models", shape, ModelInfo.from_json, max_pages
        )
        return ModelCatalogue(tuple(models), pages, cursor)
