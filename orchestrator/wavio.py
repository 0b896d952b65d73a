"""Standalone input/output: a WAV file as the user's voice, a WAV file as the speaker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event

from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert, read_wav, write_wav
from voice_runtime.wavcheck import wav_problem

__all__ = ["WavSink", "wav_chunks", "wav_problem"]


async def wav_chunks(path: Path, *, realtime: bool = False, chunk_ms: int = 20) -> AsyncIterator[AudioChunk]:
    """The WAV's audio as 16 kHz mono 16-bit chunks, as fast as possible or in real time."""
    pcm, fmt = await asyncio.to_thread(read_wav, str(path))
    pcm = convert(pcm, fmt, PCM16_MONO_16K)
    step = PCM16_MONO_16K.frames_bytes(chunk_ms / 1000)
    start = time.monotonic()
    for index, offset in enumerate(range(0, len(pcm), step)):
        if realtime:
            delay = start + index * chunk_ms / 1000 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        yield AudioChunk(16000, 2, 1, pcm[offset:offset + step])


@dataclass
class WavSink:
    """Collects every event of a turn; the reply audio can be written as a WAV."""

    events: list[Event] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    fmt: AudioFormat | None = None
    first_audio_at: float | None = None

    async def event(self, event: Event) -> None:
        self.events.append(event)
        if AudioStart.is_type(event.type):
            start = AudioStart.from_event(event)
            self.fmt = AudioFormat(start.rate, start.width, start.channels)
        elif AudioChunk.is_type(event.type):
            if self.first_audio_at is None:
                self.first_audio_at = time.monotonic()
            self.audio.extend(AudioChunk.from_event(event).audio)
        elif AudioStop.is_type(event.type):
            pass

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_wav(str(path), bytes(self.audio), self.fmt or PCM16_MONO_16K)

    @property
    def seconds(self) -> float:
        return (self.fmt or PCM16_MONO_16K).seconds(len(self.audio))
