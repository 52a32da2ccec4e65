"""The checks naikit/_validate.py gives the NovelAI data modules (presets, image requests, stories), and the
one atomic write those modules save through: each refusal names the field, the value and what is allowed."""

from __future__ import annotations

import json

import pytest

from naikit._validate import check_choice, check_flags, check_instance, is_token_id
from naikit.errors import InputError
from naikit.novelai.presets import BiasGroup, Preset
from naikit.novelai.story import LoreEntry, Story
from naikit.novelai.vibes import read_naiv4vibe, write_naiv4vibe


def test_check_instance_returns_the_value_or_names_field_and_allowed():
    assert check_instance("x", str, "name", "a string") == "x"
    with pytest.raises(InputError) as err:
        check_instance(3, str, "name", "a string")
    assert err.value.field == "name" and err.value.allowed == "a string"


def test_check_choice_lists_the_choices_and_survives_unhashable_values():
    assert check_choice("b", "kind", ("a", "b")) == "b"
    with pytest.raises(InputError) as err:
        check_choice("c", "kind", ("a", "b"))
    assert err.value.allowed == "one of 'a', 'b'"
    with pytest.raises(InputError) as err:
        check_choice(["a"], "kind", frozenset({"a"}), allowed="a or nothing")
    assert err.value.allowed == "a or nothing"


def test_check_flags_names_the_first_non_bool():
    check_flags(a=True, b=False)
    with pytest.raises(InputError) as err:
        check_flags(a=True, b=1)
    assert err.value.field == "b" and err.value.value == 1


@pytest.mark.parametrize(
    ("value", "ok"), [(0, True), (128000, True), (-1, False), (True, False), (1.0, False)]
)
def test_is_token_id(value, ok):
    assert is_token_id(value) is ok


def test_bias_group_refuses_an_int_too_large_for_a_float_with_an_input_error():
    # before the shared check, math.isfinite(10**400) raised OverflowError out of BiasGroup
    with pytest.raises(InputError) as err:
        BiasGroup(10**400, "x")
    assert err.value.field == "bias"


def test_preset_save_refuses_an_existing_file_naming_it_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "mine.preset"
    Preset.official("kayra").save(path)
    before = path.read_bytes()
    other = Preset.official("kayra")
    other.temperature = 1.23
    with pytest.raises(InputError) as err:
        other.save(path, overwrite=False)
    assert err.value.field == "path" and err.value.value == str(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.preset"]


def test_story_save_writes_whole_files_and_leaves_no_temporary_file(tmp_path):
    s = Story(text="Once.", lorebook=[LoreEntry("A tower.", keys=["tower"])])
    path = s.save(tmp_path / "deep" / "x.story")
    assert Story.from_file(path).text == "Once."
    assert [p.name for p in path.parent.iterdir()] == ["x.story"]


def test_vibe_file_written_atomically_reads_back(tmp_path):
    from naikit.novelai.image_models import Vibe

    enc = "AAAA"
    path = write_naiv4vibe(tmp_path / "v.naiv4vibe", [Vibe(enc, 0.6, 0.8)], "nai-diffusion-4-5-full")
    assert [p.name for p in tmp_path.iterdir()] == ["v.naiv4vibe"]
    assert json.loads(path.read_text("utf-8"))["identifier"] == "novelai-vibe-transfer"
    (got,) = read_naiv4vibe(path, "nai-diffusion-4-5-full")
    assert got.encoding == enc and got.information_extracted == 0.8
