"""Each transcript carries its own decode's scores, even when two clients hear the same words at
once and their decodes are batched (the orchestrator asks before a device action heard unsurely).

The scores were once kept by the engine keyed by the transcript's TEXT and read back by the
handler after the decode: two clients whose decodes gave the same text in one batch both got the
last one's. Here the real tiny.en model and the real handler on real sockets; the model's first
call is held (a gate around the service's runner) until both finals wait, so they are decoded
together every time.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any

import numpy as np
from speech import speak
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import async_read_event, async_write_event

from voice_runtime.models import resolve_whisper, silero_vad
from wyoming_whisper.engine import EngineConfig, FloatArray, WhisperEngine
from wyoming_whisper.handler import WhisperHandler
from wyoming_whisper.scheduler import DecodeScheduler
from wyoming_whisper.service import WhisperService
from wyoming_whisper.stream import StreamPolicy
from wyoming_whisper.vad import SileroVad

COMMAND = "Turn on the kitchen light."


def hissy(pcm: bytes) -> bytes:
    """``pcm`` 8 dB down under hiss at -28 dBFS: tiny.en still hears the same text (beam or greedy),
    less surely (measured avg_logprob -0.48 against -0.23 clear)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
    hiss = np.random.default_rng(7).standard_normal(samples.size).astype(np.float32) * 10 ** (-28 / 20)
    return (np.clip(samples * 10 ** (-8 / 20) + hiss, -1, 1) * 32767).astype("<i2").tobytes()


class WatchedScheduler(DecodeScheduler[Any]):
    """The real scheduler, telling the test when two decodes wait."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.two_waiting = asyncio.Event()

    def _next(self, *, waited: bool) -> None:
        if self.waiting >= 2:
            self.two_waiting.set()
        super()._next(waited=waited)


@contextlib.asynccontextmanager
async def serving(service: WhisperService) -> AsyncIterator[int]:
    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await WhisperHandler(reader, writer, service=service).run()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def final(port: int, pcm: bytes) -> Transcript:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for event in [Transcribe(language="en").event(), AudioStart(16000, 2, 1).event(),
                      *(AudioChunk(16000, 2, 1, pcm[i:i + 3200]).event() for i in range(0, len(pcm), 3200)),
                      AudioStop().event()]:
            await async_write_event(event, writer)
        while (got := await async_read_event(reader)) is not None:
            if Transcript.is_type(got.type):
                return Transcript.from_event(got)
        raise AssertionError("the connection ended without a transcript")
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_two_clients_hearing_the_same_words_at_once_each_get_their_own_scores() -> None:
    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
    service = WhisperService(engine=engine, vad=SileroVad(silero_vad()), policy=StreamPolicy(partial_interval=0),
                             info=lambda: None)  # type: ignore[arg-type,return-value]
    gate = threading.Event()
    run = service._run

    def held_first(kind: str, audios: Sequence[FloatArray], language: str | None, waited: bool,
                   prompt: str | None) -> list[Any]:
        gate.wait(60)  # the first call holds the model until both finals wait behind it
        return run(kind, audios, language, waited, prompt)

    scheduler = WatchedScheduler(held_first, batch_key=engine.batch_key)
    service.scheduler = scheduler
    busy = asyncio.create_task(service.scheduler.decode("final", np.zeros(16000, np.float32), "en"))
    try:
        async with serving(service) as port:
            clear = speak(COMMAND)
            both = asyncio.gather(final(port, clear), final(port, hissy(clear)))
            async with asyncio.timeout(60):
                await scheduler.two_waiting.wait()
            gate.set()
            sure, unsure = await both
            assert scheduler.largest_batch == 2  # decoded together
    finally:
        gate.set()
        await busy
        await service.close()
    assert sure.text == unsure.text == COMMAND, (sure.text, unsure.text)
    assert sure.context is not None and unsure.context is not None
    assert unsure.context["avg_logprob"] < sure.context["avg_logprob"] - 0.1, (sure.context, unsure.context)
