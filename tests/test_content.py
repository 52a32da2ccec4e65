"""ContentAPI against the sandbox: the demo account's decrypted content as tables, story text, safe writes,
refusals before upload, per-object errors and wrong keys."""

from __future__ import annotations

import base64
import json
import os

import pytest
from sandbox_fixtures import DEMO, demo_client_fixture, sandbox_fixture

from naikit import sandbox
from naikit.errors import CredentialsError, InputError
from naikit.novelai.client import NovelAI
from naikit.novelai.crypto import CorruptObject, Keystore, UnsafeWrite, WrongKey

# one sandbox per test: these tests change the demo account's content
sb = sandbox_fixture(scope="function")
nai = demo_client_fixture(scope="function", backup_dir="backups")


def test_demo_stories_frame(nai):
    stories = nai.stories()
    frame = stories.to_frame()
    assert list(frame["title"]) == [
        "The Lighthouse Keeper",
        "Clockwork Orchard",
        "Letters from the Salt Road",
    ]
    assert list(frame["format"]) == ["datablocks", "datablocks", "document"]
    assert list(frame["lorebook_entries"]) == [3, 0, 2]
    assert list(frame["model"]) == ["kayra-v1", "kayra-v1", "llama-3-erato-v1"]
    assert frame["error"].isna().all() and (frame["words"] > 10).all() and (frame["tokens"] > 10).all()
    assert frame.loc[0, "tags"] == ["mystery", "sea"] and bool(frame.loc[0, "favorite"]) is True
    assert str(frame.loc[0, "created_at"]).startswith("2024-03-01 12:00:00")
    assert frame.loc[2, "preview"].startswith("Dear Ines, The caravan")
    assert "<table" in stories._repr_html_()


def test_full_story_text(nai):
    assert nai.story_text("The Lighthouse Keeper") == (
        "The lighthouse keeper counted the ships again. Seven, not six. He climbed the stairs with the log "
        "under his arm, and the lamp droned above him like a hive. Nobody answered the radio."
    )
    # the retried generation is the current branch
    assert nai.story_text("Clockwork Orchard").endswith("Mara listened for the one that had stopped.")
    text = nai.story_text("Letters from the Salt Road")
    assert text.startswith("Dear Ines,\nThe caravan") and text.endswith("\nTomas")
    content = [c for c in nai.content("storycontent") if c.document is not None][0]
    assert content.text == text and len(content.document.order) == 5


def test_other_tables_and_lorebook(nai):
    presets = nai.user_presets().to_frame()
    assert set(presets["name"]) == {"Lantern (demo)", "Still Water (demo)"}
    assert nai.aimodules().to_frame().loc[0, "name"] == "Salt Road Letters"
    assert nai.shelves().to_frame().loc[0, "children"] == 2
    lore = nai.lorebook("The Lighthouse Keeper")
    assert list(lore["name"]) == ["Elias", "Farol Norte", "The seventh ship"]
    assert nai.story_contents(tokens=True).to_frame()["tokens"].notna().all()


def test_unchanged_save_is_byte_identical_and_sends_nothing(nai):
    item = nai.content("storycontent")[0]
    before = nai.get_object("storycontent", item.id)
    saved = nai.save_content(item)
    after = nai.get_object("storycontent", item.id)
    assert after.data == before.data and after.change_index == before.change_index
    assert saved.payload.data == item.payload.data


def test_edit_gets_fresh_nonce_and_a_backup(nai):
    item = nai.content("stories")[0]
    old_nonce = item.payload.nonce
    item.data["title"] = "The Lighthouse Keeper (revised)"
    saved = nai.save_content(item)
    assert saved.payload.nonce != old_nonce and saved.change_index == item.change_index + 1
    again = nai.content_item("stories", item.id)
    assert again.ok and again.data == item.data and not again.changed
    backups = sorted(p for p in nai.backup_dir.iterdir() if "before-stories" in p.name)
    assert len(backups) == 1
    kept = json.loads(next(backups[0].glob("objects/stories/*.json")).read_text())
    assert kept["data"] == item.payload.data  # the version that was overwritten


def test_stale_object_is_not_overwritten(nai, sb):
    item = nai.content("stories")[1]
    with NovelAI(base_url=sb.url, **DEMO) as other:
        theirs = other.content_item("stories", item.id)
        theirs.data["title"] = "changed elsewhere"
        other.save_content(theirs, backup=False)
    item.data["title"] = "mine"
    with pytest.raises(UnsafeWrite, match="changed since you read it"):
        nai.save_content(item)
    assert nai.content_item("stories", item.id).data["title"] == "changed elsewhere"
    nai.save_content(item, force=True)
    assert nai.content_item("stories", item.id).data["title"] == "mine"


def test_one_corrupt_object_keeps_the_others(nai):
    target = nai.content("storycontent")[1]
    bad = base64.b64encode(os.urandom(80)).decode()
    nai.update_object("storycontent", target.id, target.meta, bad)
    contents = nai.content("storycontent")
    assert [c.ok for c in contents] == [True, False, True]
    err = contents[1].error
    assert isinstance(err, CorruptObject) and err.stage == "decrypt" and err.object_id == target.id
    frame = nai.stories().to_frame()
    assert frame["error"].notna().tolist() == [False, True, False]
    assert "decrypt" in frame.loc[1, "error"]
    with pytest.raises(CorruptObject):
        contents.raise_errors()
    with pytest.raises(UnsafeWrite, match="read without error"):
        nai.save_content(contents[1])


def test_wrong_password_or_key_says_so(sb):
    with NovelAI(base_url=sb.url, **DEMO) as c:
        with pytest.raises(WrongKey) as info:
            c.unlock("Demo@NaiKit.dev", "not-the-password")
        assert "key is wrong" in str(info.value) and len(info.value.failures) == 2
        assert "not-the-password" not in str(info.value)
        c.set_encryption_key(bytes(32))
        with pytest.raises(WrongKey, match="the encryption key given: the MAC check failed"):
            c.stories()
        c.unlock(**DEMO)
        assert len(c.keystore()) == 4


def test_token_only_client_needs_unlock(sb):
    token = sb.create_persistent_token()
    with NovelAI(token, base_url=sb.url) as c:
        with pytest.raises(CredentialsError, match="unlock"):
            c.keystore()
        assert c.unlock(**DEMO).state == "ok"
        assert len(c.stories()) == 3


def test_keystore_refusals_leave_the_server_untouched(nai):
    raw = nai.keystore_raw()
    ks = nai.keystore()
    used = ks.metas[0]
    ks.remove(used)
    with pytest.raises(UnsafeWrite, match="Objects still use"):
        nai.set_keystore(ks)
    ks = nai.keystore()
    ks._keys[ks.metas[0]] = bytes(32)  # a corrupted key
    with pytest.raises(UnsafeWrite, match="would change"):
        nai.set_keystore(ks)

    class Broken(Keystore):
        def encrypt(self, key):  # what would go up does not open with the account key
            return super().encrypt(bytes(32))

    broken = Broken(nai.keystore().keys_copy())
    with pytest.raises(UnsafeWrite, match="opens with the account key"):
        nai.set_keystore(broken)
    assert nai.keystore_raw() == raw


def test_keystore_added_elsewhere_is_not_dropped(nai, sb):
    mine = nai.keystore()
    with NovelAI(base_url=sb.url, **DEMO) as other:
        theirs = other.keystore()
        theirs.add()
        other.set_keystore(theirs, backup=False)
    mine.add()
    with pytest.raises(UnsafeWrite, match="another client added"):
        nai.set_keystore(mine)
    fresh = nai.keystore()
    fresh.add()
    assert len(nai.set_keystore(fresh)) == 6


def test_unused_key_can_be_removed_and_keystore_backed_up(nai):
    ks = nai.keystore()
    meta = ks.add()
    nai.set_keystore(ks)
    ks = nai.keystore()
    ks.remove(meta)
    assert meta not in nai.set_keystore(ks)
    saved = sorted(p for p in nai.backup_dir.iterdir() if p.name.endswith("before-keystore"))
    assert len(saved) == 2 and json.loads((saved[-1] / "keystore.json").read_text())["keystore"]


def test_fresh_account_keystore_is_created_explicitly(sb, tmp_path):
    with NovelAI(base_url=sb.url) as c:
        c.register("fresh-content@naikit.dev", "pw-fresh-1", "recaptcha-ok")
        c.unlock("fresh-content@naikit.dev", "pw-fresh-1")
        c.set_backup_dir(tmp_path)
        assert c.keystore().state == "missing"
        with pytest.raises(UnsafeWrite, match="create_keystore"):
            c.create_content("stories", {"title": "first"})
        assert c.keystore_raw() is None
        item = c.create_content("stories", {"title": "first"}, create_keystore=True)
        assert c.keystore().state == "ok" and item.meta in c.keystore()
        assert c.content("stories")[0].data == {"title": "first"}
        preset = c.create_content("presets", {"name": "p"})
        assert c.content_item("presets", preset.id).data == {"name": "p"}


def test_no_secret_in_reprs(nai):
    ks = nai.keystore()
    key_hex = ks[ks.metas[0]].hex()
    texts = [repr(ks), repr(nai.stories()), repr(nai.content("stories")[0]), repr(nai)]
    assert not any(key_hex in t or sandbox.DEMO_PASSWORD in t for t in texts)


# -- raw calls: say they are raw, keep a local copy before overwriting or deleting ------------------------
def _folders(nai, word: str) -> list:
    from naikit.novelai.backup import read_backup

    return [read_backup(p) for p in sorted(nai.backup_dir.iterdir()) if word in p.name]


def test_raw_update_and_delete_keep_a_local_copy(nai):
    target = nai.list_objects("storycontent")[1]
    garbage = base64.b64encode(os.urandom(80)).decode()
    nai.update_object("storycontent", target.id, target.meta, garbage)
    [(_m, _ks, kept)] = _folders(nai, f"before-storycontent-{target.id}")
    assert kept[0].data == target.data  # the readable version, before the garbage
    preset = nai.list_objects("presets")[0]
    nai.delete_object("presets", preset.id)
    [(_m, _ks, kept)] = _folders(nai, f"before-delete-presets-{preset.id}")
    assert kept[0].data == preset.data
    assert "RAW" in type(nai._async).update_object.__doc__ and "NOT checked" in nai.update_object.__doc__


def test_set_keystore_raw_refuses_another_accounts_keystore(nai, sb):
    with NovelAI(base_url=sb.url) as other:
        other.register("other-keys@naikit.dev", "pw-other-1", "recaptcha-ok")
        other.unlock("other-keys@naikit.dev", "pw-other-1")
        ks = other.keystore()
        ks.add()
        other.set_keystore(ks)
        foreign = other.keystore_raw()
    mine = nai.keystore_raw()
    with pytest.raises(UnsafeWrite, match="decrypts with this account's key"):
        nai.set_keystore_raw(foreign)
    assert nai.keystore_raw() == mine
    nai.set_keystore_raw(foreign, check=False)  # raw means raw when asked: but the old one is kept
    [(_m, kept, _o)] = _folders(nai, "before-keystore")
    assert kept == mine


def test_delete_account_and_recovery_wipe_keep_a_local_copy(sb, tmp_path):
    with NovelAI(base_url=sb.url) as c:
        c.set_backup_dir(tmp_path / "b")
        c.register("wipe-me@naikit.dev", "pw-wipe-1", "recaptcha-ok")
        c.unlock("wipe-me@naikit.dev", "pw-wipe-1")
        c.create_content("presets", {"name": "keep me"})
        c.request_account_recovery("wipe-me@naikit.dev")
        token = [m for m in sb.outbox if m["to"] == "wipe-me@naikit.dev" and m["kind"] == "recovery"][-1]
        c.recover_account(token["token"], "wipe-me@naikit.dev", "pw-wipe-2", delete_content=True)
        [(manifest, _ks, objects)] = _folders(c, "before-recover-delete-content")
        assert manifest["full"] and [o.type for o in objects] == ["presets"]
        assert len(c.list_objects("presets")) == 0
        c.create_content("presets", {"name": "second"})
        c.delete_account(confirm=True)
        [(manifest, _ks, objects)] = _folders(c, "before-delete-account")
        assert [o.type for o in objects] == ["presets"]
    with NovelAI(base_url=sb.url) as stranger:
        with pytest.raises(InputError, match="not logged in"):
            stranger.recover_account("x" * 20, "wipe-me@naikit.dev", "pw", delete_content=True)


def test_settings_and_access_key_changes_keep_a_local_copy(nai, sb):
    nai.set_client_settings({"theme": "dark"})
    nai.set_client_settings({"theme": "light"})
    [(_m, _ks, _o)] = _folders(nai, "before-clientsettings")
    kept = json.loads(next(p for p in nai.backup_dir.glob("*clientsettings/clientsettings.json")).read_text())
    assert kept == {"settings": {"theme": "dark"}}
    from naikit.novelai.auth import access_key
    from naikit.novelai.backup import read_backup

    old = access_key(sandbox.DEMO_EMAIL, sandbox.DEMO_PASSWORD)
    folder = nai.backup_dir  # named after the email: the client knows only the new key afterwards
    nai.change_access_key(old, access_key(sandbox.DEMO_EMAIL, "new-password-1"), force=True)
    [(manifest, ks_raw, objects)] = [read_backup(p) for p in folder.glob("*-before-change-access-key")]
    assert manifest["full"] and ks_raw is not None and len(objects) == 10
