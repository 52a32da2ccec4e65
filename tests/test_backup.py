"""Backups of a whole account and restore from them, against the sandbox; the CLI commands."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sandbox_fixtures import demo_client_fixture, sandbox_fixture

from naikit import cli, sandbox
from naikit.errors import InputError, UnsafeWrite
from naikit.novelai.backup import account_fingerprint, read_backup

sb = sandbox_fixture(scope="function")
nai = demo_client_fixture(scope="function", backup_dir="root")


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


# -- restore: verified, idempotent, confined to its folder; backups atomic --------------------------------
def _snapshot(nai) -> dict:
    """Every object on the server as (type, id) -> (meta, changeIndex, data), plus the keystore."""
    out = {("keystore", ""): nai.keystore_raw()}
    for t in ("stories", "storycontent", "presets", "aimodules", "shelf"):
        for o in nai.list_objects(t):
            out[(t, o.id)] = (o.meta, o.change_index, o.data)
    return out


def _rewrite(folder, name: str, body: dict) -> None:
    """Replace one file of a backup and fix its checksum in the manifest (a damage the hashes cannot see)."""
    import hashlib

    data = json.dumps(body, indent=1).encode()
    (folder / name).write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256(data).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_restore_twice_changes_nothing_the_second_time(nai):
    info = nai.backup()
    for s in [s for s in nai.content("stories") if s.data["title"] != "The Lighthouse Keeper"]:
        nai.delete_content(nai.content_item("storycontent", s.data["remoteStoryId"]))
        nai.delete_content(s)
    nai.delete_content(nai.content("presets")[0])
    first = nai.restore(info.path)
    assert first.actions == {"created": 5, "unchanged": 5}
    before = _snapshot(nai)
    second = nai.restore(info.path)
    assert second.actions == {"unchanged": 10} and _snapshot(nai) == before
    assert sorted(r["new_id"] for r in second.rows if r["new_id"]) == sorted(
        r["new_id"] for r in first.rows if r["action"] == "created"
    )
    frame = nai.stories().to_frame()
    assert len(frame) == 3 and frame["error"].isna().all() and nai.sanity_check().ok


def test_restore_decrypts_every_object_first_and_refuses_a_corrupt_one(nai):
    import base64

    info = nai.backup()
    name = next(
        n for n in json.loads((info.path / "manifest.json").read_text())["files"] if "storycontent" in n
    )
    body = json.loads((info.path / name).read_text())
    raw = bytearray(base64.b64decode(body["data"]))
    raw[-5] ^= 0x01  # one flipped bit in the ciphertext
    body["data"] = base64.b64encode(bytes(raw)).decode()
    _rewrite(info.path, name, body)
    for s in nai.content("stories"):
        nai.delete_content(nai.content_item("storycontent", s.data["remoteStoryId"]))
    before = _snapshot(nai)
    with pytest.raises(UnsafeWrite, match=r"1 object\(s\) would be uploaded unreadable.*failed at decrypt"):
        nai.restore(info.path)
    assert _snapshot(nai) == before  # nothing was written
    report = nai.restore(info.path, skip_corrupt=True)
    # the two stories still on the server follow their re-created storycontent
    assert report.actions == {"created": 2, "relinked": 2, "refused": 1, "unchanged": 5}
    refused = [r for r in report.rows if r["action"] == "refused"][0]
    assert refused["id"] == body["id"] and "decrypt" in refused["detail"]
    frame = nai.stories().to_frame()
    assert frame["error"].isna().sum() == 2 and "is missing" in frame["error"].dropna().iloc[0]
    assert nai.restore(info.path, skip_corrupt=True).actions == {"refused": 1, "unchanged": 9}


@pytest.mark.parametrize(
    "entry", ["../outside.json", "/etc/hostname", "objects/stories/../../x.json", "objects/notatype/a.json"]
)
def test_read_backup_refuses_entries_outside_its_folder(nai, tmp_path, entry):
    info = nai.backup()
    (tmp_path / "root" / "outside.json").write_text("{}")
    manifest = json.loads((info.path / "manifest.json").read_text())
    manifest["files"][entry] = "0" * 64
    (info.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="points outside the backup"):
        read_backup(info.path)
    with pytest.raises(InputError, match="points outside the backup"):
        nai.restore(info.path)


def test_read_backup_refuses_symlinks(nai, tmp_path):
    import shutil

    info = nai.backup()
    name = next(n for n in json.loads((info.path / "manifest.json").read_text())["files"] if "presets" in n)
    elsewhere = tmp_path / "elsewhere.json"
    shutil.copy(info.path / name, elsewhere)  # same bytes, so the checksum alone would accept it
    (info.path / name).unlink()
    (info.path / name).symlink_to(elsewhere)
    with pytest.raises(InputError, match="symlink"):
        read_backup(info.path)
    (info.path / name).unlink()
    shutil.copy(elsewhere, info.path / name)
    read_backup(info.path)
    objects = info.path / "objects"
    shutil.move(objects, tmp_path / "objects-elsewhere")
    objects.symlink_to(tmp_path / "objects-elsewhere")
    with pytest.raises(InputError, match="symlink"):
        read_backup(info.path)


def test_partial_backups_are_never_accepted(nai, tmp_path):
    info = nai.backup(tmp_path / "given")
    assert info.path == tmp_path / "given" and read_backup(info.path)
    assert not [p for p in (tmp_path).iterdir() if p.name.endswith(".partial")]
    manifest = json.loads((info.path / "manifest.json").read_text())
    assert manifest["complete"] is True
    # a manifest that lists fewer files than it counts
    name = next(iter(n for n in manifest["files"] if n.startswith("objects/")))
    partial = dict(manifest, files={k: v for k, v in manifest["files"].items() if k != name})
    (info.path / "manifest.json").write_text(json.dumps(partial))
    with pytest.raises(InputError, match="complete backup"):
        read_backup(info.path)
    (info.path / "manifest.json").unlink()  # what a crash before the rename would look like
    with pytest.raises(InputError, match="backup folder"):
        read_backup(info.path)
    # an empty folder is accepted as the target; a file where the folder should be is not
    (tmp_path / "empty").mkdir()
    assert nai.backup(tmp_path / "empty").path == tmp_path / "empty"
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="a new or empty folder"):
        nai.backup(tmp_path / "file")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_names = st.sampled_from(
    [
        "keystore.json",
        "objects/stories/a.json",
        "objects/presets/b.json",
        "modules/m.json",
        "../x.json",
        "a/../b",
    ]
) | st.text(max_size=30)


_user_data = st.fixed_dictionaries(
    {"id": st.sampled_from(["a", "b"]) | _json, "type": st.sampled_from(["stories", "presets"]) | _json},
    optional={
        "meta": _json,
        "data": st.text(max_size=8) | _json,
        "changeIndex": _json,
        "lastUpdatedAt": _json,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    manifest=st.one_of(
        _json,
        st.fixed_dictionaries(
            {"format": st.just("naikit-backup-1")},
            optional={
                "files": st.dictionaries(_names, st.one_of(st.text(max_size=64), _json), max_size=4),
                "counts": st.one_of(
                    _json, st.dictionaries(st.sampled_from(["stories", "presets"]), st.integers(0, 3))
                ),
                "complete": st.one_of(st.booleans(), st.none()),
            },
        ),
    ),
    bodies=st.dictionaries(
        _names,
        st.one_of(_json.map(json.dumps), _user_data.map(json.dumps), st.binary(max_size=40)),
        max_size=4,
    ),
    fix_hashes=st.booleans(),
)
def test_read_backup_fuzz_ends_in_input_error(manifest, bodies, fix_hashes):
    import hashlib
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "b"
        folder.mkdir()
        for name, body in bodies.items():
            path = folder / name
            if not name or "\0" in name or name.startswith("/") or ".." in name:
                continue
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(body.encode() if isinstance(body, str) else body)
            except OSError:
                continue
            if fix_hashes and isinstance(manifest, dict) and isinstance(manifest.get("files"), dict):
                manifest["files"][name] = hashlib.sha256(path.read_bytes()).hexdigest()
        (folder / "manifest.json").write_text(json.dumps(manifest))
        try:
            read_backup(folder)
        except InputError:
            pass


@settings(max_examples=150, deadline=None)
@given(body=_user_data, count=st.integers(0, 2))
def test_read_backup_fuzz_object_files(body, count):
    # a well-formed manifest with correct hashes around one stored object of any shape
    import hashlib
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        name = "objects/stories/a.json"
        (folder / "objects" / "stories").mkdir(parents=True)
        data = json.dumps(body).encode()
        (folder / name).write_bytes(data)
        manifest = {
            "format": "naikit-backup-1",
            "complete": True,
            "counts": {"stories": count},
            "files": {name: hashlib.sha256(data).hexdigest()},
        }
        (folder / "manifest.json").write_text(json.dumps(manifest))
        try:
            _m, _ks, objects = read_backup(folder)
        except InputError:
            return
        assert [(o.type, o.id) for o in objects] == [("stories", "a")] and isinstance(objects[0].data, str)
