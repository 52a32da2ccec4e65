"""The sampler explainer: hand-checked small distributions, a Generation from the sandbox, the chart,
bad input, and the widget's state."""

from __future__ import annotations

import math

import pytest

from naikit import errors
from naikit.explain import SamplerExplanation, explain_step, explanation_html, explanation_svg
from naikit.novelai.presets import Preset

PROMPT = "The old lighthouse keeper climbed the stairs"


# -- hand-checked distributions -------------------------------------------------------------------------


def test_top_k_then_top_p_by_hand():
    # top_k 3 drops #4; renormalised: .5/.95, .3/.95, .15/.95; top_p .7 is reached by the first two
    e = explain_step({1: 0.5, 2: 0.3, 3: 0.15, 4: 0.05}, order=["top_k", "top_p"], top_k=3, top_p=0.7)
    assert e.stages == ["top_k", "top_p"] and e.settings == ["3", "0.7"]
    f = e.to_frame()
    assert list(f.columns) == [
        "token_id",
        "piece",
        "p_given",
        "p_start",
        "p_top_k",
        "p_top_p",
        "survived",
        "removed_by",
        "chosen",
    ]
    assert list(f.token_id) == [1, 2, 3, 4]
    assert f.p_top_k.tolist() == pytest.approx([0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0.0])
    assert f.p_top_p.tolist() == pytest.approx([0.625, 0.375, 0.0, 0.0])
    assert f.removed_by.tolist() == ["", "", "top_p", "top_k"]
    assert f.survived.tolist() == [True, True, False, False]
    assert (
        e.survivors == [1, 2] and e.kept_after("top_k") == [1, 2, 3] and e.kept_after("start") == [1, 2, 3, 4]
    )
    assert e.coverage == pytest.approx(1.0) and e.rest is None and e.agrees_with_server is None
    s = e.stages_frame()
    assert s.stage.tolist() == ["start", "top_k", "top_p"] and s.kept.tolist() == [4, 3, 2]
    assert s.removed.tolist() == [[], ["#4"], ["#3"]]


def test_temperature_then_min_p_on_logits_by_hand():
    # logits 2, 1, 0 at temperature 2 -> e^1 : e^.5 : e^0; min_p .5 keeps p >= .5 * p_max
    e = explain_step({7: 2.0, 8: 1.0, 9: 0.0}, order=["temperature", "min_p"], temperature=2.0, min_p=0.5)
    z = math.e + math.exp(0.5) + 1
    f = e.to_frame().set_index("token_id")
    assert f.p_temperature.tolist() == pytest.approx([math.e / z, math.exp(0.5) / z, 1 / z])
    assert f.p_min_p.tolist() == pytest.approx(
        [math.e / (math.e + math.exp(0.5)), math.exp(0.5) / (math.e + math.exp(0.5)), 0.0]
    )
    assert f.loc[9, "removed_by"] == "min_p" and e.coverage is None  # logits: no absolute scale
    # softmax of the logits as given
    z0 = math.exp(2) + math.e + 1
    assert f.p_given.tolist() == pytest.approx([math.exp(2) / z0, math.e / z0, 1 / z0])


def test_chain_order_matters():
    # top_a 1 keeps p >= p_max^2; sharpening the distribution first raises p_max and so the threshold
    probs = {1: 0.5, 2: 0.3, 3: 0.2}
    a = explain_step(probs, order=["top_a"], top_a=1.0)  # keeps p >= 1 * .5^2 = .25
    assert a.survivors == [1, 2]
    b = explain_step(probs, order=["temperature", "top_a"], temperature=0.5, top_a=1.0)
    # at T .5: .25 : .09 : .04 -> p = .658, .237, .105; threshold .658^2 = .433
    assert b.survivors == [1]
    assert b.to_frame().p_temperature.tolist() == pytest.approx([0.25 / 0.38, 0.09 / 0.38, 0.04 / 0.38])


def test_truncated_distribution_keeps_absolute_probabilities():
    # the candidates hold 70%; top_p .5 needs both of them on the full distribution, but only the first
    # once they are renormalised (.4/.7 = .571 >= .5)
    e = explain_step({10: 0.4, 11: 0.3}, order=["top_p"], top_p=0.5)
    assert e.coverage == pytest.approx(0.7)
    assert e.survivors == [10, 11]
    assert e.rest == pytest.approx([0.3, 0.0])  # the stand-in tail is cut by top_p
    assert e.to_frame().p_start.tolist() == pytest.approx([0.4, 0.3])
    assert any("70.0%" in n for n in e.notes)
    naive = explain_step({10: 0.4, 11: 0.3}, order=["top_p"], top_p=0.5, tail=False)
    assert naive.survivors == [10] and naive.rest is None


def test_logprobs_input_and_mirostat_threshold():
    # surprises 1, 2, 3, 3 bits; a threshold of 2.5 bits keeps the first two
    lp = {1: math.log(0.5), 2: math.log(0.25), 3: math.log(0.125), 4: math.log(0.125)}
    e = explain_step(lp, order=["mirostat"], mirostat_tau=1.25, mirostat_mu=2.5)
    assert e.survivors == [1, 2] and e.to_frame().p_given.tolist() == pytest.approx([0.5, 0.25, 0.125, 0.125])
    # without mu: it starts at 2 * tau = 5 bits, keeping everything
    assert explain_step(lp, order=["mirostat"], mirostat_tau=2.5).survivors == [1, 2, 3, 4]


def test_preset_chain_and_text_keys():
    p = Preset.new("kayra", "t").set_order([("top_k", True), ("temperature", False)])
    p["top_k"] = 2
    e = explain_step({" the": 0.5, " a": 0.3, " stairs": 0.2}, p)
    assert e.model == "kayra-v1" and e.stages == ["top_k"]  # temperature is disabled
    f = e.to_frame()
    assert f.piece.tolist() == [" the", " a", " stairs"] and f.survived.tolist() == [True, True, False]
    # a what-if override of the preset's chain
    wider = explain_step({" the": 0.5, " a": 0.3, " stairs": 0.2}, p, top_k=3)
    assert len(wider.survivors) == 3


def test_no_samplers_and_cfg_note():
    e = explain_step({1: 0.6, 2: 0.4}, order=[])
    assert e.stages == [] and e.survivors == [1, 2]
    assert "No samplers" in explanation_html(e)
    c = explain_step({1: 0.6, 2: 0.4}, order=["cfg"], cfg_scale=1.5)
    assert any("unconditional" in n for n in c.notes) and c.to_frame().p_cfg.tolist() == pytest.approx(
        [0.6, 0.4]
    )


@pytest.mark.parametrize(
    "source,kwargs,field",
    [
        ({}, dict(order=["top_k"]), "source"),
        ({1: 0.5}, {}, "preset"),
        ({1: 0.5}, dict(order=["top_z"]), "order"),
        ({1: 0.5}, dict(order=["top_k", "top_k"]), "order"),
        ({1: 0.5}, dict(order=["top_p"], top_p=1.5), "top_p"),
        ({1: 0.5}, dict(order=["temperature"], temperature=0), "temperature"),
        ({1: -0.5, 2: 0.2}, dict(order=[], kind="probs"), "distribution[1]"),
        ({1: 0.8, 2: 0.8}, dict(order=[], kind="probs"), "distribution"),
        ({1: float("nan")}, dict(order=[]), "distribution[1]"),
        ({1: 0.5}, dict(order=[], kind="odds"), "kind"),
        ({"the": 0.5}, dict(order=[]), "source"),
        ({"the stairs": 0.5}, dict(order=[], model="kayra"), "source['the stairs']"),
        ({1: 0.5}, dict(order=[], chosen=2), "chosen"),
        ({1: 0.5}, dict(order=[], tail="yes"), "tail"),
        ("text", dict(order=[]), "source"),
    ],
)
def test_bad_input(source, kwargs, field):
    with pytest.raises(errors.InputError) as e:
        explain_step(source, **kwargs)
    assert e.value.field == field


# -- display -------------------------------------------------------------------------------------------


def test_svg_is_deterministic_and_escaped():
    probs = {1: 0.5, 2: 0.3, 3: 0.2}
    e = explain_step(probs, order=["top_k"], top_k=2, chosen=2)
    e.pieces[3] = "<b>&"
    svg = explanation_svg(e)
    again = explain_step(dict(probs), order=["top_k"], top_k=2, chosen=2)
    again.pieces[3] = "<b>&"
    assert svg == explanation_svg(again)  # a fresh explanation of the same input draws the same bytes
    assert svg != explanation_svg(explain_step(probs, order=["top_k"], top_k=3, chosen=2))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<b>&" not in svg and "&lt;b&gt;&amp;" in svg
    assert svg.count("✕ removed") == 1 and "▶" in svg  # #3 removed by top_k; #2 chosen
    assert 'id="nk-expl-' in svg
    # the chosen row stays visible even beyond the limit
    assert "▶" in explanation_svg(e, limit=1) and "1 more candidate" in explanation_svg(e, limit=1)
    html = e._repr_html_()
    assert html == explanation_html(e) and "top_k" in html and "2 survive" in html
    with pytest.raises(errors.InputError):
        explanation_svg(e, limit=0)


# -- from a Generation ---------------------------------------------------------------------------------


def test_from_a_generation_matches_the_server_for_exact_samplers(nai):
    # top-k and temperature see only the candidates' ranks and ratios: the explanation is exact
    p = Preset.new("kayra", "k5").set_order(["temperature", "top_k"])
    p.update(temperature=1.3, top_k=5)
    g = nai.generate(PROMPT, p, seed=3, max_length=10, num_logprobs=30)
    for i in range(len(g.tokens)):
        e = g.explain(i)
        assert isinstance(e, SamplerExplanation) and e.position == i
        assert e.agrees_with_server is True
        assert len(e.survivors) == 5 and e.token_ids[e.chosen] == g.tokens[i]
        assert e.to_frame().chosen.sum() == 1
        # independent of naikit.sampling: temperature 1.3 then top-k 5, worked with math.exp on the server's
        # own "before" logprobs. Both the server's "after" list and the explainer's final stage must equal it.
        step = g.logprobs[i]
        before = {c.ids[0]: c.before for c in step.before}
        top5 = sorted(before, key=lambda t: -before[t])[:5]
        z = sum(math.exp(before[t] / 1.3) for t in top5)
        by_hand = {t: math.exp(before[t] / 1.3) / z for t in top5}
        assert sorted(e.survivors) == sorted(top5)
        server_after = {c.ids[0]: math.exp(c.after) for c in step.after if c.after is not None}
        assert server_after.keys() == by_hand.keys()
        assert all(abs(server_after[t] - by_hand[t]) < 1e-4 for t in top5), (server_after, by_hand)
        final = {e.token_ids[c]: p for c, p in e.probs[-1].items()}
        assert all(abs(final[t] - by_hand[t]) < 1e-4 for t in top5), (final, by_hand)
    # negative positions count from the end
    assert explain_step(g, position=-1).position == len(g.tokens) - 1


def test_from_a_generation_with_the_official_chain(nai):
    g = nai.generate(PROMPT, "Carefree", model="kayra", seed=1, max_length=12, num_logprobs=30)
    e = explain_step(g, position=2)
    assert e.stages == Preset.official("kayra", "Carefree").enabled_samplers
    assert 0 < e.coverage <= 1.0001 and "server_kept" in e.to_frame().columns
    assert e.token_ids[e.chosen] == g.tokens[2] and e.token_ids[e.chosen] in e.survivors
    # what if the same step ran under another preset
    other = explain_step(g, Preset.official("kayra", "Asper"), position=2)
    assert other.stages == Preset.official("kayra", "Asper").enabled_samplers


def test_mirostat_threshold_is_replayed_from_the_earlier_tokens(nai):
    p = Preset.new("kayra", "m").set_order(["mirostat"])
    p.update(mirostat_tau=3.0, mirostat_lr=0.5)
    g = nai.generate(PROMPT, p, seed=1, max_length=12, num_logprobs=30)
    replayed = [explain_step(g, position=i) for i in range(len(g.tokens))]
    assert all(e.agrees_with_server for e in replayed)
    assert len({len(e.survivors) for e in replayed}) > 1  # the threshold moved over the generation
    # a fixed threshold instead of the replayed one does not reproduce the server
    fixed = [explain_step(g, position=i, mirostat_mu=6.0) for i in range(len(g.tokens))]
    assert not all(e.agrees_with_server for e in fixed)


def test_generation_errors(nai):
    g = nai.generate(PROMPT, "Carefree", model="kayra", seed=1, max_length=4, num_logprobs=5)
    with pytest.raises(errors.InputError) as e:
        explain_step(g, position=len(g.tokens))
    assert e.value.field == "position"
    with pytest.raises(errors.InputError) as e:
        explain_step(g, chosen=1)
    assert e.value.field == "chosen"
    bare = nai.generate(PROMPT, "Carefree", model="kayra", seed=1, max_length=4, num_logprobs=-1)
    assert not bare.raw_logprobs
    with pytest.raises(errors.InputError) as e:
        explain_step(bare)
    assert e.value.field == "source" and "num_logprobs" in e.value.allowed


def test_widget_state(nai):
    from naikit.widgets.explain import ExplainWidget, explain_widget

    g = nai.generate(PROMPT, "Carefree", model="kayra", seed=2, max_length=6, num_logprobs=10)
    w = explain_widget(g)
    assert isinstance(w, ExplainWidget) and w.position.max == len(g.tokens) - 1
    assert w.explanation.position == 0 and "<svg" in w.html.value and "<mark" in w.text.value
    w.position.value = 3
    assert w.explanation.position == 3 and w.explanation.token_ids[w.explanation.chosen] == g.tokens[3]
    w.view.value = "table"
    assert "<table" in w.html.value and "removed_by" in w.html.value and "<svg" not in w.html.value
    what_if = explain_widget(g, top_k=1)
    assert len(what_if.explanation.survivors) == 1
    with pytest.raises(errors.InputError):
        explain_widget("not a generation")
