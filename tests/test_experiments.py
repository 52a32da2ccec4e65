"""Experiments: journal, resume after SIGKILL (every request sent once, proved by a counting proxy),
cache across experiments, budget, limits with a driven clock, frame/summary/export."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys

import pytest
from counting_proxy import CountingProxy
from sandbox_fixtures import DEMO

from naikit import sandbox
from naikit.errors import InputError
from naikit.experiments import Experiment, bootstrap_ci, request_key
from naikit.experiments.metrics import perplexity
from naikit.novelai.client import NovelAI
from naikit.novelai.image_models import ImagePreset
from naikit.widgets import image_grid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMPT = "The old lighthouse keeper climbed the stairs"

# the sweep the child process runs (and the uninterrupted reference)
SWEEP = dict(prompts=[PROMPT], presets=["Carefree", "Asper"], seeds=[0, 1, 2, 3, 4], models=["kayra"])
FIXED = {"max_length": 6}

CHILD = r"""
import sys, naikit
from naikit.novelai.client import NovelAI
folder, url, email, password = sys.argv[1:5]
exp = naikit.Experiment(folder, prompts=[{prompt!r}], presets=["Carefree", "Asper"], seeds=[0, 1, 2, 3, 4],
                        models=["kayra"], fixed={{"max_length": 6}})
with NovelAI(base_url=url, email=email, password=password) as nai:
    print(exp.run(nai, progress=False))
"""


def _done_rows(folder: str) -> int:
    path = os.path.join(folder, "journal.sqlite3")
    if not os.path.exists(path):
        return 0
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute("SELECT COUNT(*) FROM requests WHERE state='done'").fetchone()[0]
    except sqlite3.OperationalError:  # the child has not created the tables yet
        return 0
    finally:
        con.close()


def _stable(frame):
    return frame.drop(columns=["time_s"]).reset_index(drop=True)


def test_request_key_is_sha256_of_canonical_json():
    import hashlib

    # hand-written canonical form: sorted keys, no spaces, UTF-8 kept
    expected = hashlib.sha256('{"a":[1,2],"b":"é"}'.encode()).hexdigest()
    assert request_key({"b": "é", "a": [1, 2]}) == expected


def test_sigkill_mid_sweep_then_resume_sends_each_request_once(sb, tmp_path):
    folder = str(tmp_path / "exp")
    n_before_kill = 4
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(prompt=PROMPT))
    with CountingProxy(sb.url, hold_at=n_before_kill + 1) as proxy:
        env = dict(os.environ, PYTHONPATH=ROOT)
        child = subprocess.Popen(
            [sys.executable, str(script), folder, proxy.url, DEMO["email"], DEMO["password"]],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            # the kill point: request n+1 has reached the proxy (it is held there, in flight), so the
            # first n results are journaled (one request at a time)
            while not proxy.arrived.wait(0.05):
                assert child.poll() is None, child.stderr.read().decode()
            # the n-th result is journaled while request n+1 is held (results are written beside the
            # next request); wait for it in the journal itself
            while _done_rows(folder) < n_before_kill:
                assert child.poll() is None, child.stderr.read().decode()
                proxy.arrived.wait(0.01)
            assert _done_rows(folder) == n_before_kill
            child.send_signal(signal.SIGKILL)
            child.wait()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            proxy.release()
        assert proxy.total() == n_before_kill + 1

        exp = Experiment(folder, **SWEEP, fixed=FIXED)
        orphans = exp.orphans()
        assert len(orphans) == 1 and orphans[0]["axes"]["seed"] == n_before_kill % 5
        with NovelAI(base_url=proxy.url, **DEMO) as client:
            rep = exp.run(client, progress=False)
            assert rep["skipped_orphans"] == 1 and rep["sent"] == 10 - n_before_kill - 1
            assert exp.status()["done"] == 9 and len(exp.orphans()) == 1  # reported, not re-sent
            assert all(c == 1 for c in proxy.counts.values()) and proxy.total() == 10
            rep = exp.run(client, progress=False, resend_orphans=True)  # the user allows it
            assert rep["sent"] == 1 and exp.orphans() == [] and exp.status()["done"] == 10
            assert proxy.total() == 11 and sorted(proxy.counts.values()) == [1] * 9 + [2]
            rep = exp.run(client, progress=False)  # finished: a second run sends nothing
            assert rep["sent"] == 0 and proxy.total() == 11

    ref = Experiment(str(tmp_path / "ref"), **SWEEP, fixed=FIXED)
    with NovelAI(base_url=sb.url, **DEMO) as client:
        ref.run(client, progress=False)
    import pandas.testing as pdt

    pdt.assert_frame_equal(_stable(exp.frame()), _stable(ref.frame()))
    assert len(ref.frame()) == 10


def test_cache_is_shared_by_experiments_in_one_folder(sb, tmp_path):
    folder = str(tmp_path / "shared")
    with CountingProxy(sb.url) as proxy, NovelAI(base_url=proxy.url, **DEMO) as client:
        a = Experiment(folder, name="a", **dict(SWEEP, presets=["Carefree"], seeds=[0, 1]), fixed=FIXED)
        a.run(client, progress=False)
        assert proxy.total() == 2
        b = Experiment(folder, name="b", **dict(SWEEP, presets=["Carefree"], seeds=[1, 2]), fixed=FIXED)
        rep = b.run(client, progress=False)
        assert rep["sent"] == 1 and proxy.total() == 3  # seed 1 came from a's results
        assert list(b.frame()["seed"]) == [1, 2]
        assert b.frame()["text"][0] == a.frame()["text"][1]
        # a folder copied elsewhere resumes there
        import shutil

        copy = str(tmp_path / "copy")
        shutil.copytree(folder, copy)
        c = Experiment(copy, name="b", **dict(SWEEP, presets=["Carefree"], seeds=[1, 2]), fixed=FIXED)
        assert c.run(client, progress=False)["sent"] == 0 and proxy.total() == 3


def _image_exp(folder, **kw):
    preset = ImagePreset.default("nai-diffusion-4-5-full").replace(width=832, height=1216, steps=28)
    return Experiment(
        folder, kind="image", prompts=["a lighthouse"], presets=[preset], seeds=[1, 2, 3, 4, 5],
        params={"steps": [28, 40]}, opus=False, **kw,
    )  # fmt: skip


def test_budget_is_never_crossed(sb, tmp_path):
    from naikit.novelai import image_models as im

    # the estimates, from the cost function the client itself uses for max_anlas
    probe = _image_exp(None)
    costs = [im.estimate_cost(c.identity["body"], opus=False).total for c in probe.cells]
    # cells run in plan order: steps 28 for seeds 1-5, then steps 40 (dearer)
    assert costs[0] > 0 and costs[5] > costs[0]
    budget = sum(costs[:6]) + costs[6] - 1  # the 7th request would cross it by one Anlas
    with CountingProxy(sb.url) as proxy, NovelAI(base_url=proxy.url, **DEMO) as client:
        exp = _image_exp(str(tmp_path / "img"), max_anlas=budget)
        rep = exp.run(client, progress=False)
        assert rep["stopped"] == "max_anlas" and rep["done"] == 6 and proxy.total() == 6
        assert rep["anlas"] == sum(costs[:6]) <= budget
        # a later run with the same budget still starts nothing (the budget is the experiment's)
        rep = exp.run(client, progress=False)
        assert rep["sent"] == 0 and rep["stopped"] == "max_anlas" and proxy.total() == 6
        f = exp.frame()
        assert list(f["cost"]) == costs[:6]
        for p in f["path"]:
            with open(p, "rb") as fh:
                assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
        from naikit.metadata import read_metadata

        meta = read_metadata(f["path"][0])
        assert meta is not None
        # raising the budget continues where it stopped
        rep = exp.run(client, progress=False, max_anlas=sum(costs))
        assert rep["stopped"] is None and proxy.total() == 10 and len(exp.frame()) == 10
        sheet = image_grid(exp, thumb_size=64)
        assert repr(sheet) == "ImageGrid(10 images)" and sheet.captions[0] == "steps=28 · seed=1"


def test_max_requests_and_max_time_with_a_driven_clock(nai, tmp_path):
    ticks = []

    def clock():  # advances one second each time it is read
        ticks.append(len(ticks))
        return float(len(ticks))

    exp = Experiment(str(tmp_path / "t"), **SWEEP, fixed=FIXED, clock=clock)
    rep = exp.run(nai, progress=False, max_requests=3)
    assert rep["stopped"] == "max_requests" and rep["sent"] == 3
    rep = exp.run(nai, progress=False, max_time=2.5)
    # read at the start (t0=1) and before each request: 2, 3 (< 2.5 after t0) then 4 - 1 >= 2.5 stops
    assert rep["stopped"] == "max_time" and rep["sent"] == 2
    seen = []
    rep = exp.run(nai, progress=seen.append)
    assert rep["stopped"] is None and exp.status()["done"] == 10
    assert [s["done"] for s in seen] == [1, 2, 3, 4, 5] and seen[-1]["total"] == 5


def test_stop_then_run_continues(nai, tmp_path):
    exp = Experiment(str(tmp_path / "s"), **SWEEP, fixed=FIXED)

    def stop_after_two(info):
        if info["done"] == 2:
            exp.stop()

    rep = exp.run(nai, progress=stop_after_two)
    # the request already sent when the 2nd result was journaled finishes; nothing after it starts
    first = rep["sent"]
    assert rep["stopped"] == "stop" and first in (2, 3) and rep["done"] == first
    assert exp.orphans() == [] and exp.status()["done"] == first
    rep = exp.run(nai, progress=False)
    assert rep["sent"] == 10 - first and exp.status()["done"] == 10


def test_frame_metrics_summary_and_export(nai, tmp_path, monkeypatch):
    exp = Experiment(str(tmp_path / "m"), **SWEEP, fixed=FIXED)
    exp.run(nai, progress=False)
    f = exp.frame()
    assert list(f.columns[:5]) == ["model", "preset", "prompt", "seed", "text"]
    g = nai.generate(PROMPT, "Asper", model="kayra", seed=3, max_length=6)
    row = f[(f.preset == "Asper") & (f.seed == 3)].iloc[0]
    assert row["text"] == g.text and row["tokens"] == len(g.tokens) and row["characters"] == len(g.text)
    assert row["mean_logprob"] == pytest.approx(g.mean_logprob)
    assert row["perplexity"] == pytest.approx(math.exp(-g.mean_logprob))
    s1, s2 = exp.summary(by="preset"), exp.summary(by="preset")
    assert s1.equals(s2) and list(s1.index) == ["Carefree", "Asper"] and (s1["n"] == 5).all()
    assert (s1["tokens_lo"] <= s1["tokens_mean"]).all() and (s1["tokens_mean"] <= s1["tokens_hi"]).all()
    with pytest.raises(InputError, match="by"):
        exp.summary(by="nope")
    csv = exp.to_csv(tmp_path / "f.csv")
    import pandas as pd

    assert len(pd.read_csv(csv)) == 10
    # the test extra installs pyarrow (naikit[parquet]); without it the error says what to install
    assert len(pd.read_parquet(exp.to_parquet(tmp_path / "f.parquet"))) == 10
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "pyarrow" else real(n, *a))
    with pytest.raises(InputError, match="pyarrow"):
        exp.to_parquet(tmp_path / "g.parquet")
    # the journal stores the ids and the logprob of every chosen token
    res = [r for _, r in exp.results() if r is not None][0]
    assert len(res["token_ids"]) == len(res["logprobs"]) > 0
    assert "<svg" in exp.plot("tokens").data


def test_bootstrap_by_hand():
    assert bootstrap_ci([2.0]) == (2.0, 2.0, 2.0)
    assert all(math.isnan(v) for v in bootstrap_ci([]))
    mean, lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 4.0], seed=5)
    assert mean == 2.5 and 1.0 <= lo < 2.5 < hi <= 4.0
    assert bootstrap_ci([1.0, 2.0, 3.0, 4.0], seed=5) == (mean, lo, hi)
    assert bootstrap_ci([3.0, 3.0, 3.0]) == (3.0, 3.0, 3.0)  # every resample has the same mean
    assert perplexity(-math.log(4)) == pytest.approx(4.0)


@pytest.mark.parametrize(
    "kw,field",
    [
        (dict(seeds=[]), "seeds"),
        (dict(seeds=[1, 1]), "seeds"),
        (dict(prompts=[""]), "prompts"),
        (dict(kind="video"), "kind"),
        (dict(max_anlas=-1), "max_anlas"),
        (dict(params={"temperature": 0.5}), "params['temperature']"),
        (dict(presets=["Nope"]), "name"),
        (dict(fixed={"seed": 3}), "fixed"),
        (dict(params={"model": ["erato"]}), "params"),
        (dict(clock=5), "clock"),
        (dict(opus="yes"), "opus"),
    ],
)
def test_bad_input_is_refused_while_planning(kw, field):
    args = dict(prompts=[PROMPT], presets=["Carefree"], seeds=[0], models=["kayra"])
    args.update(kw)
    with pytest.raises(InputError) as e:
        Experiment(None, **args)
    assert e.value.field == field


def test_journal_survives_reopening_and_is_wal(tmp_path, nai):
    folder = str(tmp_path / "w")
    exp = Experiment(folder, prompts=[PROMPT], presets=["Carefree"], seeds=[0], models=["kayra"], fixed=FIXED)
    exp.run(nai, progress=False)
    con = sqlite3.connect(os.path.join(folder, "journal.sqlite3"))
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    (state, result) = con.execute("SELECT state, result FROM requests").fetchone()
    assert state == "done" and json.loads(result)["text"]
    con.close()
    again = Experiment(
        folder, prompts=[PROMPT], presets=["Carefree"], seeds=[0], models=["kayra"], fixed=FIXED
    )
    assert again.status()["done"] == 1 and len(again.frame()) == 1


def test_dashboard_follows_the_run(nai, tmp_path):
    from naikit.widgets.experiments import experiment_dashboard, status_text

    assert (
        status_text({"done": 1, "total": 4, "failed": 2}, 7, 12.4)
        == "1/4 done · 2 failed · 7 Anlas spent · ETA 12 s"
    )
    exp = Experiment(str(tmp_path / "d"), **SWEEP, fixed=FIXED)
    w = experiment_dashboard(exp, rows=3)
    assert (w.bar.value, w.bar.max) == (0, 10) and "0/10 done" in w.status.value
    seen = []
    exp.on_progress(lambda info: seen.append((w.bar.value, info["done"])))
    exp.run(nai, progress=False, max_requests=4)
    assert [a for a, _ in seen] == [1, 2, 3, 4]  # redrawn after every result, before later listeners
    assert w.table.value.count("<tr") == 1 + 3 and "Carefree" in w.table.value
    w.stop_button.click()
    assert exp._stopping is True  # what a running run() checks before starting each request
    assert exp.run(nai, progress=False)["sent"] == 6 and w.bar.value == 10 and w.bar.bar_style == "success"
    assert repr(w).startswith("ExperimentDashboard(")
    with pytest.raises(InputError):
        experiment_dashboard("nope")


def test_a_dropped_image_request_is_an_orphan_not_a_silent_retry(tmp_path):
    preset = ImagePreset.default("nai-diffusion-4-5-full").replace(width=256, height=256, steps=8)
    with sandbox.start() as box, NovelAI(base_url=box.url, **DEMO) as client:
        exp = Experiment(
            str(tmp_path / "drop"), kind="image", prompts=["cat"], presets=[preset], seeds=[1, 2]
        )
        client.subscription()  # logged in before the faults start
        box.faults = "drop=1,paths=/ai/generate-image,seed=1"
        rep = exp.run(client, progress=False)
        # a generation that may have been made (and paid) is not retried: reported as orphans
        assert rep["sent"] == 2 and rep["done"] == 0 and len(rep["errors"]) == 2
        assert len(exp.orphans()) == 2 and exp.status()["in_flight"] == 2
        box.faults = None
        rep = exp.run(client, progress=False)
        assert rep["sent"] == 0 and rep["skipped_orphans"] == 2
        rep = exp.run(client, progress=False, resend_orphans=True)
        assert rep["done"] == 2 and exp.orphans() == [] and len(exp.frame()) == 2


def test_a_damaged_journal_is_a_naikit_error(tmp_path):
    from naikit.errors import NaikitError

    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "journal.sqlite3").write_bytes(b"not a database" * 100)
    with pytest.raises(NaikitError, match="not a naikit experiment journal"):
        Experiment(str(folder), **SWEEP)
    with pytest.raises(InputError, match="folder"):
        Experiment.open(str(tmp_path / "missing"))


def test_a_key_is_claimed_once_by_two_experiments_on_one_folder(tmp_path):
    a = Experiment(str(tmp_path / "c"), **SWEEP, fixed=FIXED)
    b = Experiment(str(tmp_path / "c"), **SWEEP, fixed=FIXED)  # e.g. another process on the same folder
    key = a.cells[0].key
    assert a.journal.claim(key, "run-a", 0, 0.0) is True
    assert b.journal.claim(key, "run-b", 0, 0.0) is False


def test_arun_and_the_dashboard_task_in_a_running_loop(sb, tmp_path):
    import asyncio

    from naikit.novelai.async_client import AsyncNovelAI
    from naikit.widgets.experiments import experiment_dashboard

    exp = Experiment(str(tmp_path / "a"), **SWEEP, fixed=FIXED)

    async def main():
        async with AsyncNovelAI(base_url=sb.url, **DEMO) as c:
            rep = await exp.arun(c, max_requests=3, progress=False)
            dash = experiment_dashboard(exp)
            task = dash.start(c)  # runs beside the caller, as in a kernel
            await task
            return rep, dash

    rep, dash = asyncio.run(main())
    assert rep["sent"] == 3 and dash.report["sent"] == 7 and dash.bar.value == 10
    assert Experiment.open(str(tmp_path / "a")).frame().equals(exp.frame())


def test_damaged_rows_and_files_end_in_a_journal_error(tmp_path, nai):
    import sqlite3 as sq

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from naikit.experiments.journal import Journal, JournalError

    folder = str(tmp_path / "rows")
    exp = Experiment(
        folder, prompts=[PROMPT], presets=["Carefree"], seeds=[0, 1], models=["kayra"], fixed=FIXED
    )
    exp.run(nai, progress=False)
    path = os.path.join(folder, "journal.sqlite3")

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.one_of(st.text(max_size=40), st.binary(max_size=40).map(lambda b: b.decode("latin-1"))))
    def damaged_row(garbage):
        con = sq.connect(path)
        con.execute("UPDATE requests SET row=? WHERE rowid=1", (garbage,))
        con.commit()
        con.close()
        try:
            f = Experiment.open(folder).frame()
        except JournalError:
            return
        assert len(f) == 2  # a damaged row that is still a JSON object reads as one

    damaged_row()

    @settings(max_examples=30, deadline=None)
    @given(st.binary(min_size=1, max_size=300))
    def damaged_file(data):
        d = tmp_path / f"f{abs(hash(data))}"
        d.mkdir(exist_ok=True)
        (d / "journal.sqlite3").write_bytes(data)
        try:
            Journal(str(d)).close()
        except JournalError:
            pass

    damaged_file()


def test_progress_bar_in_a_terminal_and_xy_plot_journaled(nai, tmp_path, capsys):
    exp = Experiment(str(tmp_path / "p"), **dict(SWEEP, presets=["Carefree"], seeds=[0, 1]), fixed=FIXED)
    exp.run(nai)  # progress=None: a tqdm.auto bar (on stderr outside a notebook)
    assert "2/2" in capsys.readouterr().err
    from naikit.xyplot import xy_plot

    preset = ImagePreset.default("nai-diffusion-4-5-full").replace(width=256, height=256, steps=8, seed=9)
    folder = str(tmp_path / "xy")
    plot = xy_plot(nai, "cat", ("scale", [3, 7]), preset=preset, folder=folder)
    again = Experiment.open(folder)
    assert again.status()["done"] == 2 and len(plot.results) == 2
    grid = Experiment.open(folder).frame()
    assert list(grid["x"]) == [3, 7] and all(os.path.exists(p) for p in grid["path"])


def test_glm_and_native_models_in_one_sweep(nai, tmp_path):
    exp = Experiment(str(tmp_path / "g"), prompts=[PROMPT], presets=[None], seeds=[0, 1],
                     models=["glm-4-6", "kayra"], fixed={"max_length": 10})  # fmt: skip
    assert len({c.key for c in exp.cells}) == 4 and exp.cells[0].identity["api"] == "oa"
    rep = exp.run(nai, progress=False)
    f = exp.frame()
    assert rep["done"] == 4 and list(f["model"]) == ["glm-4-6", "glm-4-6", "kayra-v1", "kayra-v1"]
    glm = f[f.model == "glm-4-6"]
    assert (glm["tokens"] <= 10).all() and set(glm["finish_reason"]) <= {"stop", "length"}
    g = nai.generate(PROMPT, model="glm-4-6", seed=1, max_length=10)
    assert glm["text"].iloc[1] == g.text
    assert exp.run(nai, progress=False)["sent"] == 0


def test_an_in_flight_row_from_another_machine_is_an_orphan(tmp_path):
    exp = Experiment(str(tmp_path / "o"), **SWEEP, fixed=FIXED)
    key = exp.cells[0].key
    # a live pid (this one), but the run was on another host: the folder was copied mid-run
    assert exp.journal.claim(key, "elsewhere/abc", 0, 0.0)
    assert [o["key"] for o in exp.orphans()] == [key]
