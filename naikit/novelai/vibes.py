"""Vibe transfer encodings: a cache (so an image is paid for once) and ``.naiv4vibe`` files.

On V4 and V4.5 a reference picture must first go through ``/ai/encode-vibe`` (2 Anlas); the answer is
what generation takes in ``reference_image_multiple``. Sending the raw picture instead is accepted by the
service and silently applies no vibe, so naikit refuses it (see ``image_models.validate_request``).

``.naiv4vibe`` (the website's export): JSON ``{identifier, version, type, id, encodings: {<model key>:
{<key>: {encoding: <base64>, params: {information_extracted}}}}, importInfo: {model, information_extracted,
strength}}``; model keys ``v4full``, ``v4curated``, ``v4-5full``, ``v4-5curated``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from .._atomic import write_atomic
from .._decode import finite, load_json
from ..errors import InputError
from .image_models import Vibe, load_image, model_spec

__all__ = ["VibeCache", "model_key", "read_naiv4vibe", "write_naiv4vibe", "image_id", "default_cache"]


def model_key(model: str) -> str:
    """Return the ``encodings`` key of ``.naiv4vibe`` files for a V4/V4.5 model."""
    spec = model_spec(model)
    if spec.generation not in ("v4", "v4.5"):
        raise InputError("model", model, "a V4 or V4.5 model (vibe encodings exist for those only)")
    gen = "v4" if spec.generation == "v4" else "v4-5"
    return gen + ("curated" if spec.family == "curated" else "full")


def image_id(image: Any) -> str:
    """Return the hex SHA-256 of the image's PNG bytes (the key of its encodings)."""
    return hashlib.sha256(load_image(image, "image")[0]).hexdigest()


class VibeCache:
    """Encodings by (image, model, information extracted), in memory and optionally in a folder.

    The folder holds one ``.naiv4vibe`` file per image; files are written atomically, so a crash never
    leaves a half-written encoding behind.
    """

    def __init__(self, folder: str | os.PathLike[str] | None = None):
        self.folder = Path(folder) if folder is not None else None
        self._mem: dict[tuple[str, str, float], str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"VibeCache({len(self._mem)} encodings, folder={str(self.folder) if self.folder else None})"

    def __len__(self) -> int:
        return len(self._mem)

    def get(self, image_hash: str, model: str, information_extracted: float) -> str | None:
        """Return the cached base64 encoding, or None."""
        key = (image_hash, model_key(model), round(float(information_extracted), 4))
        with self._lock:
            hit = self._mem.get(key)
        if hit is None and self.folder is not None:
            path = self.folder / f"{image_hash}.naiv4vibe"
            if path.is_file():
                try:
                    found = read_naiv4vibe(path, model)
                except InputError:  # damaged, or no encoding for this model yet: a miss
                    found = []
                for v in found:
                    if round(v.information_extracted, 4) == key[2] and v.encoding:
                        hit = v.encoding
                        with self._lock:
                            self._mem[key] = hit
                        break
        return hit

    def put(self, image_hash: str, model: str, information_extracted: float, encoding: str) -> None:
        """Store an encoding (and write/merge the folder's file); returns None."""
        key = (image_hash, model_key(model), round(float(information_extracted), 4))
        with self._lock:
            self._mem[key] = encoding
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{image_hash}.naiv4vibe"
            doc = _mergeable(path)
            write_naiv4vibe(
                path, [Vibe(encoding, 0.6, information_extracted)], model, image_hash=image_hash, merge=doc
            )


def _mergeable(path: Path) -> dict[str, Any] | None:
    """Return the ``.naiv4vibe`` document at ``path`` to add encodings to, or None when there is none or it
    is damaged (then a fresh file replaces it: it could not be read anyway)."""
    if not path.is_file():
        return None
    try:
        doc = load_json(path.read_bytes(), lambda reason: InputError("path", str(path), "JSON", reason))
    except (OSError, InputError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("encodings", {}), dict):
        return None
    if not isinstance(doc.get("importInfo"), dict):
        doc["importInfo"] = {}
    return doc


_default: VibeCache | None = None


def default_cache() -> VibeCache:
    """Return the process-wide in-memory cache the clients use unless given another."""
    global _default
    if _default is None:
        _default = VibeCache()
    return _default


def read_naiv4vibe(
    path: str | os.PathLike[str], model: str | None = None, *, strength: float | None = None
) -> list[Vibe]:
    """Return the encodings stored in a ``.naiv4vibe`` file as Vibes (for ``model``'s key when given).

    Raises InputError when the file is unreadable, has no encodings, or none for that model.
    """
    p = Path(path)
    allowed = "a .naiv4vibe file (JSON with 'encodings')"

    def bad(reason: str) -> InputError:
        return InputError("path", str(p), allowed, reason)

    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise bad(f"It cannot be read ({type(exc).__name__}).") from None
    doc = load_json(raw, lambda reason: bad(f"It cannot be read as JSON: {reason}."))
    enc = doc.get("encodings") if isinstance(doc, dict) else None
    if not isinstance(enc, dict) or not enc:
        raise bad("It has no encodings.")
    keys = [model_key(model)] if model is not None else list(enc)
    info = doc.get("importInfo")
    s = strength if strength is not None else _number(info, "strength", 0.6, bad)
    out: list[Vibe] = []
    for k in keys:
        bucket = enc.get(k)
        if not isinstance(bucket, dict):
            continue
        for entry in bucket.values():
            if not isinstance(entry, dict) or not isinstance(entry.get("encoding"), str):
                continue
            ie = _number(entry.get("params"), "information_extracted", 1.0, bad)
            out.append(Vibe(encoding=entry["encoding"], strength=s, information_extracted=ie))
    if not out:
        raise InputError("model", model, "a model whose encodings the file holds: " + ", ".join(enc))
    return out


def _number(obj: Any, key: str, default: float, bad: Any) -> float:
    """Return ``obj[key]`` as a finite float (``default`` when ``obj`` or the key is missing)."""
    value = obj.get(key, default) if isinstance(obj, dict) else default
    number = finite(value)
    if number is None:
        raise bad(f"Its {key} is {value!r:.40}, not a finite number.")
    return number


def write_naiv4vibe(
    path: str | os.PathLike[str],
    vibes: list[Vibe],
    model: str,
    *,
    image_hash: str | None = None,
    name: str | None = None,
    merge: dict[str, Any] | None = None,
) -> Path:
    """Write the encodings of ``vibes`` for ``model`` to a ``.naiv4vibe`` file atomically; return its path."""
    key = model_key(model)
    doc: dict[str, Any] = merge or {
        "identifier": "novelai-vibe-transfer",
        "version": 1,
        "type": "encoding",
        "id": image_hash or hashlib.sha256("".join(v.encoding or "" for v in vibes).encode()).hexdigest(),
        "encodings": {},
        "name": name or (image_hash or "vibe")[:12],
        "importInfo": {"model": model_spec(model).value, "information_extracted": 1.0, "strength": 0.6},
    }
    bucket = doc.setdefault("encodings", {}).setdefault(key, {})
    for v in vibes:
        if not v.encoding:
            raise InputError("vibes", v, "vibes with an encoding")
        try:
            base64.b64decode(v.encoding, validate=True)
        except ValueError:
            raise InputError("vibes", "<encoding>", "base64 encodings") from None
        ekey = hashlib.sha256(f"{v.encoding}:{v.information_extracted}".encode()).hexdigest()[:16]
        bucket[ekey] = {"encoding": v.encoding, "params": {"information_extracted": v.information_extracted}}
    if vibes:
        doc["importInfo"].update(
            information_extracted=vibes[0].information_extracted, strength=vibes[0].strength
        )
    return write_atomic(path, json.dumps(doc, ensure_ascii=False))
