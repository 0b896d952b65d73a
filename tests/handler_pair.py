"""A protocol handler driven directly (its own ``preempt``/``handle_event``, no server) over a
real socket pair: the test plays the reader, and reads what the handler writes."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event, async_read_event
from wyoming.info import Info

from voice_runtime.handler import ServiceHandler
from voice_runtime.models import resolve_whisper
from wyoming_whisper.engine import SAMPLE_RATE, EngineConfig, WhisperEngine
from wyoming_whisper.handler import WhisperHandler
from wyoming_whisper.service import WhisperService
from wyoming_whisper.stream import StreamPolicy
from wyoming_whisper.vad import SileroVad

H = TypeVar("H", bound=ServiceHandler)


@contextlib.asynccontextmanager
async def handler_pair(
    make: Callable[[asyncio.StreamReader, asyncio.StreamWriter], H],
) -> AsyncIterator[tuple[H, asyncio.StreamReader]]:
    """``make(reader, writer)`` on one end; yields it and the reader of the other end."""
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    client_reader, client_writer = await asyncio.open_connection(sock=theirs)
    handler = make(reader, writer)
    try:
        yield handler, client_reader
    finally:
        await handler.disconnect()
        for w in (writer, client_writer):
            w.close()
            await w.wait_closed()


@contextlib.asynccontextmanager
async def tiny_whisper(
    vad: SileroVad, policy: StreamPolicy
) -> AsyncIterator[tuple[WhisperHandler, asyncio.StreamReader]]:
    """Our whisper handler on tiny.en (from the packages) with ``vad`` and ``policy``, on a socket pair."""
    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
    service = WhisperService(engine=engine, vad=vad, info=Info, policy=policy)
    async with handler_pair(lambda r, w: WhisperHandler(r, w, service=service)) as pair:
        yield pair


async def read_until(reader: asyncio.StreamReader, event_type: str, timeout: float = 60.0) -> list[Event]:
    """What the handler wrote, up to and including the first ``event_type`` (each event within ``timeout``)."""
    got: list[Event] = []
    while not got or got[-1].type != event_type:
        event = await asyncio.wait_for(async_read_event(reader), timeout)
        assert event is not None, f"closed before {event_type}; got {[e.type for e in got]}"
        got.append(event)
    return got


async def transcribe_stream(whisper: WhisperHandler, reader: asyncio.StreamReader, audio: bytes,
                            context: dict[str, object]) -> list[Event]:
    """``audio`` (16 kHz mono s16le) sent as one transcribe request in 1024-byte chunks, each event
    handled before the next is read (as the runtime reads them); what came back, up to transcript-stop."""
    events = [Transcribe(language="en", vad_sensitivity="default", context=context).event(),
              AudioStart(rate=SAMPLE_RATE, width=2, channels=1).event()]
    events += [AudioChunk(rate=SAMPLE_RATE, width=2, channels=1, audio=audio[i : i + 1024]).event()
               for i in range(0, len(audio), 1024)]
    events.append(AudioStop().event())
    for event in events:
        await whisper.preempt(event)
        await whisper.handle_event(event)
    return await read_until(reader, "transcript-stop")
