"""The model table in naikit.novelai.models: spec §5.1 (text) and §6.1 (image), lookups and tiers."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

from naikit.errors import InputError  # noqa: E402
from naikit.novelai import models as nm  # noqa: E402

# spec §5.1: name, value, tokenizer, host, OK status, token bytes
SPEC_TEXT = [
    ("Sigurd", "6B-v4", "gpt2", "api", 201, 2),
    ("Euterpe", "euterpe-v2", "gpt2", "api", 201, 2),
    ("Krake", "krake-v2", "pile", "api", 201, 2),
    ("Clio", "clio-v1", "nerdstash_v1", "api", 201, 2),
    ("Kayra", "kayra-v1", "nerdstash_v2", "text", 200, 2),
    ("Erato", "llama-3-erato-v1", "llama3", "text", 200, 4),
    ("Genji", "genji-jp-6b-v2", "gpt2-genji", "api", 201, 2),
    ("Snek", "genji-python-6b", "gpt2", "api", 201, 2),
    ("HypeBot", "hypebot", "gpt2", "api", 201, 2),
    ("Inline", "infillmodel", "gpt2", "api", 201, 2),
]


def test_text_models_match_spec_table():
    got = [(m.name, m.value, m.tokenizer, m.host, m.ok_status, m.token_bytes) for m in nm.TEXT_MODELS]
    assert got == SPEC_TEXT


def test_image_models_cover_spec_and_use_the_right_prompt_tokenizer():
    values = {m.value: m for m in nm.IMAGE_MODELS}
    for v in (
        "safe-diffusion",
        "nai-diffusion",
        "nai-diffusion-furry",
        "safe-diffusion-inpainting",
        "nai-diffusion-inpainting",
        "furry-diffusion-inpainting",
        "nai-diffusion-2",
        "nai-diffusion-3",
        "nai-diffusion-3-inpainting",
        "nai-diffusion-furry-3",
        "nai-diffusion-furry-3-inpainting",
    ):
        assert (
            values[v].prompt_tokenizer == "clip" and values[v].chunk == 75 and values[v].prompt_limit == 225
        )
    for v in (
        "nai-diffusion-4-curated-preview",
        "nai-diffusion-4-full",
        "nai-diffusion-4-curated-inpainting",
        "nai-diffusion-4-full-inpainting",
        "nai-diffusion-4-5-curated",
        "nai-diffusion-4-5-full",
    ):
        assert (
            values[v].prompt_tokenizer == "t5" and values[v].prompt_limit == 512 and values[v].chunk is None
        )
    assert values["nai-diffusion-3-inpainting"].inpainting and not values["nai-diffusion-3"].inpainting


def test_every_name_means_one_model():
    owner: dict[str, str] = {}
    for m in (*nm.TEXT_MODELS, *nm.OA_MODELS, *nm.IMAGE_MODELS):
        for name in {m.value.lower(), m.short}:
            assert owner.setdefault(name, m.value) == m.value, name
    n = len(nm.TEXT_MODELS) + len(nm.OA_MODELS) + len(nm.IMAGE_MODELS)
    assert len(nm.known_model_names()) == 2 * n


@pytest.mark.parametrize("name", ["kayra", "Kayra", " kayra-v1 ", "KAYRA-V1"])
def test_lookup_by_value_or_short_name_any_case(name):
    assert nm.text_model(name).value == "kayra-v1"
    assert nm.find_model(name).value == "kayra-v1"


def test_image_lookup():
    assert nm.image_model("v3").value == "nai-diffusion-3"
    assert nm.find_model("nai-diffusion-4-5-full").generation == "v4.5"
    assert nm.find_model(nm.TEXT_MODELS[0]) is nm.TEXT_MODELS[0]


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(InputError) as e:
        nm.find_model("kayra-v2")
    msg = str(e.value)
    assert "'kayra-v2'" in msg and "kayra-v1 (kayra)" in msg and "nai-diffusion-3 (v3)" in msg
    with pytest.raises(InputError, match="llama-3-erato-v1"):
        nm.text_model("nai-diffusion-3")  # an image model is not a text model
    with pytest.raises(InputError, match="nai-diffusion-3"):
        nm.image_model("kayra")


def test_glm_family_from_the_websites_tables():
    # novelai.net's January 2026 client: glm-4-5/glm-4-6 context 8192 / 12288 / 28672 per tier, and a
    # largest response length of 1024 for the family
    glm = nm.text_model("glm")
    assert (glm.value, glm.host, glm.api) == ("glm-4-6", "text", "oa")
    assert (glm.context.tablet, glm.context.scroll, glm.context.opus) == (8192, 12288, 28672)
    assert glm.context_confirmed and glm.max_output == 1024
    xl = nm.text_model("Xialong")
    assert xl.value == "xialong-v1" and not xl.context_confirmed  # the 28672 is a guess
    assert [xl.available_on(t) for t in ("tablet", "scroll", "opus")] == [False, False, True]
    assert nm.find_model("xialong-v1") is xl and "glm-4-6 (glm)" in str(
        pytest.raises(InputError, nm.text_model, "glm-5").value
    )


def test_context_sizes_per_tier():
    kayra = nm.text_model("kayra")
    assert (kayra.context.tablet, kayra.context.scroll, kayra.context.opus) == (4096, 8192, 8192)
    assert kayra.context.for_tier("Tablet") == 4096 and kayra.context.for_tier(3) == 8192
    assert nm.text_model("clio").context.for_tier("tablet") == 8192
    assert nm.text_model("erato").context.for_tier("opus") == 8192
    for m in nm.TEXT_MODELS:
        c = m.context
        assert 0 < c.tablet <= c.scroll <= c.opus


@pytest.mark.parametrize("bad", ["paper", 0, 4, True, None, "gold"])
def test_bad_tier_is_refused(bad):
    with pytest.raises(InputError) as e:
        nm.tier_name(bad)
    assert "'tablet', 'scroll' or 'opus'" in str(e.value)


def test_entries_are_frozen_and_hashable():
    m = nm.text_model("erato")
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.value = "x"  # type: ignore[misc]
    assert len({*nm.TEXT_MODELS, *nm.IMAGE_MODELS}) == len(nm.TEXT_MODELS) + len(nm.IMAGE_MODELS)


def test_module_is_light():
    code = (
        "import sys; import naikit.novelai.models; "
        "heavy = [m for m in ('tokenizers', 'sentencepiece', 'ipywidgets') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
