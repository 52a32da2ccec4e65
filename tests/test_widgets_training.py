"""The training dashboard, driven without a browser through whole training runs on a fake clock: widget
state along the way, the background task on a running loop, and a final state that matches the API."""

from __future__ import annotations

import asyncio

import pytest
from novita_helpers import KEY, png
from sandbox_fixtures import DEMO

from naikit import errors, sandbox
from naikit.novelai.async_client import AsyncNovelAI
from naikit.novelai.client import NovelAI
from naikit.novita import AsyncNovita, Novita
from naikit.sandbox.clock import FakeClock
from naikit.widgets.training import (
    JobState,
    TrainingDashboard,
    curves_html,
    dashboard_html,
    training_dashboard,
)


@pytest.fixture
def env():
    clock = FakeClock()
    with sandbox.start(clock=clock) as sb:
        with NovelAI(base_url=sb.url, **DEMO) as nai, Novita(KEY, base_url=sb.url) as nv:
            yield sb, clock, nai, nv


def test_pure_builders_escape_and_are_deterministic():
    jobs = [
        JobState("NovelAI module", "id1", "<b>x</b>", "training", 50.0, 10, 20, 3.0, loss=(2.0, 1.5, 1.2)),
        JobState("Novita style", "id2", "s", "FAILED", 50.0, failed=True, finished=True),
    ]
    html = dashboard_html(jobs)
    assert html == dashboard_html(jobs) and "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert "10/20" in html and "#c0392b" in html
    curves = curves_html(jobs)
    assert curves.count("<svg") == 1 and "<polyline" in curves
    assert curves_html([jobs[1]]) == ""


def test_dashboard_follows_a_whole_run_and_matches_the_api(env):
    sb, clock, nai, nv = env
    module = nai.train_module("some text " * 50, name="my module", steps=500)
    style = nv.train_style("my style", "v1-5-pruned-emaonly", [png()], ["a caption"], max_train_steps=1000)
    dash = training_dashboard(nai, nv, interval=1, start=False)
    assert not dash.running and not dash.done and dash.refreshes == 0
    progress_seen: dict[str, list[float]] = {}
    for _ in range(40):
        dash.refresh()
        for key, job in dash.jobs.items():
            progress_seen.setdefault(key, []).append(job.progress or 0)
            assert dash.bars[key].value == int(job.progress or 0)
        if dash.done:
            break
        clock.advance(0.5)
    assert dash.done
    for key, values in progress_seen.items():
        assert values == sorted(values) and values[-1] == 100, key
        assert any(0 < v < 100 for v in values), key  # it was seen mid-way, not only at the ends
    mod_key, nv_key = f"nai:{module.id}", f"novita:{style.task_id}"
    assert {mod_key, nv_key} <= set(dash.jobs)
    assert all(b.bar_style == "success" for b in dash.bars.values())
    frame = dash.to_frame().set_index("id")
    api_module = nai.module(module.id)
    api_training = nv.training_status(style)
    assert frame.loc[module.id, "status"] == api_module.status == "ready"
    assert frame.loc[module.id, "steps_done"] == api_module.steps_done == 500
    assert frame.loc[module.id, "final_loss"] == api_module.final_loss
    assert dash.jobs[mod_key].loss == api_module.loss_history
    assert frame.loc[style.task_id, "status"] == api_training.status == "SUCCESS"
    assert (
        api_training.model_name in frame.loc[style.task_id, "model"]
        and "SERVING" in frame.loc[style.task_id, "model"]
    )
    assert "all finished" in dash.summary.value and "<svg" in dash.curves.value
    assert "my module" in dash.table.value and "my style" in dash.table.value
    assert (
        repr(dash) == f"TrainingDashboard({len(dash.jobs)} job(s), 0 running, {dash.refreshes} refresh(es))"
    )


def test_background_task_on_the_running_loop_stops_by_itself(env):
    sb, clock, _, _ = env

    async def main():
        async with AsyncNovelAI(base_url=sb.url, **DEMO) as nai, AsyncNovita(KEY, base_url=sb.url) as nv:
            failing = await nai.train_module("text", name="sandbox:fail run", steps=100)
            ok = await nai.train_module("text", name="ok run", steps=100)
            style = await nv.train_style("bg style", "v1-5-pruned-emaonly", [png()], ["c"])
            dash = TrainingDashboard(nai, nv, modules=[failing.id, ok], trainings=[style], interval=1)

            # The dashboard may only go on after this test's own coroutine has run since its last
            # pause: if the dashboard blocked the loop, the observer below would never run again and
            # wait_for fails (a hang guard, not a speed limit). No tick of real time is counted.
            observed = asyncio.Event()
            pauses = 0

            async def fake_sleep(s):
                nonlocal pauses
                await observed.wait()
                observed.clear()
                pauses += 1
                clock.advance(s)

            dash.sleep = fake_sleep
            assert dash.running  # started on this loop by the constructor
            ticks = 0

            async def observer():
                nonlocal ticks
                while dash.running:  # the loop stays free: this coroutine keeps running meanwhile
                    ticks += 1
                    observed.set()
                    await asyncio.sleep(0)

            await asyncio.wait_for(observer(), 120)
            frame = await dash.wait()
            return dash, frame, ticks, pauses

    dash, frame, ticks, pauses = asyncio.run(main())
    # the jobs need the clock to move, so the dashboard paused at least once and the observer ran each time
    assert pauses >= 1 and ticks >= pauses
    assert dash.done and not dash.running
    statuses = dict(zip(frame["name"], frame["status"], strict=True))
    assert statuses["sandbox:fail run"] == "error" and statuses["ok run"] == "ready"
    assert statuses["bg style"] == "SUCCESS"
    failed_key = next(k for k, j in dash.jobs.items() if j.failed)
    assert dash.bars[failed_key].bar_style == "danger"


def test_refresh_errors_are_shown_not_raised(env):
    sb, clock, nai, nv = env
    nai.train_module("text", name="m", steps=100)
    dash = TrainingDashboard(nai, None, interval=1, start=False)
    sb.faults = "500=1.0,paths=/ai/module/"
    try:
        with NovelAI(base_url=sb.url, retry=__import__("naikit").RetryPolicy(attempts=1), **DEMO) as flaky:
            dash2 = TrainingDashboard(flaky, None, start=False)
            dash2.refresh()
            assert "last refresh failed" in dash2.summary.value and not dash2.done
    finally:
        sb.faults = None
    dash.refresh()
    assert dash.last_error == "" and len(dash.jobs) >= 1


def test_constructor_checks():
    with pytest.raises(errors.InputError):
        TrainingDashboard(None, None)
    with pytest.raises(errors.InputError):
        TrainingDashboard(object(), interval=0, start=False)


def test_loss_chart_has_axes_steps_and_values():
    from naikit.render.charts import line_chart_svg, nice_ticks

    assert nice_ticks(0, 100) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(1, 500) == [100, 200, 300, 400, 500]
    assert nice_ticks(1.2, 2.0) == [1.2, 1.4, 1.6, 1.8, 2.0]
    svg = line_chart_svg([2.0, 1.5, 1.2], total=10, title="<m>")
    assert svg == line_chart_svg([2.0, 1.5, 1.2], total=10, title="<m>")  # pure
    assert "&lt;m&gt;" in svg and "<m>" not in svg
    assert ">step</text>" in svg and ">loss</text>" in svg  # axis labels
    assert ">10</text>" in svg and ">4</text>" in svg  # x ticks: round steps up to the planned total
    assert ">1.2</text>" in svg and ">2</text>" in svg  # y ticks at round loss values
    assert "step 3: 1.2</text>" in svg  # the last value marked
    assert "no loss yet" in line_chart_svg([])


def test_same_named_jobs_are_told_apart():
    from naikit.widgets.training import job_labels

    jobs = [
        JobState("NovelAI module", "aaaaaaaa-1111", "my module", "training", 40.0),
        JobState("NovelAI module", "bbbbbbbb-2222", "my module", "ready", 100.0, finished=True),
        JobState("Novita style", "cccccccc-3333", "other", "RUNNING", 10.0),
        JobState("Novita style", "dddddddd-4444", "", "RUNNING", 10.0),
    ]
    assert job_labels(jobs) == ["my module · aaaaaaaa", "my module · bbbbbbbb", "other", "dddddddd-4444"]
    html = dashboard_html(jobs)
    assert "my module · aaaaaaaa" in html and "my module · bbbbbbbb" in html and "40 %" in html


def test_bars_show_percent_and_steps_novita_rows_carry_steps_stop_disables(env):
    sb, clock, nai, nv = env
    a = nai.train_module("some text " * 50, name="twin", steps=100)
    b = nai.train_module("other text " * 50, name="twin", steps=100)
    style = nv.train_style("styled", "v1-5-pruned-emaonly", [png()], ["a caption"], max_train_steps=1000)
    dash = training_dashboard(nai, nv, trainings=[(style.task_id, "style", 1000)], interval=1, start=False)
    dash.refresh()
    clock.advance(0.5)
    dash.refresh()
    descriptions = {dash.bars[f"nai:{m.id}"].description for m in (a, b)}
    assert descriptions == {f"twin · {a.id[:8]}", f"twin · {b.id[:8]}"}
    nv_key = f"novita:{style.task_id}"
    job = dash.jobs[nv_key]
    assert job.steps == 1000 and job.steps_done == round(1000 * (job.progress or 0) / 100)
    label = dash.bar_labels[nv_key].value
    assert label.endswith(f"{job.steps_done}/1000 steps") and (
        job.finished or f"{job.progress:.0f} %" in label
    )
    assert dash.stop_button.disabled  # not refreshing in the background: nothing to stop
    for _ in range(60):
        if dash.done:
            break
        clock.advance(0.5)
        dash.refresh()
    assert dash.done and dash.stop_button.disabled
    assert dash.jobs[nv_key].steps_done == 1000
    assert "<svg" in dash.curves.value and ">step</text>" in dash.curves.value


def test_stop_button_enabled_while_refreshing_then_disabled(env):
    sb, clock, _, _ = env

    async def main():
        async with AsyncNovelAI(base_url=sb.url, **DEMO) as nai:
            await nai.train_module("text", name="short", steps=100)
            dash = TrainingDashboard(nai, None, interval=1)
            seen: list[bool] = []

            async def fake_sleep(s):
                seen.append(dash.stop_button.disabled)
                clock.advance(s)
                await asyncio.sleep(0)

            dash.sleep = fake_sleep
            await dash.wait()
            return dash, seen

    dash, seen = asyncio.run(main())
    assert seen and not any(seen), "Stop is usable while the dashboard refreshes"
    assert dash.done and dash.stop_button.disabled
