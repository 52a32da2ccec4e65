"""The ``naikit tokenize`` and ``naikit decode`` sub-commands (``naikit.cli`` calls :func:`register_cli`)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ..errors import InputError
from .base64_ids import b64_to_tokens, tokens_to_b64
from .encoding import decode, tokenization_from_ids, tokenize
from .registry import TokenizerUnavailable
from .targets import token_width

if TYPE_CHECKING:  # pragma: no cover
    import argparse

__all__ = ["register_cli"]


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
