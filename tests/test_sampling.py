"""naikit.sampling against distributions worked out by hand (the numbers in comments are the working)."""

from __future__ import annotations

import math
import random

import pytest

from naikit import sampling as s
from naikit.errors import InputError

L = math.log


def dist(*probs: float) -> dict[int, float]:
    """Logits whose softmax is ``probs`` (token ids 0, 1, 2, ...)."""
    return {i: L(p) for i, p in enumerate(probs)}


def probs(logits: dict[int, float]) -> dict[int, float]:
    return {t: round(p, 6) for t, p in s.softmax(logits).items()}


def test_softmax_and_log_softmax():
    assert probs(dist(0.5, 0.3, 0.2)) == {0: 0.5, 1: 0.3, 2: 0.2}
    # shifting every logit changes nothing
    assert probs({0: 102.0, 1: 100.0}) == probs({0: 2.0, 1: 0.0})
    lp = s.log_softmax({0: 1.0, 1: 1.0})
    assert lp[0] == pytest.approx(L(0.5))
    assert s.softmax({}) == {}


def test_temperature():
    # logits 2 and 0 at T=2 -> 1 and 0 -> e/(e+1) = 0.731059
    out = s.temperature({0: 2.0, 1: 0.0}, 2)
    assert out == {0: 1.0, 1: 0.0}
    assert probs(out)[0] == pytest.approx(math.e / (math.e + 1), abs=1e-6)
    with pytest.raises(InputError, match="temperature"):
        s.temperature({0: 1.0}, 0)


def test_top_k():
    d = dist(0.5, 0.3, 0.2)
    assert set(s.top_k(d, 2)) == {0, 1}
    assert set(s.top_k(d, 1)) == {0}
    assert set(s.top_k(d, 0)) == {0, 1, 2}  # off
    assert probs(s.top_k(d, 2)) == {0: 0.625, 1: 0.375}  # 0.5/0.8, 0.3/0.8


def test_top_p():
    d = dist(0.5, 0.3, 0.2)
    assert set(s.top_p(d, 0.45)) == {0}  # 0.5 >= 0.45
    assert set(s.top_p(d, 0.79)) == {0, 1}  # 0.8 >= 0.79
    assert set(s.top_p(d, 0.81)) == {0, 1, 2}
    assert set(s.top_p(d, 1.0)) == {0, 1, 2}  # off


def test_tail_free():
    # sorted p = .5 .25 .15 .1 -> d1 = -.25 -.1 -.05 -> |d2| = .15 .05 -> normalised .75 .25 -> cdf .75 1.0
    d = dist(0.5, 0.25, 0.15, 0.1)
    assert set(s.tfs(d, 0.7)) == {0}  # .75 > .7 at once: only the first token stays
    assert set(s.tfs(d, 0.8)) == {0, 1}  # .75 <= .8 keeps the second; 1.0 > .8 stops
    assert set(s.tfs(d, 0.999)) == {0, 1}  # the last token always goes
    assert set(s.tfs(d, 1.0)) == {0, 1, 2, 3}  # off


def test_top_a():
    d = dist(0.5, 0.3, 0.2)
    assert set(s.top_a(d, 1.0)) == {0, 1}  # limit 1 * .5^2 = .25
    assert set(s.top_a(d, 0.5)) == {0, 1, 2}  # limit .125
    assert set(s.top_a(d, 2.0)) == {0}  # limit .5: only p >= .5
    assert set(s.top_a(d, 0)) == {0, 1, 2}


def test_typical_p():
    # H = -(.5 ln .5 + .3 ln .3 + .2 ln .2) = 1.0297; surprises .6931 1.2040 1.6094
    # |surprise - H| = .3366 .1743 .5797 -> order: token 1, token 0, token 2
    d = dist(0.5, 0.3, 0.2)
    assert set(s.typical_p(d, 0.25)) == {1}  # .3 >= .25
    assert set(s.typical_p(d, 0.7)) == {0, 1}  # .3 + .5 = .8 >= .7
    assert set(s.typical_p(d, 0.85)) == {0, 1, 2}


def test_min_p():
    d = dist(0.5, 0.3, 0.2)
    assert set(s.min_p(d, 0.5)) == {0, 1}  # limit .25
    assert set(s.min_p(d, 0.7)) == {0}  # limit .35
    assert set(s.min_p(d, 0)) == {0, 1, 2}


def test_top_g_keeps_ties_together():
    d = dist(0.4, 0.2, 0.2, 0.2)
    assert set(s.top_g(d, 1)) == {0}
    assert set(s.top_g(d, 2)) == {0, 1, 2, 3}  # the three 0.2 tokens are one group
    d = dist(0.4, 0.3, 0.2, 0.1)
    assert set(s.top_g(d, 2)) == {0, 1}


def test_unified():
    d = dist(0.5, 0.3, 0.2)
    assert probs(s.unified(d, 1.0, 0.0, 0.0)) == {0: 0.5, 1: 0.3, 2: 0.2}  # neutral
    # linear 2 squares the probabilities: .25 .09 .04 / .38
    assert probs(s.unified(d, 2.0, 0.0, 0.0)) == pytest.approx(
        {0: 0.25 / 0.38, 1: 0.09 / 0.38, 2: 0.04 / 0.38}, abs=1e-6
    )
    # quad: logp - q * logp^2 with logp(.5) = -.6931, logp(.5) = -.6931 for a 2-token uniform stays uniform
    assert probs(s.unified(dist(0.5, 0.5), 1.0, 0.5, 0.0)) == {0: 0.5, 1: 0.5}
    # conf adds entropy * conf to the factor: H(.8, .2) = .5004 nats; conf = 2 / H gives factor 2 -> squares
    h = -(0.8 * L(0.8) + 0.2 * L(0.2))
    out = probs(s.unified(dist(0.8, 0.2), 0.0, 0.0, 2 / h))
    assert out == pytest.approx({0: 0.64 / 0.68, 1: 0.04 / 0.68}, abs=1e-6)
    assert probs(s.unified(dist(0.8, 0.2), 0.0, 0.0, 0.0)) == {0: 0.5, 1: 0.5}  # factor 0: all equal


def test_cfg():
    # cond .5/.5, uc .8/.2, scale 2 -> 2 cond - uc -> proportional to 1/.8 : 1/.2 = .2 : .8
    out = s.cfg(dist(0.5, 0.5), dist(0.8, 0.2), 2.0)
    assert probs(out) == {0: 0.2, 1: 0.8}
    assert probs(s.cfg(dist(0.5, 0.5), dist(0.8, 0.2), 1.0)) == {0: 0.5, 1: 0.5}
    assert probs(s.cfg(dist(0.6, 0.4), None, 3.0)) == {0: 0.6, 1: 0.4}


def test_mirostat():
    # tau 1 -> mu starts at 2 bits; surprises: .5 -> 1 bit, .3 -> 1.737, .2 -> 2.32
    st = s.MirostatState(tau=1.0, lr=0.5)
    assert set(s.mirostat(dist(0.5, 0.3, 0.2), st)) == {0, 1}
    assert st.mu == 2.0
    st.update(0.25)  # 2 bits of surprise: mu -= .5 * (2 - 1) -> 1.5
    assert st.mu == pytest.approx(1.5)
    assert set(s.mirostat(dist(0.5, 0.3, 0.2), st)) == {0}  # 1.737 > 1.5
    assert set(s.mirostat(dist(0.5, 0.3, 0.2), s.MirostatState(0.0, 1.0))) == {0, 1, 2}


def test_run_chain_follows_order():
    d = dist(0.5, 0.3, 0.15, 0.05)
    params = {"top_k": 3, "top_p": 0.7, "temperature": 1.0}
    # top_k 3 -> .5 .3 .15 (renormalised .5263 .3158 .1579); top_p .7 -> .5263 + .3158 >= .7 -> 2 tokens
    steps = s.run_chain(d, [1, 2], params)
    assert [st.name for st in steps] == ["top_k", "top_p"]
    assert [st.survivors for st in steps] == [3, 2]
    # the other way round: top_p .7 on the full distribution -> .5 + .3 = .8 -> 2 tokens; top_k 3 keeps them
    steps = s.run_chain(d, ["top_p", "top_k"], params)
    assert [st.survivors for st in steps] == [2, 2]
    with pytest.raises(InputError, match="order"):
        s.run_chain(d, [11], params)
    with pytest.raises(InputError, match="order"):
        s.run_chain(d, ["nucleus"], params)


def test_sample_is_deterministic_and_follows_probabilities():
    d = dist(0.7, 0.2, 0.1)
    a = [s.sample(d, random.Random(3)) for _ in range(5)]
    b = [s.sample(d, random.Random(3)) for _ in range(5)]
    assert a == b
    rng = random.Random(0)
    draws = [s.sample(d, rng) for _ in range(4000)]
    assert draws.count(0) / 4000 == pytest.approx(0.7, abs=0.03)
    assert draws.count(2) / 4000 == pytest.approx(0.1, abs=0.02)


def test_repetition_penalty():
    logits = {1: 2.0, 2: -1.0, 3: 0.5}
    out = s.repetition_penalty(logits, [1, 2], 2.0)
    assert out == {1: 1.0, 2: -2.0, 3: 0.5}  # positive divided, negative multiplied
    out = s.repetition_penalty(logits, [1, 2], 2.0, whitelist=[2])
    assert out == {1: 1.0, 2: -1.0, 3: 0.5}
    out = s.repetition_penalty(logits, [1, 2, 3], 2.0, range_=1)  # only the last token (3) is in range
    assert out == {1: 2.0, 2: -1.0, 3: 0.25}


def test_repetition_penalty_slope():
    # range 3, slope 1: x = -1, 0, 1 -> penalties 1, 1.5, 2 from oldest to newest
    logits = {7: -1.0, 8: -1.0, 9: -1.0}
    out = s.repetition_penalty(logits, [7, 8, 9], 2.0, range_=3, slope=1.0)
    assert out == {7: -1.0, 8: -1.5, 9: -2.0}


def test_frequency_and_presence():
    out = s.frequency_presence_penalty({1: 0.0, 2: 0.0, 3: 0.0}, [1, 1, 2], 0.5, 1.0)
    assert out == {1: -2.0, 2: -1.5, 3: 0.0}  # 1: .5*2 + 1; 2: .5*1 + 1


def test_phrase_repetition_penalty():
    # context 5 6 7 8 5 6 7: the suffix 5 6 7 occurred before, followed by 8 -> 8 is lowered (light: .5)
    ctx = [5, 6, 7, 8, 5, 6, 7]
    out = s.phrase_repetition_penalty({8: 0.0, 9: 0.0}, ctx, "light")
    assert out == {8: -0.5, 9: 0.0}
    assert s.phrase_repetition_penalty({8: 0.0}, ctx, "very_light") == {8: 0.0}  # needs 4 tokens
    assert s.phrase_repetition_penalty({8: 0.0}, ctx, "off") == {8: 0.0}
    with pytest.raises(InputError, match="phrase_rep_pen"):
        s.phrase_repetition_penalty({8: 0.0}, ctx, "strong")


def test_bias_groups():
    logits = {10: 0.0, 11: 0.0, 12: 0.0}
    entry = {"sequence": [10, 11], "bias": 1.0, "ensure_sequence_finish": False, "generate_once": False}
    assert s.apply_biases(logits, [], [entry]) == {10: 1.0, 11: 0.0, 12: 0.0}  # first token
    assert s.apply_biases(logits, [10], [entry]) == {10: 0.0, 11: 1.0, 12: 0.0}  # next token of the phrase
    forced = {**entry, "ensure_sequence_finish": True}
    assert s.apply_biases(logits, [10], [forced]) == {11: 1.0}  # started: only its next token remains
    once = {**entry, "generate_once": True}
    assert s.apply_biases(logits, [10, 11, 12], [once]) == logits  # already generated once
    # a positive bias brings in a token the model gave no mass
    assert 13 in s.apply_biases(logits, [], [{"sequence": [13], "bias": 2.0}])


def test_bans():
    logits = {3: 0.0, 4: 0.0, 5: 0.0}
    assert s.apply_bans(logits, [1], [[3]]) == {4: 0.0, 5: 0.0}
    assert s.apply_bans(logits, [1], [[4, 5]]) == logits  # previous token is not 4
    assert s.apply_bans(logits, [1, 4], [[4, 5]]) == {3: 0.0, 4: 0.0}


def test_process_logits_min_length_and_everything_banned():
    logits = {0: 0.0, 1: 0.0}
    params = {"min_length": 2}
    assert set(s.process_logits(logits, [5], [], params, eos=0)) == {1}
    assert set(s.process_logits(logits, [5], [1, 1], params, eos=0)) == {0, 1}
    # a ban of every candidate does not leave an empty distribution
    assert s.process_logits(logits, [5], [], {"bad_words_ids": [[0], [1]]}) == logits


def test_should_stop():
    p = {"max_length": 5, "min_length": 2, "stop_sequences": [[9, 9]]}
    assert s.should_stop([1, 2, 3, 4, 5], p) == "max_length"
    assert s.should_stop([9, 9], p) == "stop_sequence"
    assert s.should_stop([9], {**p, "stop_sequences": [[9]]}) is None  # below min_length
    assert s.should_stop([1, 0], p, eos=0) == "eos"
    assert s.should_stop([1, 2], p) is None
