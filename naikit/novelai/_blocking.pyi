# Generated from naikit.novelai.async_client.AsyncNovelAI by .ci/gen_blocking_stubs.py; do not edit.

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from naikit._secret import Secret
from naikit._settings import Hosts, RetryPolicy, Timeouts
from naikit.novelai.account import (
    AccountInformation,
    ObjectList,
    Priority,
    Subscription,
    UserAccountData,
    UserObject,
)
from naikit.novelai.auth import EmailCase, Token
from naikit.novelai.backup import BackupInfo
from naikit.novelai.content import ContentList, ContentObject
from naikit.novelai.crypto import Keystore
from naikit.novelai.generation import Generation, StreamToken
from naikit.novelai.image_models import Character, CharacterReference, CostEstimate, ImagePreset, Vibe
from naikit.novelai.images_result import GeneratedImage, ImageResult, StreamEvent
from naikit.novelai.models import TextModel
from naikit.novelai.modules import Module, ModuleList
from naikit.novelai.presets import BanList, BiasGroup, GlobalSettings, Preset
from naikit.novelai.restore import RestoreReport
from naikit.novelai.sanity import SanityReport
from naikit.novelai.story import Story
from naikit.novelai.voice import Speech

class BlockingMethods:
    """Typed view of NovelAI's generated methods."""

    def __init__(
        self,
        token: str | Secret | None = None,
        *,
        email: str | None = None,
        password: str | Secret | None = None,
        access_key: str | Secret | None = None,
        base_url: str | None = None,
        hosts: Hosts | None = None,
        sandbox: bool | None = None,
        validate: bool = True,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        email_case: EmailCase = "lower",
        max_concurrent_generations: int = 1,
    ) -> None: ...
    def aimodules(self) -> ContentList:
        """Return the account's custom AI modules (name, description, model)."""
        ...

    def annotate_image(self, image: Any, *, annotator: str = "hed") -> GeneratedImage:
        """Return the ControlNet condition picture for V1/V2 (hed, midas, fake_scribble, mlsd, uniformer)."""
        ...

    def augment_image(
        self,
        tool: str,
        image: Any,
        *,
        prompt: str = "",
        emotion: str | None = None,
        defry: int = 0,
        max_anlas: int | None = None,
        opus: bool | None = None,
    ) -> ImageResult:
        """Run a director tool (bg-removal, lineart, sketch, colorize, emotion…); return pictures."""
        ...

    def backup(self, directory: str | Path | None = None) -> BackupInfo:
        """Download the keystore (as the server has it, encrypted) and every object into a new folder; ..."""
        ...

    @property
    def backup_dir(self) -> Path:
        """Return the folder that holds this account's backups (``~/.naikit/backups/<fingerprint>``)."""
        ...

    def bind_subscription(self, payment_processor: str, subscription_id: str) -> bool:
        """Attach a payment-processor subscription to the account; return True."""
        ...

    def build_image_request(
        self, prompt: str, preset: ImagePreset | None = None, action: str = "generate", **kw: Any
    ) -> dict[str, Any]:
        """Return the body naikit would send for these inputs (validated; nothing is sent)."""
        ...

    def buy_training_steps(self, amount: int) -> Any:
        """Buy ``amount`` training steps (``POST /ai/module/buy-training-steps``); return the server's ..."""
        ...

    def change_access_key(
        self,
        current_access_key: str | Secret,
        new_access_key: str | Secret,
        *,
        new_email: str | None = None,
        force: bool = False,
    ) -> Token:
        """Replace the account's access key (a new password or email); return the new access token."""
        ...

    def change_subscription(self, new_plan: str) -> bool:
        """Switch to another subscription plan (e.g. ``"opus"``); return True."""
        ...

    def chat(
        self,
        messages: Sequence[Mapping[str, str]],
        model: str | TextModel = "glm-4-6",
        preset: Preset | str | None = None,
        **kw: Any,
    ) -> Generation:
        """Return the assistant's answer to ``messages`` as a :class:`Generation` (streamed on the ..."""
        ...

    def chat_stream(
        self,
        messages: Sequence[Mapping[str, str]],
        model: str | TextModel = "glm-4-6",
        preset: Preset | str | None = None,
        *,
        stop: Sequence[str] | None = None,
        thinking: bool = False,
        tier: int | str | None = None,
        **params: Any,
    ) -> Iterator[StreamToken]:
        """Yield one :class:`StreamToken` per chunk of ``/oa/v1/chat/completions`` (always streamed)."""
        ...

    def client_settings(self) -> Any:
        """Return the web app's settings blob: parsed JSON when it is JSON, else the text."""
        ...

    def content(self, object_type: str, *, keystore: Keystore | None = None) -> ContentList:
        """Return every object of ``object_type`` decrypted (stories, storycontent, aimodules) or ..."""
        ...

    def content_item(self, object_type: str, object_id: str) -> ContentObject:
        """Return one object decrypted or decompressed (check ``.error``, or call ``.raise_for_error()``)."""
        ...

    def continue_story(
        self,
        story: Any,
        preset: Preset | str | None = None,
        *,
        model: str | TextModel | None = None,
        tier: str | int = "opus",
        token_limit: int | None = None,
        tokenizer: Any = None,
        write: bool = False,
        backup: bool = True,
        **params: Any,
    ) -> Generation:
        """Build the story's context as the website does, generate from it and return the ..."""
        ...

    def count_tokens(self, text: str, model: str | TextModel = "glm-4-6") -> int:
        """Return the number of GLM tokens in ``text`` (the server's ``/oa/v1/internal/token-count``; ..."""
        ...

    def create_content(
        self, object_type: str, data: Any, *, meta: str | None = None, create_keystore: bool = False
    ) -> ContentObject:
        """Encrypt (or compress) ``data`` and store it as a new object; return it as stored."""
        ...

    def create_object(self, object_type: str, meta: str, data: str) -> UserObject:
        """RAW: store a new object, ``data`` unchecked; return it as saved. Prefer ``create_content``."""
        ...

    def delete_account(self, *, confirm: bool = False, backup: bool = True) -> bool:
        """Delete the account and everything in it; return True. Requires ``confirm=True``."""
        ...

    def delete_content(self, item: ContentObject, *, backup: bool = True) -> UserObject:
        """Delete an object after backing up the server's copy locally; return the deleted object."""
        ...

    def delete_module(self, module_id: str, *, backup: bool = True) -> Module:
        """Delete a module; return it as it was (its loss history included)."""
        ...

    def delete_object(self, object_type: str, object_id: str, *, backup: bool = True) -> UserObject:
        """Delete an object; return it as it was. ``delete_content`` is the same with a ContentObject."""
        ...

    def encode_vibe(
        self,
        image: Any,
        *,
        model: str = "nai-diffusion-4-5-full",
        information_extracted: float = 1.0,
        strength: float = 0.6,
        cache: Any = None,
    ) -> Vibe:
        """Return a Vibe for ``image`` on a V4/V4.5 model, from the cache or ``/ai/encode-vibe`` (2 Anlas)."""
        ...

    def estimate_image_cost(
        self,
        prompt: str,
        preset: ImagePreset | None = None,
        action: str = "generate",
        *,
        opus: bool | None = None,
        uncached_vibes: int = 0,
        **kw: Any,
    ) -> CostEstimate:
        """Return the Anlas estimate of a generation (asks the subscription once to know about Opus)."""
        ...

    def generate(
        self,
        prompt: str | Sequence[int],
        preset: Preset | str | None = None,
        *,
        model: str | TextModel | None = None,
        global_settings: GlobalSettings | None = None,
        bans: BanList | Sequence[BanList] | None = None,
        biases: BiasGroup | Sequence[BiasGroup] | None = None,
        stop_sequences: Sequence[str | Sequence[int]] | None = None,
        module: str | None = None,
        use_string: bool = False,
        truncate: bool = False,
        context_tokens: int | None = None,
        seed: int | None = None,
        **params: Any,
    ) -> Generation:
        """Generate a continuation of ``prompt``; return a :class:`Generation`."""
        ...

    def generate_image(
        self,
        prompt: str,
        preset: ImagePreset | None = None,
        *,
        model: str | None = None,
        characters: list[Character] | None = None,
        vibes: Sequence[Any] | None = None,
        character_references: list[CharacterReference] | None = None,
        max_anlas: int | None = None,
        opus: bool | None = None,
        **changes: Any,
    ) -> ImageResult:
        """Generate pictures from a prompt; return an ImageResult (PNG bytes with their parameters)."""
        ...

    def generate_image_stream(
        self,
        prompt: str,
        preset: ImagePreset | None = None,
        *,
        model: str | None = None,
        stream: Literal["msgpack", "sse"] = "msgpack",
        characters: list[Character] | None = None,
        max_anlas: int | None = None,
        opus: bool | None = None,
        **changes: Any,
    ) -> Iterator[StreamEvent]:
        """Yield previews (``intermediate``, JPEG) and ``final`` pictures (PNG) as the service sends them."""
        ...

    def generate_images(
        self,
        prompt: str | Sequence[str],
        presets: Sequence[ImagePreset],
        *,
        max_anlas: int | None = None,
        opus: bool | None = None,
        labels: Sequence[str] | None = None,
        characters: list[Character] | None = None,
        vibes: Sequence[Any] | None = None,
    ) -> list[ImageResult]:
        """Run one generation per preset (concurrently, within the limit); return results in order."""
        ...

    def generate_prompt(
        self,
        prompt: str,
        *,
        model: str = "nai-diffusion-3",
        temperature: float = 1.0,
        tokens_to_generate: int = 64,
    ) -> str:
        """Return a continuation of an image prompt (``POST /ai/generate-prompt``): more tags to try."""
        ...

    def generate_stream(
        self,
        prompt: str | Sequence[int],
        preset: Preset | str | None = None,
        *,
        model: str | TextModel | None = None,
        global_settings: GlobalSettings | None = None,
        bans: BanList | Sequence[BanList] | None = None,
        biases: BiasGroup | Sequence[BiasGroup] | None = None,
        stop_sequences: Sequence[str | Sequence[int]] | None = None,
        module: str | None = None,
        use_string: bool = False,
        truncate: bool = False,
        context_tokens: int | None = None,
        seed: int | None = None,
        **params: Any,
    ) -> Iterator[StreamToken]:
        """Yield one :class:`StreamToken` per generated token from ``/ai/generate-stream``."""
        ...

    def generate_voice(
        self,
        text: str,
        *,
        voice: str | int | None = None,
        seed: str | None = None,
        version: str = "v2",
        opus: bool = False,
    ) -> Speech:
        """Return speech for ``text`` (at most 1000 characters) as a :class:`Speech` (MP3, or WebM/Opus)."""
        ...

    def get_object(self, object_type: str, object_id: str) -> UserObject:
        """Return one stored object."""
        ...

    @property
    def hosts(self) -> Hosts:
        """Return the hosts this client talks to."""
        ...

    def img2img(
        self,
        prompt: str,
        image: Any,
        preset: ImagePreset | None = None,
        *,
        strength: float = 0.7,
        noise: float = 0.0,
        model: str | None = None,
        resize: Literal["refuse", "resize"] = "refuse",
        characters: list[Character] | None = None,
        vibes: Sequence[Any] | None = None,
        max_anlas: int | None = None,
        opus: bool | None = None,
        **changes: Any,
    ) -> ImageResult:
        """Repaint ``image`` guided by the prompt (``strength`` 0.01–0.99: how much changes)."""
        ...

    def information(self) -> AccountInformation:
        """Return the account's verification/trial state (``GET /user/information``)."""
        ...

    def inpaint(
        self,
        prompt: str,
        image: Any,
        mask: Any,
        preset: ImagePreset | None = None,
        *,
        model: str | None = None,
        resize: Literal["refuse", "resize"] = "refuse",
        characters: list[Character] | None = None,
        max_anlas: int | None = None,
        opus: bool | None = None,
        **changes: Any,
    ) -> ImageResult:
        """Repaint the white part of ``mask`` on ``image`` (``infill``, inpainting model)."""
        ...

    def is_reachable(self) -> bool:
        """Return True when the API host answers ``GET /`` with a success status."""
        ...

    @property
    def is_sandbox(self) -> bool:
        """Return True when this client talks to the embedded offline sandbox."""
        ...

    def keystore(self) -> Keystore:
        """Return the account's decrypted keystore."""
        ...

    def keystore_raw(self) -> str | None:
        """Return the keystore as the server stores it (base64 text), or None for a fresh account."""
        ...

    def list_objects(self, object_type: str) -> ObjectList:
        """Return all objects of ``object_type`` (stories, storycontent, presets, aimodules, shelf)."""
        ...

    def login(self, email: str, password: str | Secret) -> Token:
        """Log in with email and password; return the access token (also kept for later calls)."""
        ...

    def login_with_key(self, access_key: str | Secret) -> Token:
        """Log in with a precomputed 64-character access key; return the access token."""
        ...

    def login_with_token(self, token: str | Secret) -> Token:
        """Use a login JWT or a ``pst-`` persistent token (no request is made); return it as a Token."""
        ...

    def lorebook(self, story: str | ContentObject) -> pd.DataFrame:
        """Return the lorebook entries of a story (id, meta or title) as a DataFrame."""
        ...

    def loss_history(self, module_id: str) -> pd.DataFrame:
        """Return a module's loss history as a DataFrame (step, loss)."""
        ...

    def module(self, module_id: str) -> Module:
        """Return one module with its status and loss history (``GET /ai/module/{id}``)."""
        ...

    def modules(self) -> ModuleList:
        """Return every module of the account (``GET /ai/module/all``)."""
        ...

    def priority(self) -> Priority:
        """Return the legacy priority record (``GET /user/priority``)."""
        ...

    def recover_account(
        self,
        recovery_token: str | Secret,
        email: str,
        new_password: str | Secret,
        *,
        delete_content: bool = False,
        backup: bool = True,
    ) -> Token:
        """Set new credentials with a recovery token; return the new access token."""
        ...

    def register(
        self,
        email: str,
        password: str | Secret,
        recaptcha: str,
        *,
        giftkey: str | None = None,
        send_email: bool = True,
    ) -> Token:
        """Create an account; return its access token (also kept for later calls)."""
        ...

    def request_account_recovery(self, email: str) -> bool:
        """Ask for a recovery email (``POST /user/recovery/request``, 202); return True."""
        ...

    def resend_email_verification(self, email: str) -> bool:
        """Ask for a new verification email; return True when the server accepted."""
        ...

    def restore(
        self, directory: str | Path, *, overwrite: bool = False, skip_corrupt: bool = False
    ) -> RestoreReport:
        """Put a backup folder back into the account; return a report (one row per object)."""
        ...

    def sanity_check(self) -> SanityReport:
        """Return the §4.5 sanity check: what decrypts, orphaned storycontent, duplicate metas, keys."""
        ...

    def save_content(self, item: ContentObject, *, backup: bool = True, force: bool = False) -> ContentObject:
        """Upload an edited object (unchanged data goes up byte-identical); return it as stored."""
        ...

    def save_story(self, story: Story, *, backup: bool = True, force: bool = False) -> Story:
        """Write an edited story back to the account through :meth:`save_content` (the server's version ..."""
        ...

    def set_backup_dir(self, path: str | Path) -> Path:
        """Keep backups (full and before-overwrite) under ``path`` instead of ``~/.naikit/backups``; ..."""
        ...

    def set_client_settings(self, settings: str | dict, *, backup: bool = True) -> bool:
        """Replace the website's settings blob (a dict is sent as compact JSON text); return True."""
        ...

    def set_encryption_key(self, key: bytes) -> None:
        """Use this 32-byte key to open the keystore (instead of deriving it from email and password)."""
        ...

    def set_keystore(self, keystore: Keystore, *, force: bool = False, backup: bool = True) -> Keystore:
        """Upload ``keystore`` after the safety checks; return it as read back from the server."""
        ...

    def set_keystore_raw(
        self, keystore: str, *, check: bool = True, change_index: int | None = None, backup: bool = True
    ) -> Any:
        """RAW keystore upload (base64 text); return the server's answer. Prefer :meth:`set_keystore`."""
        ...

    def shelves(self) -> ContentList:
        """Return the account's shelves (title, description, number of children)."""
        ...

    @property
    def stats(self) -> dict[str, int]:
        """Return counts of requests, attempts and retries per reason since the client was made."""
        ...

    def stories(self, *, tokens: bool = True) -> ContentList:
        """Return the stories with their content joined: title, dates, tags, preview, words, tokens ..."""
        ...

    def story(self, story: str | ContentObject) -> Story:
        """Return a story of the account (id, meta or title, or its story/storycontent object) as a ..."""
        ...

    def story_contents(self, *, tokens: bool = False) -> ContentList:
        """Return the storycontent objects with format, model, characters, words, tokens, lorebook entries."""
        ...

    def story_text(self, story: str | ContentObject) -> str:
        """Return the full text of a story, given its id, meta, title, or its story/storycontent object."""
        ...

    def subscription(self) -> Subscription:
        """Return tier, perks and Anlas (``GET /user/subscription``, served by the image host now)."""
        ...

    def suggest_tags(
        self, prompt: str, *, model: str = "nai-diffusion-4-5-full", lang: str | None = None
    ) -> pd.DataFrame:
        """Return tag suggestions for the prompt's last term as a DataFrame (tag, count, confidence)."""
        ...

    def text_models(self) -> pd.DataFrame:
        """Return a DataFrame of ``GET /oa/v1/models``: id, owned_by, created, and naikit's name, short ..."""
        ...

    @property
    def token(self) -> Token | None:
        """Return the current Bearer token (its value hidden in repr), or None before login."""
        ...

    def token_ids(self, text: str, model: str | TextModel = "glm-4-6") -> list[int]:
        """Return the GLM token ids of ``text`` from the token-count endpoint (ResponseShapeError when ..."""
        ...

    def train_module(
        self,
        data: str | list[str],
        *,
        name: str,
        description: str = "",
        lr: float = 0.0001,
        steps: int = 500,
        model: str | None = None,
    ) -> Module:
        """Start training a module on ``data`` (text, or a list of texts joined by blank lines); return it."""
        ...

    def unlock(self, email: str, password: str | Secret) -> Keystore:
        """Derive the encryption key from ``email`` and ``password``; return the keystore it opens."""
        ...

    def update_object(
        self,
        object_type: str,
        object_id: str,
        meta: str,
        data: str,
        *,
        change_index: int | None = None,
        backup: bool = True,
    ) -> UserObject:
        """RAW overwrite of an object's meta and data; return the updated object. Prefer ``save_content``."""
        ...

    def upscale(self, image: Any, *, scale: int = 2) -> GeneratedImage:
        """Upscale a picture ×2 or ×4 (``/ai/upscale``); return the result."""
        ...

    def user_data(self) -> UserAccountData:
        """Return information, priority, subscription, keystore and settings in one record."""
        ...

    def user_presets(self) -> ContentList:
        """Return the presets saved in the account (name, model, main parameters)."""
        ...

    def verify_email(self, verification_token: str | Secret) -> bool:
        """Confirm the email with the 64-character token from the verification mail; return True."""
        ...

    def wait_for_module(
        self,
        module_id: str | Module,
        *,
        timeout: float = 3600.0,
        interval: float = 2.0,
        max_interval: float = 30.0,
        progress: Any = None,
        callback: Callable[[Module], Any] | None = None,
        raise_on_failure: bool = True,
    ) -> Module:
        """Poll a module until it is ready (or failed); return it. Time-based ``timeout``, growing ..."""
        ...
