"""Whisper speech-to-text on faster-whisper: pure and synchronous (no asyncio, no wyoming).

Speed: Whisper's encoder is trained on 30 s windows and faster-whisper always pads the
features to 30 s, so a 2 s command costs as much as 30 s of audio. Like whisper.cpp's
``audio_ctx``, the engine gives the encoder only the audio plus 1 s, but never less than
``audio_context`` seconds (default 10): 3-4x faster for commands on CPU. Below ~10 s
Whisper starts to repeat itself; ``audio_context=30`` restores stock faster-whisper.

Every decode is deterministic (temperature 0 only, no conditioning on earlier text, no
timestamps), so decoding the same samples twice gives the same text: the handler relies on
that to reuse a decode made while the user was still silent after speaking.
``faster_whisper`` is imported lazily; ``transcribe`` drains its lazy segment generator
inside the calling (worker) thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class EngineConfig:
    model_dir: Path
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 0  # 0: CTranslate2's default
    beam_size: int = 5
    language: str | None = None  # None: English for *.en models, else auto-detect
    initial_prompt: str | None = None
    audio_context: float = 10.0  # minimum encoder window in seconds (30: stock faster-whisper)


_FRAMES_PER_SECOND = 100  # Whisper mel frames per second
_FULL_WINDOW = 3000
_CONTEXT_MARGIN = 100  # frames of silence kept after the audio


def _load_model(config: EngineConfig) -> Any:
    from faster_whisper import WhisperModel

    class ShortContextWhisper(WhisperModel):  # type: ignore[misc]
        """Encodes ``encoder_frames`` mel frames instead of the padded 30 s window."""

        encoder_frames: int | None = None

        def encode(self, features: Any) -> Any:
            frames = self.encoder_frames
            if frames is not None and features.shape[-1] > frames:
                features = np.ascontiguousarray(features[..., :frames])
            return super().encode(features)

    return ShortContextWhisper(
        str(config.model_dir),
        device=config.device,
        compute_type=config.compute_type,
        cpu_threads=config.cpu_threads,
        local_files_only=True,
    )


class WhisperEngine:
    """One loaded Whisper model. Not documented thread-safe: callers serialise calls."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._model: Any = _load_model(config)
        self.multilingual = bool(self._model.model.is_multilingual)
        if self.multilingual:
            self._languages: list[str] = list(self._model.supported_languages)
        else:
            self._languages = ["en"]

    @property
    def languages(self) -> list[str]:
        return list(self._languages)

    def resolve_language(self, requested: str | None) -> str | None:
        """The language to decode in; raises ValueError for one the model does not know."""
        if not self.multilingual:
            if requested not in (None, "en") and requested.split("-")[0].split("_")[0] != "en":
                raise ValueError(f"language '{requested}' is not supported by this English-only model")
            return "en"
        choice = requested or self.config.language
        if choice is None:
            return None
        short = choice.split("-")[0].split("_")[0].lower()
        if short not in self._languages:
            raise ValueError(f"language '{choice}' is not supported (supported: {', '.join(self._languages)})")
        return short

    def transcribe(self, audio: FloatArray, language: str | None = None, *, beam_size: int | None = None) -> str:
        """Text of 16 kHz mono float32 ``audio`` (the final, full-quality decode)."""
        if audio.size == 0:
            return ""
        frames = max(int(self.config.audio_context * _FRAMES_PER_SECOND),
                     audio.size * _FRAMES_PER_SECOND // SAMPLE_RATE + _CONTEXT_MARGIN)
        self._model.encoder_frames = frames if frames < _FULL_WINDOW else None
        segments, _info = self._model.transcribe(
            audio,
            language=self.resolve_language(language),
            beam_size=beam_size or self.config.beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            initial_prompt=self.config.initial_prompt,
        )
        # The generator is lazy: the decoding happens here, in this thread.
        return " ".join(text for segment in segments if (text := segment.text.strip()))

    def transcribe_partial(self, audio: FloatArray, language: str | None = None) -> str:
        """A cheaper (greedy) decode of the audio so far, for partial results."""
        return self.transcribe(audio, language, beam_size=1)


_NON_WORD = re.compile(r"[^\w']+")


def normalise(text: str) -> str:
    """The comparison form of a transcript: lower case, punctuation and extra spaces removed."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).replace("'", "").split())


def pcm16_to_float(pcm: bytes) -> FloatArray:
    usable = len(pcm) - len(pcm) % 2
    samples: FloatArray = np.frombuffer(pcm[:usable], dtype="<i2").astype(np.float32) / 32768.0
    return samples
