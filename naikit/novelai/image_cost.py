"""The Anlas price of an image request as the website computes it (spec §6.10; the server is the
authority): :func:`estimate_cost` of a ``/ai/generate-image`` body and :func:`estimate_augment_cost` of a
director tool. Pure code over the request and the shipped price tables: the client shows it before a
request, the sandbox charges it."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from ..errors import InputError
from .image_tables import DIRECTOR_TOOLS
from .models import image_model


@lru_cache(maxsize=1)
def _cost_tables() -> dict[str, list[list[float]]]:
    return json.loads(resources.files("naikit.data.image").joinpath("cost_tables.json").read_text("utf-8"))


@dataclass(frozen=True)
class CostEstimate:
    """An Anlas estimate (the server is the authority). ``int(estimate)`` is the total."""

    model: str
    total: int
    per_image: int
    samples: int
    billed_samples: int
    opus_free: bool
    strength_factor: float = 1.0
    character_reference: int = 0
    vibe_encoding: int = 0
    vibe_references: int = 0
    #: The per-image price is above 140 Anlas, which the website refuses.
    over_cap: bool = False

    def __int__(self) -> int:
        return self.total

    def __repr__(self) -> str:
        free = ", 1 free (Opus)" if self.opus_free else ""
        return f"CostEstimate({self.total} Anlas: {self.per_image} x {self.billed_samples}{free})"


_A = 2.951823174884865e-6
_B = 5.753298233447344e-7
PER_IMAGE_CAP = 140


def estimate_cost(body: dict[str, Any], *, opus: bool = False, uncached_vibes: int = 0) -> CostEstimate:
    """Return the Anlas a ``build_request`` body costs (spec §6.10; V3+ priced as novelai-sdk/the website).

    ``opus``: an active Opus subscription (one free sample at ≤1 MPx and ≤28 steps). ``uncached_vibes``:
    vibes that still need ``/ai/encode-vibe`` (2 Anlas each).
    """
    spec = image_model(body["model"])
    p = body["parameters"]
    w, h, steps = p["width"], p["height"], p["steps"]
    n = max(1, p.get("n_samples", 1))
    action = body.get("action", "generate")
    if action == "infill" or p.get("mask") is not None:
        factor = p.get("inpaintImg2ImgStrength") or 1.0
    elif action == "img2img" or p.get("image") is not None:
        factor = p.get("strength") or 1.0
    else:
        factor = 1.0
    sm, dyn = bool(p.get("sm")), bool(p.get("sm") and p.get("sm_dyn"))
    g = spec.generation
    refs = len(p.get("director_reference_images") or [])
    # The website's free Opus sample: no character reference, at most 1 MPx and 28 steps (every model).
    free = opus and not refs and w * h <= 1024 * 1024 and steps <= 28
    if g in ("v1", "v2"):
        r = max(w * h, 65536)
        sampler = p.get("sampler")
        if r <= 1024 * 1024 and sampler in ("plms", "ddim", "k_euler", "k_euler_ancestral", "k_lms"):
            # The website's curve takes the true area (the 65536 floor only picks the branch).
            per: float = (
                15.266497014243718 * math.exp(w * h / 1024 / 1024 * 0.6326248927474729) - 15.225164493059737
            )
            per = per * steps / 28
        else:
            t = _cost_tables()
            idx = math.ceil(w / 64) * math.ceil(h / 64) - 1
            if sampler == "nai_smea_dyn" or dyn:
                a, b = t["SMEA_DYN_COSTS"][idx]
            elif sampler == "nai_smea" or sm:
                a, b = t["SMEA_COSTS"][idx]
            elif sampler == "ddim":
                a, b = t["DDIM_COSTS"][idx]
            else:
                a, b = t["NAI_COSTS"][idx]
            per = a * steps + b
        per_image = max(math.ceil(per * factor), 2)
    else:
        area = w * h
        mult = 1.4 if dyn else 1.2 if sm else 1.0
        base = math.ceil(_A * area + _B * area * steps)
        per_image = max(math.ceil(base * mult * factor), 2)
    billed = max(n - 1, 0) if free else n
    total = per_image * billed
    cref = refs * 5 * n
    vibes = len(p.get("reference_image_multiple") or [])
    v_enc = v_ref = 0
    if g in ("v4", "v4.5"):
        v_enc = max(uncached_vibes, 0) * 2
        v_ref = max(vibes - 4, 0) * 2
    return CostEstimate(
        model=spec.value,
        total=total + cref + v_enc + v_ref,
        per_image=per_image,
        samples=n,
        billed_samples=billed,
        opus_free=bool(free),
        strength_factor=factor,
        character_reference=cref,
        vibe_encoding=v_enc,
        vibe_references=v_ref,
        over_cap=per_image > PER_IMAGE_CAP,
    )


def estimate_augment_cost(tool: str, width: int, height: int, *, opus: bool = False) -> CostEstimate:
    """Return the Anlas of a director tool on a width×height image (area normalised into 1–3 MPx)."""
    if tool not in DIRECTOR_TOOLS:
        raise InputError("tool", tool, "one of " + ", ".join(DIRECTOR_TOOLS))
    bw, bh = width, height
    if bw * bh > 3_145_728:
        f = (3_145_728 / (bw * bh)) ** 0.5
        bw, bh = math.floor(bw * f), math.floor(bh * f)
    if bw * bh < 1_048_576:
        f = (1_048_576 / (bw * bh)) ** 0.5
        bw, bh = math.floor(bw * f), math.floor(bh * f)
    area = bw * bh
    base = max(math.ceil(_A * area + _B * area * 28), 2)
    if tool == "bg-removal":
        return CostEstimate("augment:" + tool, 3 * base + 5, base, 1, 1, False)
    free = opus and area <= 1_048_576
    return CostEstimate("augment:" + tool, 0 if free else base, base, 1, 0 if free else 1, free)
