"""Shared helpers for the Novita and training tests: a sandbox on a FakeClock and clients whose polling
advances that clock instead of sleeping, so a whole task or training runs in milliseconds."""

from __future__ import annotations

import io

from naikit.sandbox.clock import FakeClock

MODEL = "dreamshaper_8_93211.safetensors"
KEY = "naikit-demo-key"


def png(width: int = 64, height: int = 48, colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """Return a small PNG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, format="PNG")
    return buf.getvalue()


def drive(client, clock: FakeClock) -> None:
    """Make ``client`` (sync or async, Novita or NovelAI) poll on ``clock``: each wait advances it."""
    target = getattr(client, "_async", client)

    async def fake_sleep(seconds: float) -> None:
        clock.advance(seconds)

    target.poll_clock = clock.now
    target.poll_sleep = fake_sleep
