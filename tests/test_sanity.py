"""The §4.5 sanity check as a report: the clean demo account, then each kind of problem it must find."""

from __future__ import annotations

import base64
import os

import pytest
from sandbox_fixtures import DEMO

from naikit import cli, sandbox
from naikit.novelai.client import NovelAI


@pytest.fixture
def nai(tmp_path):
    with sandbox.start() as sb, NovelAI(base_url=sb.url, **DEMO) as client:
        client.set_backup_dir(tmp_path)
        client.sb_url = sb.url
        yield client


def test_clean_demo_account(nai):
    report = nai.sanity_check()
    assert report.ok and report.problems == []
    frame = report.to_frame()
    assert list(frame.columns) == ["check", "type", "id", "meta", "status", "detail"]
    assert (frame["check"] == "decrypted").sum() == 7 and (frame["check"] == "decompressed").sum() == 3
    assert "3/3 storycontent have been successfully decrypted" in report.summary()


def test_every_problem_is_found(nai):
    contents = nai.content("storycontent")
    bad = contents[2]
    nai.update_object("storycontent", bad.id, bad.meta, base64.b64encode(os.urandom(64)).decode())
    orphan = nai.create_content("storycontent", {"story": {"fragments": []}})  # a new meta, no story
    story = nai.content("stories")[0]
    nai.create_content("aimodules", {"name": "shares a story's meta"}, meta=story.meta)
    dangling = nai.content("stories")[1]
    nai.delete_object("storycontent", dangling.data["remoteStoryId"])

    report = nai.sanity_check()
    assert not report.ok
    checks = {(r["check"], r["id"] or r["meta"]) for r in report.problems}
    assert ("decrypted", bad.id) in checks
    assert ("orphan content", orphan.id) in checks
    assert ("duplicate meta", story.meta) in checks
    assert ("missing content", dangling.id) in checks
    text = report.summary()
    assert "1/3 storycontent couldn't be decrypted: OXO" in text and "problem(s) found" in text
    assert "<pre>" in report._repr_html_()


def test_wrong_key_is_a_finding_not_a_crash(nai):
    nai.set_encryption_key(bytes(32))
    report = nai.sanity_check()
    keystore_row = report.to_frame().iloc[0]
    assert keystore_row["status"] == "problem" and "key is wrong" in keystore_row["detail"]
    assert "0/3" not in report.summary() and "3/3 stories couldn't be decrypted: XXX" in report.summary()
    # presets and shelves need no key
    assert "2/2 presets have been successfully decompressed" in report.summary()


def test_cli_exit_code_reports_problems(nai, capsys):
    item = nai.content("aimodules")[0]
    nai.update_object("aimodules", item.id, item.meta, base64.b64encode(os.urandom(64)).decode())
    args = ["--base-url", nai.sb_url, "--email", sandbox.DEMO_EMAIL, "--password", sandbox.DEMO_PASSWORD]
    assert cli.main(["sanity-check", *args]) == 1
    assert "1/1 aimodules couldn't be decrypted: X" in capsys.readouterr().out
