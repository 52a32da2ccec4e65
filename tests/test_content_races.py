"""Two clients saving one story at once: the second save is refused (the sandbox enforces ``changeIndex`` like
the website expects: 409) or, behind a server that ignores ``changeIndex``, caught right after from the
answer; never both "saved" with one edit gone. The loser's version is kept in a local backup folder."""

from __future__ import annotations

import asyncio
import json
import re
import threading

import aiohttp
import pytest
from aiohttp import web
from sandbox_fixtures import DEMO, sandbox_fixture

from naikit.errors import Conflict, EditConflict
from naikit.novelai.backup import read_backup
from naikit.novelai.client import NovelAI
from naikit.novelai.content import decode_object

TRIALS = 200


class StripChangeIndex:
    """A loopback proxy in front of the sandbox that drops ``changeIndex`` from every body: a server that
    cannot refuse the second write (what REF-style clients see, since they send none)."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(30)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        self.session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        if body and request.content_type == "application/json":
            doc = json.loads(body)
            if isinstance(doc, dict):
                doc.pop("changeIndex", None)
                body = json.dumps(doc).encode()
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
        async with self.session.request(
            request.method, self.upstream + request.path_qs, data=body or None, headers=headers
        ) as resp:
            data = await resp.read()
            return web.Response(status=resp.status, body=data, content_type=resp.content_type)

    def close(self) -> None:
        async def stop() -> None:
            await self.session.close()
            await self.runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


sb = sandbox_fixture(scope="function")


def _content_id(client: NovelAI) -> str:
    story = [s for s in client.content("stories") if s.data["title"] == "Clockwork Orchard"][0]
    return story.data["remoteStoryId"]


def _marks(client: NovelAI, content_id: str) -> list[str]:
    return list(client.content_item("storycontent", content_id).raise_for_error().data.get("raceMarks", []))


def _race(url: str, tmp_path, trials: int) -> dict:
    """Run ``trials`` rounds of two clients (own sessions, each on its own thread) editing one storycontent
    at once; return counts and every failure."""
    a = NovelAI(base_url=url, **DEMO)
    b = NovelAI(base_url=url, **DEMO)
    a.set_backup_dir(tmp_path / "a")
    b.set_backup_dir(tmp_path / "b")
    cid = _content_id(a)
    stats: dict = {"both_ok": 0, "one_ok": 0, "lost": 0, "both_ok_lost": 0, "conflicts": [], "other": []}
    barrier = threading.Barrier(2, timeout=120)
    results: dict[tuple[str, int], object] = {}

    def run(client: NovelAI, who: str) -> None:
        for trial in range(trials):
            read_first = trial % 2 == 0  # odd rounds read after the barrier: reads and writes interleave
            try:
                if not read_first:
                    barrier.wait()
                item = client.content_item("storycontent", cid).raise_for_error()
                item.data["raceMarks"] = list(item.data.get("raceMarks", [])) + [f"{who}{trial}"]
                if read_first:
                    barrier.wait()
                client.save_content(item)
                results[who, trial] = "ok"
            except Exception as exc:  # noqa: BLE001 - EditConflict expected; anything else is counted
                results[who, trial] = exc
            barrier.wait()  # both saves are over
            if who == "a":
                final = _marks(client, cid)
                ok = [w for w in ("a", "b") if results.get((w, trial)) == "ok"]
                lost = any(f"{w}{trial}" not in final for w in ok)
                stats["lost"] += lost
                stats["both_ok_lost"] += lost and len(ok) == 2
                stats["both_ok" if len(ok) == 2 else "one_ok"] += 1
            barrier.wait()  # the check is over: next round

    threads = [threading.Thread(target=run, args=(c, w)) for c, w in ((a, "a"), (b, "b"))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for (w, trial), r in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            if isinstance(r, EditConflict):
                stats["conflicts"].append((w, trial, r))
            elif r != "ok":
                stats["other"].append((w, trial, r))
        stats["keystore"] = a.keystore()
    finally:
        a.close()
        b.close()
    return stats


def _summary(what: str, stats: dict) -> str:
    keys = ("both_ok", "one_ok", "lost", "both_ok_lost")
    return f"{what}: " + ", ".join(f"{k}={stats[k]}" for k in keys) + f", conflicts={len(stats['conflicts'])}"


def _yours_holds_mark(exc: EditConflict, keystore, mark: str) -> bool:
    _m, _ks, objects = read_backup(exc.yours)
    data = decode_object(objects[0], keystore).raise_for_error().data
    return mark in data.get("raceMarks", [])


def test_200_concurrent_saves_never_lose_an_edit(sb, tmp_path):
    stats = _race(sb.url, tmp_path, TRIALS)
    print(_summary("sandbox enforcing changeIndex", stats))
    assert stats["other"] == [] and stats["lost"] == 0 and stats["both_ok_lost"] == 0
    # a round where both read the same version always has a loser; it was told, with its version kept
    assert len(stats["conflicts"]) >= TRIALS // 2
    assert all(_yours_holds_mark(e, stats["keystore"], f"{w}{t}") for w, t, e in stats["conflicts"])
    assert all(e.theirs is not None for _w, _t, e in stats["conflicts"])
    assert all(
        re.search("saved it first|changed since you read it", str(e)) for _w, _t, e in stats["conflicts"]
    )


def test_200_concurrent_saves_behind_a_server_that_ignores_change_index(sb, tmp_path):
    proxy = StripChangeIndex(sb.url)
    try:
        stats = _race(proxy.url, tmp_path, TRIALS)
    finally:
        proxy.close()
    print(_summary("server ignoring changeIndex", stats))
    # Without the server's refusal the second write cannot be stopped; its writer finds it in the answer
    # (the index moved by two), is told, and its message says it replaced the other's save. So no round
    # ends with both told "saved" and one edit gone.
    assert stats["other"] == [] and stats["both_ok_lost"] == 0
    assert len(stats["conflicts"]) >= TRIALS // 2
    replaced = [e for _w, _t, e in stats["conflicts"] if "replaced theirs" in str(e)]
    assert len(replaced) >= stats["lost"]
    assert all(_yours_holds_mark(e, stats["keystore"], f"{w}{t}") for w, t, e in stats["conflicts"])


def test_sandbox_refuses_a_stale_change_index_and_the_website_retry_works(sb):
    with NovelAI(base_url=sb.url, **DEMO) as c:
        obj = c.list_objects("presets")[0]
        with pytest.raises(Conflict, match="changeIndex 0 sent"):
            c.update_object("presets", obj.id, obj.meta, obj.data, change_index=0, backup=False)
        assert c.get_object("presets", obj.id).change_index == obj.change_index  # nothing changed
        done = c.update_object("presets", obj.id, obj.meta, obj.data, change_index=obj.change_index)
        assert done.change_index == obj.change_index + 1
        # REF-style clients send none: the write is not refused
        assert c.update_object("presets", obj.id, obj.meta, obj.data).change_index == obj.change_index + 2


def test_keystore_change_index_is_served_and_enforced(sb):
    with NovelAI(base_url=sb.url, **DEMO) as c:
        ks = c.keystore()
        raw = c.keystore_raw()
        data = c.user_data()
        assert isinstance(data.raw["keystore"]["changeIndex"], int)
        with pytest.raises(Conflict):
            c.set_keystore_raw(raw, change_index=data.raw["keystore"]["changeIndex"] + 5)
        ks.add()
        c.set_keystore(ks)  # reads the index itself and sends it
        assert len(c.keystore()) == len(ks)


def test_conflicting_save_is_refused_and_both_versions_are_kept(sb, tmp_path):
    with NovelAI(base_url=sb.url, **DEMO) as a, NovelAI(base_url=sb.url, **DEMO) as b:
        a.set_backup_dir(tmp_path / "a")
        b.set_backup_dir(tmp_path / "b")
        cid = _content_id(a)
        mine = a.content_item("storycontent", cid)
        theirs = b.content_item("storycontent", cid)
        theirs.data["raceMarks"] = ["theirs"]
        b.save_content(theirs)
        mine.data["raceMarks"] = ["mine"]
        with pytest.raises(EditConflict, match="changed since you read it"):
            a.save_content(mine)
        assert _marks(a, cid) == ["theirs"]


def test_lost_race_behind_a_server_that_ignores_change_index_is_reported(sb, tmp_path):
    # the deterministic form of the race: the other write lands between this client's read and its PATCH
    proxy = StripChangeIndex(sb.url)
    try:
        with NovelAI(base_url=proxy.url, **DEMO) as a, NovelAI(base_url=sb.url, **DEMO) as b:
            a.set_backup_dir(tmp_path / "a")
            cid = _content_id(a)
            mine = a.content_item("storycontent", cid)
            mine.data["raceMarks"] = ["mine"]
            real_get = a._async.get_object
            calls = []

            async def get_then_other_write(object_type, object_id):
                got = await real_get(object_type, object_id)
                if not calls:  # right after save_content's check, the other client saves (same loop)
                    calls.append(1)
                    other = await b._async.content_item("storycontent", cid)
                    other.data["raceMarks"] = ["theirs"]
                    await b._async.save_content(other)
                return got

            a._async.get_object = get_then_other_write
            with pytest.raises(EditConflict, match="went from") as e:
                a.save_content(mine)
            a._async.get_object = real_get
            assert _marks(a, cid) == ["mine"]  # ours replaced theirs: that is what the error says
            keystore = a.keystore()
            assert _yours_holds_mark(e.value, keystore, "mine")
    finally:
        proxy.close()


def test_two_clients_creating_stories_at_once_keep_both_keys(sb, tmp_path):
    # each new story needs a new key in the keystore: two clients adding one at once must not drop either
    a = NovelAI(base_url=sb.url, **DEMO)
    b = NovelAI(base_url=sb.url, **DEMO)
    a.set_backup_dir(tmp_path / "a")
    b.set_backup_dir(tmp_path / "b")
    barrier = threading.Barrier(2, timeout=120)
    made: dict[str, list] = {"a": [], "b": []}
    errors: list = []

    def run(client: NovelAI, who: str) -> None:
        for i in range(30):
            barrier.wait()
            try:
                made[who].append(client.create_content("storycontent", {"who": who, "i": i}))
            except Exception as exc:  # noqa: BLE001 - shown by the assertion
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(c, w)) for c, w in ((a, "a"), (b, "b"))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and len(made["a"]) == len(made["b"]) == 30
        contents = a.content("storycontent")
        assert contents.errors == [] and len(contents) == 3 + 60
        assert sorted((c.data["who"], c.data["i"]) for c in contents if "who" in c.data) == sorted(
            (w, i) for w in "ab" for i in range(30)
        )
    finally:
        a.close()
        b.close()
