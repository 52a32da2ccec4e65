"""Text to token ids and back, one text or many: ``tokenize``, ``encode``, ``decode``, ``count``.

:func:`tokenize` gives a :class:`~naikit.tokenizers.Tokenization` with each token's span of the
original text; :func:`encode_many` and :func:`count_many` take many texts at once (a list, a pandas
Series) and hand the whole batch to the tokenizer library, which encodes it on every core.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from . import registry
from .backend import Backend
from .bytelevel import own_text
from .clip import ClipBackend
from .clip_cleaning import SURROGATE_RE
from .results import Tokenization
from .t5 import T5Backend
from .targets import LLAMA3_BOS, Target, limits, resolve

if TYPE_CHECKING:  # pragma: no cover
    from ..novelai.models import ImageModel, TextModel

__all__ = [
    "tokenize",
    "encode",
    "encode_for",
    "encode_many",
    "decode",
    "count",
    "count_many",
    "token_bytes",
    "tokenization_from_ids",
    "check_text",
]


def _offsets(backend: Backend, text: str, ids: list[int]) -> tuple[list[int], list[int], list[str], bool]:
    """Spans from the token bytes when they spell the text exactly; otherwise the library's or an estimate."""
    dec = codecs.getincrementaldecoder("utf-8")("strict")
    starts: list[int] = []
    ends: list[int] = []
    texts: list[str] = []
    decoded: list[str] = []
    pos = 0
    ok = True
    tb = backend.token_bytes
    for tid in ids:
        raw = tb(tid)
        try:
            out = dec.decode(raw)
        except UnicodeDecodeError:
            ok = False
            break
        starts.append(pos)
        pos += len(out)
        ends.append(pos + (1 if dec.getstate()[0] else 0))
        decoded.append(out)
        texts.append(own_text(raw))
    if ok:
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            ok = False
    if ok and "".join(decoded) == text:
        return starts, ends, texts, True
    texts = [own_text(tb(t)) for t in ids]
    lib = backend.library_offsets(text)
    if lib is not None and len(lib) == len(ids):
        return [a for a, _ in lib], [b for _, b in lib], texts, False
    # Estimate: spread the tokens over the text by the length of their decoded text.
    starts, ends = [], []
    pos = 0
    n = len(text)
    for t in texts:
        starts.append(min(pos, n))
        pos += len(t)
        ends.append(min(pos, n))
    return starts, ends, texts, False


def check_text(text: Any, tokenizer: str = "", *, field: str = "text") -> str:
    """Return ``text`` if it can be tokenized by ``tokenizer``; InputError naming ``field`` otherwise."""
    if not isinstance(text, str):
        raise InputError(field, text, "a str")
    # Lone surrogates cannot be UTF-8 encoded, which every tokenizer but CLIP's cleaning needs.
    if tokenizer != "clip":
        bad = SURROGATE_RE.search(text)
        if bad:
            raise InputError(
                field, text, "text without lone surrogates (U+D800-U+DFFF)",
                hint=f"found U+{ord(bad.group()):04X} at character {bad.start()}",
            )  # fmt: skip
    return text


def tokenize(
    text: str, model: str | TextModel | ImageModel, *, bos: bool = False, tier: str | int = "opus"
) -> Tokenization:
    """Return the :class:`Tokenization` of ``text`` for ``model`` (ids, pieces, offsets, display).

    ``bos=True`` starts an Erato (llama3) prompt with ``<|begin_of_text|>`` (128000); other tokenizers
    have no prompt BOS and ignore it. ``tier`` picks the context size shown for text models.
    Raises InputError for an unknown model. T5 (V4+ image prompts) ends with ``</s>`` and drops
    ``[]{}`` and weight syntax first, as NovelAI's counter does.
    """
    target = resolve(model)
    text = check_text(text, target.tokenizer)
    backend = registry.backend(target.tokenizer, target.label)
    limit, chunk, limit_from = limits(target, tier)
    if isinstance(backend, (ClipBackend, T5Backend)):
        ids, spans = backend.tokenize_spans(text)
        texts = [backend.token_bytes(i).decode("utf-8", "backslashreplace").replace("</w>", "") for i in ids]
        starts = [a for a, _ in spans]
        ends = [b for _, b in spans]
        # T5 drops brackets and weights and normalises (NFKC), so its spans are exact only when the
        # pieces spell the text itself.
        exact = not isinstance(backend, T5Backend) or "".join(texts[:-1]).lstrip() == text
    else:
        ids = backend.encode(text)
        starts, ends, texts, exact = _offsets(backend, text, ids)
    pieces = backend.pieces(ids)
    if bos and target.tokenizer == "llama3":
        ids = [LLAMA3_BOS, *ids]
        pieces = ["<|begin_of_text|>", *pieces]
        texts = ["<|begin_of_text|>", *texts]
        starts = [0, *starts]
        ends = [0, *ends]
    return Tokenization(
        text, target.label, target.tokenizer, ids, pieces, texts, starts, ends, backend.special_ids,
        exact_offsets=exact, limit=limit, chunk=chunk, limit_from=limit_from,
    )  # fmt: skip


def encode(text: str, model: str | TextModel | ImageModel, *, bos: bool = False) -> list[int]:
    """Return the token ids of ``text`` for ``model`` (the same ids NovelAI uses).

    ``bos=True`` prepends llama3's ``<|begin_of_text|>`` (128000) for an Erato prompt; never use it for
    stop sequences, bias phrases, bans or whitelists. Other tokenizers ignore ``bos``.
    """
    return encode_for(resolve(model), text, bos=bos)


def encode_for(target: Target, text: str, *, bos: bool = False) -> list[int]:
    """Return the token ids of ``text`` for a resolved ``target`` (see :func:`encode`)."""
    text = check_text(text, target.tokenizer)
    ids = registry.backend(target.tokenizer, target.label).encode(text)
    if bos and target.tokenizer == "llama3":
        ids.insert(0, LLAMA3_BOS)
    return ids


def _check_ids(ids: Any, backend: Backend, label: str) -> list[int]:
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise InputError("ids", ids, "a list of token ids (int)")
    out = list(ids)
    for i in out:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < backend.vocab_size:
            raise InputError(
                "ids", ids, f"token ids from 0 to {backend.vocab_size - 1} for {label} ({backend.name})",
                hint=f"{i!r} is not one",
            )  # fmt: skip
    return out


def decode(ids: Iterable[int], model: str | TextModel | ImageModel) -> str:
    """Return the text that the token ``ids`` spell for ``model`` (special tokens kept as their text)."""
    target = resolve(model)
    backend = registry.backend(target.tokenizer, target.label)
    return backend.decode(_check_ids(ids, backend, target.label))


def token_bytes(ids: Iterable[int], model: str | TextModel | ImageModel) -> bytes:
    """Return the raw UTF-8 bytes the token ``ids`` stand for (a token may hold part of a character)."""
    target = resolve(model)
    backend = registry.backend(target.tokenizer, target.label)
    return b"".join(backend.token_bytes(i) for i in _check_ids(ids, backend, target.label))


def tokenization_from_ids(
    ids: Iterable[int], model: str | TextModel | ImageModel, *, tier: str | int = "opus"
) -> Tokenization:
    """Return the :class:`Tokenization` of existing token ids (a generation's output, say).

    Its ``text`` is what the ids spell (incomplete UTF-8 at the end shows as U+FFFD).
    """
    target = resolve(model)
    backend = registry.backend(target.tokenizer, target.label)
    ids = _check_ids(ids, backend, target.label)
    text = b"".join(backend.token_bytes(i) for i in ids).decode("utf-8", "replace")
    if isinstance(backend, ClipBackend):
        text = text.replace("</w>", " ")
    starts, ends, texts, exact = _offsets(backend, text, ids)
    limit, chunk, limit_from = limits(target, tier)
    return Tokenization(
        text, target.label, target.tokenizer, ids, backend.pieces(ids), texts, starts, ends,
        backend.special_ids, exact_offsets=exact, limit=limit, chunk=chunk, limit_from=limit_from,
    )  # fmt: skip


def count(text: str, model: str | TextModel | ImageModel, *, bos: bool = False) -> int:
    """Return how many tokens ``text`` takes for ``model``.

    For V4+ image models (T5) the count includes the closing ``</s>``, as the website's 512-token
    limit does. Raises TokenizerUnavailable if a tokenizer's data file is missing; :func:`budget` and
    :func:`count_table` show "unavailable" instead of raising.
    """
    return len(encode(text, model, bos=bos))


def _texts(texts: Any, tokenizer: str) -> list[str]:
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Iterable):
        raise InputError("texts", texts, "a list (or pandas Series, or other iterable) of str")
    items = list(texts)
    # The common case checked for the whole batch at once: all str, and (but for CLIP) UTF-8 encodes,
    # which strict UTF-8 does exactly when no text holds a lone surrogate. Otherwise the text-by-text
    # check finds the first bad item and names it.
    if all(isinstance(t, str) for t in items):
        if tokenizer == "clip":
            return items
        try:
            "".join(items).encode("utf-8")
        except UnicodeEncodeError:
            pass
        else:
            return items
    return [check_text(t, tokenizer, field=f"texts[{k}]") for k, t in enumerate(items)]


def encode_many(
    texts: Iterable[str], model: str | TextModel | ImageModel, *, bos: bool = False
) -> list[list[int]]:
    """Return the token ids of each of ``texts`` for ``model``: the same lists as :func:`encode` one by one.

    ``texts`` is a list, a pandas Series (a DataFrame column) or any iterable of str. The whole batch
    goes to the tokenizer library at once, which encodes it on every core (HF ``tokenizers``'
    ``encode_batch``, ``sentencepiece`` with one thread per core), each distinct word-sized chunk once
    (a column repeats its words); CLIP, written in Python, encodes one text after the other.
    ``bos=True`` starts each Erato (llama3) list with ``<|begin_of_text|>``.
    """
    target = resolve(model)
    items = _texts(texts, target.tokenizer)
    out = registry.backend(target.tokenizer, target.label).encode_many(items)
    if bos and target.tokenizer == "llama3":
        out = [[LLAMA3_BOS, *ids] for ids in out]
    return out


def count_many(texts: Iterable[str], model: str | TextModel | ImageModel, *, bos: bool = False) -> list[int]:
    """Return how many tokens each of ``texts`` takes for ``model`` (a list, in the order of ``texts``).

    The batch form of :func:`count` (see :func:`encode_many`): ``df["tokens"] = count_many(df["text"],
    "kayra")`` counts a DataFrame column at once.
    """
    target = resolve(model)
    items = _texts(texts, target.tokenizer)
    counts = registry.backend(target.tokenizer, target.label).count_many(items)
    if bos and target.tokenizer == "llama3":
        counts = [n + 1 for n in counts]
    return counts
