"""The sandbox's text generator: a small n-gram language model plus :mod:`naikit.sampling`.

The model is built, per tokenizer and on first use, from the public-domain prose in
``naikit/data/corpus`` (see its NOTICE), tokenized with that tokenizer. Its next-token distribution
interpolates 4-, 3-, 2- and 1-gram estimates with a small "cache" term for tokens of the prompt, so that
prompts steer it and repetition penalties have something to act on. The candidates are every token of
the corpus plus the prompt's tokens; anything else has probability 0.

:func:`generate` applies a request's parameters exactly as :mod:`naikit.sampling` defines them:
penalties, biases and bans, then the samplers in the request's ``order``, then a draw from a
``random.Random`` seeded from the request (same request and seed, same output). Each step yields the
token and its logprobs entry in NovelAI's format (spec §5.7): ``before`` is the distribution after
penalties, biases and bans, ``after`` the distribution the token was drawn from; values rounded to 4
decimals, ``null`` for a token the samplers removed.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from .. import sampling
from ..novelai.models import TextModel, text_model

__all__ = ["NGramModel", "Step", "model_for", "generate", "request_seed", "EOS", "DEFAULT_ORDER"]

#: End-of-text token per tokenizer (what the corpus documents end with).
EOS: dict[str, int] = {
    "gpt2": 50256,
    "gpt2-genji": 50256,
    "pile": 0,
    "nerdstash_v1": 3,
    "nerdstash_v2": 3,
    "llama3": 128001,
}
#: The order used when a request sends none: every sampler, by id (unset values leave them neutral).
DEFAULT_ORDER: tuple[int, ...] = tuple(range(11))
# interpolation weights for context lengths 0 (unigram) .. 3 (4-gram); renormalised over those seen
_WEIGHTS = (0.04, 0.16, 0.3, 0.5)
_CACHE_WEIGHT = 0.08
_MAX_N = 3
_SENTENCE_END = frozenset(".!?\n")
_lock = threading.Lock()


def _corpus() -> list[str]:
    root = resources.files("naikit") / "data" / "corpus"
    return [
        e.read_text(encoding="utf-8")
        for e in sorted(root.iterdir(), key=lambda e: e.name)
        if e.name.endswith(".txt")
    ]


class NGramModel:
    """Counts of the corpus tokenized for one tokenizer; :meth:`logits` gives next-token logits."""

    def __init__(self, tokenizer: str, model: TextModel):
        from ..tokenizers import encode

        self.tokenizer = tokenizer
        self.model = model
        self.eos = EOS[tokenizer]
        self.counts: list[dict[tuple[int, ...], Counter[int]]] = [{} for _ in range(_MAX_N + 1)]
        for text in _corpus():
            ids = encode(text, model.value) + [self.eos]
            for i, tok in enumerate(ids):
                for n in range(_MAX_N + 1):
                    if i >= n:
                        ctx = tuple(ids[i - n : i])
                        self.counts[n].setdefault(ctx, Counter())[tok] += 1
        self.unigram = self.counts[0][()]
        self.vocab = frozenset(self.unigram)
        self._totals = [{c: sum(v.values()) for c, v in level.items()} for level in self.counts]

    def logits(self, context: Sequence[int], *, cache: bool = True) -> dict[int, float]:
        """Return log-probabilities of the next token after ``context`` (corpus and prompt tokens only)."""
        parts: list[tuple[float, Counter[int], int]] = []
        for n in range(_MAX_N + 1):
            if len(context) < n:
                break
            ctx = tuple(context[len(context) - n :]) if n else ()
            got = self.counts[n].get(ctx)
            if got:
                parts.append((_WEIGHTS[n], got, self._totals[n][ctx]))
        recent: Counter[int] = Counter(context[-512:]) if cache and context else Counter()
        total_w = sum(w for w, _, _ in parts) + (_CACHE_WEIGHT if recent else 0.0)
        probs: dict[int, float] = dict.fromkeys(self.vocab, 0.0)
        for w, got, total in parts:
            share = w / total_w / total
            for tok, c in got.items():
                probs[tok] += c * share
        if recent:
            size = sum(recent.values())
            for tok, c in recent.items():
                probs[tok] = probs.get(tok, 0.0) + _CACHE_WEIGHT / total_w * c / size
        return {t: math.log(p) for t, p in probs.items() if p > 0}


@cache
def _model_for_tokenizer(tokenizer: str, value: str) -> NGramModel:
    return NGramModel(tokenizer, text_model(value))


def model_for(model: str | TextModel) -> NGramModel:
    """Return the (cached) n-gram model for a text model's tokenizer, building it on first use."""
    m = text_model(model)
    with _lock:
        return _model_for_tokenizer(m.tokenizer, m.value)


def request_seed(body: Mapping[str, Any], seed: str | int | None = None) -> int:
    """Return the RNG seed of a request: a hash of its body and the optional client seed.

    ``num_logprobs`` is left out of the hash: asking for more alternatives (to inspect a generation)
    must not change the text that is generated.
    """
    params = body.get("parameters")
    if isinstance(params, dict) and "num_logprobs" in params:
        body = {**body, "parameters": {k: v for k, v in params.items() if k != "num_logprobs"}}
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    h = hashlib.sha256(f"{raw}\x00{'' if seed is None else seed}".encode())
    return int.from_bytes(h.digest()[:8], "big")


@dataclass(frozen=True)
class Step:
    """One generated token: its id, its logprobs entry (None when not asked for) and why it stopped."""

    token: int
    logprobs: dict[str, Any] | None
    stop: str | None = None


def _entry(token: int, before: dict[int, float], after: dict[int, float], n: int) -> dict[str, Any]:
    def pair(t: int) -> list[Any]:
        a = after.get(t)
        return [
            [t],
            [round(before.get(t, -math.inf), 4) if t in before else None, None if a is None else round(a, 4)],
        ]

    ranked_before = sorted(before, key=lambda t: (-before[t], t))
    ranked_after = sorted(after, key=lambda t: (-after[t], t))[:n]
    if len(ranked_after) < n:
        seen = set(ranked_after)
        ranked_after += [t for t in ranked_before if t not in seen][: n - len(ranked_after)]
    return {
        "chosen": [pair(token)],
        "before": [pair(t) for t in ranked_before[:n]],
        "after": [pair(t) for t in ranked_after],
    }


def _ends_sentence(token: int, model: TextModel) -> bool:
    from ..tokenizers import token_bytes

    text = token_bytes([token], model.value).decode("utf-8", "replace").rstrip(" \"'”’)")
    return bool(text) and text[-1] in _SENTENCE_END


def generate(
    model: str | TextModel, input_ids: Sequence[int], params: Mapping[str, Any], seed: int
) -> Iterator[Step]:
    """Yield the generated tokens one :class:`Step` at a time (the last one has ``stop`` set).

    ``params`` are the request's ``parameters`` (already validated); ``seed`` seeds the draws.
    """
    m = text_model(model)
    lm = model_for(m)
    eos = lm.eos
    rng = random.Random(seed)
    order = list(params.get("order", DEFAULT_ORDER))
    names = [sampling.sampler_name(o) for o in order]
    n_logprobs = int(params.get("num_logprobs", 0) or 0)
    max_length = int(params.get("max_length", 40))
    until_sentence = bool(params.get("generate_until_sentence"))
    miro = (
        sampling.MirostatState(params.get("mirostat_tau", 0.0), params.get("mirostat_lr", 1.0))
        if "mirostat" in names
        else None
    )
    context = list(input_ids)
    output: list[int] = []
    extra = 0
    while True:
        raw = lm.logits(context)
        processed = sampling.process_logits(raw, context, output, params, eos=eos)
        uc = None
        if "cfg" in names and params.get("cfg_scale", 1.0) != 1:
            # the "unconditional" context: only the last token, without the prompt's pull
            uc = lm.logits(context[-1:], cache=False)
        steps = sampling.run_chain(processed, order, params, uc_logits=uc, mirostat_state=miro)
        final = steps[-1].logits if steps else processed
        token = sampling.sample(final, rng)
        after = sampling.log_softmax(final)
        if miro is not None:
            miro.update(math.exp(after[token]))
        if token == eos and len(output) >= int(params.get("min_length", 0) or 0):
            if output:
                return
        output.append(token)
        context.append(token)
        entry = _entry(token, sampling.log_softmax(processed), after, n_logprobs) if n_logprobs > 0 else None
        params_now = dict(params)
        if until_sentence and len(output) >= max_length:
            # up to 20 extra tokens to finish the sentence (spec §5.2)
            done = _ends_sentence(token, m) or extra >= 20
            extra += len(output) > max_length
            params_now["max_length"] = len(output) if done else len(output) + 1
        stop = sampling.should_stop(output, params_now, eos=eos)
        yield Step(token, entry, stop)
        if stop:
            return
