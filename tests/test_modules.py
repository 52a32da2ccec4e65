"""NovelAI module training (§7.2) against the sandbox: train, list, get, delete, buy steps, loss history."""

from __future__ import annotations

import json

import pytest
from sandbox_fixtures import demo_client_fixture, sandbox_fixture

from naikit import errors
from naikit.novelai.modules import Module, loss_svg
from naikit.novita import TaskFailed

sb = sandbox_fixture(clock=True)
nai = demo_client_fixture(scope="function", clock=True)


def test_train_costs_steps_and_loss_grows(nai, clock):
    before = nai.subscription().anlas
    m = nai.train_module(["Once upon a time.", "The end."], name="fairy tales", description="test", steps=400)
    assert isinstance(m, Module) and m.status == "pending" and m.loss_history == () and m.steps == 400
    assert nai.subscription().anlas == before - 400
    clock.advance(1.8)
    mid = nai.module(m.id)
    assert mid.status == "training" and 0 < mid.steps_done < 400 and 0 < mid.progress < 100
    seen = []
    done = nai.wait_for_module(m.id, progress=False, callback=lambda x: seen.append(x.steps_done))
    assert done.status == "ready" and len(done.loss_history) == 400 and done.progress == 100
    assert seen == sorted(seen)
    assert done.loss_history[0] > done.loss_history[-1]  # it learns
    assert done.loss_history[: len(mid.loss_history)] == mid.loss_history  # history only grows
    frame = nai.loss_history(m.id)
    assert list(frame.columns) == ["step", "loss"] and len(frame) == 400
    listed = nai.modules()
    assert m.id in list(listed.to_frame()["id"])
    assert "<svg" in done._repr_html_() and "<polyline" in loss_svg(done.loss_history)
    gone = nai.delete_module(m.id)
    assert gone.id == m.id and len(gone.loss_history) == 400
    kept = list(nai.backup_dir.glob(f"*-before-delete-module-{m.id}/modules/{m.id}.json"))
    assert len(kept) == 1 and json.loads(kept[0].read_text())["id"] == m.id  # a local copy came first
    with pytest.raises(errors.NotFound):
        nai.module(m.id)


def test_failure_and_insufficient_steps(nai):
    m = nai.train_module("data", name="sandbox:fail module", steps=100)
    with pytest.raises(TaskFailed) as e:
        nai.wait_for_module(m, progress=False)
    assert e.value.task_id == m.id and e.value.result.status == "error"
    with pytest.raises(errors.PaymentRequired):
        nai.train_module("data", name="too big", steps=50_000)


def test_an_error_while_waiting_is_noted_with_the_module_id(nai):
    m = nai.train_module("data", name="note check", steps=100)

    def broken(status):
        raise RuntimeError("callback broke")

    with pytest.raises(RuntimeError) as e:
        nai.wait_for_module(m, progress=False, callback=broken)
    # a NovelAI module, so the note must not speak of a Novita task
    assert e.value.task_id == m.id and e.value.__notes__ == [f"naikit: module id {m.id}"]


def test_buy_steps_and_validation(nai, sb):
    before = nai.subscription().purchased_training_steps
    nai.buy_training_steps(250)
    assert nai.subscription().purchased_training_steps == before + 250
    sb.reset_stats()
    for call in (
        lambda: nai.train_module("", name="x"),
        lambda: nai.train_module("d", name="x" * 65),
        lambda: nai.train_module("d", name="x", description="y" * 257),
        lambda: nai.train_module("d", name="x", lr=0),
        lambda: nai.train_module("d", name="x", steps=0),
        lambda: nai.train_module("x" * (10 * 1024 * 1024 + 1), name="x"),
        lambda: nai.buy_training_steps(0),
        lambda: nai.module("../etc"),
    ):
        with pytest.raises(errors.InputError):
            call()
    assert sb.stats()["requests"] == 0
