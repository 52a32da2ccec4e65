"""Image benchmarks (offline, against the sandbox). Prints figures and ratios; never a pass/fail test.

1. Grid of 100 pictures of 832×1216: time to build the widget and the thumbnail payload it sends
   (goal: under 2 s and under 10 MB), against a reference measured in the same run: the PNG bytes a
   naive grid of full pictures would send.
2. 64 generations on one account with 100 ms generation latency and a concurrency limit of 2 (sandbox
   and client): wall time against the ideal 32 × latency.

Run: .venv/bin/python benchmarks/bench_images.py
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import urllib.request


def bench_grid() -> None:
    from PIL import Image

    from naikit.novelai.images_result import GeneratedImage
    from naikit.sandbox.imagegen import render, to_png
    from naikit.widgets.images import image_grid

    items = []
    for i in range(100):
        png = to_png(render("bench", i, 832, 1216, {"steps": 23, "scale": 5}))
        items.append(GeneratedImage(png, {"seed": i, "width": 832, "height": 1216}, "bench", "m", index=i))
    assert Image.open(io.BytesIO(items[0].png)).size == (832, 1216)
    t = time.perf_counter()
    grid = image_grid(items, thumb_size=256, fmt="webp")
    build = time.perf_counter() - t
    full = sum(len(g.png) for g in items)
    mb = grid.payload_bytes / 1e6
    print(
        f"grid of 100 x 832x1216: build {build:.2f} s (goal < 2 s), payload {mb:.2f} MB "
        f"(goal < 10 MB); full PNGs would be {full / 1e6:.1f} MB -> ratio {grid.payload_bytes / full:.3f}"
    )


def bench_concurrency() -> None:
    from naikit import sandbox
    from naikit.novelai.async_client import AsyncNovelAI

    latency, n = 0.1, 64
    srv = sandbox.start(test_hooks=True)
    try:
        req = urllib.request.Request(
            srv.url + "/_sandbox/image",
            method="PUT",
            data=json.dumps({"latency": latency, "concurrency": 2}).encode(),
            headers={"Content-Type": "application/json", **srv.admin_headers},
        )
        urllib.request.urlopen(req).read()

        async def main() -> tuple[float, dict]:
            creds = dict(email=sandbox.DEMO_EMAIL, password=sandbox.DEMO_PASSWORD)
            async with AsyncNovelAI(base_url=srv.url, max_concurrent_generations=2, **creds) as nai:
                await nai.subscription()
                t = time.perf_counter()
                await asyncio.gather(*[nai.generate_image("x", seed=i + 1, width=512, height=768, steps=10)
                                       for i in range(n)])  # fmt: skip
                return time.perf_counter() - t, nai.stats

        wall, stats = asyncio.run(main())
    finally:
        srv.stop()
    ideal = n / 2 * latency
    print(
        f"{n} generations, latency {latency * 1000:.0f} ms, limit 2: wall {wall:.2f} s, ideal {ideal:.2f} s, "
        f"ratio {wall / ideal:.2f}; 429 retries: {stats.get('retry_429', 0)}"
    )


if __name__ == "__main__":
    bench_grid()
    bench_concurrency()
