"""Real-browser tests: `naikit lab` (the README's main command) started on 127.0.0.1, notebooks run in
JupyterLab by headless Debian Chromium driven by Playwright, and the DOM checked: outputs rendered, no
errors, widgets drawn (not their text repr). Screenshots go to tests/artifacts/.

Needs /usr/bin/chromium (`.ci/run` installs Debian's package). Outside CI the tests skip when it is
missing; in CI (CI=true) they fail instead, so a missing browser cannot pass silently.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists() or shutil.which("jupyter-lab", path=str(Path(sys.executable).parent)) is None:
    if os.environ.get("CI"):
        raise RuntimeError(f"browser tests need {CHROMIUM} and jupyterlab; .ci/run installs them")
    pytest.skip("chromium or jupyterlab not installed", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Return (lab URL, sandbox URL) of a running `naikit lab` on a copy of notebooks/."""
    nbdir = tmp_path_factory.mktemp("notebooks")
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy(nb, nbdir / nb.name)
    # Lab settings for the test: every cell in the DOM (no windowing), no news pop-up over the page.
    settings = tmp_path_factory.mktemp("lab-settings")
    for rel, body in {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": '{"windowingMode": "none"}',
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": '{"fetchNews": "false"}',
    }.items():
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(body)
    port = _free_port()
    log = open(tmp_path_factory.mktemp("lablog") / "lab.log", "w+")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NAI_", "NOVITA_"))}
    naikit = Path(sys.executable).parent / "naikit"
    proc = subprocess.Popen(
        [
            str(naikit),
            "lab",
            "--no-browser",
            "--port",
            str(port),
            "--notebooks",
            str(nbdir),
            "--",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={settings / 'ws'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(url + "/api/status", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError("naikit lab did not start:\n" + log.read()) from None
            time.sleep(0.3)
    log.seek(0)
    m = re.search(r"sandbox at (http://127\.0\.0\.1:\d+)", log.read())
    assert m, "naikit lab announces its sandbox"
    yield url, m.group(1)
    proc.terminate()
    proc.wait(60)
    # JupyterLab and the sandbox both stop with `naikit lab` (no orphaned server left behind)
    for leftover in (url + "/api/status", m.group(1) + "/"):
        with pytest.raises(OSError):
            urllib.request.urlopen(leftover, timeout=2)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


_KERNEL_IDLE = """() => { const w = window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle'; }"""
_ALL_RAN = """() => { const w = window.jupyterapp.shell.currentWidget;
  return w.content.widgets.filter(c => c.model.type === 'code')
    .every(c => c.model.executionCount !== null)
    && !!w.sessionContext.session && !!w.sessionContext.session.kernel
    && w.sessionContext.session.kernel.status === 'idle'; }"""


def run_notebook(browser, url: str, name: str):
    """Open ``name`` in JupyterLab, run all cells, wait for the kernel; return the page."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/lab/tree/{name}?reset")  # a fresh workspace: only this notebook open
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_function(_KERNEL_IDLE, timeout=60_000)
    # outputs stored in the file must not count as this run's
    page.evaluate("window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_timeout(500)
    page.wait_for_function(_ALL_RAN, timeout=240_000)
    page.wait_for_timeout(500)  # let widget views render
    page.js_errors = errors  # type: ignore[attr-defined]
    return page


def assert_clean(page, name: str) -> None:
    """No error output, no stderr, no widget shown as its text repr, no JS error."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{Path(name).stem}.png"), full_page=True)
    errs = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errs.count() == 0, errs.all_inner_texts()
    tracebacks = page.locator(".jp-OutputArea-output:has-text('Traceback')")
    assert tracebacks.count() == 0, tracebacks.all_inner_texts()[:2]
    text = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").inner_text()
    assert not re.search(r"\b(VBox|HBox|HTML|Tab)\(children=", text), "a widget rendered as text"
    assert "Error displaying widget" not in text
    assert page.js_errors == [], page.js_errors  # type: ignore[attr-defined]


def test_quickstart_runs(lab, browser):
    url, _ = lab
    page = run_notebook(browser, url, "01_quickstart.ipynb")
    assert_clean(page, "01_quickstart.ipynb")
    assert page.locator(".jp-OutputArea-output table").count() >= 4
    text = page.locator(".jp-Notebook").first.inner_text()
    assert "3 (Opus)" in text and "anlas" in text  # the subscription, rendered as a table
    page.close()


def test_token_inspector_shows_spans(lab, browser):
    url, _ = lab
    page = run_notebook(browser, url, "04_tokenization.ipynb")
    assert_clean(page, "04_tokenization.ipynb")
    widget_spans = page.locator(".jupyter-widgets .nk-t")
    assert widget_spans.count() > 20, "the inspector widget draws one span per token"
    title = widget_spans.first.get_attribute("title")
    assert title and "id" in title, "hovering a token shows its id"
    # no token's box spans two lines: one client rectangle each, no taller than one line of text
    split = page.evaluate(
        """() => [...document.querySelectorAll('.jupyter-widgets .nk-t')].filter(e => {
             const r = e.getClientRects(); if (r.length !== 1) return true;
             const lh = parseFloat(getComputedStyle(e).lineHeight) || 20;
             return r[0].height > 1.6 * lh; }).map(e => e.textContent)"""
    )
    assert split == [], f"tokens broken across lines: {split[:5]}"
    # typing changes the counts while the caret stays in the box (no blur needed)
    area = page.locator(".jupyter-widgets textarea").first
    area.scroll_into_view_if_needed()
    summary = page.locator(".jupyter-widgets .nk-tok table").first
    before = summary.inner_text()
    area.click()
    area.press("End")
    page.keyboard.type(" and a few more words typed by hand", delay=30)
    page.wait_for_function(
        "(b) => { const t = document.querySelector('.jupyter-widgets .nk-tok table');"
        " return t && t.innerText !== b; }",
        arg=before,
        timeout=30_000,
    )
    assert page.evaluate("() => document.activeElement && document.activeElement.tagName") == "TEXTAREA"
    page.locator(".jp-OutputArea-output:has(.jupyter-widgets .nk-t)").first.screenshot(
        path=str(ARTIFACTS / "token_inspector.png")
    )
    page.close()


def test_image_grid_shows_images(lab, browser):
    url, _ = lab
    page = run_notebook(browser, url, "05_images.ipynb")
    assert_clean(page, "05_images.ipynb")
    grid_images = page.locator(".jupyter-widgets img")
    assert grid_images.count() >= 2, "the grid widget draws its thumbnails (the notebook makes 2 pictures)"
    loaded = page.evaluate(
        "() => [...document.querySelectorAll('.jupyter-widgets img')].filter(i => i.naturalWidth > 0).length"
    )
    assert loaded >= 2, "thumbnails decode in the browser"
    page.locator(".jp-OutputArea-output:has(.jupyter-widgets img)").first.screenshot(
        path=str(ARTIFACTS / "image_grid.png")
    )
    # a click on the thumbnail itself enlarges it, at no more than its natural size; close closes it
    big = page.locator(".jupyter-widgets img.naikit-enlarged").first
    assert not big.is_visible()
    page.locator(".naikit-thumb-button").first.click()
    big.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        "() => { const i = document.querySelector('img.naikit-enlarged'); return i && i.naturalWidth > 0; }",
        timeout=30_000,
    )
    shown, natural = page.evaluate(
        "() => { const i = document.querySelector('img.naikit-enlarged');"
        " return [i.getBoundingClientRect().width, i.naturalWidth]; }"
    )
    assert 0 < shown <= natural + 0.5, (shown, natural)
    big.screenshot(path=str(ARTIFACTS / "image_grid_enlarged.png"))
    page.locator(".widget-button:has-text('close')").first.click()
    big.wait_for(state="hidden", timeout=30_000)
    page.close()


_RUN_CODE = """async (code) => {
  const app = window.jupyterapp; const panel = app.shell.currentWidget; const nb = panel.content;
  nb.activeCellIndex = nb.widgets.length - 1;
  await app.commands.execute('notebook:insert-cell-below');
  nb.activeCell.model.sharedModel.setSource(code);
  await app.commands.execute('notebook:run-cell');
}"""


def kernel_print(page, code: str, marker: str) -> str:
    """Run ``code`` in a new cell of the open notebook; return the text after ``marker`` in its output."""
    page.evaluate(_RUN_CODE, code)
    out = page.locator(f".jp-OutputArea-output:has-text('{marker}')").last
    out.wait_for(timeout=60_000)
    return out.inner_text().split(marker, 1)[1].strip()


def test_preset_editor_slider_changes_the_preset_in_the_kernel(lab, browser):
    url, _ = lab
    page = run_notebook(browser, url, "02_prompt_tuning.ipynb")
    assert_clean(page, "02_prompt_tuning.ipynb")
    before = int(kernel_print(page, 'print("MAXLEN", mine["max_length"])', "MAXLEN"))
    slider = page.locator(".widget-slider:has(label:text-is('Output length (tokens)'))").first
    slider.scroll_into_view_if_needed()
    handle = slider.locator(".noUi-handle")
    handle.focus()
    for _ in range(3):
        handle.press("ArrowRight")  # a person moving the slider three steps with the keyboard
    page.wait_for_timeout(500)
    after = int(kernel_print(page, 'print("MAXLEN2", mine["max_length"])', "MAXLEN2"))
    assert after == before + 3, (before, after)
    slider.screenshot(path=str(ARTIFACTS / "preset_editor_slider.png"))
    # "Load official" loads into the user's preset: the editor and `mine` stay one object
    official = page.locator(".widget-dropdown:has(label:text-is('Official')) select").first
    shown = official.locator("option:checked").inner_text().replace("\xa0", " ")
    assert shown == "Golden Arrow, warmer (being edited)"  # the dropdown names the preset edited
    official.select_option("Wilder")
    page.locator(".widget-button:text-is('Load official')").first.click()
    page.wait_for_timeout(500)
    handle.focus()
    handle.press("ArrowRight")
    page.wait_for_timeout(500)
    got = kernel_print(page, 'print("BOUND", editor.preset is mine, mine.name, mine["max_length"])', "BOUND")
    wilder = kernel_print(page, 'print("WILDER", Preset.official("erato", "Wilder")["max_length"])', "WILDER")
    assert got == f"True Wilder {int(wilder) + 1}", (got, wilder)
    page.locator(".jp-OutputArea-output:has(.widget-slider)").first.screenshot(
        path=str(ARTIFACTS / "preset_editor.png")
    )
    page.close()


def test_compare_widget_renders(lab, browser):
    url, _ = lab
    page = run_notebook(browser, url, "03_compare_presets.ipynb")
    assert_clean(page, "03_compare_presets.ipynb")
    # the notebook leaves the widget on its summary table; a person clicks back to the texts
    page.locator(".widget-toggle-button:has-text('side by side')").first.click()
    # the summary table is drawn in the same box: wait for the texts themselves
    marks = page.locator(".jupyter-widgets .nk-cmpv mark.nk-diff")
    marks.first.wait_for(timeout=30_000)
    assert marks.count() > 0, "differences are highlighted"
    assert page.locator(".jupyter-widgets .nk-cmpv th:has-text('(base)')").count() == 1  # against one base
    view = page.locator(".jupyter-widgets .nk-cmpv").first
    view.screenshot(path=str(ARTIFACTS / "compare_widget.png"))
    page.close()


def test_training_dashboard_renders(lab, browser):
    url, _ = lab
    page = run_notebook(browser, url, "07_training_dashboard.ipynb")
    assert_clean(page, "07_training_dashboard.ipynb")
    table = page.locator(".jupyter-widgets table.naikit-training").first
    table.wait_for(timeout=30_000)
    assert table.locator("tbody tr").count() >= 1
    page.locator(".jp-OutputArea-output:has(table.naikit-training)").first.screenshot(
        path=str(ARTIFACTS / "training_dashboard.png")
    )
    # every job ended: Stop is disabled; the chart has axes
    stop = page.locator(
        ".jp-OutputArea-output:has(table.naikit-training) .widget-button:has-text('Stop')"
    ).first
    assert stop.is_disabled()
    assert page.locator(".jupyter-widgets svg.naikit-chart text:text-is('step')").count() >= 1
    # a second job with the same name: the two rows and bars are told apart
    page.evaluate(
        _RUN_CODE,
        'twin = nai.train_module(stories, name="harbour tales", steps=100)\n'
        "dash2 = training_dashboard(nai, None, interval=0.5)\ndash2",
    )
    twins = page.locator(".jp-OutputArea-output .widget-hprogress label:has-text('harbour tales ·')")
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-OutputArea-output table.naikit-training').length >= 2",
        timeout=60_000,
    )
    twins.nth(1).wait_for(timeout=60_000)
    labels = {t.replace("\xa0", " ") for t in twins.all_inner_texts()}
    assert len(labels) >= 2, labels
    page.locator(".jp-OutputArea-output:has(table.naikit-training)").last.screenshot(
        path=str(ARTIFACTS / "training_dashboard_twins.png")
    )
    page.close()


@pytest.mark.parametrize("name", ["06_account_content.ipynb", "08_novita.ipynb", "09_glm_and_xialong.ipynb"])
def test_other_notebooks_run_clean(lab, browser, name):
    url, _ = lab
    page = run_notebook(browser, url, name)
    assert_clean(page, name)
    assert page.locator(".jp-OutputArea-output").count() > 5
    page.close()


@pytest.mark.parametrize("name", ["04_tokenization.ipynb", "07_training_dashboard.ipynb"])
def test_notebook_opened_unexecuted_shows_widgets_not_text(lab, browser, name):
    url, _ = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/lab/tree/{name}?reset")
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_timeout(3000)  # stored outputs and widget state are drawn without running anything
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"unexecuted_{Path(name).stem}.png"), full_page=True)
    text = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").inner_text()
    assert not re.search(r"\b(TokenInspector|TrainingDashboard|PresetEditor)\(", text), (
        "a widget shown as text"
    )
    assert "Error displaying widget" not in text
    drawn = page.locator(".jp-OutputArea-output .nk-t, .jp-OutputArea-output table.naikit-training")
    assert drawn.count() > 0, "the widget (or its static snapshot) is drawn"
    page.close()
