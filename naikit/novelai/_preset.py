"""The :class:`Preset` object: a NovelAI text preset read, changed, checked and written back."""

from __future__ import annotations

import copy
import functools
import json
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._atomic import write_atomic
from .._decode import MAX_DEPTH, depth_exceeds, load_json
from .._validate import check_bool, check_instance, check_path
from ..errors import InputError
from ._preset_file import (
    _blank,
    _check_oa_order,
    _check_sampler,
    _dump,
    _model_of,
    _official_files,
    _order_items,
    _validate_file,
    default_preset_name,
)
from ._preset_params import (
    _FILE_ONLY,
    _OA_EXTRA,
    OA_PARAM_FIELDS,
    SAMPLER_IDS,
    SAMPLER_KEYS,
    SAMPLER_MODELS,
    SAMPLERS,
    check_oa_parameter,
    check_parameter,
    is_oa_model,
)
from .models import TextModel, text_model
from .text_param_tables import PARAMS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

_Observer = Callable[[str, Any], None]


class Preset:
    """A NovelAI text preset: name, model, parameters and the sampler order with enabled flags.

    Read with :meth:`load` / :meth:`from_json` / :meth:`official`, write with :meth:`save` /
    :meth:`to_json`. Parameters read and write as items or attributes (``p["top_p"]``, ``p.top_p = 0.9``);
    every assignment is checked (InputError on a bad value). :meth:`observe` registers a callback called
    after each change (the preset editor widget uses it to stay in sync).
    """

    __slots__ = ("_data", "_source", "_snapshot", "_observers")

    def __init__(self, data: dict[str, Any] | None = None, *, _source: str | None = None):
        object.__setattr__(self, "_observers", [])
        if data is not None and not isinstance(data, dict):
            raise InputError(
                "preset", data, "a dict with presetVersion, name, model and parameters (or None)"
            )
        data = _validate_file(copy.deepcopy(data) if data is not None else _blank("Untitled", "kayra-v1"))
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_source", _source)
        object.__setattr__(self, "_snapshot", _dump(data) if _source is not None else None)

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def new(cls, model: str | TextModel = "kayra-v1", name: str = "Untitled", **params: Any) -> Preset:
        """Return a fresh preset for ``model``: neutral values, every sampler of the model in id order.

        Only temperature is enabled; ``params`` set values (and do not enable samplers).
        """
        p = cls(_blank(name, text_model(model).value))
        p.update(params)
        return p

    @classmethod
    def from_json(cls, data: str | bytes | dict[str, Any]) -> Preset:
        """Return the preset in ``data`` (the text of a ``.preset`` file, or its parsed dict).

        Raises InputError naming the key when the file has a wrong type, an unknown sampler, or a
        ``presetVersion`` newer than naikit knows.
        """
        source = None
        if isinstance(data, (bytes, bytearray)):
            try:
                data = bytes(data).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError("preset", data, "UTF-8 text of a .preset file", hint=str(exc)) from None
        if isinstance(data, str):
            source = text = data
            allowed = "the JSON text of a .preset file"
            data = load_json(text, lambda reason: InputError("preset", text, allowed, hint=reason))
        elif isinstance(data, dict) and depth_exceeds(data):
            raise InputError("preset", data, f"a JSON object nesting at most {MAX_DEPTH} levels")
        if not isinstance(data, dict):
            raise InputError("preset", data, "a JSON object with presetVersion, name, model and parameters")
        return cls(data, _source=source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Preset:
        """Return the preset stored in the ``.preset`` file at ``path``.

        Raises InputError when ``path`` is not a path, the file cannot be read, or it is not a preset.
        """

        check_path(path)  # an int would open (and later close) a file descriptor
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as exc:
            raise InputError("path", str(path), "a readable .preset file", hint=str(exc)) from None
        return cls.from_json(raw)

    @classmethod
    def official(cls, model: str | TextModel, name: str | None = None) -> Preset:
        """Return a copy of the official preset ``name`` of ``model`` (its default when None).

        Raises InputError listing the model's presets when there is no such name.
        """
        m = text_model(model)
        files = dict(_official_files(m.value))
        name = default_preset_name(m) if name is None else name
        if name not in files:
            lower = {k.lower(): k for k in files}
            if isinstance(name, str) and name.lower() in lower:
                name = lower[name.lower()]
            else:
                raise InputError("name", name, f"one of {m.name}'s presets: " + ", ".join(files))
        data, source, snapshot = _official_parsed(m.value, name)
        # every generation with a named or default preset comes here: copy the checked file, do not
        # parse and check it again (json.loads of its own dump is an exact, fast deep copy)
        p = cls.__new__(cls)
        object.__setattr__(p, "_observers", [])
        object.__setattr__(p, "_data", json.loads(snapshot) if data is None else copy.deepcopy(data))
        object.__setattr__(p, "_source", source)
        object.__setattr__(p, "_snapshot", snapshot)
        return p

    @staticmethod
    def official_names(model: str | TextModel) -> list[str]:
        """Return the names of ``model``'s official presets, sorted."""
        return [n for n, _ in _official_files(text_model(model).value)]

    def copy(self, name: str | None = None) -> Preset:
        """Return an independent copy (renamed when ``name`` is given); observers are not copied."""
        p = Preset(self._data)
        if name is not None:
            p.name = name
        return p

    def assign(self, other: Preset) -> Preset:
        """Make this preset a copy of ``other`` (name, model, parameters, order) in place, keeping this
        object and its observers (an editor bound to it stays bound); return self."""
        check_instance(other, Preset, "other", "a Preset")
        object.__setattr__(self, "_data", copy.deepcopy(other._data))
        object.__setattr__(self, "_source", other._source)
        object.__setattr__(self, "_snapshot", other._snapshot)
        self._changed("preset", self)
        return self

    # -- identity ----------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Return the preset's name."""
        return self._data["name"]

    @name.setter
    def name(self, value: str) -> None:
        self._set_name(value)

    def _set_name(self, value: str) -> None:
        # __setattr__ routes every assignment, so the property's setter and it share this one
        check_instance(value, str, "name", "a string")
        self._data["name"] = value
        self._changed("name", value)

    @property
    def model(self) -> str:
        """Return the API value of the model this preset is for (``kayra-v1``...)."""
        return _model_of(self._data["model"]).value

    @property
    def text_model(self) -> TextModel:
        """Return the TextModel record of this preset's model."""
        return _model_of(self._data["model"])

    @property
    def id(self) -> str:
        """Return the preset's id (a UUID string, may be empty for some official presets)."""
        return self._data.get("id", "")

    @property
    def parameters(self) -> dict[str, Any]:
        """Return a copy of the stored parameters (as in the file; ``order`` as a list of dicts)."""
        return copy.deepcopy(self._data["parameters"])

    # -- parameters --------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        if key not in PARAMS and key not in _FILE_ONLY and key not in _OA_EXTRA:
            raise KeyError(key)
        return copy.deepcopy(self._data["parameters"].get(key))

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "order":
            self.set_order(value)
            return
        if is_oa_model(self.model):
            value = check_oa_parameter(key, value, self.model)
        else:
            value = check_parameter(key, value)
        params = self._data["parameters"]
        if key == "min_length" and value > params.get("max_length", 2048):
            raise InputError("min_length", value, f"at most max_length ({params.get('max_length')})")
        if key == "max_length" and value < params.get("min_length", 0):
            raise InputError("max_length", value, f"at least min_length ({params.get('min_length')})")
        params[key] = value
        self._changed(key, value)

    def __delitem__(self, key: str) -> None:
        del self._data["parameters"][key]
        self._changed(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._data["parameters"] and key != "order"

    def __getattr__(self, key: str) -> Any:
        if key in PARAMS or key in _OA_EXTRA:
            return self._data["parameters"].get(key)
        raise AttributeError(f"'Preset' object has no attribute {key!r}")

    def __setattr__(self, key: str, value: Any) -> None:
        if key in PARAMS or key in _OA_EXTRA or key == "order":
            self[key] = value
        elif key == "name":
            self._set_name(value)
        else:
            raise AttributeError(f"cannot set {key!r} on a Preset (not a parameter)")

    def get(self, key: str, default: Any = None) -> Any:
        """Return the parameter ``key`` or ``default`` when the preset does not set it."""
        if not isinstance(key, str):
            raise InputError("key", key, "a parameter name such as 'temperature'")
        v = self._data["parameters"].get(key, default)
        return copy.deepcopy(v)

    def update(self, values: dict[str, Any] | None = None, **params: Any) -> Preset:
        """Set several parameters (checked together before any is applied); return self."""
        if values is not None and not isinstance(values, dict):
            raise InputError("values", values, "a dict of parameter name -> value (or None)")
        merged = {**(values or {}), **params}
        for k, v in merged.items():
            if k != "order":
                if is_oa_model(self.model):
                    check_oa_parameter(k, v, self.model)
                else:
                    check_parameter(k, v)
        for k, v in merged.items():
            self[k] = v
        return self

    def settings(self) -> dict[str, Any]:
        """Return every parameter except ``order`` as a plain dict (file keys included)."""
        return {k: copy.deepcopy(v) for k, v in self._data["parameters"].items() if k != "order"}

    # -- samplers ----------------------------------------------------------------------------------
    @property
    def order(self) -> list[tuple[str, bool]]:
        """Return the sampler order as ``[(name, enabled), ...]`` (a copy)."""
        return [(o["id"], o["enabled"]) for o in self._data["parameters"].get("order", [])]

    @property
    def enabled_samplers(self) -> list[str]:
        """Return the names of the enabled samplers, in application order."""
        return [n for n, on in self.order if on]

    def set_order(self, order: Sequence[str | tuple[str, bool] | dict[str, Any]]) -> Preset:
        """Replace the sampler order; items are names (enabled), ``(name, enabled)`` or ``{id, enabled}``.

        Raises InputError for an unknown sampler or a duplicate. Returns self.
        """
        if isinstance(order, (str, bytes)) or not isinstance(order, Sequence):
            raise InputError("order", order, "a list of sampler names or (name, enabled) pairs")
        items = _order_items(order, "order")
        _check_oa_order(items, self._data["model"], "order")
        self._data["parameters"]["order"] = items
        self._changed("order", self.order)
        return self

    def enable(self, sampler: str, enabled: bool = True) -> Preset:
        """Enable (or disable) ``sampler``, appending it to the order if absent; return self."""
        _check_sampler(sampler, "sampler")
        check_bool(enabled, "enabled")
        if enabled:
            _check_oa_order([{"id": sampler, "enabled": True}], self._data["model"], "sampler")
        order = self._data["parameters"].setdefault("order", [])
        for o in order:
            if o["id"] == sampler:
                o["enabled"] = enabled
                break
        else:
            order.append({"id": sampler, "enabled": enabled})
        self._changed("order", self.order)
        return self

    def disable(self, sampler: str) -> Preset:
        """Disable ``sampler``; return self."""
        return self.enable(sampler, False)

    def move(self, sampler: str, index: int) -> Preset:
        """Move ``sampler`` to position ``index`` of the order (negative counts from the end); return self."""
        _check_sampler(sampler, "sampler")
        order = self._data["parameters"].setdefault("order", [])
        pos = next((i for i, o in enumerate(order) if o["id"] == sampler), None)
        if pos is None:
            raise InputError(
                "sampler", sampler, "a sampler in this preset's order: " + ", ".join(o["id"] for o in order)
            )
        if not isinstance(index, int) or isinstance(index, bool) or not -len(order) <= index < len(order):
            raise InputError("index", index, f"an int from {-len(order)} to {len(order) - 1}")
        item = order.pop(pos)
        order.insert(index % (len(order) + 1) if index >= 0 else len(order) + 1 + index, item)
        self._changed("order", self.order)
        return self

    def is_enabled(self, sampler: str) -> bool:
        """Return True when ``sampler`` is in the order and enabled."""
        return sampler in self.enabled_samplers

    # -- observers ---------------------------------------------------------------------------------
    def observe(self, callback: _Observer) -> Callable[[], None]:
        """Call ``callback(key, value)`` after every change; return a function that stops it."""
        self._observers.append(callback)

        def unobserve() -> None:
            if callback in self._observers:
                self._observers.remove(callback)

        return unobserve

    def _changed(self, key: str, value: Any) -> None:
        for cb in list(self._observers):
            cb(key, value)

    # -- files -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return the ``.preset`` JSON object (a deep copy)."""
        return copy.deepcopy(self._data)

    def to_json(self) -> str:
        """Return the ``.preset`` file text: NovelAI's layout (2-space JSON, trailing newline).

        A preset read from a file and not changed since gives back that file's exact text.
        """
        text = _dump(self._data)
        if self._source is not None and text == self._snapshot:
            return self._source
        return text

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = True) -> str:
        """Write the ``.preset`` file at ``path`` atomically (never half a file); return the path.

        ``overwrite=False`` refuses to replace an existing file.
        """
        check_path(path)
        path = os.fspath(path)
        try:
            write_atomic(path, self.to_json(), overwrite=overwrite)
        except FileExistsError:
            raise InputError("path", path, "a path that does not exist yet (or overwrite=True)") from None
        return path

    # -- API parameters ----------------------------------------------------------------------------
    def to_parameters(self, model: str | TextModel | None = None) -> dict[str, Any]:
        """Return this preset's part of the request ``parameters``, as NovelAI expects them.

        Only enabled samplers go in ``order`` (as ids), parameters of disabled samplers are not sent,
        ``repetition_penalty_range`` and ``repetition_penalty_slope`` are dropped when 0, file-only keys
        are dropped. The Sigurd/Euterpe rep-pen rescale and the whitelist are applied by
        :func:`build_parameters`. Raises InputError if an enabled sampler does not exist for the model.
        """
        m = text_model(model) if model is not None else self.text_model
        if m.api == "oa":
            raise InputError(
                "model",
                m.value,
                "a native text model (Kayra, Erato...)",
                hint="GLM presets build their request with naikit.novelai.oa.oa_parameters.",
            )
        params = copy.deepcopy(self._data["parameters"])
        params.pop("textGenerationSettingsVersion", None)
        params.pop("repetition_penalty_default_whitelist", None)
        for k in [k for k in params if k not in PARAMS and k != "order"]:
            params.pop(k)  # unknown keys from newer files stay in the file, not in the request
        enabled = self.enabled_samplers
        for name in enabled:
            only = SAMPLER_MODELS.get(name)
            if only and m.value not in only:
                raise InputError(
                    "order",
                    name,
                    f"samplers {m.name} has: "
                    + ", ".join(s for s in SAMPLERS if m.value in SAMPLER_MODELS.get(s, (m.value,))),
                    hint=f"Disable {name} for {m.name}.",
                )
        for name in SAMPLERS:
            if name not in enabled:
                for key in SAMPLER_KEYS[name]:
                    params.pop(key, None)
        if "order" in params:
            params["order"] = [SAMPLER_IDS[n] for n in enabled]
        if params.get("repetition_penalty_range") == 0:
            del params["repetition_penalty_range"]
        if params.get("repetition_penalty_slope") == 0:
            del params["repetition_penalty_slope"]
        return params

    # -- display -----------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """Return a DataFrame of the parameters: key, value, group, sampler, enabled, allowed values.

        A GLM-family preset lists only the parameters its request carries (the website's file keeps the
        native keys too; they are never sent).
        """
        import pandas as pd

        owner = {k: s for s, keys in SAMPLER_KEYS.items() for k in keys}
        enabled = set(self.enabled_samplers)
        oa = is_oa_model(self.model)
        rows = []
        for k, v in self._data["parameters"].items():
            if k == "order" or (oa and k not in OA_PARAM_FIELDS):
                continue
            spec = PARAMS.get(k) or _OA_EXTRA.get(k)
            s = owner.get(k)
            rows.append(
                {
                    "key": k,
                    "value": v,
                    "group": spec.group if spec else "file",
                    "sampler": s or "",
                    "enabled": (s in enabled) if s else True,
                    "allowed": spec.allowed() if spec else "",
                }
            )
        return pd.DataFrame(rows, columns=["key", "value", "group", "sampler", "enabled", "allowed"])

    def __repr__(self) -> str:
        order = " > ".join(self.enabled_samplers) or "none"
        return f"Preset({self.name!r}, model={self.model!r}, samplers: {order})"

    def _repr_html_(self) -> str:
        from html import escape

        owner = {k: s for s, keys in SAMPLER_KEYS.items() for k in keys}
        enabled = set(self.enabled_samplers)
        rows = []
        for k, v in self._data["parameters"].items():
            if k == "order":
                continue
            s = owner.get(k)
            off = s is not None and s not in enabled
            style = ' style="color:#999"' if off else ""
            note = " (sampler off)" if off else ""
            rows.append(f"<tr{style}><td>{escape(k)}</td><td>{escape(json.dumps(v))}{note}</td></tr>")
        chain = " → ".join(
            f"<b>{escape(n)}</b>"
            if on
            else f'<span style="color:#999;text-decoration:line-through">{escape(n)}</span>'
            for n, on in self.order
        )
        return (
            f"<div><div><b>{escape(self.name)}</b> · {escape(self.text_model.name)} "
            f"({escape(self.model)})</div>"
            f"<div>order: {chain}</div><table>{''.join(rows)}</table></div>"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Preset) and _dump(self._data) == _dump(other._data)

    # A preset is mutable and compares by content, so it is unhashable (object's __hash__ is typed as a
    # method; None is what Python expects here).
    __hash__ = None  # type: ignore[assignment]


@functools.cache
def _official_parsed(model_value: str, name: str) -> tuple[dict[str, Any] | None, str, str]:
    """Return an official preset file checked once: (its data, or None when ``json.loads(snapshot)``
    rebuilds it exactly; the file text; the snapshot). Callers copy the data, never change it."""
    p = Preset.from_json(dict(_official_files(model_value))[name])
    snapshot = p._snapshot
    assert p._source is not None and snapshot is not None  # read from text, so both are set
    return (None if json.loads(snapshot) == p._data else p._data), p._source, snapshot
