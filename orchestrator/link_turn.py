"""One turn as :class:`orchestrator.satellite_link.SatelliteLink` holds it: the satellite's audio
queued for the pipeline (bounded; the oldest chunk dropped when a stalled pipeline lets it fill),
the question's audio kept for a continuation (:mod:`orchestrator.continuation`), and the turn's
output to the satellite, gated so that nothing more of a cancelled turn goes out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from wyoming.audio import AudioChunk
from wyoming.event import Event
from wyoming.pipeline import RunPipeline

from voice_runtime.clock import Clock

from .continuation import ContinuationPolicy, HeardAudio, TurnTrack
from .services import Connection
from .turn import TurnResult

AUDIO_QUEUE_CHUNKS = 3000  # ~60 s of 20 ms chunks; when full the oldest chunk is dropped


class LinkOut:
    """A turn's output to the satellite, gated: once a barge-in cancels the turn, nothing more
    of it goes out, even from stream tasks that have not yet seen their cancellation."""

    def __init__(self, conn: Connection, turn: LinkTurn, clock: Clock) -> None:
        self.conn = conn
        self.turn = turn
        self.clock = clock

    async def event(self, event: Event) -> None:
        if self.turn.cancel_requested:
            if AudioChunk.is_type(event.type):
                self.turn.suppressed_chunks += 1
            return
        await self.conn.send(event)
        seconds = 0.0
        if AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            seconds = len(chunk.audio) / max(1, chunk.rate * chunk.width * chunk.channels)
        self.turn.track.sent(event.type, self.clock.now(), seconds)


class LinkTurn:
    def __init__(
        self,
        number: int,
        stage: RunPipeline,
        policy: ContinuationPolicy | None = None,
        prefix: HeardAudio | None = None,
    ) -> None:
        policy = policy or ContinuationPolicy()
        self.number = number
        self.stage = stage
        self.audio: asyncio.Queue[AudioChunk | None] = asyncio.Queue(maxsize=AUDIO_QUEUE_CHUNKS)
        self.track = TurnTrack(policy)
        # The audio of the question (with the earlier part of a continued one), kept for a continuation.
        self.heard = HeardAudio(max_seconds=policy.max_audio_seconds, max_gap=policy.max_gap_seconds, prefix=prefix)
        for piece in self.heard.pieces():
            self.audio.put_nowait(piece)
        self.task: asyncio.Task[TurnResult] | None = None
        self.result = TurnResult()
        self.dropped = 0
        self.cancel_requested = False
        self.suppressed_chunks = 0
        self.recorded = False  # in the link's turn records (once, by the task or by its cancel)

    def put(self, item: AudioChunk | None) -> None:
        if item is not None and (item := self.heard.add(item)) is None:
            return  # already held: the pre-roll of a continuation repeating the first part
        if self.audio.full():
            self.audio.get_nowait()  # drop the oldest: the policy for a stalled pipeline
            self.dropped += 1
        self.audio.put_nowait(item)

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        while (item := await self.audio.get()) is not None:
            yield item


def checked_chunk(chunk: AudioChunk) -> AudioChunk:
    """``chunk`` if its format can be used; ValueError (answered with ``bad-event``) if not."""
    fmt = (chunk.rate, chunk.width, chunk.channels)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in fmt) or chunk.width > 4:
        raise ValueError(f"bad audio format {fmt!r}")
    if not isinstance(chunk.audio, bytes):
        raise ValueError("audio-chunk without a payload")
    return chunk
