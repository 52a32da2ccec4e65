"""Stories from the (sandbox) account: read as naikit.Story, continued, written back safely, and still
readable by naikit and by novelai-api's decryption afterwards."""

from __future__ import annotations

import json

import pytest
from sandbox_fixtures import DEMO, demo_client_fixture, sandbox_fixture

from naikit.errors import InputError, UnsafeWrite
from naikit.novelai.client import NovelAI
from naikit.novelai.story import Story

sb = sandbox_fixture(scope="function")
nai = demo_client_fixture(scope="function", backup_dir="backups")


def test_account_story_and_its_context(nai):
    s = nai.story("The Lighthouse Keeper")
    assert s.title == "The Lighthouse Keeper" and s.model == "kayra-v1"
    assert [e.display_name for e in s.lorebook] == ["Elias", "Farol Norte", "The seventh ship"]
    assert s.text == nai.story_text("The Lighthouse Keeper")
    c = s.context("kayra")
    assert c.section("story").included and c.text.endswith("Nobody answered the radio.")
    seventh = s.entry("The seventh ship")
    assert c.why("The seventh ship") == "no key in range"
    # an edit that makes it fire: one of its keys in the story
    s.text += " " + seventh.keys[0]
    assert s.context("kayra").section("The seventh ship").included


@pytest.mark.parametrize("title", ["The Lighthouse Keeper", "Letters from the Salt Road"])
def test_continue_story_writes_back_after_a_backup(nai, title):
    s = nai.story(title)
    before = s.text
    gen = nai.continue_story(s, write=True, max_length=20)
    assert gen.context is not None and gen.context.text.endswith(before[-20:])
    assert gen.text and s.text == before + gen.text
    assert nai.story_text(title) == before + gen.text
    assert list(nai.backup_dir.rglob("manifest.json")), "no local backup of the previous version"
    again = nai.story(title)
    assert again.text == before + gen.text and again.memory == s.memory


def test_write_back_refuses_what_it_cannot_do_safely(nai):
    s = nai.story("Clockwork Orchard")
    s.text = "rewritten " + s.text
    with pytest.raises(UnsafeWrite, match="story.text"):
        nai.save_story(s)
    with pytest.raises(InputError, match="write"):
        nai.continue_story(Story(text="made in code"), write=True)
    with pytest.raises(InputError, match="story"):
        nai.continue_story("not a story")


def test_memory_and_lorebook_edits_round_trip(nai):
    s = nai.story("The Lighthouse Keeper")
    s.memory = "Edited memory."
    s.entry("Elias").keys.append("watchman")
    nai.save_story(s)
    back = nai.story("The Lighthouse Keeper")
    assert back.memory == "Edited memory." and back.entry("Elias").keys[-1] == "watchman"


REF_READS_STORIES = r"""
import asyncio, base64, json, sys
from aiohttp import ClientSession
from novelai_api import NovelAIAPI
from novelai_api.utils import get_encryption_key, decrypt_user_data, unpacker, unpacker_state

async def main(url, email, password):
    async with ClientSession() as session:
        api = NovelAIAPI(session)
        api.BASE_ADDRESS = url
        await api.high_level.login(email, password)
        ks = await api.high_level.get_keystore(get_encryption_key(email, password))
        contents = await api.high_level.download_user_story_contents()
        decrypt_user_data(contents, ks)
        out = []
        for c in contents:
            d = c["data"]
            item = {"decrypted": c["decrypted"], "memory": d["context"][0]["text"]}
            if d.get("document"):
                unpacker.restore_state(unpacker_state)
                doc = unpacker.unpack(base64.b64decode(d["document"]))
                item["lines"] = [doc["sections"][str(i)]["text"] if str(i) in doc["sections"] else
                                 doc["sections"][i]["text"] for i in doc["order"]]
            else:
                item["fragments"] = [f["data"] for f in d["story"]["fragments"]]
            out.append(item)
        print(json.dumps(out))
asyncio.run(main(*sys.argv[1:4]))
"""


@pytest.mark.interop
def test_novelai_api_reads_stories_naikit_continued(sb, tmp_path):
    from refclients import run_script

    with NovelAI(base_url=sb.url, **DEMO) as nai:
        nai.set_backup_dir(tmp_path / "b")
        added = {}
        for title in ("The Lighthouse Keeper", "Letters from the Salt Road"):
            s = nai.story(title)
            added[title] = nai.continue_story(s, write=True, max_length=20).text
    out = json.loads(run_script("novelai-api", REF_READS_STORIES, sb.url, DEMO["email"], DEMO["password"]))
    assert all(c["decrypted"] for c in out)
    frags = [c["fragments"] for c in out if "fragments" in c]
    assert any(f[-1] == added["The Lighthouse Keeper"] for f in frags)
    doc = next(c for c in out if "lines" in c)
    assert "\n".join(doc["lines"]).endswith(added["Letters from the Salt Road"])


def test_continue_story_with_glm(nai):
    from naikit.novelai.story_context import ServerTokenizer

    s = nai.story("Letters from the Salt Road")
    with pytest.raises(InputError, match="tokenizer"):
        nai.continue_story(s, model="xialong-v1")
    gen = nai.continue_story(
        s, model="xialong-v1", tokenizer=ServerTokenizer(nai, "xialong-v1"), max_tokens=10
    )
    ctx = gen.context
    assert ctx.family == "glm" and ctx.text.startswith("[gMASK]<sop><|system|>\n")
    assert ctx.text.endswith("\n\nTomas") and isinstance(gen.text, str) and gen.text
    assert ctx.why("Ines") == "key 'Ines' in range"
