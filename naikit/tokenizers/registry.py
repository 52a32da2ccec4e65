"""The loaded tokenizers: each made on first use, once per process, shared by every model that uses it."""

from __future__ import annotations

import threading

from ..errors import NaikitError
from .backend import Backend
from .clip import ClipBackend
from .huggingface import HFBackend
from .nerdstash import SPBackend
from .t5 import T5Backend

__all__ = ["TokenizerUnavailable", "backend", "loaded_tokenizers"]


class TokenizerUnavailable(NaikitError, LookupError):
    """The tokenizer for this model is not shipped, so no token count can be given.

    Every tokenizer NovelAI uses is shipped today (T5 since naikit carries Google's T5 v1.1 model);
    the error stays for data files a trimmed install may leave out.
    """

    def __init__(self, model: str, tokenizer: str):
        self.model = model
        self.tokenizer = tokenizer
        if tokenizer == "glm4":
            why = (
                f"no GLM tokenizer is available for {model}: GLM-4.6 and Xialong use zai-org's GLM-4.5/4.6 "
                "tokenizer, whose tokenizer.json no package or repository naikit could find "
                "redistributes, so "
                "naikit counts their tokens with the server's /oa/v1/internal/token-count endpoint "
                "instead: nai.count_tokens(text, model) or nai.token_ids(text, model)"
            )
        else:
            why = (
                f"no {tokenizer} tokenizer is available for {model}: its data file is not installed, so "
                "naikit reports the count as unavailable rather than guess it"
            )
        super().__init__(why)


_LOCK = threading.Lock()
_BACKENDS: dict[str, Backend] = {}


def backend(tokenizer: str, label: str) -> Backend:
    """Return the loaded ``tokenizer`` (loading it on first use); TokenizerUnavailable names ``label``
    when it is not shipped."""
    got = _BACKENDS.get(tokenizer)
    if got is not None:
        return got
    if tokenizer == "glm4":
        raise TokenizerUnavailable(label, tokenizer)
    with _LOCK:
        got = _BACKENDS.get(tokenizer)
        if got is None:
            # Each backend imports its library (tokenizers, sentencepiece) only when it is constructed.
            if tokenizer in ("nerdstash_v1", "nerdstash_v2"):
                got = SPBackend(tokenizer)
            elif tokenizer == "clip":
                got = ClipBackend()
            elif tokenizer == "t5":
                got = T5Backend()
            else:
                got = HFBackend(tokenizer)
            _BACKENDS[tokenizer] = got
    return got


def loaded_tokenizers() -> list[str]:
    """Return the names of the tokenizers loaded so far in this process (each loads on first use)."""
    return sorted(_BACKENDS)
