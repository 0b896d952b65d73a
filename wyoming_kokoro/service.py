"""The service every connection shares, built from the configuration: engines, voices, info."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from wyoming.info import Attribution, Info, TtsProgram, TtsVoice, TtsVoiceSpeaker

from voice_runtime.cli import ATTRIBUTION
from voice_runtime.server import ServerConfig

from . import __version__
from .engine import Engine, EngineError, Voice, VoiceTable
from .pipeline import ReplyOptions
from .synthesizer import AudioCache, Synthesizer

_LOGGER = logging.getLogger(__name__)
ATTRIBUTIONS = {
    "kokoro": Attribution(name="hexgrad", url="https://huggingface.co/hexgrad/Kokoro-82M"),
    "piper": Attribution(name="rhasspy", url="https://github.com/rhasspy/piper"),
}


@dataclass(frozen=True)
class TtsConfig:
    server: ServerConfig
    provider: str
    engines: tuple[str, ...]
    voice: str | None
    kokoro_model: Path | None
    kokoro_voices: Path | None
    piper_models: dict[str, Path]
    piper_default: str | None
    speed: float
    length_scale: float | None
    samples_per_chunk: int
    device: str
    max_text_chars: int
    warmup: bool
    cache_mb: float = 16.0
    kokoro_voice: str = "af_heart"  # the default voice when --provider auto picks Kokoro
    piper_threads: int = 1  # onnxruntime intra-op threads per Piper call (0: one per core)
    piper_kept_arena_mb: int = 96  # Piper's CPU arena: this much is kept warm between runs (0: none)
    auto_first_audio: float = 0.3  # --provider auto: Kokoro's budget for a short first phrase, s
    kokoro_extra_voices: dict[str, Path] = field(default_factory=dict)  # fetched voices/NAME.bin files
    first_subject_words: int = 4  # a first piece may end before its verb ("The capital of France | is")
    first_figure_words: int = 2  # ... or before an approximate figure ("Mars is, | approximately 141 ...")
    figure_tail_words: int = 2  # ... and the next ends after the figure's unit ("... 141 million miles, | (...")


@dataclass(frozen=True)
class TtsService:
    """What every connection shares: the voices, one synthesizer (and lock) per engine."""

    voices: VoiceTable
    synthesizers: dict[str, Synthesizer]
    options: ReplyOptions
    info: Callable[[], Info]
    max_text_chars: int = 20_000


async def build_service(config: TtsConfig) -> TtsService:
    """Load the engines (in a thread), warm them up, and describe what is installed."""
    try:
        engines = await asyncio.to_thread(load_engines, config)
    except EngineError as err:
        raise SystemExit(str(err)) from err
    voice = config.voice
    if voice is None and config.provider == "auto":
        voice = await asyncio.to_thread(pick_default_voice, engines, config)
    try:
        voices = VoiceTable(engines, voice or "")
    except ValueError as err:
        installed = ", ".join(v.name for e in engines.values() for v in e.voices())
        raise SystemExit(f"{err}; installed: {installed}") from err
    if config.warmup:
        await asyncio.to_thread(warm_up, engines, voices)
    info = build_info(voices.all())
    _LOGGER.info("default voice=%s voices=%d", voices.default_voice, len(voices.all()))
    return TtsService(
        voices=voices,
        synthesizers={name: Synthesizer(engine, AudioCache(int(config.cache_mb * 1024 * 1024)))
                      for name, engine in engines.items()},
        options=ReplyOptions(samples_per_chunk=config.samples_per_chunk,
                             first_subject_words=config.first_subject_words,
                             first_figure_words=config.first_figure_words,
                             figure_tail_words=config.figure_tail_words),
        info=lambda: info,
        max_text_chars=config.max_text_chars,
    )


def load_engines(config: TtsConfig) -> dict[str, Engine]:
    engines: dict[str, Engine] = {}
    if "kokoro" in config.engines and config.kokoro_model and config.kokoro_voices:
        from .kokoro_engine import KokoroEngine

        engines["kokoro"] = KokoroEngine(
            config.kokoro_model, config.kokoro_voices, speed=config.speed, device=config.device,
            extra_voices=config.kokoro_extra_voices,
        )
    if "piper" in config.engines and config.piper_models:
        from .piper_engine import PiperEngine

        piper = PiperEngine(config.piper_models, length_scale=config.length_scale, device=config.device,
                            threads=config.piper_threads, kept_arena_mb=config.piper_kept_arena_mb)
        if config.piper_default:
            piper.load(config.piper_default)
        engines["piper"] = piper
    for name, engine in engines.items():
        _LOGGER.info("loaded engine=%s voices=%d rate=%d", name, len(engine.voices()), engine.sample_rate)
    return engines


# A first phrase as the splitter cuts it (six words, no clause mark) and the speech it makes.
PROBE_TEXT = "The tallest mountain in the world"
PROBE_RUNS = 3


def choose_provider(kokoro_seconds: list[float], audio_seconds: float, budget: float) -> tuple[str, str]:
    """``kokoro`` if its median time for the probe is within ``budget``, else ``piper``; with
    the figures, for the log. (The probe speaks ~1.6 s, so the default 0.3 s budget also means
    a real-time factor under 0.2: the rest of a reply streams with a wide margin.)"""
    median = sorted(kokoro_seconds)[(len(kokoro_seconds) - 1) // 2]
    rtf = median / audio_seconds if audio_seconds > 0 else float("inf")
    figures = f"Kokoro first phrase {median * 1000:.0f} ms (budget {budget * 1000:.0f} ms), real-time factor {rtf:.2f}"
    return ("kokoro" if median <= budget else "piper"), figures


def pick_default_voice(engines: dict[str, Engine], config: TtsConfig) -> str | None:
    """--provider auto: measure Kokoro on this machine (worker thread; ~1-5 s at start-up)."""
    kokoro, piper = engines.get("kokoro"), engines.get("piper")
    if kokoro is None or piper is None:
        only = "kokoro" if kokoro is not None else "piper"
        _LOGGER.info("provider=auto: only %s is installed", only)
        return config.kokoro_voice if only == "kokoro" else config.piper_default
    voice = config.kokoro_voice if any(v.name == config.kokoro_voice for v in kokoro.voices()) else (
        kokoro.voices()[0].name)
    list(kokoro.synthesize("Hello.", voice))  # the first call pays for allocations
    timings: list[float] = []
    audio = 0.0
    majority = PROBE_RUNS // 2 + 1
    for _ in range(PROBE_RUNS):  # stop once the median's side of the budget is decided
        began = time.perf_counter()
        made = list(kokoro.synthesize(PROBE_TEXT, voice))
        timings.append(time.perf_counter() - began)
        audio = sum(len(m) for m in made[:1]) / kokoro.sample_rate
        over = sum(t > config.auto_first_audio for t in timings)
        if over >= majority or len(timings) - over >= majority:
            break
    provider, figures = choose_provider(timings, audio, config.auto_first_audio)
    _LOGGER.info("provider=auto chose %s: %s", provider, figures)
    return config.kokoro_voice if provider == "kokoro" else config.piper_default


def warm_up(engines: dict[str, Engine], voices: VoiceTable) -> None:
    """One tiny synthesis per engine, so the first request does not pay for it."""
    default = voices.resolve()
    for name, engine in engines.items():
        voice = default if default.provider == name else engine.voices()[0]
        list(engine.synthesize("Hello.", voice.name))


def build_info(voices: list[Voice]) -> Info:
    return Info(
        tts=[
            TtsProgram(
                name="wyoming-kokoro",
                description="Kokoro-82M and Piper text to speech with streaming",
                attribution=ATTRIBUTION,
                installed=True,
                version=__version__,
                supports_synthesize_streaming=True,
                voices=[
                    TtsVoice(
                        name=v.name,
                        description=v.description,
                        attribution=ATTRIBUTIONS[v.provider],
                        installed=True,
                        version=None,
                        languages=[v.language],
                        speakers=[TtsVoiceSpeaker(name=s) for s in v.speakers] or None,
                    )
                    for v in voices
                ],
            )
        ]
    )
