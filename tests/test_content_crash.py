"""kill -9 during upload, save, backup and restore: nothing on the server is lost or unreadable, no partial
backup is ever accepted, and a restore run again after the crash (and once more) ends with no duplicates
and changes nothing the second time.

The kill point is deterministic: the child counts events (each HTTP request before it is sent and after
its answer arrived, each ``fsync`` and each ``rename`` of a backup) and SIGKILLs itself at event N; N is
drawn with a fixed seed from the number of events a run without a kill makes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sandbox_fixtures import DEMO

from naikit import sandbox
from naikit.errors import InputError
from naikit.novelai.backup import read_backup
from naikit.novelai.client import NovelAI
from naikit.novelai.content import decode_object

TYPES = ("stories", "storycontent", "presets", "aimodules", "shelf")
RUNS = int(os.environ.get("CRASH_RUNS", "25"))
ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import os, signal, sys, json
import naikit._transport as transport

kill_at = int(os.environ["KILL_AT"])
count = 0

def event():
    global count
    count += 1
    if count == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

real_send = transport.Transport._send

async def send(self, *args, **kwargs):
    event()  # before the request leaves
    out = await real_send(self, *args, **kwargs)
    event()  # the server has acted and answered
    return out

transport.Transport._send = send
for name in ("fsync", "rename"):
    real = getattr(os, name)
    def wrapped(*a, _real=real, **k):
        event()
        return _real(*a, **k)
    setattr(os, name, wrapped)

from naikit.novelai.client import NovelAI
op, url, arg = sys.argv[1], sys.argv[2], sys.argv[3]
with NovelAI(base_url=url, email=os.environ["DEMO_EMAIL"], password=os.environ["DEMO_PASSWORD"]) as nai:
    if op == "upload":
        fragment = {"data": "crash test", "origin": "user"}
        nai.create_content("storycontent", {"story": {"fragments": [fragment]}})
    elif op == "save":
        item = nai.content_item("storycontent", arg)
        item.data["crashMarks"] = ["saved"]
        nai.save_content(item)
    elif op == "backup":
        nai.backup(arg)
    elif op == "restore":
        nai.restore(arg)
print(json.dumps({"events": count}))
"""


def _child(op: str, url: str, arg: str, kill_at: int, backups: Path) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        KILL_AT=str(kill_at),
        NAIKIT_BACKUP_DIR=str(backups),
        DEMO_EMAIL=sandbox.DEMO_EMAIL,
        DEMO_PASSWORD=sandbox.DEMO_PASSWORD,
    )
    return subprocess.run(
        [sys.executable, "-c", CHILD, op, url, arg], env=env, capture_output=True, text=True, timeout=300
    )


def _snapshot(nai: NovelAI) -> dict:
    return {(t, o.id): (o.meta, o.data) for t in TYPES for o in nai.list_objects(t)}


def _all_readable(nai: NovelAI) -> None:
    ks = nai.keystore()
    for t in TYPES:
        for o in nai.list_objects(t):
            decode_object(o, ks).raise_for_error()


def _accepted_backups(root: Path) -> list[tuple[Path, list]]:
    """Every folder under ``root`` that read_backup accepts (the others must be refused, not half-read)."""
    out = []
    for folder in sorted(p for p in root.rglob("*") if p.is_dir()):
        try:
            _m, _ks, objects = read_backup(folder)
        except InputError:
            continue
        out.append((folder, objects))
    return out


def _prepare(op: str, nai: NovelAI, tmp: Path) -> str:
    if op == "save":
        return nai.list_objects("storycontent")[0].id
    if op == "backup":
        return str(tmp / "target")
    if op == "restore":
        info = nai.backup(tmp / "source")
        for s in nai.content("stories")[1:]:
            nai.delete_object("storycontent", s.data["remoteStoryId"], backup=False)
            nai.delete_object("stories", s.id, backup=False)
        nai.delete_object("presets", nai.list_objects("presets")[0].id, backup=False)
        return str(info.path)
    return ""


def _check(op: str, nai: NovelAI, before: dict, arg: str, tmp: Path) -> None:
    _all_readable(nai)  # every object on the server decrypts (and the keystore opens)
    after = _snapshot(nai)
    ks = nai.keystore()
    for folder, objects in _accepted_backups(tmp):
        for o in objects:  # an accepted backup is complete and every object in it readable
            decode_object(o, ks).raise_for_error()
        if folder.name == "target":
            assert {(o.type, o.id): (o.meta, o.data) for o in objects} == after
    if op == "upload":
        assert set(before) <= set(after) and all(after[k] == v for k, v in before.items())
        assert len(after) - len(before) in (0, 1)
    elif op == "save":
        assert set(after) == set(before)
        assert all(after[k] == v for k, v in before.items() if k != ("storycontent", arg))
        marks = nai.content_item("storycontent", arg).raise_for_error().data.get("crashMarks")
        assert marks in (None, ["saved"])
    elif op == "backup":
        assert after == before
    elif op == "restore":
        assert set(before) <= set(after)  # nothing that was there is gone
        first = nai.restore(arg)  # finish the interrupted restore
        assert not {"failed", "refused", "kept"} & set(first.actions), first.to_frame()
        done = _snapshot(nai)
        second = nai.restore(arg)
        assert set(second.actions) == {"unchanged"} and _snapshot(nai) == done
        _m, _ks, objects = read_backup(arg)
        for t in TYPES:  # no duplicates: exactly as many objects of each type as the backup holds
            assert len(nai.list_objects(t)) == sum(o.type == t for o in objects)
        assert nai.sanity_check().ok


@pytest.mark.parametrize("op", ["upload", "save", "backup", "restore"])
def test_kill_9_loses_nothing(op, tmp_path):
    def trial(kill_at: int, where: Path) -> subprocess.CompletedProcess:
        where.mkdir()
        with sandbox.start() as sb, NovelAI(base_url=sb.url, **DEMO) as nai:
            nai.set_backup_dir(where / "parent-backups")
            arg = _prepare(op, nai, where)
            before = _snapshot(nai)
            proc = _child(op, sb.url, arg, kill_at, where / "child-backups")
            _check(op, nai, before, arg, where)
        return proc

    dry = trial(-1, tmp_path / "dry")
    assert dry.returncode == 0, dry.stderr[-2000:]
    events = json.loads(dry.stdout.strip().splitlines()[-1])["events"]
    assert events >= 4
    rng = random.Random(f"naikit-crash-{op}")
    points = [rng.randint(1, events) for _ in range(RUNS)]
    for i, n in enumerate(points):
        proc = trial(n, tmp_path / f"kill-{i}-at-{n}")
        assert proc.returncode == -signal.SIGKILL, (n, proc.returncode, proc.stderr[-2000:])
