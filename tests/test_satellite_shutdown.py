"""A stop that lands while the microphone is closing still closes the speaker.

Seen in session 10 with ``gc.freeze``: the room closed the mic FIFO (the mic loop ended and began
closing it) and SIGTERM's ``stop()`` cancelled the loop 2-3 ms later, inside ``mic.close()``. The
speaker's close was skipped, so a WAV speaker's header still counted only its first frame (the
file read as 30 ms long); without the freeze, a garbage collection at exit had hidden it.
"""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

from wyoming.satellite import RunSatellite

from satellite.audio_io import WavSink
from satellite.core import Satellite, SatelliteConfig

FRAMES = 40


class EndingMic:
    """Gives ``FRAMES`` silent frames, then ends; its close waits until the test lets it go."""

    frame_bytes = 960

    def __init__(self) -> None:
        self.left = FRAMES
        self.closing = asyncio.Event()
        self.release = asyncio.Event()

    async def open(self) -> None:
        return None

    async def read(self) -> bytes:
        if self.left == 0:
            raise EOFError
        self.left -= 1
        return bytes(self.frame_bytes)

    async def close(self) -> None:
        self.closing.set()
        await self.release.wait()  # the stop's cancel lands here


class Link:
    client = "test"

    async def write_event(self, event: object) -> None:
        return None


async def test_a_stop_during_the_mics_close_still_closes_the_speaker(tmp_path: Path) -> None:
    path = tmp_path / "speaker.wav"
    mic = EndingMic()
    satellite = Satellite(SatelliteConfig(), mic, WavSink(str(path), 16000))
    await satellite.start()
    await satellite.on_controller_event(Link(), RunSatellite().event())  # arms the mic loop
    await mic.closing.wait()
    await satellite.stop()
    assert satellite.stopped.is_set()
    with wave.open(str(path), "rb") as wav:  # the header counts every frame the speaker was given
        assert wav.getnframes() == FRAMES * mic.frame_bytes // 2
