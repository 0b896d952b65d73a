"""The satellite turn driver's test harness without audio hardware (shared by
``test_satellite_core.py`` and ``test_satellite_onset_judge.py``): frames fed by hand, controller
events in, events out. Voiced/unvoiced frames are marked by their first byte (the VAD decision is
injected), the echo guard is off (the test's frames are not real sound), time is a ManualClock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from wyoming.audio import AudioChunk, AudioStart
from wyoming.event import Event
from wyoming.satellite import RunSatellite

from satellite.audio_io import MemorySink
from satellite.core import Satellite, SatelliteConfig
from satellite.echo import EchoConfig
from satellite.tones import ToneConfig
from satellite.vad import SpeechDetector, VadConfig
from voice_runtime.clock import ManualClock

VAD = VadConfig(speech_frames_required=3, speech_window=5, silence_frames_required=5, preroll_seconds=0.15,
                settle_seconds=0.0)  # the VAD decision is injected: nothing to settle
# controller_end_seconds: these tests end a streamed question with the satellite's own VAD
# (5 silent frames); the default (2 s, the controller decides) is tested on its own below.
CONFIG = SatelliteConfig(vad=VAD, echo=EchoConfig(enabled=False), tones=ToneConfig(enabled=False),
                         barge_in_min_seconds=0.3, reply_timeout=5.0, controller_end_seconds=5 * VAD.frame_seconds)
REPLY = AudioStart(rate=16000, width=2, channels=1).event()


class QuietMic:
    """A mic that never delivers (the test feeds frames itself)."""

    frame_bytes = VAD.frame_bytes

    def __init__(self) -> None:
        self._never = asyncio.Event()

    async def open(self) -> None:
        return None

    async def read(self) -> bytes:
        await self._never.wait()
        return b""

    async def close(self) -> None:
        return None


class Link:
    """An in-process controller connection that records what the satellite writes to it."""

    def __init__(self, name: str) -> None:
        self.client = name
        self.received: list[Event] = []

    async def write_event(self, event: Event) -> None:
        self.received.append(event)

    def types(self) -> list[str]:
        return [e.type for e in self.received if e.type != "audio-chunk"]


def chunk(ms: int, value: int = 1000) -> Event:
    return AudioChunk(rate=16000, width=2, channels=1, audio=value.to_bytes(2, "little", signed=True) * 16 * ms).event()


@contextlib.asynccontextmanager
async def running(config: SatelliteConfig) -> AsyncIterator[Satellite]:
    satellite = Satellite(config, QuietMic(), MemorySink(16000), clock=ManualClock())
    satellite.detector = SpeechDetector(config.vad, is_speech=lambda frame: frame[0] == 1)
    await satellite.start()
    try:
        yield satellite
    finally:
        await satellite.stop()


@pytest.fixture(name="sat")
async def sat_fixture() -> AsyncIterator[Satellite]:
    async with running(CONFIG) as satellite:
        yield satellite


def feed(sat: Satellite, pattern: str) -> bytes:
    """'v' voiced, '.' silent; returns what the speaker played meanwhile."""
    played = b""
    for c in pattern:
        frame = (b"\x01" if c == "v" else b"\x00") + bytes(VAD.frame_bytes - 1)
        out = sat.playback.next_frame()
        played += out
        sat.process_frame(frame, out)
    return played


async def attach(sat: Satellite, name: str = "ha") -> Link:
    link = Link(name)
    await sat.on_controller_event(link, RunSatellite().event())
    return link
