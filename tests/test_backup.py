"""Backups of a whole account and restore from them, against the sandbox; the CLI commands."""

from __future__ import annotations

import json

import pytest

from naikit import cli, sandbox
from naikit.errors import InputError
from naikit.novelai.backup import account_fingerprint, read_backup
from naikit.novelai.client import NovelAI

DEMO = dict(email=sandbox.DEMO_EMAIL, password=sandbox.DEMO_PASSWORD)


@pytest.fixture
def sb():
    with sandbox.start() as server:
        yield server


@pytest.fixture
def nai(sb, tmp_path):
    with NovelAI(base_url=sb.url, **DEMO) as client:
        client.set_backup_dir(tmp_path / "root")
        yield client


def test_backup_holds_everything_and_no_secret(nai, sb):
    info = nai.backup()
    assert info.full and info.has_keystore and info.path.parent == nai.backup_dir
    assert info.counts == {"stories": 3, "storycontent": 3, "presets": 2, "aimodules": 1, "shelf": 1}
    manifest, ks_raw, objects = read_backup(info.path)
    assert ks_raw == nai.keystore_raw()
    assert {(o.type, o.id, o.data) for o in objects} == {
        (o.type, o.id, o.data)
        for t in ("stories", "storycontent", "presets", "aimodules", "shelf")
        for o in nai.list_objects(t)
    }
    everything = "".join(p.read_text() for p in info.path.rglob("*.json"))
    ks = nai.keystore()
    secrets = [sandbox.DEMO_PASSWORD, nai.token.value, sandbox.demo_access_key()]
    secrets += [ks[m].hex() for m in ks] + [json.dumps(list(ks[m])) for m in ks]
    assert not any(s in everything for s in secrets)
    assert info.to_frame()["objects"].sum() == 10 and "full" in repr(info)


def test_fingerprint_is_stable_and_one_way():
    a = account_fingerprint("Me@Example.com")
    assert a == account_fingerprint("me@example.com") and len(a) == 16
    assert a != account_fingerprint("other@example.com") and "example" not in a


def test_backup_refuses_a_folder_with_files(nai, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("keep me")
    with pytest.raises(InputError, match="never overwrites"):
        nai.backup(tmp_path / "busy")
    assert (tmp_path / "busy" / "x").read_text() == "keep me"


def test_restore_recreates_deleted_story_with_its_link(nai):
    info = nai.backup()
    text = nai.story_text("Letters from the Salt Road")
    story = [s for s in nai.content("stories") if s.data["title"] == "Letters from the Salt Road"][0]
    content = nai.content_item("storycontent", story.data["remoteStoryId"])
    nai.delete_content(story)
    nai.delete_content(content)
    assert len(nai.stories()) == 2
    report = nai.restore(info.path)
    assert report.actions == {"created": 2, "unchanged": 8}
    assert nai.story_text("Letters from the Salt Road") == text
    frame = nai.stories().to_frame()
    assert frame["error"].isna().all() and len(frame) == 3
    assert nai.sanity_check().ok


def test_restore_keeps_or_overwrites_changed_objects(nai):
    info = nai.backup()
    item = nai.content("presets")[0]
    item.data["name"] = "changed"
    nai.save_content(item)
    report = nai.restore(info.path)
    assert report.actions["kept"] == 1 and nai.content_item("presets", item.id).data["name"] == "changed"
    report = nai.restore(info.path, overwrite=True)
    assert report.actions["overwritten"] == 1
    assert nai.content_item("presets", item.id).data["name"] == "Lantern (demo)"
    assert any("before-restore-presets" in p.name for p in nai.backup_dir.iterdir())


def test_restore_merges_keystore_and_refuses_damaged_backups(nai, tmp_path):
    info = nai.backup()
    ks = nai.keystore()
    ks.add()
    nai.set_keystore(ks)
    report = nai.restore(info.path)
    assert report.keystore == "merged (0 keys added)" and len(nai.keystore()) == 5
    target = next(info.path.glob("objects/stories/*.json"))
    target.write_text(target.read_text().replace('"meta"', '"meta" ', 1))
    with pytest.raises(InputError, match="altered or damaged"):
        nai.restore(info.path)
    with pytest.raises(InputError, match="backup folder"):
        nai.restore(tmp_path)


def test_cli_backup_restore_sanity(sb, tmp_path, capsys):
    args = ["--base-url", sb.url, "--email", sandbox.DEMO_EMAIL, "--password", sandbox.DEMO_PASSWORD]
    target = tmp_path / "cli-backup"
    assert cli.main(["backup", str(target), *args]) == 0
    assert (target / "manifest.json").exists() and "10 objects" in capsys.readouterr().out
    assert cli.main(["restore", str(target), *args]) == 0
    assert "unchanged=10" in capsys.readouterr().out
    assert cli.main(["sanity-check", *args]) == 0
    out = capsys.readouterr().out
    assert "3/3 stories have been successfully decrypted" in out and "no problems found" in out
    assert sandbox.DEMO_PASSWORD not in out
