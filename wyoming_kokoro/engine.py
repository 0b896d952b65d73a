"""What every text-to-speech backend offers (pure: no asyncio, no wyoming).

An engine lists its voices and turns one piece of text (a sentence or clause) into float32
mono samples at its own fixed rate. It is not thread-safe: callers hold one lock per
engine around each call.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]


class EngineError(RuntimeError):
    """A synthesis call failed (worth one retry: the text was valid)."""


@dataclass(frozen=True)
class Voice:
    name: str
    provider: str  # "kokoro" or "piper"
    language: str  # e.g. "en_US"
    description: str = ""
    speakers: tuple[str, ...] = field(default=())


class Engine(Protocol):
    provider: str
    sample_rate: int

    def voices(self) -> Sequence[Voice]: ...

    def synthesize(self, text: str, voice: str, speaker: str | None = None) -> Iterator[Samples]:
        """Audio for ``text`` in one or more parts; raises EngineError on failure."""
        ...


def onnx_providers(device: str) -> list[str]:
    """onnxruntime execution providers for ``--device``; refuses cuda when it is not there."""
    import onnxruntime

    if device == "cuda":
        if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            raise EngineError("--device cuda needs onnxruntime-gpu with CUDA; this onnxruntime has CPU only")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def silence(seconds: float, rate: int) -> Samples:
    return np.zeros(int(seconds * rate), dtype=np.float32)


def pause_after(text: str) -> float:
    """Seconds of silence that fit after a piece ending with this punctuation."""
    end = text.rstrip("\"')]}\u201d\u2019 ")[-1:]
    if end in ".!?\u2026":
        return 0.25
    if end in ",;:":
        return 0.1
    return 0.15


@dataclass
class VoiceTable:
    """Every voice of every loaded engine, and which to use for a request."""

    engines: dict[str, Engine]
    default_voice: str
    _by_name: dict[str, Voice] = field(init=False)

    def __post_init__(self) -> None:
        self._by_name = {v.name: v for engine in self.engines.values() for v in engine.voices()}
        if self.default_voice not in self._by_name:
            raise ValueError(f"default voice {self.default_voice!r} is not among the installed voices")

    def all(self) -> list[Voice]:
        return list(self._by_name.values())

    def resolve(self, name: str | None = None, language: str | None = None) -> Voice:
        """The voice called ``name``; else the default, or the first voice of ``language``.

        Raises KeyError for a name or language no engine has.
        """
        if name:
            if name not in self._by_name:
                raise KeyError(name)
            return self._by_name[name]
        default = self._by_name[self.default_voice]
        if not language or _same_language(default.language, language):
            return default
        for voice in self._by_name.values():
            if voice.provider == default.provider and _same_language(voice.language, language):
                return voice
        for voice in self._by_name.values():
            if _same_language(voice.language, language):
                return voice
        raise KeyError(language)

    def engine_for(self, voice: Voice) -> Engine:
        return self.engines[voice.provider]


def _same_language(have: str, want: str) -> bool:
    a = have.replace("-", "_").lower()
    b = want.replace("-", "_").lower()
    return a == b or (("_" not in b) and a.split("_")[0] == b)
