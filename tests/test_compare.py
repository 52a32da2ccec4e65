"""compare(): presets x seeds on the sandbox, metrics, concurrency within the limit, HTML and widget."""

from __future__ import annotations

import math

import pytest
from sandbox_fixtures import DEMO, demo_client_fixture

from naikit import errors, sandbox
from naikit.comparison import Comparison, acompare, compare, comparison_html, distinct_n, repetition_rate
from naikit.novelai.presets import Preset

PROMPT = "The old lighthouse keeper climbed the stairs"


@pytest.fixture(scope="module")
def sb():
    import json
    import urllib.request

    with sandbox.start(test_hooks=True) as server:
        # the account may run as many text generations at once as the client below allows
        req = urllib.request.Request(
            server.url + "/_sandbox/text",
            data=json.dumps({"concurrency": 3}).encode(),
            method="PUT",
            headers={"Content-Type": "application/json", **server.admin_headers},
        )
        with urllib.request.urlopen(req) as r:
            assert json.loads(r.read())["concurrency"] == 3
        yield server


nai = demo_client_fixture(max_concurrent_generations=3)


def test_metrics_by_hand():
    assert distinct_n([1, 2, 1, 2], 2) == pytest.approx(2 / 3)  # (1,2) (2,1) (1,2)
    assert math.isnan(distinct_n([1], 2))
    assert repetition_rate([1, 2, 3, 1, 2, 3], (), 3) == pytest.approx(1 / 4)  # 123 231 312 123
    assert repetition_rate([3, 4], [1, 2, 3], 3) == 0.0  # 2 3 3? no: 233, 334 are new
    assert repetition_rate([1, 2, 3], [1, 2, 3], 3) == pytest.approx(1 / 3)  # 231 312 123 -> 123 seen


def test_compare_frame_and_html(nai):
    presets = ["Carefree", "Asper", Preset.official("kayra", "Stelenes")]
    c = compare(PROMPT, presets, seeds=[0, 1], client=nai, max_length=12)
    assert isinstance(c, Comparison) and c.model == "kayra-v1"
    f = c.frame
    assert list(f.columns) == [
        "preset",
        "seed",
        "text",
        "tokens",
        "mean_logprob",
        "distinct_2",
        "repetition_rate",
        "time_s",
    ]
    assert len(f) == 6 and list(f["preset"].unique()) == ["Carefree", "Asper", "Stelenes"]
    assert (f["tokens"] > 0).all() and (f["mean_logprob"] < 0).all()
    assert f["distinct_2"].between(0, 1).all() and f["repetition_rate"].between(0, 1).all()
    # the same calls one by one give the same texts (deterministic per request and seed)
    g = nai.generate(PROMPT, "Asper", model="kayra", seed=1, max_length=12)
    assert f[(f.preset == "Asper") & (f.seed == 1)]["text"].item() == g.text
    html = comparison_html(c)
    assert html == comparison_html(c) and "Stelenes" in html and "seed 1" in html
    if len(set(f[f.seed == 0]["text"])) > 1:
        assert 'class="nk-diff"' in html
    assert c.summary().index.tolist() == ["Carefree", "Asper", "Stelenes"]


def test_concurrency_stays_within_the_limit(sb, nai, monkeypatch):
    aclient = nai._async
    running = 0
    peak = 0
    real = type(aclient).generate

    async def counting(self, *a, **kw):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            import asyncio

            await asyncio.sleep(0.02)
            return await real(self, *a, **kw)
        finally:
            running -= 1

    monkeypatch.setattr(type(aclient), "generate", counting)
    c = compare(PROMPT, ["Carefree", "Asper"], seeds=[0, 1, 2, 3], client=nai, model="kayra", max_length=4)
    assert len(c.generations) == 8
    assert peak == 3  # the client's max_concurrent_generations
    assert nai.stats.get("retry_429", 0) == 0  # within the account's limit: the server never refused


@pytest.mark.parametrize(
    "kwargs,field",
    [
        (dict(presets=[]), "presets"),
        (dict(presets="Carefree"), "presets"),
        (dict(seeds=[]), "seeds"),
        (dict(seeds=[1, 1]), "seeds"),
        (dict(seeds=[-1]), "seeds"),
        (dict(presets=["Carefree", "Nope"]), "name"),
        (dict(temperature=0), "temperature"),
        (dict(max_concurrency=0), "max_concurrency"),
    ],
)
def test_bad_input_before_any_request(nai, kwargs, field):
    args = dict(presets=["Carefree"], seeds=[0])
    args.update(kwargs)
    before = nai.stats.get("attempts", 0)
    with pytest.raises(errors.InputError) as e:
        compare(PROMPT, args.pop("presets"), args.pop("seeds"), client=nai, model="kayra", **args)
    assert e.value.field == field
    assert nai.stats.get("attempts", 0) == before


def test_widget(nai):
    from naikit.widgets.compare import compare_widget

    c = compare(PROMPT, ["Golden Arrow", "Wilder"], seeds=[0], client=nai, max_length=6)
    w = compare_widget(c)
    assert "Wilder" in w.html.value and "seed 0" in w.html.value
    w.view = "summary"
    assert "distinct_2" in w.html.value and "seed 0" not in w.html.value
    with pytest.raises(errors.InputError):
        w.view = "grid"


def test_acompare_async(sb):
    import asyncio

    from naikit.novelai.async_client import AsyncNovelAI

    async def main():
        async with AsyncNovelAI(base_url=sb.url, **DEMO) as c:
            return await acompare(PROMPT, ["Carefree"], [5], client=c, model="kayra", max_length=3)

    res = asyncio.run(main())
    assert len(res.generations) == 1 and "1 presets x 1 seeds" in repr(res)


def test_widget_highlights_against_a_chosen_base_and_formats_the_summary(nai):
    import re

    import ipywidgets as widgets

    from naikit.render.compare import diff_html, summary_table_html
    from naikit.widgets.compare import compare_widget

    assert diff_html("the red fox", "the brown fox") == 'the <mark class="nk-diff">red</mark> fox'
    assert diff_html("<b> x", "<b> y") == '&lt;b&gt; <mark class="nk-diff">x</mark>'
    c = compare(PROMPT, ["Golden Arrow", "Wilder", "Dragonfruit"], seeds=[0], client=nai, max_length=8)
    w = compare_widget(c)
    assert w.base == "Golden Arrow" and "Golden Arrow (base)" in w.html.value
    texts = {p: c.generations[(p, 0)].text for p in c.presets}
    w.base = "Wilder"
    assert w.base_select.value == "Wilder" and "Wilder (base)" in w.html.value
    # the base's own text is never highlighted; the others are compared with it, not with each other
    cells = re.findall(r"<td( class=\"nk-base\")?><div class=\"nk-text\">(.*?)</div>", w.html.value, re.S)
    by_preset = dict(zip(c.presets, cells, strict=True))
    assert by_preset["Wilder"][0] and "nk-diff" not in by_preset["Wilder"][1]
    assert by_preset["Dragonfruit"][1] == diff_html(texts["Dragonfruit"], texts["Wilder"])
    assert "text-align:left" in w.html.value  # prose reads left-aligned, also in JupyterLab's tables
    seen = []
    w.observe(lambda ch: seen.append(ch["new"]), names="view")
    source = widgets.ToggleButtons(options=["side by side", "summary"])
    link = widgets.link((source, "value"), (w, "view"))
    source.value = "summary"
    assert seen[-1] == "summary" and w.toggle.value == "summary"
    link.unlink()
    html = w.html.value
    assert html == summary_table_html(c)
    # one header row naming the columns (no empty row for the index name), presets as row headers
    assert html.count("<tr>") == 1 + len(c.presets) and "<th>preset</th>" in html
    tokens = c.summary()["tokens"]
    for name, n in tokens.items():
        shown = f"{int(n):,}" if float(n).is_integer() else f"{n:.3f}"
        assert re.search(rf"<th>{re.escape(name)}</th><td class=\"nk-num\">{re.escape(shown)}</td>", html)
    assert ".0<" not in html  # integers shown as integers
    with pytest.raises(errors.InputError):
        w.base = "Not compared"


def test_naikit_compare_stays_the_function_after_the_widget_import():
    # importing the widget imports the naikit.comparison module; the package's compare() must survive it
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import naikit\nfrom naikit.widgets import compare_widget\nimport naikit.comparison\n"
        "from naikit.comparison import Comparison\nprint(callable(naikit.compare), Comparison.__name__)"
    )
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.stdout.strip() == "True Comparison", out.stderr
