"""Moved to :mod:`naikit.render.tokens`; this alias exists only while work in flight is updated."""

from ..render.tokens import *  # noqa: F401,F403
from ..render.tokens import logprobs_html, parse_logprobs, tokenization_html  # noqa: F401
