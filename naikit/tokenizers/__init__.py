"""Every NovelAI tokenizer, loaded lazily per model, with the token ids NovelAI uses.

``tokenize(text, model)`` returns a :class:`Tokenization` (ids, pieces, character offsets into the
original text, ``to_frame()``, HTML display); ``encode``/``decode``/``count`` are the short forms;
``tokens_to_b64``/``b64_to_tokens`` convert to and from the API's base64 token strings with the right
width per model (uint16 little-endian, uint32 for Erato). ``model`` is an API value (``kayra-v1``,
``llama-3-erato-v1``, ``nai-diffusion-3``), a short name (``kayra``, ``erato``, ``v3``) or a tokenizer
name (``gpt2``, ``pile``, ``nerdstash_v2``, ``llama3``, ``clip``). Tokenization needs no account.

Which library runs which tokenizer (data files in ``naikit/data/tokenizers``, see its NOTICE):

=============  ==================================  ======================================
tokenizer      models                              engine
=============  ==================================  ======================================
gpt2           Sigurd, Euterpe, Snek, HypeBot,     HF ``tokenizers`` (byte-level BPE)
               Inline
gpt2-genji     Genji                               HF ``tokenizers``
pile           Krake                               HF ``tokenizers`` (NFC-normalises input)
nerdstash_v1   Clio                                ``sentencepiece``
nerdstash_v2   Kayra                               ``sentencepiece``
llama3         Erato                               HF ``tokenizers``
clip           image models V1-V3                  naikit (pure Python BPE)
t5             image models V4+                    ``sentencepiece`` (T5 v1.1, EOS appended)
=============  ==================================  ======================================

Where naikit differs from ``novelai-api`` 0.34.1 on purpose (each case has a test):

* SentencePiece special strings ``<|pad|>``, ``<|unk|>``, ``<|startoftext|>``, ``<|endoftext|>``
  map to ids 0-3 without dropping the character that follows each literal.
* llama3 encodes without the BOS token (128000); ``bos=True`` puts it in front of a prompt. Stop
  sequences, bias phrases, bans and whitelists must not start with BOS.
* ``decode`` keeps special tokens (``<|endoftext|>``, ``<|begin_of_text|>``) in the text, so that
  ``decode(encode(x)) == x``; ``novelai-api`` drops them on the HF tokenizers.
* ``encode_many``/``count_many`` take many texts at once (a DataFrame column) and give the same ids
  as one by one; novelai-api has no batch form.

The package's modules, one idea each: ``targets`` (model names, widths, limits), ``registry`` (loading
each tokenizer once), ``huggingface``, ``nerdstash``, ``t5`` and ``clip`` (the backends; ``clip_cleaning``
and ``spans`` for CLIP's text cleaning), ``bytelevel`` (byte-level pieces, partial UTF-8), ``encoding``
(one text or many), ``results`` (:class:`Tokenization`), ``view`` (its HTML), ``budgets``, ``base64_ids``,
``logprobs`` and ``commands`` (the CLI). Importing the package loads no tokenizer library: each
tokenizer loads its library and data file on first use.
"""

from __future__ import annotations

from .base64_ids import b64_to_tokens, tokens_to_b64
from .budgets import TokenBudget, budget, count_table
from .bytelevel import readable_bytes
from .commands import register_cli
from .encoding import (
    count,
    count_many,
    decode,
    encode,
    encode_many,
    token_bytes,
    tokenization_from_ids,
    tokenize,
)
from .logprobs import Candidate, LogprobStep, parse_logprobs
from .registry import TokenizerUnavailable, loaded_tokenizers
from .results import Tokenization, TokenSpan
from .targets import LLAMA3_BOS, canonical_name, context_limit, known_models, token_width, tokenizer_for

__all__ = [
    "Tokenization",
    "TokenSpan",
    "TokenBudget",
    "TokenizerUnavailable",
    "tokenize",
    "encode",
    "encode_many",
    "decode",
    "count",
    "count_many",
    "budget",
    "count_table",
    "context_limit",
    "tokens_to_b64",
    "b64_to_tokens",
    "token_bytes",
    "readable_bytes",
    "tokenization_from_ids",
    "token_width",
    "tokenizer_for",
    "canonical_name",
    "known_models",
    "loaded_tokenizers",
    "parse_logprobs",
    "LogprobStep",
    "Candidate",
    "register_cli",
    "LLAMA3_BOS",
]
