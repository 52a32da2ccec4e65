"""State of the Novita emulation: API keys, async tasks, training assets and tasks, the model catalogue.

Tables live in the sandbox's SQLite store (added with ``add_schema``). Nothing moves on its own: a task's
state is computed from its creation time and the sandbox clock (``STATE.clock``), so a FakeClock drives a
whole training in no time and a file-backed sandbox resumes correctly after a restart.

Lifecycles (seconds of sandbox time, see :data:`TIMING`):

* generation: QUEUED for ``queue``; PROCESSING for ``run + per_image * image_num`` with a rising
  ``progress_percent`` and falling ``eta``; then SUCCEED, or FAILED when the prompt contains
  ``sandbox:fail`` (a switch for tests and demos).
* training: QUEUING, TRAINING (``train_per_step`` per step, at least ``train_min``), SUCCESS with the
  model DEPLOYING for ``deploy``, then SERVING; FAILED when the name contains ``sandbox:fail``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from .demo_account import DEMO_KEY
from .store import Store, secret_hash

__all__ = [
    "DEMO_KEY",
    "TIMING",
    "FAIL_MARK",
    "SCHEMA",
    "ensure",
    "key_account",
    "create_key",
    "GenState",
    "gen_state",
    "TrainState",
    "train_state",
    "CATALOGUE",
    "sign",
]

DEMO_BALANCE = 10_000_000
FAIL_MARK = "sandbox:fail"
TIMING = {
    "queue": 0.5,
    "run": 1.0,
    "per_image": 0.25,
    "train_queue": 1.0,
    "train_per_step": 0.004,
    "train_min": 2.0,
    "deploy": 1.0,
    "url_ttl": 3600,
    "upload_ttl": 3600,
}
COST_PER_IMAGE = 25  # credits (Novita's unit is undocumented; the sandbox uses 0.0001 USD)
COST_TRAINING = 5_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS novita_keys (
    key_hash TEXT PRIMARY KEY,
    credit_balance INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS novita_tasks (
    task_id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL,
    task_type TEXT NOT NULL,
    created_at REAL NOT NULL,
    duration REAL NOT NULL,
    fail_reason TEXT NOT NULL DEFAULT '',
    params TEXT NOT NULL,
    input BLOB
);
CREATE TABLE IF NOT EXISTS novita_assets (
    assets_id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL,
    ext TEXT NOT NULL,
    created_at REAL NOT NULL,
    data BLOB
);
CREATE TABLE IF NOT EXISTS novita_trainings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT UNIQUE NOT NULL,
    key_hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    base_model TEXT NOT NULL,
    created_at REAL NOT NULL,
    train_s REAL NOT NULL,
    fail_reason TEXT NOT NULL DEFAULT '',
    model_name TEXT NOT NULL,
    request TEXT NOT NULL
);
"""


def ensure(store: Store) -> None:
    """Create the Novita tables and the demo key once per store; returns None."""
    if store.add_schema("novita", SCHEMA):
        store.execute(
            "INSERT OR IGNORE INTO novita_keys (key_hash, credit_balance, created_at) VALUES (?, ?, 0)",
            (secret_hash(DEMO_KEY), DEMO_BALANCE),
        )


def create_key(store: Store, key: str, credit_balance: int = DEMO_BALANCE, *, now: float = 0) -> None:
    """Register another API key (tests: a second account, an empty balance); returns None."""
    ensure(store)
    store.execute(
        "INSERT OR REPLACE INTO novita_keys (key_hash, credit_balance, created_at) VALUES (?, ?, ?)",
        (secret_hash(key), int(credit_balance), int(now)),
    )


def key_account(store: Store, key: str) -> dict[str, Any] | None:
    """Return ``{"key_hash", "credit_balance"}`` for a known key, else None."""
    ensure(store)
    row = store.query_one("SELECT * FROM novita_keys WHERE key_hash = ?", (secret_hash(key),))
    return None if row is None else {"key_hash": row["key_hash"], "credit_balance": row["credit_balance"]}


def sign(store: Store, path: str, expires_at: int) -> str:
    """Return the signature of a presigned URL (``path`` and its expiry) with the store's private secret
    (kept out of the database, like the JWT signing secret)."""
    secret = store.private_secret("novita-s3-secret")
    return hmac.new(secret, f"{path}|{expires_at}".encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class GenState:
    """Where an async task is at a given time."""

    status: str
    progress: float
    eta: float
    finished_at: float | None


def gen_state(created_at: float, duration: float, fail_reason: str, now: float) -> GenState:
    """Return the state of a generation task created at ``created_at`` that runs ``duration`` seconds."""
    queue = TIMING["queue"]
    t = now - created_at
    if t < queue:
        return GenState("TASK_STATUS_QUEUED", 0.0, queue - t + duration, None)
    if t < queue + duration:
        done = (t - queue) / duration
        return GenState(
            "TASK_STATUS_PROCESSING", round(min(99.0, 100 * done), 1), round(duration * (1 - done), 2), None
        )
    end = created_at + queue + duration
    return GenState("TASK_STATUS_FAILED" if fail_reason else "TASK_STATUS_SUCCEED", 100.0, 0.0, end)


@dataclass(frozen=True)
class TrainState:
    """Where a training task and its model are at a given time."""

    status: str
    progress: float
    eta: float
    model_status: str | None


def train_state(created_at: float, train_s: float, fail_reason: str, now: float) -> TrainState:
    """Return the state of a training created at ``created_at`` that trains for ``train_s`` seconds."""
    q, deploy = TIMING["train_queue"], TIMING["deploy"]
    t = now - created_at
    if t < q:
        return TrainState("QUEUING", 0.0, round(q - t + train_s, 2), None)
    if t < q + train_s:
        done = (t - q) / train_s
        if fail_reason and done >= 0.5:
            return TrainState("FAILED", round(50.0, 1), 0.0, None)
        return TrainState("TRAINING", round(min(99.0, 100 * done), 1), round(train_s * (1 - done), 2), None)
    if fail_reason:
        return TrainState("FAILED", 50.0, 0.0, None)
    return TrainState("SUCCESS", 100.0, 0.0, "SERVING" if t >= q + train_s + deploy else "DEPLOYING")


def _model(i: int, name: str, sd_name: str, type_: str, base: str, sdxl: bool, **kw: Any) -> dict[str, Any]:
    display = {
        "checkpoint": "Checkpoint",
        "lora": "LoRA",
        "vae": "VAE",
        "controlnet": "ControlNet",
        "upscaler": "Upscaler",
        "textualinversion": "Textual Inversion",
    }[type_]
    api_name = sd_name.rsplit(".", 1)[0] if type_ in ("lora", "textualinversion") else sd_name
    entry = {
        "id": 100_000 + i,
        "name": name,
        "hash_sha256": hashlib.sha256(sd_name.encode()).hexdigest()[:10].upper(),
        "sd_name": sd_name,
        "sd_name_in_api": api_name,
        "type": {"name": type_, "display_name": display},
        "categories": [],
        "status": 1,
        "download_url": "",
        "download_url_ttl": 2592000,
        "tags": kw.pop("tags", []),
        "cover_url": "",
        "source": "civitai",
        "base_model": base,
        "base_model_type": "Inpainting" if kw.get("inpainting") else "Standard",
        "is_sdxl": sdxl,
        "is_nsfw": False,
        "visibility": "public",
    }
    kw.pop("inpainting", None)
    entry.update(kw)
    return entry


# A small public catalogue: enough for every endpoint and for pagination to matter.
CATALOGUE: list[dict[str, Any]] = [
    _model(
        1, "DreamShaper 8", "dreamshaper_8_93211.safetensors", "checkpoint", "SD 1.5", False, tags=["general"]
    ),
    _model(
        2,
        "Realistic Vision 5.1",
        "realisticVisionV51_v51VAE_94301.safetensors",
        "checkpoint",
        "SD 1.5",
        False,
        tags=["photo"],
    ),
    _model(
        3, "SDXL base 1.0", "sd_xl_base_1.0.safetensors", "checkpoint", "SDXL 1.0", True, tags=["general"]
    ),
    _model(
        4,
        "Animagine XL 3.1",
        "animagineXLV31_v31_325600.safetensors",
        "checkpoint",
        "SDXL 1.0",
        True,
        tags=["anime"],
    ),
    _model(
        5,
        "Protovision XL",
        "protovisionXLHighFidelity3D_release0630Bakedvae_154359.safetensors",
        "checkpoint",
        "SDXL 1.0",
        True,
        tags=["3d"],
    ),
    _model(
        6,
        "DreamShaper 8 Inpainting",
        "dreamshaper_8Inpainting_v8.safetensors",
        "checkpoint",
        "SD 1.5",
        False,
        inpainting=True,
    ),
    _model(7, "Epic Realism", "epicrealism_naturalSin_121250.safetensors", "checkpoint", "SD 1.5", False),
    _model(8, "Add Detail", "add_detail_44319.safetensors", "lora", "SD 1.5", False, tags=["detail"]),
    _model(9, "Watercolor", "watercolor_style_1021.safetensors", "lora", "SD 1.5", False, tags=["style"]),
    _model(10, "Pixel Art XL", "pixel-art-xl_1011.safetensors", "lora", "SDXL 1.0", True, tags=["style"]),
    _model(11, "Film Grain", "film_grain_2233.safetensors", "lora", "SD 1.5", False, tags=["style"]),
    _model(12, "EasyNegative", "easynegative.safetensors", "textualinversion", "SD 1.5", False),
    _model(13, "vae-ft-mse-840000", "vae-ft-mse-840000-ema-pruned.safetensors", "vae", "SD 1.5", False),
    _model(14, "SDXL VAE", "sdxl_vae.safetensors", "vae", "SDXL 1.0", True),
    _model(15, "Canny SD1.5", "control_v11p_sd15_canny", "controlnet", "SD 1.5", False),
    _model(16, "Openpose SD1.5", "control_v11p_sd15_openpose", "controlnet", "SD 1.5", False),
    _model(17, "Canny SDXL", "controlnet-canny-sdxl-1.0", "controlnet", "SDXL 1.0", True),
    _model(18, "RealESRGAN anime", "RealESRGAN_x4plus_anime_6B", "upscaler", "", False),
]


def encode_cursor(offset: int) -> str:
    """Return an opaque cursor (``c_`` + base64 JSON, like Novita's) for ``offset``."""
    return "c_" + base64.b64encode(json.dumps([offset]).encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    """Return the offset of a cursor (opaque, or the SDK's numeric ``c_100``); None if malformed."""
    if not cursor:
        return 0
    if not cursor.startswith("c_"):
        return None
    body = cursor[2:]
    if body.isdigit():
        return int(body)
    try:
        value = json.loads(base64.b64decode(body, validate=True))
        return int(value[0]) if isinstance(value, list) and value and int(value[0]) >= 0 else None
    except (ValueError, TypeError):
        return None
