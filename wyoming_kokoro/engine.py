"""What every text-to-speech backend offers (pure: no asyncio, no wyoming).

An engine lists its voices and turns one piece of text (a sentence or clause) into float32
mono samples at its own fixed rate. It is not thread-safe: callers hold one lock per
engine around each call.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

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

    def interrupt(self, stop: bool) -> None:
        """``True`` (from any thread): the call in progress fails at its next model step with
        EngineError, and so does every call until ``interrupt(False)`` (the call's client is gone)."""
        ...


def onnx_providers(device: str) -> list[str]:
    """onnxruntime execution providers for ``--device``; refuses cuda when it is not there."""
    import onnxruntime

    if device == "cuda":
        if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            raise EngineError("--device cuda needs onnxruntime-gpu with CUDA; this onnxruntime has CPU only")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class ShrinkingSession:
    """An onnxruntime session that gives its memory arena back after every run.

    onnxruntime keeps the CPU arena at the size the largest input so far needed: a 1,000-turn
    soak saw the TTS process grow by 100 MB over its first 400 turns before it levelled off.
    With ``memory.enable_memory_arena_shrinkage`` the memory is released after each run (a
    Piper sentence measured 0.28 s against 0.27 s). Everything but ``run`` is the session's.
    """

    def __init__(self, session: Any, device: str = "cpu") -> None:
        import onnxruntime

        self.session = session
        self.run_options = onnxruntime.RunOptions()
        self.run_options.add_run_config_entry(
            "memory.enable_memory_arena_shrinkage", "cpu:0;gpu:0" if device == "cuda" else "cpu:0"
        )

    def interrupt(self, stop: bool) -> None:
        """onnxruntime's terminate flag: a run in progress exits at its next operator (thread-safe)."""
        self.run_options.terminate = stop

    def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
        return self.session.run(output_names, input_feed, run_options or self.run_options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


# The process's one CPU arena that sessions may share (onnxruntime registers it once per process).
_KEPT_ARENA: dict[str, int] = {}


def kept_cpu_arena(megabytes: int) -> bool:
    """Register, once per process, a shared onnxruntime CPU arena whose first ``megabytes`` are never shrunk.

    ``ShrinkingSession`` gives the arena back after every run, so every short piece mapped its buffers
    again: ~8,000 page faults, ~0.03 s of a Piper first piece (bench/tts_piper_thp_probe.py, session 28).
    onnxruntime never shrinks an arena's initial region (strategy kNextPowerOfTwo): with one of 96 MB a
    reply's first piece reuses it warm whatever piece came before (64 MB: only after a full 120-character
    run), and what a longer run adds beyond it is still given back. A session opts in with
    ``session.use_env_allocators``. False (nothing registered) when ``megabytes`` <= 0.
    """
    if megabytes <= 0:
        return False
    if "cpu" in _KEPT_ARENA:
        return True  # the first size asked wins (one arena per process)
    import onnxruntime

    config = onnxruntime.OrtArenaCfg({"arena_extend_strategy": 0, "initial_chunk_size_bytes": megabytes << 20})
    info = onnxruntime.OrtMemoryInfo("Cpu", onnxruntime.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0,
                                     onnxruntime.OrtMemType.DEFAULT)
    onnxruntime.create_and_register_allocator(info, config)
    _KEPT_ARENA["cpu"] = megabytes
    return True


def silence(seconds: float, rate: int) -> Samples:
    return np.zeros(int(seconds * rate), dtype=np.float32)


def trim_leading_silence(samples: Samples, rate: int, *, threshold_db: float = -50.0, keep: float = 0.005) -> Samples:
    """``samples`` from ``keep`` seconds before the first one above ``threshold_db`` (dBFS).

    Piper starts a sentence with 20-50 ms of near silence; at the start of a reply that is only
    delay before the user hears anything (bench/results/room_latency.md). All silence: unchanged.
    """
    loud = np.flatnonzero(np.abs(samples) > 10 ** (threshold_db / 20))
    if not len(loud):
        return samples
    return samples[max(0, int(loud[0]) - int(keep * rate)):]


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
