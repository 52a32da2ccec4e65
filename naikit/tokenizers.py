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
clip           image models V1-V3                  this module (pure Python BPE)
t5             image models V4+                    ``sentencepiece`` (T5 v1.1, EOS appended)
=============  ==================================  ======================================

Where naikit differs from ``novelai-api`` 0.34.1 on purpose (each case has a test):

* SentencePiece special strings ``<|pad|>``, ``<|unk|>``, ``<|startoftext|>``, ``<|endoftext|>``
  map to ids 0-3 without dropping the character that follows each literal.
* llama3 encodes without the BOS token (128000); ``bos=True`` puts it in front of a prompt. Stop
  sequences, bias phrases, bans and whitelists must not start with BOS.
* ``decode`` keeps special tokens (``<|endoftext|>``, ``<|begin_of_text|>``) in the text, so that
  ``decode(encode(x)) == x``; ``novelai-api`` drops them on the HF tokenizers.

CLIP normalisation: OpenAI's tokenizer runs ``ftfy.fix_text`` first. ftfy is not a dependency, so
naikit applies the same fixes except mojibake repair (``fix_encoding``): HTML entities (unless the
text has a ``<``), C1 controls read as Windows-1252, Latin ligatures, full/half-width forms, curly
quotes, line breaks, surrogates, terminal escapes, control characters and NFC, repeated until
nothing changes. Text that ftfy would treat as mojibake (say ``"cafÃ©"``) therefore tokenizes as
written. Letter and number classes come from Python's ``unicodedata`` (the ``regex`` module used by
the reference may know a newer Unicode version).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import codecs
import gzip
import html
import re
import sys
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from html.entities import html5 as _HTML5
from importlib import resources
from typing import TYPE_CHECKING, Any

from .errors import InputError, NaikitError
from .novelai.models import (
    IMAGE_MODELS,
    OA_MODELS,
    TEXT_MODELS,
    TOKENIZERS,
    ImageModel,
    TextModel,
    find_model,
    tier_name,
)

if TYPE_CHECKING:  # pragma: no cover
    import argparse

    import pandas as pd

__all__ = [
    "Tokenization",
    "Token",
    "TokenBudget",
    "TokenizerUnavailable",
    "tokenize",
    "encode",
    "decode",
    "count",
    "budget",
    "count_table",
    "context_limit",
    "tokens_to_b64",
    "b64_to_tokens",
    "token_bytes",
    "tokenization_from_ids",
    "token_width",
    "tokenizer_for",
    "canonical_name",
    "known_models",
    "loaded_tokenizers",
    "register_cli",
    "LLAMA3_BOS",
]

#: llama3's ``<|begin_of_text|>``: NovelAI's Erato prompts start with it.
LLAMA3_BOS = 128000

_SP_SPECIALS: dict[str, int] = {"<|pad|>": 0, "<|unk|>": 1, "<|startoftext|>": 2, "<|endoftext|>": 3}
_SP_SPECIAL_RE = re.compile("|".join(re.escape(k) for k in _SP_SPECIALS))

_FILES: dict[str, str] = {
    "gpt2": "gpt2_tokenizer.json.gz",
    "gpt2-genji": "gpt2-genji_tokenizer.json.gz",
    "pile": "pile_tokenizer.json.gz",
    "llama3": "llama3.json.gz",
    "nerdstash_v1": "nerdstash_v1.model.gz",
    "nerdstash_v2": "nerdstash_v2.model.gz",
    "clip": "bpe_simple_vocab_16e6.txt.gz",
    "t5": "t5_spiece.model.gz",
}


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


# --------------------------------------------------------------------------------------------------
# Model resolution


@dataclass(frozen=True)
class _Target:
    label: str  # API value, or the tokenizer name when a tokenizer was named directly
    tokenizer: str
    model: TextModel | ImageModel | None


def _resolve(model: Any) -> _Target:
    if isinstance(model, _Target):
        return model
    if isinstance(model, str) and model.strip().lower() in TOKENIZERS:
        name = model.strip().lower()
        return _Target(name, name, None)
    try:
        found = find_model(model)
    except InputError:
        listing = ", ".join(
            [f"{m.value} ({m.short})" for m in (*TEXT_MODELS, *OA_MODELS, *IMAGE_MODELS)] + list(TOKENIZERS)
        )
        raise InputError(
            "model", model, f"a model or tokenizer name: {listing}", hint="Names are case-insensitive."
        ) from None
    if isinstance(found, TextModel):
        return _Target(found.value, found.tokenizer, found)
    return _Target(found.value, found.prompt_tokenizer, found)


def tokenizer_for(model: str | TextModel | ImageModel) -> str:
    """Return the tokenizer name ("nerdstash_v2", "llama3", "clip", ...) that ``model`` uses."""
    return _resolve(model).tokenizer


def canonical_name(model: str | TextModel | ImageModel) -> str:
    """Return the API value for ``model``, or the tokenizer name when one was given; InputError if unknown."""
    return _resolve(model).label


def known_models() -> list[str]:
    """Return every accepted model name: API values and short names, then the tokenizer names."""
    names = [n for m in (*TEXT_MODELS, *OA_MODELS, *IMAGE_MODELS) for n in (m.value, m.short)]
    return names + list(TOKENIZERS)


def token_width(model: str | TextModel) -> int:
    """Return how many bytes one token takes in the API's base64 strings: 2, or 4 for Erato (llama3)."""
    target = _resolve(model)
    if isinstance(target.model, ImageModel) or target.tokenizer in ("clip", "t5"):
        raise InputError(
            "model", target.label, "a text model (image prompts are sent as text, not base64 tokens)"
        )
    if isinstance(target.model, TextModel):
        return target.model.token_bytes
    return 4 if target.tokenizer == "llama3" else 2


# --------------------------------------------------------------------------------------------------
# Backends (loaded on first use, one per tokenizer, shared by every model that uses it)


def _data(name: str) -> bytes:
    return resources.files("naikit").joinpath("data").joinpath("tokenizers").joinpath(name).read_bytes()


def _byte_decoder() -> dict[str, int]:
    # GPT-2's reversible byte <-> printable-character table: printable Latin-1 bytes stand for
    # themselves, the rest are shifted to U+0100 and up in byte order.
    keep = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {chr(b): b for b in keep}
    shift = 0
    for b in range(256):
        if b not in table.values():
            table[chr(256 + shift)] = b
            shift += 1
    return table


_BYTE_DECODER = _byte_decoder()
_BYTE_ENCODER = {b: c for c, b in _BYTE_DECODER.items()}


class _Backend:
    name: str
    vocab_size: int
    special_ids: frozenset[int]

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Sequence[int]) -> str:
        raise NotImplementedError

    def pieces(self, ids: Sequence[int]) -> list[str]:
        raise NotImplementedError

    def token_bytes(self, token_id: int) -> bytes:
        raise NotImplementedError

    def library_offsets(self, text: str) -> list[tuple[int, int]] | None:
        return None


class _HFBackend(_Backend):
    def __init__(self, name: str):
        import tokenizers  # heavy: only when a model that needs it is used

        self.name = name
        self._tok = tokenizers.Tokenizer.from_str(gzip.decompress(_data(_FILES[name])).decode("utf-8"))
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)
        added = self._tok.get_added_tokens_decoder()
        self._added = {i: t.content for i, t in added.items()}
        self.special_ids = frozenset(i for i, t in added.items() if t.special)
        self._bytes: dict[int, bytes] = {}

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)

    def pieces(self, ids: Sequence[int]) -> list[str]:
        get = self._tok.id_to_token
        return [get(i) or "" for i in ids]

    def token_bytes(self, token_id: int) -> bytes:
        got = self._bytes.get(token_id)
        if got is None:
            if token_id in self._added:
                got = self._added[token_id].encode("utf-8")
            else:
                piece = self._tok.id_to_token(token_id) or ""
                if all(c in _BYTE_DECODER for c in piece):
                    got = bytes(_BYTE_DECODER[c] for c in piece)
                else:  # not a byte-level piece; none of the shipped files has one
                    got = piece.encode("utf-8")
            self._bytes[token_id] = got
        return got

    def library_offsets(self, text: str) -> list[tuple[int, int]] | None:
        return list(self._tok.encode(text, add_special_tokens=False).offsets)


class _SPBackend(_Backend):
    """SentencePiece with NovelAI's four special literals spliced in as ids 0-3."""

    def __init__(self, name: str):
        import sentencepiece  # heavy: only when a model that needs it is used

        self.name = name
        self._sp = sentencepiece.SentencePieceProcessor(model_proto=gzip.decompress(_data(_FILES[name])))
        self.vocab_size = self._sp.get_piece_size()
        self.special_ids = frozenset(_SP_SPECIALS.values())
        self._literal = {v: k for k, v in _SP_SPECIALS.items()}
        self._bytes: dict[int, bytes] = {}

    def encode(self, text: str) -> list[int]:
        # SentencePiece cannot encode these literals itself, so the text is cut at each one and the
        # pieces in between are encoded alone, exactly as novelai-api does, but keeping every character.
        out: list[int] = []
        pos = 0
        for m in _SP_SPECIAL_RE.finditer(text):
            if m.start() > pos:
                out += self._sp.encode(text[pos : m.start()])
            out.append(_SP_SPECIALS[m.group()])
            pos = m.end()
        if pos < len(text):
            out += self._sp.encode(text[pos:])
        return out

    def decode(self, ids: Sequence[int]) -> str:
        parts: list[str] = []
        run: list[int] = []
        for i in ids:
            if i in self._literal:
                if run:
                    parts.append(self._sp.decode(run))
                    run = []
                parts.append(self._literal[i])
            else:
                run.append(i)
        if run:
            parts.append(self._sp.decode(run))
        return "".join(parts)

    def pieces(self, ids: Sequence[int]) -> list[str]:
        return [self._literal[i] if i in self._literal else self._sp.id_to_piece(i) for i in ids]

    def token_bytes(self, token_id: int) -> bytes:
        got = self._bytes.get(token_id)
        if got is None:
            if token_id in self._literal:
                got = self._literal[token_id].encode("utf-8")
            elif self._sp.is_byte(token_id):
                got = bytes([int(self._sp.id_to_piece(token_id)[3:5], 16)])
            else:
                got = self._sp.id_to_piece(token_id).replace("\u2581", " ").encode("utf-8")
            self._bytes[token_id] = got
        return got


# --- T5 -------------------------------------------------------------------------------------------

# What the website removes from a V4+ prompt before it counts T5 tokens: brackets and braces
# (emphasis) and the number of a weight group ("1.5::" and the closing "::").
_T5_STRIP = re.compile(r"[\[\]{}]|-?\d*\.?\d*::")


class _T5Backend(_Backend):
    """Google's T5 v1.1 SentencePiece model (32,000 pieces), as NovelAI counts V4+ image prompts.

    Like the website's counter it drops ``[]{}`` and weight syntax (``1.5::``, ``::``) first and ends
    every encoding with ``</s>`` (id 1), the token that NovelAI's 512-token limit includes.
    """

    name = "t5"
    EOS = 1

    def __init__(self) -> None:
        import sentencepiece  # heavy: only when a model that needs it is used

        self._sp = sentencepiece.SentencePieceProcessor(model_proto=gzip.decompress(_data(_FILES["t5"])))
        self.vocab_size = self._sp.get_piece_size()
        self.special_ids = frozenset((0, self.EOS, 2))  # <pad>, </s>, <unk>

    def tokenize_spans(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Return ids (ending with ``</s>``) and, per id, the span of ``text`` it came from.

        SentencePiece never joins across whitespace, so each word is encoded alone (checked against
        the whole encoding) and its pieces share the word's characters in order.
        """
        s = _Spanned.of(text).sub(_T5_STRIP, lambda m: "")
        whole = self._sp.encode(s.text)
        ids: list[int] = []
        spans: list[tuple[int, int]] = []
        for m in re.finditer(r"\S+", s.text):
            a, end = m.span()
            word = self._sp.encode(m.group())
            for k, tid in enumerate(word):
                n = len(self._sp.id_to_piece(tid).lstrip("\u2581"))
                b = end if k == len(word) - 1 else min(end, a + max(n, 0))
                spans.append(s._span(a, b))
                a = b
            ids += word
        if ids != whole:  # whitespace the normaliser made (NFKC): spread the tokens over the text
            ids = whole
            spans = [(0, len(text))] * len(whole)
        ids.append(self.EOS)
        spans.append((len(text), len(text)))
        return ids, spans

    def encode(self, text: str) -> list[int]:
        return self.tokenize_spans(text)[0]

    def decode(self, ids: Sequence[int]) -> str:
        return b"".join(self.token_bytes(i) for i in ids).decode("utf-8", "replace")

    def pieces(self, ids: Sequence[int]) -> list[str]:
        return [self._sp.id_to_piece(i) for i in ids]

    def token_bytes(self, token_id: int) -> bytes:
        piece = self._sp.id_to_piece(token_id)
        if token_id in self.special_ids:
            return piece.encode("utf-8")
        return piece.replace("\u2581", " ").encode("utf-8")


# --- CLIP -----------------------------------------------------------------------------------------

# Unicode White_Space (what the reference's regex-module ``\s`` matches) plus the C0 separators that
# Python's str.isspace() also counts; the latter are removed by the control-character step anyway.
_WS = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_WS_RUN = re.compile(f"[{_WS}]+")
_ENTITY_RE = re.compile(r"&#?[0-9A-Za-z]{1,24};")
_HTML_REF_RE = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")
_C1_RE = re.compile("[\x80-\x9f]")
_LINE_BREAK_RE = re.compile("\r\n|[\r\u2028\u2029\x85]")
_SURROGATE_PAIR_RE = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Quotes that ftfy straightens, Latin ligatures and digraphs it splits, controls it removes.
_QUOTES = {0x02BC: "'", **{c: "'" for c in range(0x2018, 0x201C)}, **{c: '"' for c in range(0x201C, 0x2020)}}
_LIGATURES = {
    0x0132: "IJ", 0x0133: "ij", 0x0149: "\u02bcn", 0x01F1: "DZ", 0x01F2: "Dz", 0x01F3: "dz",
    0x01C4: "D\u017d", 0x01C5: "D\u017e", 0x01C6: "d\u017e", 0x01C7: "LJ", 0x01C8: "Lj", 0x01C9: "lj",
    0x01CA: "NJ", 0x01CB: "Nj", 0x01CC: "nj", 0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi",
    0xFB04: "ffl", 0xFB05: "\u017ft", 0xFB06: "st",
}  # fmt: skip
_CONTROLS: dict[int, None] = dict.fromkeys(
    [
        *range(0x00, 0x09),
        0x0B,
        *range(0x0E, 0x20),
        0x7F,
        *range(0x206A, 0x2070),
        0xFEFF,
        *range(0xFFF9, 0xFFFD),
    ]
)


def _width_map() -> dict[int, str]:
    table = {0x3000: " "}
    for cp in range(0xFF01, 0xFFF0):
        alt = unicodedata.normalize("NFKC", chr(cp))
        if alt != chr(cp):
            table[cp] = alt
    return table


class _Spanned:
    """A string and, for each of its characters, the [start, end) span of the original text it came from.

    Spans only ever grow monotonically along the string, so a range of characters maps back to
    ``(starts[a], ends[b - 1])``.
    """

    __slots__ = ("text", "starts", "ends")

    def __init__(self, text: str, starts: list[int], ends: list[int]):
        self.text = text
        self.starts = starts
        self.ends = ends

    @classmethod
    def of(cls, text: str) -> _Spanned:
        return cls(text, list(range(len(text))), list(range(1, len(text) + 1)))

    def _span(self, a: int, b: int) -> tuple[int, int]:
        if a < b:
            return self.starts[a], self.ends[b - 1]
        edge = self.starts[a] if a < len(self.text) else (self.ends[-1] if self.text else 0)
        return edge, edge

    def sub(
        self, pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str], stop: int | None = None
    ) -> _Spanned:
        text = self.text
        out: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        pos = 0
        end = len(text) if stop is None else stop
        for m in pattern.finditer(text, 0, end):
            a, b = m.span()
            new = repl(m)
            if new == text[a:b]:
                continue
            out.append(text[pos:a])
            starts += self.starts[pos:a]
            ends += self.ends[pos:a]
            s, e = self._span(a, b)
            out.append(new)
            starts += [s] * len(new)
            ends += [e] * len(new)
            pos = b
        if not out:
            return self
        out.append(text[pos:])
        starts += self.starts[pos:]
        ends += self.ends[pos:]
        return _Spanned("".join(out), starts, ends)

    def translate(self, table: dict[int, Any]) -> _Spanned:
        if self.text.translate(table) == self.text:
            return self
        out: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        for ch, s, e in zip(self.text, self.starts, self.ends, strict=False):
            new = ch.translate(table)
            out.append(new)
            starts += [s] * len(new)
            ends += [e] * len(new)
        return _Spanned("".join(out), starts, ends)

    def lower(self) -> _Spanned:
        low = self.text.lower()
        if len(low) == len(self.text):
            return _Spanned(low, self.starts, self.ends)
        starts: list[int] = []
        ends: list[int] = []
        for ch, s, e in zip(self.text, self.starts, self.ends, strict=False):
            n = len(ch.lower())
            starts += [s] * n
            ends += [e] * n
        return _Spanned(low, starts, ends)

    def nfc(self) -> _Spanned:
        if unicodedata.is_normalized("NFC", self.text):
            return self
        # Compose cluster by cluster (a starter and what may attach to it) so that spans survive.
        out: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        text = self.text
        i = 0
        while i < len(text):
            j = i + 1
            # A cluster takes the marks that follow (combining class > 0) and the starters that can
            # compose with what precedes them (Hangul jamo, U+09BE after U+09C7, ...): NFC joins those too.
            joins = _nfc_joiners()
            while j < len(text) and (unicodedata.combining(text[j]) or text[j] in joins):
                j += 1
            new = unicodedata.normalize("NFC", text[i:j])
            s, e = self._span(i, j)
            out.append(new)
            starts += [s] * len(new)
            ends += [e] * len(new)
            i = j
        return _Spanned("".join(out), starts, ends)

    def strip(self) -> _Spanned:
        m = re.match(f"[{_WS}]*", self.text)
        a = m.end() if m else 0
        b = len(self.text)
        while b > a and re.match(f"[{_WS}]", self.text[b - 1]):
            b -= 1
        if a == 0 and b == len(self.text):
            return self
        return _Spanned(self.text[a:b], self.starts[a:b], self.ends[a:b])


_NFC_JOINERS: frozenset[str] | None = None


def _nfc_joiners() -> frozenset[str]:
    """Return the characters of combining class 0 that NFC may compose with the character before them.

    These are the second halves of canonical compositions whose second character is a starter
    (Unicode's NFC_Quick_Check=Maybe starters), read from ``unicodedata`` once, plus the Hangul medial
    and final jamo (Hangul syllables compose algorithmically, without decomposition entries).
    """
    global _NFC_JOINERS
    if _NFC_JOINERS is None:
        found = {chr(cp) for cp in range(0x1160, 0x1200)}
        for cp in range(sys.maxunicode + 1):
            d = unicodedata.decomposition(chr(cp))
            if not d or d.startswith("<"):
                continue
            parts = d.split()
            if len(parts) != 2:
                continue
            a, b = (chr(int(x, 16)) for x in parts)
            if not unicodedata.combining(b) and unicodedata.normalize("NFC", a + b) == chr(cp):
                found.add(b)
        _NFC_JOINERS = frozenset(found)
    return _NFC_JOINERS


def _ftfy_entity(m: re.Match[str]) -> str:
    ref = m.group()
    name = ref[1:]
    entities = _HTML5
    if name in entities:
        return entities[name]
    if name.startswith("#"):
        out = html.unescape(ref)
        return ref if ";" in out else out
    # All-caps spellings of lower-case entity names (P&EACUTE;REZ), when not an entity themselves.
    low = name.lower()
    if name == name.upper() and low in entities and html.unescape(ref) == ref:
        return entities[low].upper()
    return ref


def _c1(m: re.Match[str]) -> str:
    try:
        return bytes([ord(m.group())]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D have no Windows-1252 meaning
        return m.group()


def _surrogate_pair(m: re.Match[str]) -> str:
    hi, lo = (ord(c) for c in m.group())
    return chr(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))


class _ClipBackend(_Backend):
    """OpenAI CLIP's BPE (vocabulary 49408), written for naikit on the standard library's ``re``."""

    name = "clip"
    vocab_size = 49408
    SOT = 49406
    EOT = 49407

    def __init__(self) -> None:
        lines = gzip.decompress(_data(_FILES["clip"])).decode("utf-8").split("\n")
        # CLIP uses the first 48894 merges after the header line: 256 bytes + 256 word-final bytes +
        # 48894 merges + 2 specials = 49408 ids.
        merges = [tuple(line.split()) for line in lines[1 : 1 + 48894]]
        byte_chars = [_BYTE_ENCODER[b] for b in sorted(_BYTE_ENCODER, key=_byte_order)]
        vocab = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(p) for p in merges]
        vocab += ["<|startoftext|>", "<|endoftext|>"]
        self._ids = {piece: i for i, piece in enumerate(vocab)}
        self._vocab = vocab
        self._ranks = {pair: r for r, pair in enumerate(merges)}
        self._cache: dict[str, tuple[str, ...]] = {}
        self.special_ids = frozenset((self.SOT, self.EOT))
        self._width = _width_map()
        self._pattern = _clip_pattern()

    # -- normalisation (see the module docstring for what differs from ftfy)

    def normalize(self, text: str) -> _Spanned:
        s = _Spanned.of(text)
        # ftfy leaves HTML alone from the first line that contains "<" onwards.
        first_lt = text.find("<")
        html_stop_orig = len(text) if first_lt < 0 else text.rfind("\n", 0, first_lt) + 1
        for _ in range(16):
            before = s.text
            stop = bisect.bisect_left(s.starts, html_stop_orig)
            if stop:
                s = s.sub(_ENTITY_RE, _ftfy_entity, stop)
            s = s.sub(_C1_RE, _c1)
            s = s.translate(_LIGATURES)
            s = s.translate(self._width)
            s = s.translate(_QUOTES)
            s = s.sub(_LINE_BREAK_RE, lambda m: "\n")
            if _SURROGATE_RE.search(s.text):
                s = s.sub(_SURROGATE_PAIR_RE, _surrogate_pair)
                s = s.sub(_SURROGATE_RE, lambda m: "\ufffd")
            s = s.sub(_ANSI_RE, lambda m: "")
            s = s.translate(_CONTROLS)
            s = s.nfc()
            if s.text == before:
                break
        # Then CLIP's own cleaning: HTML-unescape twice, collapse whitespace, lower-case.
        for _ in range(2):
            if "&" in s.text:
                s = s.sub(_HTML_REF_RE, lambda m: html.unescape(m.group()))
        s = s.strip()
        s = s.sub(_WS_RUN, lambda m: " ")
        return s.lower()

    # -- BPE

    def _bpe(self, word: str) -> tuple[str, ...]:
        got = self._cache.get(word)
        if got is not None:
            return got
        parts = [*word[:-1], word[-1] + "</w>"]
        ranks = self._ranks
        while len(parts) > 1:
            best_rank = None
            best = -1
            for i in range(len(parts) - 1):
                r = ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best_rank, best = r, i
            if best < 0:
                break
            first, second = parts[best], parts[best + 1]
            merged: list[str] = []
            i = 0
            while i < len(parts):
                if i + 1 < len(parts) and parts[i] == first and parts[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        result = tuple(parts)
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[word] = result
        return result

    def tokenize_spans(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Return ids and, per id, the span of ``text`` it came from."""
        norm = self.normalize(text)
        ids: list[int] = []
        spans: list[tuple[int, int]] = []
        for m in self._pattern.finditer(norm.text):
            word = m.group()
            a = m.start()
            if word == "<|startoftext|>" or word == "<|endoftext|>":
                ids.append(self.SOT if word == "<|startoftext|>" else self.EOT)
                spans.append(norm._span(a, m.end()))
                continue
            raw = word.encode("utf-8")
            # which character of the word each byte belongs to
            owner: list[int] = []
            for k, ch in enumerate(word):
                owner += [k] * len(ch.encode("utf-8"))
            pos = 0
            for piece in self._bpe("".join(_BYTE_ENCODER[b] for b in raw)):
                ids.append(self._ids[piece])
                n = len(piece) - (4 if piece.endswith("</w>") else 0)
                c0, c1 = owner[pos], owner[pos + n - 1]
                spans.append(norm._span(a + c0, a + c1 + 1))
                pos += n
        return ids, spans

    def encode(self, text: str) -> list[int]:
        return self.tokenize_spans(text)[0]

    def decode(self, ids: Sequence[int]) -> str:
        raw = b"".join(self.token_bytes(i) for i in ids)
        return raw.decode("utf-8", errors="replace").replace("</w>", " ")

    def pieces(self, ids: Sequence[int]) -> list[str]:
        return [self._vocab[i] for i in ids]

    def token_bytes(self, token_id: int) -> bytes:
        piece = self._vocab[token_id]
        if token_id in self.special_ids:
            return piece.encode("utf-8")
        tail = b"</w>" if piece.endswith("</w>") else b""
        core = piece[:-4] if tail else piece
        return bytes(_BYTE_DECODER[c] for c in core) + tail


def _byte_order(b: int) -> tuple[int, int]:
    # CLIP's id order for single bytes: the printable ones first (in byte order), then the others.
    printable = 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF
    return (0 if printable else 1, b)


def _category_class(prefixes: tuple[str, ...]) -> str:
    ranges: list[tuple[int, int]] = []
    start = -1
    for cp in range(sys.maxunicode + 1):
        inside = 0xD800 > cp or cp > 0xDFFF
        inside = inside and unicodedata.category(chr(cp)).startswith(prefixes)
        if inside and start < 0:
            start = cp
        elif not inside and start >= 0:
            ranges.append((start, cp - 1))
            start = -1
    if start >= 0:
        ranges.append((start, sys.maxunicode))
    return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


def _clip_pattern() -> re.Pattern[str]:
    # ``re`` has no \p{L} / \p{N}, so the classes are spelled out from unicodedata once.
    letters = _category_class(("L",))
    numbers = _category_class(("N",))
    return re.compile(
        r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d"
        f"|[{letters}]+|[{numbers}]|[^{_WS}{letters}{numbers}]+"
    )


_LOCK = threading.Lock()
_BACKENDS: dict[str, _Backend] = {}


def _backend(tokenizer: str, label: str) -> _Backend:
    got = _BACKENDS.get(tokenizer)
    if got is not None:
        return got
    if tokenizer == "glm4":
        raise TokenizerUnavailable(label, tokenizer)
    with _LOCK:
        got = _BACKENDS.get(tokenizer)
        if got is None:
            if tokenizer in ("nerdstash_v1", "nerdstash_v2"):
                got = _SPBackend(tokenizer)
            elif tokenizer == "clip":
                got = _ClipBackend()
            elif tokenizer == "t5":
                got = _T5Backend()
            else:
                got = _HFBackend(tokenizer)
            _BACKENDS[tokenizer] = got
    return got


def loaded_tokenizers() -> list[str]:
    """Return the names of the tokenizers loaded so far in this process (each loads on first use)."""
    return sorted(_BACKENDS)


# --------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Token:
    """One token: position, id, vocabulary piece, its own text and its span of the original text."""

    index: int
    id: int
    piece: str
    text: str
    start: int
    end: int
    special: bool


class Tokenization:
    """How one text tokenizes for one model.

    ``ids`` and ``pieces`` are the token ids and vocabulary pieces; ``starts``/``ends`` give each
    token's span of the original ``text`` (tokens that each carry part of one character, as byte-level
    BPE does with emoji, share that character's span; a BOS token added with ``bos=True`` has the empty
    span ``(0, 0)``). ``texts`` is each token's own text (incomplete UTF-8 shown as ``\\xNN``).
    """

    def __init__(
        self,
        text: str,
        model: str,
        tokenizer: str,
        ids: list[int],
        pieces: list[str],
        texts: list[str],
        starts: list[int],
        ends: list[int],
        special_ids: frozenset[int],
        *,
        exact_offsets: bool = True,
        limit: int | None = None,
        chunk: int | None = None,
        limit_from: str = "end",
    ):
        self.text = text
        self.model = model
        self.tokenizer = tokenizer
        self.ids = ids
        self.pieces = pieces
        self.texts = texts
        self.starts = starts
        self.ends = ends
        self.special_ids = special_ids
        #: False when the tokenizer changed the text (pile's NFC, CLIP's cleaning of odd input) and the
        #: spans come from the library or an approximation rather than from the token bytes.
        self.exact_offsets = exact_offsets
        #: Context size (text models, "end": the model sees the last ``limit`` tokens) or prompt limit
        #: (image models, "start": tokens past ``limit`` are cut).
        self.limit = limit
        self.limit_from = limit_from
        #: CLIP chunk length (75) for V1-V3 image prompts.
        self.chunk = chunk
        self._labels: list[str] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[Token]:
        for i in range(len(self.ids)):
            yield self[i]

    def __getitem__(self, i: int) -> Token:
        if i < 0:
            i += len(self.ids)
        return Token(
            i, self.ids[i], self.pieces[i], self.texts[i], self.starts[i], self.ends[i],
            self.ids[i] in self.special_ids,
        )  # fmt: skip

    @property
    def offsets(self) -> list[tuple[int, int]]:
        """Return the (start, end) character span of each token."""
        return list(zip(self.starts, self.ends, strict=False))

    @property
    def special(self) -> list[bool]:
        """Return, per token, whether it is a special token (``<|endoftext|>``, BOS, ...)."""
        sp = self.special_ids
        return [i in sp for i in self.ids]

    def count(self) -> int:
        """Return the number of tokens."""
        return len(self.ids)

    @property
    def labels(self) -> list[str]:
        """Return each token's own text as a reader wants it: the characters its bytes spell (``' night'``
        rather than the byte-level piece ``'Ġnight'``), with bytes that are only part of a character shown
        marked, as ``⟨e5 a4⟩``. Special tokens show their piece (``<|endoftext|>``)."""
        if self._labels is None:
            backend = _backend(self.tokenizer, self.model)
            self._labels = [
                self.pieces[k] if tid in self.special_ids else readable_bytes(backend.token_bytes(tid))
                for k, tid in enumerate(self.ids)
            ]
            if isinstance(backend, _ClipBackend):
                self._labels = [t.replace("</w>", " ") for t in self._labels]
        return self._labels

    def to_frame(self) -> pd.DataFrame:
        """Return a DataFrame with one row per token: index, id, piece (the vocabulary entry), text (the
        token's readable own text, partial UTF-8 as marked bytes ``⟨e5 a4⟩``), start, end."""
        import pandas as pd

        return pd.DataFrame(
            {
                "index": range(len(self.ids)),
                "id": self.ids,
                "piece": self.pieces,
                "text": self.labels,
                "start": self.starts,
                "end": self.ends,
            }
        )

    def __repr__(self) -> str:
        return f"Tokenization(model={self.model!r}, tokenizer={self.tokenizer!r}, tokens={len(self.ids)})"

    def _repr_html_(self) -> str:
        # The pure builder lives with the widgets; it imports nothing heavy.
        from .render.tokens import tokenization_html

        return tokenization_html(self)


def _marked_bytes(err: UnicodeError) -> tuple[str, int]:
    bad = err.object[err.start : err.end]  # type: ignore[attr-defined]
    return "⟨" + " ".join(f"{b:02x}" for b in bad) + "⟩", err.end  # type: ignore[attr-defined]


codecs.register_error("naikit.marked_bytes", _marked_bytes)


def readable_bytes(raw: bytes) -> str:
    """Return the UTF-8 text of ``raw`` with bytes that do not make a whole character shown as ``⟨e5 a4⟩``
    (one mark per run), so a token holding half of a CJK character or an emoji reads as what it is."""
    return raw.decode("utf-8", "naikit.marked_bytes")


def _own_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # part of a character: show the bytes
        return raw.decode("utf-8", "backslashreplace")


def _offsets(backend: _Backend, text: str, ids: list[int]) -> tuple[list[int], list[int], list[str], bool]:
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
        texts.append(_own_text(raw))
    if ok:
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            ok = False
    if ok and "".join(decoded) == text:
        return starts, ends, texts, True
    texts = [_own_text(tb(t)) for t in ids]
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


def _check_text(text: Any, tokenizer: str = "") -> str:
    if not isinstance(text, str):
        raise InputError("text", text, "a str")
    # Lone surrogates cannot be UTF-8 encoded, which every tokenizer but CLIP's cleaning needs.
    if tokenizer != "clip":
        bad = _SURROGATE_RE.search(text)
        if bad:
            raise InputError(
                "text", text, "text without lone surrogates (U+D800-U+DFFF)",
                hint=f"found U+{ord(bad.group()):04X} at character {bad.start()}",
            )  # fmt: skip
    return text


def _limits(target: _Target, tier: str | int) -> tuple[int | None, int | None, str]:
    m = target.model
    if isinstance(m, TextModel):
        return m.context.for_tier(tier), None, "end"
    if isinstance(m, ImageModel):
        return m.prompt_limit, m.chunk, "start"
    if target.tokenizer == "clip":
        return 225, 75, "start"
    return None, None, "end"


def tokenize(
    text: str, model: str | TextModel | ImageModel, *, bos: bool = False, tier: str | int = "opus"
) -> Tokenization:
    """Return the :class:`Tokenization` of ``text`` for ``model`` (ids, pieces, offsets, display).

    ``bos=True`` starts an Erato (llama3) prompt with ``<|begin_of_text|>`` (128000); other tokenizers
    have no prompt BOS and ignore it. ``tier`` picks the context size shown for text models.
    Raises InputError for an unknown model. T5 (V4+ image prompts) ends with ``</s>`` and drops
    ``[]{}`` and weight syntax first, as NovelAI's counter does.
    """
    target = _resolve(model)
    text = _check_text(text, target.tokenizer)
    backend = _backend(target.tokenizer, target.label)
    limit, chunk, limit_from = _limits(target, tier)
    if isinstance(backend, (_ClipBackend, _T5Backend)):
        ids, spans = backend.tokenize_spans(text)
        texts = [backend.token_bytes(i).decode("utf-8", "backslashreplace").replace("</w>", "") for i in ids]
        starts = [a for a, _ in spans]
        ends = [b for _, b in spans]
        # T5 drops brackets and weights and normalises (NFKC), so its spans are exact only when the
        # pieces spell the text itself.
        exact = not isinstance(backend, _T5Backend) or "".join(texts[:-1]).lstrip() == text
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
    target = _resolve(model)
    text = _check_text(text, target.tokenizer)
    ids = _backend(target.tokenizer, target.label).encode(text)
    if bos and target.tokenizer == "llama3":
        ids.insert(0, LLAMA3_BOS)
    return ids


def _check_ids(ids: Any, backend: _Backend, label: str) -> list[int]:
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
    target = _resolve(model)
    backend = _backend(target.tokenizer, target.label)
    return backend.decode(_check_ids(ids, backend, target.label))


def token_bytes(ids: Iterable[int], model: str | TextModel | ImageModel) -> bytes:
    """Return the raw UTF-8 bytes the token ``ids`` stand for (a token may hold part of a character)."""
    target = _resolve(model)
    backend = _backend(target.tokenizer, target.label)
    return b"".join(backend.token_bytes(i) for i in _check_ids(ids, backend, target.label))


def tokenization_from_ids(
    ids: Iterable[int], model: str | TextModel | ImageModel, *, tier: str | int = "opus"
) -> Tokenization:
    """Return the :class:`Tokenization` of existing token ids (a generation's output, say).

    Its ``text`` is what the ids spell (incomplete UTF-8 at the end shows as U+FFFD).
    """
    target = _resolve(model)
    backend = _backend(target.tokenizer, target.label)
    ids = _check_ids(ids, backend, target.label)
    text = b"".join(backend.token_bytes(i) for i in ids).decode("utf-8", "replace")
    if isinstance(backend, _ClipBackend):
        text = text.replace("</w>", " ")
    starts, ends, texts, exact = _offsets(backend, text, ids)
    limit, chunk, limit_from = _limits(target, tier)
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


def context_limit(model: str | TextModel | ImageModel, tier: str | int = "opus") -> int:
    """Return the token limit for ``model``: the context size for ``tier`` (text) or the prompt limit (image).

    Text context sizes are client-side knowledge (see ``naikit.novelai.models``); an account's
    ``/user/subscription`` ``perks.contextTokens`` is the server's own number.
    """
    target = _resolve(model)
    limit, _, _ = _limits(target, tier)
    if limit is None:
        raise InputError("model", target.label, "a model name (a bare tokenizer name has no limit)")
    return limit


@dataclass(frozen=True)
class TokenBudget:
    """A token count measured against a model's limit."""

    model: str
    tokenizer: str
    #: None when the tokenizer's data file is unavailable.
    count: int | None
    limit: int | None
    tier: str | None = None
    #: CLIP chunk length (75) for V1-V3 prompts.
    chunk: int | None = None

    @property
    def available(self) -> bool:
        """Return whether a count could be made (False when the tokenizer is unavailable)."""
        return self.count is not None

    @property
    def fits(self) -> bool | None:
        """Return whether the text fits the limit (None when unavailable or no limit is known)."""
        if self.count is None or self.limit is None:
            return None
        return self.count <= self.limit

    @property
    def chunks(self) -> int | None:
        """Return how many CLIP chunks the prompt fills (None for other tokenizers or unavailable)."""
        if self.count is None or not self.chunk:
            return None
        return max(1, -(-self.count // self.chunk))

    @property
    def status(self) -> str:
        """Return "fits", "over", "unavailable", "no limit" or "not on this tier" (a context of 0: the
        model is not offered on the tier, e.g. Xialong below Opus)."""
        if self.limit == 0:
            return "not on this tier"
        if self.count is None:
            return "unavailable"
        if self.limit is None:
            return "no limit"
        return "fits" if self.count <= self.limit else "over"

    def __str__(self) -> str:
        if self.count is None:
            return f"{self.model}: unavailable ({self.tokenizer} tokenizer not shipped)"
        where = f" ({self.tier})" if self.tier else ""
        extra = (
            f", {self.chunks} chunk{'' if self.chunks == 1 else 's'} of {self.chunk}" if self.chunk else ""
        )
        limit = "no limit" if self.limit is None else f"limit {self.limit}{where}"
        return f"{self.model}: {self.count} tokens, {limit}{extra}: {self.status}"


def budget(
    text: str,
    model: str | TextModel | ImageModel,
    tier: str | int = "opus",
    *,
    bos: bool = False,
    client: Any = None,
) -> TokenBudget:
    """Return a :class:`TokenBudget`: the count of ``text`` for ``model`` against its limit for ``tier``.

    Unlike :func:`count`, a missing tokenizer gives ``count=None`` and status "unavailable", not an error:
    GLM-4.6 / Xialong unless ``client`` (a sync ``NovelAI``) is given, whose ``count_tokens`` asks the
    server's token-count endpoint (one request per distinct text).
    """
    target = _resolve(model)
    limit, chunk, _ = _limits(target, tier)
    shown_tier = tier_name(tier) if isinstance(target.model, TextModel) else None
    try:
        n: int | None = count(text, target, bos=bos)
    except TokenizerUnavailable:
        n = None
        if target.tokenizer == "glm4" and client is not None:
            if not callable(getattr(client, "count_tokens", None)):
                raise InputError(
                    "client", client, "a NovelAI client (its count_tokens asks the server)"
                ) from None
            n = int(client.count_tokens(_check_text(text), target.label))
    return TokenBudget(target.label, target.tokenizer, n, limit, shown_tier, chunk)


def count_table(
    text: str,
    models: Iterable[str | TextModel | ImageModel],
    tier: str | int = "opus",
    *,
    client: Any = None,
) -> pd.DataFrame:
    """Return a DataFrame with one row per model: model, tokenizer, tokens, limit, status.

    ``tokens`` holds the count, or the string "unavailable" when a tokenizer is missing (never a guess):
    GLM-4.6 / Xialong when no ``client`` is given to ask the server's token-count endpoint.
    """
    import pandas as pd

    rows = []
    for m in models:
        b = budget(text, m, tier, client=client)
        rows.append(
            {
                "model": b.model,
                "tokenizer": b.tokenizer,
                "tokens": b.count if b.count is not None else "unavailable",
                "limit": b.limit,
                "status": b.status,
            }
        )
    return pd.DataFrame(rows, columns=["model", "tokenizer", "tokens", "limit", "status"])


# --------------------------------------------------------------------------------------------------
# Base64 token strings


def tokens_to_b64(ids: Iterable[int], model: str | TextModel) -> str:
    """Return the API's base64 form of ``ids``: little-endian uint16 per token, uint32 for Erato."""
    width = token_width(model)
    target = _resolve(model)
    out = list(ids) if not isinstance(ids, (str, bytes)) and isinstance(ids, Iterable) else None
    top = 1 << (8 * width)
    if out is None or any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < top for i in out):
        raise InputError(
            "ids", ids, f"a list of token ids from 0 to {top - 1} ({width}-byte tokens for {target.label})"
        )
    raw = b"".join(i.to_bytes(width, "little") for i in out)
    return base64.b64encode(raw).decode("ascii")


def b64_to_tokens(b64: str | bytes, model: str | TextModel) -> list[int]:
    """Return the token ids in the API's base64 string ``b64`` (uint16 little-endian; uint32 for Erato)."""
    width = token_width(model)
    target = _resolve(model)
    allowed = f"standard base64 of {width}-byte little-endian token ids for {target.label}"
    if not isinstance(b64, (str, bytes)):
        raise InputError("b64", b64, allowed)
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise InputError("b64", b64, allowed, hint="It is not valid base64") from None
    if len(raw) % width:
        hint = f"It decodes to {len(raw)} bytes, which is not a multiple of {width}"
        if width == 4 and len(raw) % 2 == 0:
            hint += "; was it made for a 2-byte model rather than Erato?"
        elif width == 2:
            hint += "; Erato (llama-3-erato-v1) is the model with 4-byte tokens"
        raise InputError("b64", b64, allowed, hint=hint)
    return [int.from_bytes(raw[i : i + width], "little") for i in range(0, len(raw), width)]


# --------------------------------------------------------------------------------------------------
# Command line (the lead's naikit.cli calls register_cli)


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``tokenize`` and ``decode`` sub-commands; each handler is ``args.func(args) -> int``."""
    p = subparsers.add_parser(
        "tokenize",
        help="show how a text tokenizes for a model (no account needed)",
        description="Print the token ids and pieces of TEXT for MODEL.",
    )
    p.add_argument(
        "model", metavar="MODEL", help="model (kayra, llama-3-erato-v1, nai-diffusion-3, ...) or tokenizer"
    )
    p.add_argument("text", metavar="TEXT", help="the text, or - to read it from standard input")
    p.add_argument("--bos", action="store_true", help="start an Erato prompt with <|begin_of_text|>")
    p.add_argument("--b64", action="store_true", help="also print the API's base64 form")
    p.set_defaults(func=_cli_tokenize)
    d = subparsers.add_parser(
        "decode",
        help="decode an API base64 token string",
        description="Print the text of B64 (the API's base64 tokens; 4-byte tokens for Erato).",
    )
    d.add_argument("model", metavar="MODEL", help="text model the tokens are for")
    d.add_argument("b64", metavar="B64", help="the base64 string, or - to read it from standard input")
    d.add_argument("--ids", action="store_true", help="print the token ids instead of the text")
    d.set_defaults(func=_cli_decode)


def _cli_tokenize(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    try:
        tok = tokenize(text, args.model, bos=args.bos)
    except (InputError, TokenizerUnavailable) as e:
        print(f"naikit tokenize: {e}", file=sys.stderr)
        return 2
    out = sys.stdout
    print(f"{tok.model} ({tok.tokenizer}): {len(tok)} token{'' if len(tok) == 1 else 's'}", file=out)
    print("ids:", tok.ids, file=out)
    if args.b64:
        print("b64:", tokens_to_b64(tok.ids, args.model), file=out)
    width = max([len(str(i)) for i in tok.ids] + [2])
    labels = tok.labels
    text_w = min(24, max([len(repr(t)) for t in labels] + [4]))
    print(f"{'#':>5}  {'id':>{width}}  {'text':<{text_w}}  piece", file=out)
    for i, (tid, piece, t) in enumerate(zip(tok.ids, tok.pieces, labels, strict=False)):
        # the text reads as what the token spells; the vocabulary piece follows
        print(f"{i:>5}  {tid:>{width}}  {t!r:<{text_w}}  {piece!r}", file=out)
    return 0


def _ids_warnings(ids: list[int], model: str) -> list[str]:
    """Return warnings for ids that decode but do not look like text of ``model`` (wrong token width,
    special tokens inside the text)."""
    out: list[str] = []
    width = token_width(model)
    if width == 2 and len(ids) >= 2 and len(ids) % 2 == 0 and not any(ids[1::2]) and any(ids[0::2]):
        out.append(
            "every second id is 0, as when 4-byte Erato tokens are read as 2-byte ones: "
            "try `naikit decode llama-3-erato-v1 ...`"
        )
    tok = tokenization_from_ids(ids, model)
    inner = [f"{i}:{tok.pieces[i]}" for i, sp in enumerate(tok.special) if sp and i > 0]
    if inner:
        shown = ", ".join(inner[:5]) + (f" and {len(inner) - 5} more" if len(inner) > 5 else "")
        out.append(
            f"special tokens inside the text (position:piece {shown}): were these ids made for {model}?"
        )
    return out


def _cli_decode(args: argparse.Namespace) -> int:
    b64 = sys.stdin.read().strip() if args.b64 == "-" else args.b64
    try:
        ids = b64_to_tokens(b64, args.model)
        text = decode(ids, args.model)
        for warning in _ids_warnings(ids, args.model):
            print(f"naikit decode: warning: {warning}", file=sys.stderr)
        print(ids if args.ids else text)
    except (InputError, TokenizerUnavailable) as e:
        print(f"naikit decode: {e}", file=sys.stderr)
        return 2
    return 0
