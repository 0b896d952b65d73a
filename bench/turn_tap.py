"""A Wyoming tap between a controller and a satellite: forwards every event both ways unchanged
and keeps what the satellite streamed for each turn (``run-pipeline`` .. ``audio-stop``).

For the room benches: the audio the orchestrator was given for a question is then kept next to
the room's own recordings, so a transcript can be checked against the audio it came from (was
the first word in it? how much of the reply's echo?).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.pipeline import RunPipeline

MAX_TURNS = 200
MAX_TURN_BYTES = 16000 * 2 * 60  # a minute of 16 kHz audio per turn; the rest is not kept


@dataclass
class TappedTurn:
    started: float  # time.monotonic() when the satellite's run-pipeline passed the tap
    start_ms: int | None = None  # the audio-start's timestamp (the satellite's mic stream, ms)
    audio: bytearray = field(default_factory=bytearray)
    ended: float | None = None  # time.monotonic() of its audio-stop


class TurnTap:
    """``await start()`` listens on a free port; a controller connects there instead of the satellite."""

    def __init__(self, satellite_host: str, satellite_port: int) -> None:
        self.target = (satellite_host, satellite_port)
        self.turns: list[TappedTurn] = []
        self._server: asyncio.Server | None = None
        self._pumps: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._connected, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._pumps):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                await task

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sat_reader, sat_writer = await asyncio.open_connection(*self.target)
        down = asyncio.create_task(self._pump(reader, sat_writer, watch=False))
        up = asyncio.create_task(self._pump(sat_reader, writer, watch=True))
        self._pumps |= {down, up}
        try:
            await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (down, up):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                    await task
                self._pumps.discard(task)
            for w in (writer, sat_writer):
                w.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, watch: bool) -> None:
        while (event := await async_read_event(reader)) is not None:
            if watch:
                self._watch(event)
            await async_write_event(event, writer)

    def _watch(self, event: Event) -> None:
        now = time.monotonic()
        if RunPipeline.is_type(event.type):
            if len(self.turns) < MAX_TURNS:
                self.turns.append(TappedTurn(started=now))
            return
        turn = self.turns[-1] if self.turns and self.turns[-1].ended is None else None
        if turn is None:
            return
        if AudioStart.is_type(event.type):
            turn.start_ms = AudioStart.from_event(event).timestamp
        elif AudioChunk.is_type(event.type) and len(turn.audio) < MAX_TURN_BYTES:
            turn.audio += AudioChunk.from_event(event).audio
        elif AudioStop.is_type(event.type):
            turn.ended = now
