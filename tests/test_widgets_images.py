"""Image grid widget and X/Y plots: state in plain Python (no kernel), bounded payload, deterministic HTML."""

from __future__ import annotations

import io

import pytest

from naikit import sandbox
from naikit.errors import InputError
from naikit.novelai.client import NovelAI
from naikit.novelai.images_result import GeneratedImage
from naikit.render.images import grid_html, sniff_mime
from naikit.widgets.images import image_grid
from naikit.xyplot import plan, xy_plot


def _gen(i: int, scale: float = 5.0) -> GeneratedImage:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (832, 1216), (i * 20 % 256, 90, 160)).save(buf, format="PNG")
    return GeneratedImage(buf.getvalue(), {"seed": 100 + i, "scale": scale, "steps": 23}, "p", "m", index=i)


def test_grid_state_select_enlarge_save(tmp_path):
    items = [_gen(i, scale=4.0 + i) for i in range(3)]
    g = image_grid(items, thumb_size=128, fmt="webp")
    assert all(sniff_mime(t) == "image/webp" for t in g.thumbs)
    assert g.captions[1] == "seed 101 · scale=5.0"  # seed plus the parameter that varies
    assert g.payload_bytes < 3 * 20_000
    g.select(0, 2)
    assert g.selected == [0, 2]
    g.enlarge_buttons[1].click()
    assert g.enlarged == 1 and g.big.value == items[1].png and g.big_box.layout.display == ""
    g.enlarge(None)
    assert g.enlarged is None and g.big_box.layout.display == "none"
    g.folder.value = str(tmp_path)
    g.save_button.click()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image_100_0.png", "image_102_2.png"]
    assert "saved 2" in g.status.value
    g.save_button.click()  # a second save must not overwrite: reported, files untouched
    assert "not allowed" in g.status.value
    with pytest.raises(InputError):
        image_grid(items, fmt="gif")
    with pytest.raises(InputError):
        g.enlarge(7)


def test_click_thumbnail_enlarges_at_natural_size_and_close_closes():
    items = [_gen(i, scale=4.0 + i) for i in range(2)]
    g = image_grid(items, thumb_size=128)
    g.thumb_buttons[1].click()  # the thumbnail itself (a transparent button over the picture)
    assert g.enlarged == 1 and g.big_box.layout.display == ""
    assert g.big.width == "832"  # the picture's own width: never upscaled past 100%
    assert g.big.layout.max_width == "100%" and g.big.layout.height == "auto"
    assert g.thumb_buttons[1].layout.grid_area == "cell"  # over the thumbnail, not beside it
    g.close_button.click()
    assert (
        g.enlarged is None
        and g.big_box.layout.display == "none"
        and g.payload_bytes == sum(map(len, g.thumbs))
    )


def test_grid_saves_outside_the_notebook_folder(tmp_path, monkeypatch):
    out = tmp_path / "out"
    cwd = tmp_path / "notebooks"
    cwd.mkdir()
    monkeypatch.setenv("NAIKIT_OUTPUT_DIR", str(out))
    monkeypatch.chdir(cwd)
    g = image_grid([_gen(i, scale=4.0 + i) for i in range(2)], thumb_size=64)
    assert g.folder.value == str(out / "images")
    g.save_button.click()
    assert g.status.value == "select pictures first"
    g.select(1)
    g.save_button.click()
    assert [p.name for p in (out / "images").iterdir()] == ["image_101_1.png"]
    assert str(out / "images") in g.status.value
    g.folder.value = "run-2"  # relative: inside the output folder
    g.save_button.click()
    assert (out / "images" / "run-2" / "image_101_1.png").is_file()
    assert list(cwd.iterdir()) == [], "nothing lands next to the notebook"


def test_grid_html_is_pure_and_escaped():
    thumbs = [b"\xff\xd8\xff" + b"x" * 10, b"\xff\xd8\xff" + b"y" * 10]
    a = grid_html(thumbs, ["<b>", "ok"], title="t", col_labels=["c1", "c2"])
    assert a == grid_html(thumbs, ["<b>", "ok"], title="t", col_labels=["c1", "c2"])
    assert "<figcaption style='font-size:11px'>&lt;b&gt;</figcaption>" in a
    assert a != grid_html(thumbs, ["<b>", "other"], title="t")


def test_plan_fixes_one_seed_and_covers_every_combination():
    from naikit.novelai.image_models import ImagePreset

    cells = plan(
        "x", ImagePreset.default(), ("scale", [4, 6]), ("steps", [10, 20, 30]), ("prompt", ["a", "b"])
    )
    assert len(cells) == 12
    assert len({c["preset"].seed for c in cells}) == 1
    got = [(c["preset"].scale, c["preset"].steps, c["prompt"]) for c in cells[:3]]
    assert got == [(4, 10, "a"), (6, 10, "a"), (4, 20, "a")]
    with pytest.raises(InputError):
        plan("x", ImagePreset.default(), ("scael", [1]))


def test_xy_plot_against_the_sandbox():
    srv = sandbox.start()
    try:
        with NovelAI(base_url=srv.url, email=sandbox.DEMO_EMAIL, password=sandbox.DEMO_PASSWORD) as nai:
            from naikit.novelai.image_models import ImagePreset

            preset = ImagePreset.default().replace(width=256, height=384, steps=8)
            with pytest.raises(InputError):
                xy_plot(
                    nai, "cat", ("scale", [3, 7]), ("steps", [6, 12]), preset=preset, max_anlas=1, opus=False
                )
            plot = xy_plot(nai, "cat", ("scale", [3, 7]), ("steps", [6, 12]), preset=preset)
            assert len(plot.results) == 4
            img = plot.image(cell=64)
            assert img.size == (110 + 2 * 64, 24 + 2 * 96)
            w = image_grid(plot, thumb_size=64)
            assert w.captions[3] == "scale=7 · steps=12"
            assert "scale=3" in plot._repr_html_() and "steps=12" in plot._repr_html_()
            a, b = plot.results[0][0].image.tobytes(), plot.results[1][0].image.tobytes()
            assert a != b  # only the scale differs, and it shows
    finally:
        srv.stop()


def test_stream_preview_follows_a_real_stream():
    from naikit import sandbox
    from naikit.novelai.client import NovelAI
    from naikit.novelai.image_models import ImagePreset
    from naikit.widgets.images import StreamPreview, stream_preview

    with (
        sandbox.start() as server,
        NovelAI(base_url=server.url, email=sandbox.DEMO_EMAIL, password=sandbox.DEMO_PASSWORD) as nai,
    ):
        view = stream_preview(size=96)
        preset = ImagePreset.default("nai-diffusion-4-5-full").replace(width=512, height=512, steps=8)
        events = []
        for ev in nai.generate_image_stream("a lighthouse", preset, seed=3):
            view.show(ev)
            events.append(ev)
    assert isinstance(view, StreamPreview)
    previews = [e for e in events if not e.is_final]
    finals = [e for e in events if e.is_final]
    assert previews and len(finals) == 1
    assert view.events == len(events) and view.finals == [finals[0].image]
    ((img, cap),) = view._views.values()
    assert img.value[:2] == b"\xff\xd8" and "final" in cap.value  # a JPEG thumbnail, captioned final
    assert repr(view) == f"StreamPreview(1 final, {len(events)} events)"


def test_stream_preview_refuses_other_things():
    import pytest as _pytest

    from naikit.errors import InputError
    from naikit.widgets.images import stream_preview

    with _pytest.raises(InputError, match="event"):
        stream_preview().show(b"png bytes")
    with _pytest.raises(InputError, match="size"):
        stream_preview(size=5)


def test_grid_selection_and_enlarged_are_traitlets():
    import ipywidgets as widgets

    g = image_grid([_gen(i, scale=4.0 + i) for i in range(3)], thumb_size=64)
    seen = []
    g.observe(lambda ch: seen.append((ch["name"], ch["new"])), names=["selection", "enlarged"])
    g.checks[2].value = True  # a click on "select"
    g.checks[0].value = True
    assert g.selection == [0, 2] == g.selected and ("selection", [0, 2]) in seen
    g.selection = [1]
    assert [c.value for c in g.checks] == [False, True, False]
    slider = widgets.IntSlider(min=0, max=2)
    link = widgets.link((slider, "value"), (g, "enlarged"))
    slider.value = 2
    assert g.enlarged == 2 and g.big_box.layout.display == "" and ("enlarged", 2) in seen
    link.unlink()
    with pytest.raises(InputError):
        g.selection = [5]
