"""NovelAI endpoints for text to speech (spec §7.1) and image prompt generation.

``VoiceAPI`` is an area of :class:`naikit.novelai.async_client.AsyncNovelAI` (built on the typed core
:class:`~naikit.novelai._base.ClientCore`): its public coroutine methods use the client's ``_call`` and
appear on the sync ``NovelAI`` automatically.

Voices: v2 voices are chosen by a seed string (the official voices' names are their seeds, except Ligeia
whose seed is ``Anananan``; any other string gives some voice); v1 voices by a speaker id.
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass

from ..errors import InputError, ResponseShapeError
from ._base import ClientCore

__all__ = ["VoiceAPI", "Speech", "V1_VOICES", "V2_VOICES", "MAX_TEXT"]

MAX_TEXT = 1000
# v2: name -> seed string
V2_VOICES: dict[str, str] = {
    "Ligeia": "Anananan",
    "Aini": "Aini",
    "Orea": "Orea",
    "Claea": "Claea",
    "Lim": "Lim",
    "Aurae": "Aurae",
    "Naia": "Naia",
    "Aulon": "Aulon",
    "Elei": "Elei",
    "Ogma": "Ogma",
    "Raid": "Raid",
    "Pega": "Pega",
    "Lam": "Lam",
}
# v1: name -> speaker id
V1_VOICES: dict[str, int] = {
    "Cyllene": 17,
    "Leucosia": 95,
    "Crina": 44,
    "Hespe": 80,
    "Ida": 106,
    "Alseid": 6,
    "Daphnis": 10,
    "Echo": 16,
    "Thel": 41,
    "Nomios": 77,
}
_MIME_EXT = {
    "audio/mpeg": "mp3",
    "audio/webm": "webm",
    "audio/ogg": "ogg",
    "audio/opus": "opus",
    "audio/wav": "wav",
}


@dataclass(frozen=True)
class Speech:
    """Generated speech: ``data`` (the audio bytes), their content type, and what was asked for.

    In a notebook it shows an audio player; ``save(path)`` writes the bytes unchanged.
    """

    data: bytes
    content_type: str
    text: str
    voice: str
    version: str

    @property
    def format(self) -> str:
        """Return the file extension that fits the audio (mp3, webm, ...)."""
        return _MIME_EXT.get(self.content_type, "bin")

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the audio bytes to ``path``; returns None."""
        with open(path, "wb") as fh:
            fh.write(self.data)

    def _repr_html_(self) -> str:
        b64 = base64.b64encode(self.data).decode("ascii")
        caption = html.escape(
            f"{self.voice} ({self.version}, {self.format}, {len(self.data)} bytes): {self.text[:80]}"
        )
        return (
            f"<figure class='naikit-speech'>"
            f"<audio controls src='data:{self.content_type};base64,{b64}'></audio>"
            f"<figcaption>{caption}</figcaption></figure>"
        )

    def __repr__(self) -> str:
        return f"Speech({self.voice!r}, {self.version}, {self.format}, {len(self.data)} bytes)"


def _voice_params(voice: str | int | None, seed: str | None, version: str) -> tuple[int, str, str]:
    """Return (voice id, seed, label) for a voice given by name, id or seed."""
    if version not in ("v1", "v2"):
        raise InputError("version", version, "'v1' or 'v2'")
    if seed is not None and (not isinstance(seed, str) or not 1 <= len(seed) <= 50):
        raise InputError("seed", seed, "a string of 1 to 50 characters")
    if version == "v2":
        if voice is None:
            if seed is None:
                return -1, V2_VOICES["Aini"], "Aini"
            return -1, seed, seed
        if isinstance(voice, str) and voice in V2_VOICES:
            return -1, V2_VOICES[voice], voice
        raise InputError(
            "voice",
            voice,
            "a v2 voice name: " + ", ".join(V2_VOICES),
            "Or leave voice=None and pass any seed string.",
        )
    if isinstance(voice, str) and voice in V1_VOICES:
        return V1_VOICES[voice], seed or "", voice
    if isinstance(voice, int) and not isinstance(voice, bool) and voice in V1_VOICES.values():
        return voice, seed or "", str(voice)
    raise InputError(
        "voice", voice, "a v1 voice name or id: " + ", ".join(f"{k} ({v})" for k, v in V1_VOICES.items())
    )


class VoiceAPI(ClientCore):
    """Area: text to speech and image prompt generation."""

    async def generate_voice(
        self,
        text: str,
        *,
        voice: str | int | None = None,
        seed: str | None = None,
        version: str = "v2",
        opus: bool = False,
    ) -> Speech:
        """Return speech for ``text`` (at most 1000 characters) as a :class:`Speech` (MP3, or WebM/Opus).

        ``voice``: a v2 name (Aini, Ligeia, Ogma, ...) or, with ``version="v1"``, a v1 name or id; or
        leave it None and pass any ``seed`` string for a v2 voice of your own.
        """
        if not isinstance(text, str) or not text.strip():
            raise InputError("text", text, "a non-empty text")
        if len(text) > MAX_TEXT:
            raise InputError(
                "text",
                text,
                f"at most {MAX_TEXT} characters",
                "NovelAI cuts longer texts; split it into parts.",
            )
        if not isinstance(opus, bool):
            raise InputError("opus", opus, "True (WebM/Opus) or False (MP3)")
        voice_id, seed_text, label = _voice_params(voice, seed, version)
        params = {
            "text": text,
            "seed": seed_text,
            "voice": str(voice_id),
            "opus": "true" if opus else "false",
            "version": version,
        }
        body = await self._call("GET", "/ai/generate-voice", params=params)
        if not isinstance(body, bytes) or not body:
            raise ResponseShapeError("GET /ai/generate-voice", "(body)", "should be audio bytes")
        content_type = "audio/webm" if opus else "audio/mpeg"
        if body[:4] == b"\x1a\x45\xdf\xa3":
            content_type = "audio/webm"
        elif body[:3] == b"ID3" or body[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
            content_type = "audio/mpeg"
        elif body[:4] == b"OggS":
            content_type = "audio/ogg"
        elif body[:4] == b"RIFF":
            content_type = "audio/wav"
        return Speech(body, content_type, text, label, version)

    async def generate_prompt(
        self,
        prompt: str,
        *,
        model: str = "nai-diffusion-3",
        temperature: float = 1.0,
        tokens_to_generate: int = 64,
    ) -> str:
        """Return a continuation of an image prompt (``POST /ai/generate-prompt``): more tags to try.

        The answer's shape is undocumented; naikit reads ``output`` (and raises ResponseShapeError naming
        it if it is missing, unless the client was made with ``validate=False``, which returns the JSON text).
        """
        if not isinstance(prompt, str) or not prompt.strip():
            raise InputError("prompt", prompt, "a non-empty prompt")
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float))
            or not 0 < temperature <= 10
        ):
            raise InputError("temperature", temperature, "a number above 0 and at most 10")
        if (
            isinstance(tokens_to_generate, bool)
            or not isinstance(tokens_to_generate, int)
            or not 1 <= tokens_to_generate <= 512
        ):
            raise InputError("tokens_to_generate", tokens_to_generate, "an integer from 1 to 512")
        body = {
            "model": model,
            "prompt": prompt,
            "temp": float(temperature),
            "tokens_to_generate": tokens_to_generate,
        }
        data = await self._call("POST", "/ai/generate-prompt", json=body)
        if isinstance(data, dict) and isinstance(data.get("output"), str):
            return data["output"]
        if self.validate:
            raise ResponseShapeError("POST /ai/generate-prompt", "output", "is missing")
        import json

        return data if isinstance(data, str) else json.dumps(data)
