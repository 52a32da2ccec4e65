"""Nothing paid twice, nothing created twice: a lossy proxy in front of the sandbox lets the sandbox act and
then answers 524/502 or drops the connection. naikit must never send the call again once the server may
have acted; it finds out what happened (lists objects, compares balances, looks for the training task) or
raises an error that says what to check."""

from __future__ import annotations

import secrets

import pytest
from lossy_proxy import LossyProxy
from novita_helpers import KEY, MODEL, png

from naikit import errors, sandbox
from naikit._send_rules import SEND_RULES, send_rule
from naikit._settings import RetryPolicy
from naikit.novelai.client import NovelAI
from naikit.novelai.image_models import ImagePreset
from naikit.novita import Novita

FAST = RetryPolicy(attempts=4, backoff=0.001, max_backoff=0.005)


@pytest.fixture(scope="module")
def sb():
    with sandbox.start() as server:
        yield server


@pytest.fixture
def proxy(sb):
    with LossyProxy(sb.url) as p:
        yield p


def _clients(sb, proxy, token):
    direct = NovelAI(base_url=sb.url, token=token, retry=FAST)
    lossy = NovelAI(base_url=proxy.url, token=token, retry=FAST)
    return direct, lossy


# -- the table ------------------------------------------------------------------------------------------


def test_send_rules_name_every_creating_or_paid_endpoint():
    once = {
        ("PUT", "/user/objects/stories"),
        ("POST", "/ai/generate-image"),
        ("POST", "/ai/generate-image-stream"),
        ("POST", "/ai/generate"),
        ("POST", "/ai/generate-stream"),
        ("GET", "/ai/generate-voice"),
        ("POST", "/ai/module/train"),
        ("POST", "/ai/module/buy-training-steps"),
        ("POST", "/ai/encode-vibe"),
        ("POST", "/ai/upscale"),
        ("POST", "/v3/async/txt2img"),
        ("POST", "/v3/training/subject"),
        ("POST", "/v3/remove-background"),
        ("POST", "/oa/v1/completions"),
        ("POST", "/user/register"),
    }
    safe = {
        ("GET", "/user/objects/stories"),
        ("PATCH", "/user/objects/stories/abc"),
        ("DELETE", "/user/objects/stories/abc"),
        ("POST", "/user/login"),
        ("GET", "/v3/async/task-result"),
        ("POST", "/v3/assets/training_dataset"),
        ("PUT", "/novita-s3/training/x.png"),
    }
    assert all(send_rule(m, p).once for m, p in once), [(m, p) for m, p in once if not send_rule(m, p).once]
    assert not any(send_rule(m, p).once for m, p in safe)
    for _, _, rule in SEND_RULES:
        assert not rule.once or rule.check, f"{rule.name} must say what to check"


# -- objects ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["524", "502", "drop"])
def test_lost_answer_of_a_create_returns_the_stored_object_once(sb, proxy, token, mode):
    direct, lossy = _clients(sb, proxy, token)
    meta = "lost-answer-" + secrets.token_hex(6)
    with direct, lossy:
        proxy.plan("/user/objects/", mode)
        obj = lossy.create_object("stories", meta, '{"text": "kept once"}')
        mine = [o for o in direct.list_objects("stories") if o.meta == meta]
        assert len(mine) == 1, "the object must exist exactly once"
        assert obj.id == mine[0].id and obj.data == '{"text": "kept once"}'
        assert proxy.forwarded.count(("PUT", "/user/objects/stories")) == 1  # never sent twice
        assert lossy.stats["recovered"] == 1 and lossy.stats.get("retry_524", 0) == 0


def test_create_refused_before_acting_is_not_mistaken_for_done(sb, proxy, token):
    direct, lossy = _clients(sb, proxy, token)
    meta = "refused-" + secrets.token_hex(6)
    with direct, lossy:
        proxy.plan("/user/objects/", "refuse500")
        with pytest.raises(errors.OutcomeUnknown) as e:
            lossy.create_object("stories", meta, '{"text": "x"}')
        assert "list_objects('stories')" in str(e.value) and "no object" in str(e.value)
        assert [o for o in direct.list_objects("stories") if o.meta == meta] == []
        assert e.value.check and e.value.endpoint == "create object"


# -- images ---------------------------------------------------------------------------------------------

# above Opus' free size and steps: costs Anlas
PAID = ImagePreset.default("nai-diffusion-4-5-full").replace(width=1024, height=1536, steps=40)
FREE = ImagePreset.default("nai-diffusion-4-5-full").replace(width=832, height=1216, steps=28)


@pytest.mark.parametrize("mode", ["524", "502", "drop"])
def test_paid_image_behind_a_lost_answer_is_paid_once_and_reported(sb, proxy, token, mode):
    direct, lossy = _clients(sb, proxy, token)
    with direct, lossy:
        cost = lossy.estimate_image_cost("a lighthouse", PAID).total
        assert cost > 0
        before = direct.subscription().anlas
        proxy.plan("/ai/generate-image", mode)
        with pytest.raises(errors.OutcomeUnknown) as e:
            lossy.generate_image("a lighthouse", PAID)
        after = direct.subscription().anlas
        assert before - after == cost, "charged exactly once"
        assert proxy.forwarded.count(("POST", "/ai/generate-image")) == 1
        text = str(e.value)
        assert "was not sent again" in text and "balance fell" in text and "Anlas" in text


def test_paid_image_refused_before_acting_is_sent_again_and_paid_once(sb, proxy, token):
    direct, lossy = _clients(sb, proxy, token)
    with direct, lossy:
        cost = lossy.estimate_image_cost("a lighthouse", PAID).total
        before = direct.subscription().anlas
        proxy.plan("/ai/generate-image", "refuse500")
        result = lossy.generate_image("a lighthouse", PAID)
        assert len(result.images) == 1
        assert before - direct.subscription().anlas == cost
        assert lossy.stats["resent_after_check"] == 1


def test_free_image_behind_a_lost_answer_is_simply_drawn_again(sb, proxy, token):
    direct, lossy = _clients(sb, proxy, token)
    with direct, lossy:
        assert lossy.estimate_image_cost("a lighthouse", FREE).total == 0
        before = direct.subscription().anlas
        proxy.plan("/ai/generate-image", "524")
        result = lossy.generate_image("a lighthouse", FREE)
        assert len(result.images) == 1 and direct.subscription().anlas == before
        assert lossy.stats["resent_free"] == 1


def test_text_generation_behind_a_lost_answer_is_not_sent_twice(sb, proxy, token):
    _, lossy = _clients(sb, proxy, token)
    with lossy:
        proxy.plan("/ai/generate", "502")
        with pytest.raises(errors.OutcomeUnknown, match="text generation"):
            lossy.generate("The lighthouse", "Carefree", model="kayra", max_length=4)
        assert proxy.forwarded.count(("POST", "/ai/generate")) == 1


# -- Novita ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["524", "drop"])
def test_novita_task_behind_a_lost_answer_is_billed_once_and_reported(sb, proxy, mode):
    with (
        Novita(KEY, base_url=sb.url, retry=FAST) as direct,
        Novita(KEY, base_url=proxy.url, retry=FAST) as nv,
    ):
        before = direct.user_info().credit_balance
        proxy.plan("/v3/async/txt2img", mode)
        with pytest.raises(errors.OutcomeUnknown) as e:
            nv.txt2img("a lighthouse", model_name=MODEL, width=512, height=512, wait=False)
        spent = before - direct.user_info().credit_balance
        assert spent > 0 and proxy.forwarded.count(("POST", "/v3/async/txt2img")) == 1
        assert "balance fell" in str(e.value) and "credits" in str(e.value)
        # the same call again through a good connection costs the same amount once more, not twice that
        before2 = direct.user_info().credit_balance
        task = direct.txt2img("a lighthouse", model_name=MODEL, width=512, height=512, wait=False)
        assert before2 - direct.user_info().credit_balance == spent and task.task_id in direct.task_ids


def test_novita_training_behind_a_lost_answer_keeps_the_task_id(sb, proxy):
    with (
        Novita(KEY, base_url=sb.url, retry=FAST) as direct,
        Novita(KEY, base_url=proxy.url, retry=FAST) as nv,
    ):
        name = "lost-" + secrets.token_hex(4)
        proxy.plan("/v3/training/subject", "524")
        task = nv.train_subject(name, "v1-5-pruned-emaonly", [png()], instance_prompt="ohwx man")
        assert task.task_id in nv.task_ids and nv.stats["recovered"] == 1
        assert proxy.forwarded.count(("POST", "/v3/training/subject")) == 1
        named = [t for t in direct.list_trainings(task_type="subject").tasks if t.name == name]
        assert [t.task_id for t in named] == [task.task_id]
