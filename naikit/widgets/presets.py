"""The preset editor widget: every parameter with the right control and range, grouped like NovelAI's
settings; samplers switchable and reorderable; official presets and files loaded and saved; a Generate
button showing the output with the logprob view.

``preset_editor(preset)`` returns a :class:`PresetEditor` (an ipywidgets ``VBox``). The editor and its
:class:`~naikit.novelai.presets.Preset` stay in sync both ways: a control changes the preset (a value the
preset refuses is put back and the reason shown), and a change made to the preset in code moves the
control. Numbers with a range on the website are sliders over that range, widened to take the preset's
value, and a slider snapping to its step is not taken as an edit, so showing a preset never alters it;
other numbers are fields bounded by the API's ranges.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..errors import InputError, NaikitError
from ..novelai.models import OA_MODELS, TEXT_MODELS, text_model
from ..novelai.presets import OA_SAMPLERS, PARAMS, SAMPLER_KEYS, SAMPLER_MODELS, SAMPLERS, Preset, is_oa_model
from .files import output_folder, output_path, shown_path
from .snapshot import Snapshot

if TYPE_CHECKING:  # pragma: no cover
    from ..novelai.generation import Generation

__all__ = ["PresetEditor", "preset_editor"]

_GROUPS = ("Generation options", "Samplers", "Repetition penalty")
_STYLE = {"description_width": "200px"}
_LAYOUT = widgets.Layout(width="360px")
_SLIDER_LAYOUT = widgets.Layout(width="520px")


def _decimals(step: float) -> int:
    text = f"{step:.10f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def _control(key: str, value: Any) -> widgets.Widget:
    spec = PARAMS[key]
    label = spec.label or key
    if spec.kind == "bool":
        return widgets.Checkbox(value=bool(value), description=label, style=_STYLE, indent=False)
    if spec.kind == "choice":
        return widgets.Dropdown(options=list(spec.choices), value=value, description=label, style=_STYLE)
    if spec.kind == "str":
        return widgets.Text(value=value or "", description=label, style=_STYLE, layout=_LAYOUT)
    if spec.ui is not None:
        # A slider over the website's range, as NovelAI's settings show it, widened to take the preset's
        # own value so that showing a preset never clamps (and so never changes) it.
        lo, hi, step = spec.ui
        kw = dict(description=label, style=_STYLE, layout=_SLIDER_LAYOUT, continuous_update=False)
        if spec.kind == "int":
            n = int(value)
            return widgets.IntSlider(value=n, min=min(int(lo), n), max=max(int(hi), n), step=int(step), **kw)
        x = float(value)
        return widgets.FloatSlider(
            value=x, min=min(lo, x), max=max(hi, x), step=step, readout_format=f".{_decimals(step)}f", **kw
        )
    lo = spec.lo if spec.lo is not None else -1e9
    hi = spec.hi if spec.hi is not None else 1e9
    if spec.kind == "int":
        return widgets.BoundedIntText(
            value=int(value), min=int(lo), max=int(hi), description=label, style=_STYLE, layout=_LAYOUT
        )
    return widgets.BoundedFloatText(
        value=float(value), min=lo, max=hi, description=label, style=_STYLE, layout=_LAYOUT
    )


def _show_value(control: widgets.Widget, value: Any) -> None:
    """Put ``value`` in ``control``, widening a slider first so the value is shown, not clamped."""
    if isinstance(control, (widgets.FloatSlider, widgets.IntSlider)):
        if value > control.max:
            control.max = value
        if value < control.min:
            control.min = value
    control.value = value


_DEFAULTS = {
    "temperature": 1.0, "top_k": 0, "top_p": 1.0, "top_a": 0.0, "typical_p": 1.0, "tail_free_sampling": 1.0,
    "cfg_scale": 1.0, "cfg_uc": "", "top_g": 0, "mirostat_tau": 0.0, "mirostat_lr": 1.0, "math1_temp": 1.0,
    "math1_quad": 0.0, "math1_quad_entropy_scale": 0.0, "min_p": 0.0, "max_length": 40, "min_length": 1,
    "repetition_penalty": 1.0, "repetition_penalty_range": 0, "repetition_penalty_slope": 0.0,
    "repetition_penalty_frequency": 0.0, "repetition_penalty_presence": 0.0,
    "repetition_penalty_default_whitelist": False, "phrase_rep_pen": "off",
}  # fmt: skip


class PresetEditor(Snapshot, widgets.VBox):
    """Edit a :class:`Preset` in a notebook; ``.preset`` is the object being edited (kept in sync)."""

    def __init__(self, preset: Preset | None = None, *, client: Any = None, prompt: str = ""):
        if preset is not None and not isinstance(preset, Preset):
            raise InputError("preset", preset, "a Preset (or None for Kayra's default)")
        self._client = client
        self._updating = False
        self._unobserve: Callable[[], None] | None = None
        self.controls: dict[str, widgets.Widget] = {}
        self.sampler_rows: dict[str, widgets.HBox] = {}
        self.enabled_boxes: dict[str, widgets.Checkbox] = {}
        self.last_generation = None

        self.model = widgets.Dropdown(
            options=[(m.name, m.value) for m in (*TEXT_MODELS, *OA_MODELS)], description="Model"
        )
        self.official = widgets.Dropdown(description="Official")
        self.load_official = widgets.Button(description="Load official")
        self.path = widgets.Text(
            description="File",
            placeholder=f"my.preset (in {shown_path(output_folder('presets'))})",
            tooltip="a relative name is saved in the output folder, not next to the notebook",
            layout=_LAYOUT,
        )
        self.load_file = widgets.Button(description="Load file")
        self.save_file = widgets.Button(description="Save file")
        self.status = widgets.HTML()
        self.name = widgets.Text(description="Name", layout=_LAYOUT)
        self.prompt = widgets.Textarea(
            value=prompt, description="Prompt", layout=widgets.Layout(width="100%")
        )
        self.seed = widgets.BoundedIntText(value=0, min=0, max=2**31 - 1, description="Seed")
        self.generate_button = widgets.Button(description="Generate", button_style="primary")
        self.output = widgets.HTML()
        self.body = widgets.VBox()

        self.model.observe(self._on_model, names="value")
        self.load_official.on_click(lambda _b: self._guard(self._do_load_official))
        self.load_file.on_click(lambda _b: self._guard(self._do_load_file))
        self.save_file.on_click(lambda _b: self._guard(self._do_save_file))
        self.generate_button.on_click(lambda _b: self._guard(self.generate))
        self.name.observe(self._on_name, names="value")

        top = widgets.VBox(
            [
                widgets.HBox([self.model, self.official, self.load_official]),
                widgets.HBox([self.path, self.load_file, self.save_file]),
                self.name,
            ]
        )
        run = widgets.VBox([self.prompt, widgets.HBox([self.seed, self.generate_button]), self.output])
        super().__init__([top, self.status, self.body, run])
        self.set_preset(preset if preset is not None else Preset.official("kayra"))

    def snapshot_html(self) -> str:
        """Return the preset being edited as its static table."""
        return self._preset._repr_html_()

    def __repr__(self) -> str:
        return f"PresetEditor(preset={self._preset.name!r}, model={self._preset.model!r})"

    # -- the preset ----------------------------------------------------------------------------------
    @property
    def preset(self) -> Preset:
        """Return the Preset being edited (the same object, changes show in both directions)."""
        return self._preset

    def set_preset(self, preset: Preset) -> None:
        """Edit ``preset`` from now on (rebuilding the controls); returns None."""
        if not isinstance(preset, Preset):
            raise InputError("preset", preset, "a Preset")
        if self._unobserve is not None:
            self._unobserve()
        self._preset = preset
        self._unobserve = preset.observe(self._on_preset_change)
        self._updating = True
        try:
            self.model.value = preset.model
            self._show_official()
            self.name.value = preset.name
        finally:
            self._updating = False
        self._build()

    def _show_official(self, model: str | None = None) -> None:
        """Show the preset being edited in the Official dropdown: its name when it is an official one of
        the model shown, else a first entry naming it, so the dropdown never claims another preset."""
        model = model or self._preset.model
        names = Preset.official_names(model)
        mine = self._preset.name
        if model == self._preset.model and mine in names:
            self.official.options = names
            self.official.value = mine
        else:
            self.official.options = [_yours(mine), *names]
            self.official.value = _yours(mine)

    def _build(self) -> None:
        p = self._preset
        m = p.model
        self.controls = {}
        self.sampler_rows = {}
        self.enabled_boxes = {}
        groups: dict[str, list[widgets.Widget]] = {g: [] for g in _GROUPS}
        if is_oa_model(m):
            # the GLM family: only what the website offers it (response length, the two penalties, and
            # temperature / top-k / top-p / min-p in their fixed order)
            groups["Generation options"].append(self._make("max_length"))
            for key in ("repetition_penalty_frequency", "repetition_penalty_presence"):
                groups["Repetition penalty"].append(self._make(key))
            listed: list[str] = list(OA_SAMPLERS)
        else:
            for key in ("max_length", "min_length"):
                groups["Generation options"].append(self._make(key))
            for key in (
                "repetition_penalty",
                "repetition_penalty_range",
                "repetition_penalty_slope",
                "repetition_penalty_frequency",
                "repetition_penalty_presence",
                "phrase_rep_pen",
                "repetition_penalty_default_whitelist",
            ):
                if key in p or key in ("repetition_penalty", "repetition_penalty_range"):
                    groups["Repetition penalty"].append(self._make(key))
            listed = [n for n, _ in p.order] + [
                s for s in SAMPLERS if s not in dict(p.order) and m in SAMPLER_MODELS.get(s, (m,))
            ]
        for name in listed:
            groups["Samplers"].append(self._sampler_row(name))
        children = []
        for g in _GROUPS:
            children.append(widgets.HTML(f"<b>{escape(g)}</b>"))
            children.extend(groups[g])
        self.body.children = children

    def _make(self, key: str) -> widgets.Widget:
        value = self._preset.get(key, _DEFAULTS.get(key))
        w = _control(key, value)
        w.observe(lambda change, key=key: self._on_control(key, change), names="value")
        self.controls[key] = w
        return w

    def _sampler_row(self, name: str) -> widgets.HBox:
        on = self._preset.is_enabled(name)
        box = widgets.Checkbox(value=on, description=name, indent=False, layout=widgets.Layout(width="110px"))
        box.observe(lambda change, name=name: self._on_enable(name, change), names="value")
        up = widgets.Button(description="↑", layout=widgets.Layout(width="32px"), tooltip=f"move {name} up")
        down = widgets.Button(
            description="↓", layout=widgets.Layout(width="32px"), tooltip=f"move {name} down"
        )
        up.on_click(lambda _b, name=name: self._guard(lambda: self.move(name, -1)))
        down.on_click(lambda _b, name=name: self._guard(lambda: self.move(name, +1)))
        self.enabled_boxes[name] = box
        for w in (up, down, box):
            w.layout.flex = "0 0 auto"  # never squeezed by a wide row
        params = widgets.VBox([self._make(k) for k in SAMPLER_KEYS[name]])  # several stack, not overflow
        row = widgets.HBox([up, down, box, params], layout=widgets.Layout(align_items="center"))
        self.sampler_rows[name] = row
        return row

    def move(self, sampler: str, delta: int) -> None:
        """Move ``sampler`` up (-1) or down (+1) in the order; returns None."""
        names = [n for n, _ in self._preset.order]
        if sampler not in names:
            self._preset.enable(sampler, False)
            names = [n for n, _ in self._preset.order]
        i = names.index(sampler)
        j = min(max(0, i + delta), len(names) - 1)
        if i != j:
            self._preset.move(sampler, j)

    # -- events --------------------------------------------------------------------------------------
    def _guard(self, fn: Callable[[], Any]) -> Any:
        try:
            result = fn()
        except (NaikitError, OSError) as exc:
            self.status.value = f'<span style="color:#c0392b">{escape(str(exc))}</span>'
            return None
        return result

    def _on_control(self, key: str, change: dict[str, Any]) -> None:
        if self._updating:
            return
        control = change["owner"]
        current = self._preset.get(key)
        if (
            isinstance(control, widgets.FloatSlider)
            and isinstance(current, (int, float))
            and abs(change["new"] - current) < control.step / 2
        ):
            return  # a slider snapping a finer preset value to its step is not an edit
        try:
            self._preset[key] = change["new"]
            self.status.value = ""
        except InputError as exc:
            self.status.value = f'<span style="color:#c0392b">{escape(str(exc))}</span>'
            self._updating = True
            try:
                change["owner"].value = change["old"]
            finally:
                self._updating = False

    def _on_enable(self, name: str, change: dict[str, Any]) -> None:
        if not self._updating:
            self._preset.enable(name, bool(change["new"]))

    def _on_name(self, change: dict[str, Any]) -> None:
        if not self._updating:
            self._preset.name = change["new"]

    def _on_model(self, change: dict[str, Any]) -> None:
        if not self._updating:
            self._updating = True
            try:
                self._show_official(change["new"])
            finally:
                self._updating = False

    def _on_preset_change(self, key: str, value: Any) -> None:
        self._updating = True
        try:
            if key == "order":
                order = dict(self._preset.order)
                for name, box in self.enabled_boxes.items():
                    box.value = bool(order.get(name, False))
                rows = [self.sampler_rows[n] for n, _ in self._preset.order if n in self.sampler_rows]
                rows += [r for n, r in self.sampler_rows.items() if n not in order]
                rest = [c for c in self.body.children if c not in self.sampler_rows.values()]
                i = next(
                    k for k, c in enumerate(rest) if isinstance(c, widgets.HTML) and "Samplers" in c.value
                )
                self.body.children = rest[: i + 1] + rows + rest[i + 1 :]
            elif key == "name":
                self.name.value = value
                self._show_official(self.model.value)
            elif key in self.controls and value is not None:
                _show_value(self.controls[key], value)
        finally:
            self._updating = False

    # -- actions -------------------------------------------------------------------------------------
    def use_official(self, name: str | None = None, model: str | None = None) -> Preset:
        """Copy the official preset ``name`` of ``model`` (default: the dropdowns' choice) into the preset
        being edited (the same object: your variable sees the change); return that preset."""
        name = self.official.value if name is None else name
        if not name or name.endswith(_YOURS):
            raise InputError("official", name, f"an official preset of {self.model.value}: pick one first")
        self._replace(Preset.official(model or self.model.value, name))
        self.status.value = f"loaded {escape(self._preset.name)} into your preset"
        return self._preset

    def use_file(self, path: str | None = None) -> Preset:
        """Copy the ``.preset`` file at ``path`` (default: the File box) into the preset being edited
        (the same object); return that preset."""
        path = self.path.value if path is None else path
        if not str(path).strip():
            raise InputError("path", path, "a .preset file name")
        # a name given relative is looked for where Save file writes, then in the working directory
        found = output_path(path, "presets")
        if not found.exists() and Path(path).expanduser().exists():
            found = Path(path).expanduser()
        self._replace(Preset.load(found))
        self.status.value = f"loaded {escape(str(found))} into your preset"
        return self._preset

    def _replace(self, new: Preset) -> None:
        self._preset.assign(new)  # in place: the user's variable and this editor stay one object
        self.set_preset(self._preset)

    def _do_load_official(self) -> None:
        self.use_official()

    def _do_load_file(self) -> None:
        self.use_file()

    def save(self, path: str | None = None) -> Path:
        """Save the preset being edited as a ``.preset`` file; return the path written.

        ``path`` (default: the File box) is used as given when absolute; a relative name, or none (then
        the preset's name), lands in ``output_folder('presets')``, never next to the notebook.
        """
        path = self.path.value if path is None else path
        name = str(path).strip() or _file_name(self._preset.name)
        target = output_path(name, "presets")
        if not target.suffix:
            target = target.with_suffix(".preset")
        target.parent.mkdir(parents=True, exist_ok=True)
        self._preset.save(target)
        self.status.value = f"saved {escape(shown_path(target))}"
        return target

    def _do_save_file(self) -> None:
        self.save()

    def generate(self, seed: int | None = None, **params: Any) -> Generation:
        """Generate from the prompt box with the edited preset; show and return the Generation."""
        if self._client is None:
            from ..novelai.client import NovelAI

            self._client = NovelAI()
        prompt = self.prompt.value
        if not prompt:
            raise InputError("prompt", prompt, "some text to continue")
        seed = self.seed.value if seed is None else seed
        g = self._client.generate(
            prompt, self._preset, model=text_model(self._preset.model), seed=seed, **params
        )
        self.last_generation = g
        self.output.value = g._repr_html_()
        return g


_YOURS = " (being edited)"


def _yours(name: str) -> str:
    """Return the Official dropdown's entry for a preset that is not an official one."""
    return f"{name}{_YOURS}"


def _file_name(name: str) -> str:
    """Return a file name for a preset called ``name`` (letters, digits, ``-_ .`` kept)."""
    keep = "".join(c if c.isalnum() or c in "-_ ." else "_" for c in name).strip(" .")
    return (keep or "preset") + ".preset"


def preset_editor(preset: Preset | None = None, *, client: Any = None, prompt: str = "") -> PresetEditor:
    """Return a :class:`PresetEditor` for ``preset`` (Kayra's default when None).

    ``client`` (a sync ``NovelAI``) runs the Generate button; by default a client is made on first use
    (the offline sandbox when no credentials are set).
    """
    return PresetEditor(preset, client=client, prompt=prompt)
