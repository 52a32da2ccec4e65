"""Novita LoRA training against the sandbox: presigned uploads (retried under faults), subject and style
trainings through their whole lifecycle on a fake clock, pagination, and the trained model in txt2img."""

from __future__ import annotations

import pytest
from novita_helpers import KEY, MODEL, drive, png

from naikit import errors, sandbox
from naikit._settings import RetryPolicy
from naikit.novita import Novita, TaskFailed
from naikit.sandbox.clock import FakeClock

FAST = RetryPolicy(attempts=6, backoff=0.001, max_backoff=0.01)


@pytest.fixture(scope="module")
def clock():
    return FakeClock()


@pytest.fixture(scope="module")
def sb(clock):
    with sandbox.start(clock=clock) as server:
        yield server


@pytest.fixture
def nv(sb, clock):
    sb.faults = None
    with Novita(KEY, base_url=sb.url, retry=FAST) as client:
        drive(client, clock)
        yield client


def test_upload_keeps_format_and_retries(nv, sb):
    sb.faults = "500=0.3,drop=0.2,seed=3,paths=/novita-s3/"
    try:
        ids = nv.upload_training_images([png(), png(32, 32, (0, 0, 255))])
    finally:
        sb.faults = None
    assert len(ids) == 2 and len(set(ids)) == 2
    rows = sb.store.query("SELECT ext, data FROM novita_assets WHERE assets_id IN (?, ?)", ids)
    assert {r["ext"] for r in rows} == {"png"} and all(bytes(r["data"]).startswith(b"\x89PNG") for r in rows)
    assert (
        nv.stats.get("retries", 0)
        + sum(t.stats.get("retries", 0) for t in nv._async._file_transports.values())
        > 0
    )


def test_style_training_lifecycle_and_lora_use(nv, clock):
    task = nv.train_style(
        "watercolours",
        "v1-5-pruned-emaonly",
        [png(), png()],
        ["a red square", "another"],
        learning_rate=1e-4,
        max_train_steps=1000,
        lr_scheduler="cosine",
    )
    assert task.endpoint == "training/style" and task.task_id in nv.task_ids
    first = nv.training_status(task)
    assert first.status == "QUEUING" and not first.finished and first.models == []
    seen = []
    final = nv.wait_for_training(task, progress=False, callback=lambda s: seen.append(s))
    states = [s.status for s in seen]
    assert states[0] == "QUEUING" and "TRAINING" in states and states[-1] == "SUCCESS"
    model_states = [s.models[0]["model_status"] for s in seen if s.models]
    assert model_states[-1] == "SERVING"
    assert final.ready and final.model_name.startswith("model_") and final.model_name.endswith(".safetensors")
    res = nv.txt2img("in my style", model_name=MODEL, loras={final.model_name: 0.8}, progress=False)
    assert res.succeeded
    private = nv.models(source="training")
    assert final.model_name in private.names()


def test_trained_model_refused_until_serving(nv, clock):
    task = nv.train_subject(
        "me", "v1-5-pruned-emaonly", [png()], instance_prompt="a photo of ohwx man", max_train_steps=10
    )
    st = nv.wait_for_training(task, progress=False)
    assert st.kind == "subject" and st.ready
    task2 = nv.train_subject("me again", "v1-5-pruned-emaonly", [png()], instance_prompt="ohwx man")
    clock.advance(60)
    mid = nv.training_status(task2)
    assert mid.status == "SUCCESS" or mid.ready


def test_model_is_deploying_then_serving(nv, clock):
    task = nv.train_style("deploy check", "v1-5-pruned-emaonly", [png()], ["c"], max_train_steps=1)
    clock.advance(3.5)  # queue 1 s + training 2 s -> success, model still deploying
    st = nv.training_status(task)
    assert st.status == "SUCCESS" and st.models[0]["model_status"] == "DEPLOYING" and not st.finished
    with pytest.raises(errors.APIError) as e:
        nv.txt2img("x", model_name=MODEL, loras=[st.model_name], progress=False)
    assert "not serving yet" in str(e.value)
    clock.advance(1)
    assert nv.training_status(task).ready


def test_trained_lora_named_without_extension_is_refused_with_its_full_name(nv, clock):
    task = nv.train_style("suffix check", "v1-5-pruned-emaonly", [png()], ["c"], max_train_steps=1)
    clock.advance(3.5)
    st = nv.training_status(task)
    assert st.model_name.endswith(".safetensors")
    bare = st.model_name.removesuffix(".safetensors")
    with pytest.raises(errors.APIError) as e:  # deploying: not serving yet, and which name to use then
        nv.txt2img("x", model_name=MODEL, loras=[bare], progress=False)
    assert "not serving yet" in str(e.value) and repr(st.model_name) in str(e.value)
    clock.advance(1)
    assert nv.training_status(task).ready
    with pytest.raises(errors.APIError) as e:  # serving: never "not serving yet" (it is), but the full name
        nv.txt2img("x", model_name=MODEL, loras=[bare], progress=False)
    msg = str(e.value)
    assert "not serving" not in msg and "SERVING" not in msg
    assert f"the trained model is named {st.model_name!r}" in msg


def test_failed_training_keeps_task_id(nv):
    task = nv.train_style("sandbox:fail style", "v1-5-pruned-emaonly", [png()], ["c"])
    with pytest.raises(TaskFailed) as e:
        nv.wait_for_training(task, progress=False)
    assert e.value.task_id == task.task_id and e.value.result.status == "FAILED"


def test_list_trainings_follows_pages(nv):
    for i in range(3):
        nv.train_style(f"page {i}", "v1-5-pruned-emaonly", [png()], ["c"])
    listed = nv.list_trainings(limit=2)
    assert listed.pages >= 2 and len(listed) >= 3
    assert len({t.task_id for t in listed}) == len(listed)
    styles = nv.list_trainings(task_type="style")
    assert {t.kind for t in styles} == {"style"}
    frame = listed.to_frame()
    assert list(frame.columns) == [
        "task_id",
        "name",
        "kind",
        "status",
        "created_at",
        "model_name",
        "model_status",
    ]


def test_bad_training_uploads_nothing(nv, sb):
    before = sb.store.query_one("SELECT COUNT(*) AS n FROM novita_assets")["n"]
    with pytest.raises(errors.InputError):
        nv.train_subject("x", "v1-5-pruned-emaonly", [png()], instance_prompt="ohwx", class_prompt="cat")
    with pytest.raises(errors.InputError):
        nv.train_style("x", "v1-5-pruned-emaonly", [png(), png()], ["only one caption"])
    with pytest.raises(errors.InputError):
        nv.train_style("x", "v1-5-pruned-emaonly", [png()] * 51, ["c"] * 51)
    with pytest.raises(errors.InputError):
        nv.train_style("x", "v1-5-pruned-emaonly", [b"not an image"], ["c"])
    assert sb.store.query_one("SELECT COUNT(*) AS n FROM novita_assets")["n"] == before
    with pytest.raises(errors.InputError):
        nv.training_status("some-id")  # a bare id needs kind=
