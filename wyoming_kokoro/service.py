"""The service every connection shares, built from the configuration: engines, voices, info."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wyoming.info import Attribution, Info, TtsProgram, TtsVoice, TtsVoiceSpeaker

from voice_runtime.server import ServerConfig

from . import __version__
from .engine import Engine, EngineError, Voice, VoiceTable
from .pipeline import AudioCache, ReplyOptions, Synthesizer

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
    try:
        voices = VoiceTable(engines, config.voice or "")
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
        options=ReplyOptions(samples_per_chunk=config.samples_per_chunk),
        info=lambda: info,
        max_text_chars=config.max_text_chars,
    )


def load_engines(config: TtsConfig) -> dict[str, Engine]:
    engines: dict[str, Engine] = {}
    if "kokoro" in config.engines and config.kokoro_model and config.kokoro_voices:
        from .kokoro_engine import KokoroEngine

        engines["kokoro"] = KokoroEngine(
            config.kokoro_model, config.kokoro_voices, speed=config.speed, device=config.device
        )
    if "piper" in config.engines and config.piper_models:
        from .piper_engine import PiperEngine

        piper = PiperEngine(config.piper_models, length_scale=config.length_scale, device=config.device)
        if config.piper_default:
            piper.load(config.piper_default)
        engines["piper"] = piper
    for name, engine in engines.items():
        _LOGGER.info("loaded engine=%s voices=%d rate=%d", name, len(engine.voices()), engine.sample_rate)
    return engines


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
                attribution=Attribution(name="hearth", url="https://github.com/hearth-voice"),
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
