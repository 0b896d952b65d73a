"""A turn's audio at the microphone's pace and a sink for the pipeline's events (the weak-reply
bench and the pipeline stack tests feed ``Pipeline.run_turn`` with them)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from wyoming.audio import AudioChunk
from wyoming.event import Event


class Events:
    """Collects what the pipeline sends the satellite."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def event(self, event: Event) -> None:
        self.events.append(event)


async def chunks(pcm: bytes) -> AsyncIterator[AudioChunk]:
    """30 ms chunks at the microphone's pace, as the satellite sends them (the end of turn is
    decided as the audio comes; all at once, whisper would see the silence pass its cap first)."""
    loop = asyncio.get_running_loop()
    begin = loop.time()
    for n, i in enumerate(range(0, len(pcm), 960)):
        yield AudioChunk(16000, 2, 1, pcm[i : i + 960])
        await asyncio.sleep(max(0.0, begin + (n + 1) * 0.03 - loop.time()))  # pacing, not sync
