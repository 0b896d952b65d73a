"""The seed's retry schedules as the services run them, stepped on a ManualClock.

TTS: 2 retries, 0.5 s apart, in the TTS server (``wyoming_kokoro``'s engine calls, real Piper
with injected failures) and in the orchestrator (``FakeDroppingService``: answers describe, drops the request).
The LLM's 1/2/4 s is in tests/test_llama_openai.py. Each step checks the attempt count when
the wait starts, that half the wait is not enough, and that the whole wait is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from wyoming.audio import AudioChunk
from wyoming.event import Event

from orchestrator.pipeline import Pipeline, PipelineConfig
from orchestrator.services import ServicePool
from voice_runtime.clock import ManualClock
from voice_runtime.models import resolve_piper
from wyoming_kokoro.engine import EngineError, Samples
from wyoming_kokoro.pipeline import Reply, ReplyOptions
from wyoming_kokoro.piper_engine import PiperEngine
from wyoming_kokoro.synthesizer import Synthesizer


async def step_through(clock: ManualClock, schedule: tuple[float, ...], attempts: list[int] | None = None) -> None:
    """Wait for each sleep of ``schedule`` in turn and let exactly its duration pass."""
    for n, expected in enumerate(schedule, start=1):
        assert await asyncio.wait_for(clock.next_sleep(), 60) == expected
        if attempts is not None:
            assert attempts[0] == n  # the failed attempt came before the wait, and only one
        clock.advance(expected / 2)
        assert clock.sleeping == 1  # not a moment early
        clock.advance(expected / 2)
        assert clock.sleeping == 0


def failing_piper(failures: int) -> tuple[PiperEngine, list[int]]:
    """Real Piper whose first ``failures`` calls raise EngineError; ``attempts[0]`` counts calls."""
    engine = PiperEngine({"joe": resolve_piper()})
    attempts = [0]
    synthesize = engine.synthesize

    def flaky(text: str, voice: str, speaker: str | None = None) -> Iterator[Samples]:
        attempts[0] += 1
        if attempts[0] <= failures:
            raise EngineError(f"injected failure {attempts[0]}")
        return synthesize(text, voice, speaker)

    engine.synthesize = flaky  # type: ignore[method-assign]
    return engine, attempts


@pytest.mark.parametrize("failures", [2, 3])
async def test_tts_server_retries_an_engine_call_twice_half_a_second_apart(failures: int) -> None:
    engine, attempts = failing_piper(failures)
    clock = ManualClock()
    events: list[Event] = []
    errors: list[str] = []

    async def write(event: Event) -> None:
        events.append(event)

    async def send_error(code: str, text: str) -> None:
        errors.append(code)

    reply = Reply(Synthesizer(engine), engine.voices()[0], None, streaming=False, write=write,
                  send_error=send_error, options=ReplyOptions(clock=clock))
    await reply.feed("Hello there.")
    await reply.finish()
    await step_through(clock, (0.5, 0.5), attempts)
    await asyncio.wait_for(reply.wait(), 60)
    assert clock.slept == [0.5, 0.5] and clock.now() == 1.0
    if failures == 2:  # the third attempt speaks
        assert attempts[0] == 3 and errors == []
        assert sum(len(AudioChunk.from_event(e).audio) for e in events if AudioChunk.is_type(e.type)) > 8000
    else:  # spent: an error, no audio
        assert attempts[0] == 3 and errors == ["synthesis-failed"]
        assert not any(AudioChunk.is_type(e.type) for e in events)


class Collect:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def event(self, event: Event) -> None:
        self.events.append(event)


async def test_orchestrator_retries_tts_twice_half_a_second_apart() -> None:
    fake = FakeDroppingService("synthesize")
    uri = await fake.start()
    clock = ManualClock()
    tts = ServicePool("tts", [uri], warm=False)
    pipeline = Pipeline(ServicePool("asr", []), ServicePool("handle", []), tts,
                        config=PipelineConfig(retry_clock=clock))
    try:
        announce = asyncio.create_task(pipeline.announce("The oven is hot.", Collect()))
        await step_through(clock, (0.5, 0.5), fake.dropped)
        result = await asyncio.wait_for(announce, 60)
    finally:
        await tts.close()
        await fake.stop()
    assert result.error is not None and result.error.code == "tts-failed"
    assert fake.dropped[0] == 3 and clock.slept == [0.5, 0.5] and clock.now() == 1.0


class FakeDroppingService:
    """A Wyoming service (fault injection) that answers ``describe`` (so the pool's probe passes:
    it is not down) and drops the connection when sent ``drop_on`` (a crash mid-request);
    ``dropped[0]`` counts those requests."""

    def __init__(self, drop_on: str) -> None:
        self.drop_on = drop_on
        self.dropped = [0]
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        from wyoming.event import async_read_event, async_write_event
        from wyoming.info import Info

        info = Info().event()  # an answer to describe is all the probe asks for

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while (event := await async_read_event(reader)) is not None:
                    if event.type == "describe":
                        await async_write_event(info, writer)
                    elif event.type == self.drop_on:
                        self.dropped[0] += 1
                        break
            finally:
                writer.close()

        self._server = await asyncio.start_server(serve, "127.0.0.1", 0)
        return f"tcp://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


async def test_orchestrator_retries_the_conversation_after_1_2_and_4_seconds() -> None:
    """A conversation service that drops the connection mid-request (not one that is down: that
    is services-unavailable at once) is tried 4 times, 1, 2 and 4 s apart, before llm-failed."""
    from orchestrator.pipeline import TurnResult, TurnTimer

    fake = FakeDroppingService("transcript")
    uri = await fake.start()
    clock = ManualClock()
    handle = ServicePool("handle", [uri], warm=False)
    pipeline = Pipeline(ServicePool("asr", []), handle, ServicePool("tts", []), intents=None,
                        config=PipelineConfig(retry_clock=clock))
    result = TurnResult(transcript="Why is the sky blue?")
    try:
        converse = asyncio.create_task(pipeline._converse(result, Collect(), TurnTimer(clock, 0.0), "c1",
                                                          speak=False))
        await step_through(clock, (1.0, 2.0, 4.0), fake.dropped)
        with pytest.raises(Exception) as failed:
            await asyncio.wait_for(converse, 60)
    finally:
        await handle.close()
        await fake.stop()
    assert getattr(failed.value, "code", None) == "llm-failed", failed.value
    assert fake.dropped[0] == 4 and clock.slept == [1.0, 2.0, 4.0]
