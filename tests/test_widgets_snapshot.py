"""Widgets carry a static text/html snapshot next to their live view, and the stored notebooks hold it, so
they read well before they run (GitHub, nbviewer, a front end without the widget's state)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from naikit.novelai.presets import Preset
from naikit.widgets import preset_editor, token_inspector

ROOT = Path(__file__).resolve().parent.parent
VIEW = "application/vnd.jupyter.widget-view+json"


def test_widget_bundles_carry_a_deterministic_html_snapshot():
    w = token_inspector("The lamp flickered <b>", ["kayra", "erato"])
    bundle = w._repr_mimebundle_()
    assert VIEW in bundle and "text/plain" in bundle
    html = bundle["text/html"]
    assert "naikit-snapshot" in html and "kayra-v1" in html and "&lt;" in html  # escaped
    assert (
        html == token_inspector("The lamp flickered <b>", ["kayra", "erato"])._repr_mimebundle_()["text/html"]
    )
    editor = preset_editor(Preset.official("erato", "Wilder"))
    assert "Wilder" in editor._repr_mimebundle_()["text/html"]


def test_stored_notebooks_render_before_they_run():
    # widgets of naikit that a notebook shows while it is still empty (filled by the same cell's loop)
    # or a Novita progress bar have nothing worth a picture yet
    allowed = ("StreamPreview(", "HBox(children=(IntProgress(")
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        text = nb.read_text()
        assert not re.search(r"http://127\.0\.0\.1:\d+", text), f"{nb.name} stores a sandbox port of one run"
        for cell in json.loads(text)["cells"]:
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                if VIEW in data:
                    plain = "".join(data.get("text/plain", ""))
                    assert "text/html" in data or plain.startswith(allowed), (nb.name, plain[:80])
