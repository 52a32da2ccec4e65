"""What one response of an experiment becomes in the journal: its JSON result, its frame row, its cost.

Text: the text, the tokens, the chosen tokens' log-probabilities and the :data:`TEXT_METRICS`. Images: the
PNGs written into the experiment's ``images/`` folder (each whole or not at all, through the one atomic
write), their seeds and size, and the Anlas the server charged (the estimate when it did not say).
"""

from __future__ import annotations

import math
import os
from typing import Any

from .._atomic import write_atomic
from .metrics import distinct_n, perplexity, repetition_rate
from .plan import Cell

__all__ = ["TEXT_METRICS", "IMAGE_METRICS", "record_response", "text_result"]

TEXT_METRICS = [
    "tokens",
    "characters",
    "mean_logprob",
    "perplexity",
    "distinct_1",
    "distinct_2",
    "repetition_rate",
]
IMAGE_METRICS = ["cost", "width", "height", "n_images"]


def record_response(
    cell: Cell, obj: Any, folder: str | None, prompt_ids: dict[tuple[str, str], list[int]]
) -> tuple[dict[str, Any], dict[str, Any], int]:
    """Return the JSON result of one response, its frame row and its Anlas cost (PNGs written first).

    ``folder`` is the experiment's folder (None: nothing written); ``prompt_ids`` caches the tokenized
    prompts per (prompt, model) across calls.
    """
    if cell.kind == "text":
        res = text_result(cell, obj, prompt_ids)
        return res, {"text": res["text"], **res["metrics"], "finish_reason": res["finish_reason"]}, 0
    files = []
    if folder is not None:
        for i, g in enumerate(obj):
            rel = os.path.join("images", f"{cell.key[:24]}_{i}.png")
            # whole files only, even when killed; durable too, since the journal will say "done" for it
            write_atomic(os.path.join(folder, rel), g.png)
            files.append(rel)
    cost = int(obj.cost.total) if obj.cost is not None else cell.estimate
    params = obj.request.get("parameters", {})
    result = {
        "files": files,
        "seeds": [g.seed for g in obj],
        "model": obj.request.get("model"),
        "width": params.get("width"),
        "height": params.get("height"),
        "parameters": params,
        "n_images": len(obj),
    }
    row = {"path": files[0] if files else None, **{k: result[k] for k in ("width", "height", "n_images")}}
    return result, row, cost


def text_result(cell: Cell, gen: Any, prompt_ids: dict[tuple[str, str], list[int]]) -> dict[str, Any]:
    """Return the journal result of one text generation: text, tokens, log-probabilities and metrics."""
    chosen = [s.chosen.before for s in gen.logprobs]  # parsed once (mean_logprob would parse again)
    known = [v for v in chosen if v is not None]
    ml = sum(known) / len(known) if known else None
    ids: list[int] = []
    if gen.pieces is None:  # native models: the prompt tokenizes locally (GLM's tokenizer is remote)
        k = (cell.prompt, gen.model)
        if k not in prompt_ids:
            from ..tokenizers import encode

            prompt_ids[k] = encode(cell.prompt, gen.model)
        ids = prompt_ids[k]
    return {
        "text": gen.text,
        "token_ids": list(gen.tokens),
        "logprobs": chosen,
        "finish_reason": gen.finish_reason,
        "model": gen.model,
        "metrics": {
            "tokens": len(gen.tokens),
            "characters": len(gen.text),
            "mean_logprob": math.nan if ml is None else ml,
            "perplexity": perplexity(ml),
            "distinct_1": distinct_n(gen.tokens, 1),
            "distinct_2": distinct_n(gen.tokens, 2),
            "repetition_rate": repetition_rate(gen.tokens, ids),
        },
    }
