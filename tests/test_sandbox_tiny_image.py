"""The sandbox answers a 64x64 picture (the smallest size NovelAI takes) instead of failing with a 500:
its metadata then travels in PNG text chunks only, since the alpha channel of 4,096 pixels holds 512
bytes and a generation's Comment does not fit."""

from __future__ import annotations

from naikit.metadata import read_metadata


def test_a_64_by_64_picture_comes_back_with_text_metadata(nai):
    res = nai.generate_image("x", seed=3, width=64, height=64, steps=1)
    img = res[0].image
    assert img.size == (64, 64)
    meta = read_metadata(res[0].png)
    assert meta is not None and meta.found_in == "text"
    assert meta.parameters["seed"] == 3 and meta.parameters["width"] == 64
