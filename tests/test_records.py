"""naikit._records: one declaration gives the shape check, from_json and the display rows.

Every expectation here is written out by hand (field paths, messages, row orders, dates worked with the
calendar), never computed by the helper under test.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import field
from typing import Any

import pytest

from naikit._records import Number, Record, check, record, to_dict, to_int, to_str, wire
from naikit.errors import ResponseShapeError
from naikit.novelai.account import Subscription, UserAccountData
from naikit.novita.tasks import TaskResult
from naikit.novita.training import TrainingStatus

# A GET /user/subscription body published as captured from a live Opus account (balances rounded by its
# publisher, who also trimmed ``perks`` to two keys). Note the keys naikit does not declare
# (paymentProcessor, isPaypal, usage): they must survive in ``raw``.
LIVE_SUBSCRIPTION = {
    "tier": 3,
    "active": True,
    "paymentProcessor": "chargebee",
    "expiresAt": 1789956770,
    "perks": {"maxPriorityActions": 1000, "contextTokens": 8192},
    "paymentProcessorData": None,
    "trainingStepsLeft": {"fixedTrainingStepsLeft": 4237, "purchasedTrainingSteps": 2},
    "accountType": 0,
    "isGracePeriod": False,
    "isPaypal": False,
    "usage": {"percent": 69, "isNegative": False, "timeUntilNextPercent": 7888},
}

HINT = (
    ". The API may have changed; pass validate=False to the client to accept it anyway, and please report it."
)


def test_from_json_of_a_live_subscription_body():
    sub = Subscription.from_json(LIVE_SUBSCRIPTION)
    assert sub.tier == 3 and sub.tier_name == "Opus" and sub.active is True
    # 1789956770 s after the epoch: 20,717 days (2026-09-21) and 7,970 s (02:12:50)
    assert sub.expires_at == dt.datetime(2026, 9, 21, 2, 12, 50, tzinfo=dt.timezone.utc)
    assert (sub.fixed_training_steps_left, sub.purchased_training_steps, sub.anlas) == (4237, 2, 4239)
    assert sub.perks == {"maxPriorityActions": 1000, "contextTokens": 8192} and sub.context_tokens == 8192
    assert sub.raw is LIVE_SUBSCRIPTION and sub.raw["usage"]["percent"] == 69


def test_rows_follow_the_declared_order():
    sub = Subscription.from_json(LIVE_SUBSCRIPTION)
    assert sub.rows() == [
        ("tier", "3 (Opus)"),
        ("active", True),
        ("expires_at", dt.datetime(2026, 9, 21, 2, 12, 50, tzinfo=dt.timezone.utc)),
        ("anlas", 4239),
        ("fixed_training_steps_left", 4237),
        ("purchased_training_steps", 2),
        ("perks.maxPriorityActions", 1000),
        ("perks.contextTokens", 8192),
    ]
    frame = sub.to_frame()
    assert list(frame.index) == [k for k, _ in sub.rows()] and list(frame.columns) == ["value"]
    assert str(sub).splitlines()[:3] == [
        "Subscription",
        "  tier                       3 (Opus)",
        "  active                     True",
    ]


def test_the_trimmed_live_body_fails_the_shape_check_naming_the_first_missing_perk():
    # the documented perks are all required; the publisher kept only two of them
    with pytest.raises(ResponseShapeError) as e:
        check(LIVE_SUBSCRIPTION, Subscription.shape(), "GET /user/subscription")
    assert e.value.field == "perks.startPriority" and e.value.problem == "is missing"
    assert str(e.value) == "GET /user/subscription: field 'perks.startPriority' is missing" + HINT


def test_shape_errors_name_the_nested_path():
    perks = {
        "maxPriorityActions": 1000,
        "startPriority": 10,
        "contextTokens": 8192,
        "unlimitedMaxPriority": True,
        "moduleTrainingSteps": 10000,
    }
    body = dict(LIVE_SUBSCRIPTION, perks=perks)
    check(body, Subscription.shape(), "GET /user/subscription")  # complete: passes
    bad = dict(body, trainingStepsLeft={"fixedTrainingStepsLeft": "12", "purchasedTrainingSteps": 0})
    with pytest.raises(ResponseShapeError) as e:
        check(bad, Subscription.shape(), "GET /user/subscription")
    assert str(e.value) == (
        "GET /user/subscription: field 'trainingStepsLeft.fixedTrainingStepsLeft' should be number but is "
        "str '12'" + HINT
    )
    limits = [{"resolution": 1048576, "maxPrompts": 1}, {"resolution": 1048576, "maxPrompts": True}]
    bad = dict(body, perks=dict(perks, unlimitedImageGenerationLimits=limits))
    with pytest.raises(ResponseShapeError) as e:
        check(bad, Subscription.shape(), "GET /user/subscription")
    assert e.value.field == "perks.unlimitedImageGenerationLimits[1].maxPrompts"
    assert e.value.problem == "should be number but is bool True"
    # a nested record's shape sits under its field: /user/data names information.emailVerified
    only_info = {k: v for k, v in UserAccountData.shape().items() if k == "information"}
    with pytest.raises(ResponseShapeError) as e:
        check({"information": {"emailVerified": 1}}, only_info, "GET /user/data")
    assert (
        e.value.field == "information.emailVerified" and e.value.problem == "should be boolean but is int 1"
    )


def test_from_json_refuses_a_non_object_where_it_reads_one_whatever_validate_says():
    with pytest.raises(ResponseShapeError) as e:
        Subscription.from_json(dict(LIVE_SUBSCRIPTION, trainingStepsLeft=[4237, 2]))
    assert e.value.what == "GET /user/subscription" and e.value.field == "trainingStepsLeft"
    with pytest.raises(ResponseShapeError) as e:
        UserAccountData.from_json({"information": {}, "priority": "high"})
    assert e.value.field == "priority" and e.value.problem == "should be object or null but is str 'high'"
    with pytest.raises(ResponseShapeError) as e:
        TaskResult.from_json({"task": {"task_id": "t"}, "images": [{"image_url": "u"}, "u2"]})
    assert e.value.field == "images[1]" and e.value.problem == "should be dict but is str 'u2'"
    with pytest.raises(ResponseShapeError) as e:
        TrainingStatus.from_json({"task_id": "t", "extra": 5}, "style")
    assert e.value.field == "extra"
    with pytest.raises(ResponseShapeError) as e:
        Subscription.from_json(["not", "an", "object"])
    assert e.value.field == "(body)"


def test_a_task_result_as_the_service_sends_it():
    # the types of real answers (spec notes §2.9): the TTL and the seed come as strings
    body = {
        "extra": {"seed": "2942719591", "enable_nsfw_detection": False},
        "task": {
            "task_id": "9d6b4b6e-5a59-4b7b-9f1b-0c1e8a3c6f10",
            "status": "TASK_STATUS_SUCCEED",
            "reason": "",
            "task_type": "TXT_TO_IMG",
            "eta": 0,
            "progress_percent": 0,
        },
        "images": [
            {
                "image_url": "https://faas-output-image.s3.ap-southeast-1.amazonaws.com/x.png",
                "image_url_ttl": "3600",
                "image_type": "png",
                "nsfw_detection_result": None,
            }
        ],
        "videos": [],
        "audios": [],
    }
    r = TaskResult.from_json(body)
    assert (r.task_id, r.status, r.task_type, r.seed, r.reason) == (
        "9d6b4b6e-5a59-4b7b-9f1b-0c1e8a3c6f10",
        "SUCCEED",
        "TXT_TO_IMG",
        "2942719591",
        "",
    )
    assert [(f.kind, f.type, f.ttl, f.nsfw) for f in r.files] == [("image", "png", 3600, None)]
    # progress shows 100 on success although the server said 0; an empty reason has no row
    assert r.rows() == [
        ("task_id", "9d6b4b6e-5a59-4b7b-9f1b-0c1e8a3c6f10"),
        ("status", "SUCCEED"),
        ("task_type", "TXT_TO_IMG"),
        ("progress_percent", 100.0),
        ("seed", "2942719591"),
        ("files", "image/png"),
    ]
    assert TaskResult.shape() == {
        "task": {"task_id": str, "status": str},
        "images?": ([{"image_url": str, "image_type": str}], None),
        "videos?": ([{"video_url": str, "video_type": str}], None),
    }


# -- the helper itself, on a record declared here ----------------------------------------------------


def _label(r: Any) -> str:
    return f"<{r.name}>"


@record(frozen=True)
class Toy(Record):
    WHAT = "GET /toy"
    EXTRA_SHAPE = {"version?": int}
    ROWS = ("name", "count", "size", "tags", "note")

    name: str = wire("name", str, to_str, show=_label)
    count: int = wire("stats.count", Number, to_int)
    note: str = wire("stats.note", (str, None), to_str, optional=True, hide_empty=True)
    tags: dict = wire("tags", dict, to_dict, expand=True)
    hidden: str = wire("secret", str, to_str, show=False)
    raw: dict = field(compare=False, repr=False)

    @property
    def size(self) -> int:
        """Return twice the count (a computed row)."""
        return 2 * self.count


def test_a_declaration_gives_its_shape_needs_and_rows():
    assert Toy.shape() == {
        "name": str,
        "stats": {"count": Number, "note?": (str, None)},
        "tags": dict,
        "secret": str,
        "version?": int,
    }
    body = {"name": "a<b", "stats": {"count": 3}, "tags": {"x": 1, "y": 2}, "secret": "s", "extra": 1}
    toy = Toy.from_json(body)
    assert toy == Toy("a<b", 3, "", {"x": 1, "y": 2}, "s", {})  # raw is not compared
    assert toy.raw is body
    assert toy.rows() == [("name", "<a<b>"), ("count", 3), ("size", 6), ("tags.x", 1), ("tags.y", 2)]
    assert toy._repr_html_() == (
        "<table class='naikit-record'><caption>Toy</caption>"
        "<tr><th style='text-align:left'>name</th><td>&lt;a&lt;b&gt;</td></tr>"
        "<tr><th style='text-align:left'>count</th><td>3</td></tr>"
        "<tr><th style='text-align:left'>size</th><td>6</td></tr>"
        "<tr><th style='text-align:left'>tags.x</th><td>1</td></tr>"
        "<tr><th style='text-align:left'>tags.y</th><td>2</td></tr></table>"
    )
    assert Toy.from_json({"stats": {"note": "n"}}).rows()[-1] == ("note", "n")
    # converters are total: wrong types become defaults, and nothing raises but a non-object on a path
    odd = Toy.from_json({"name": 5, "stats": {"count": "x", "note": None}, "tags": [1]})
    assert (odd.name, odd.count, odd.note, odd.tags, odd.hidden) == ("5", 0, "", {}, "")
    with pytest.raises(ResponseShapeError) as e:
        Toy.from_json({"stats": [1]})
    assert str(e.value).startswith("GET /toy: field 'stats' should be object or null but is list [1]")
