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
