"""The cloud fallback when the cloud misbehaves: 5xx answers, no answer at all, a slow first
byte, and ``local_retry_seconds`` above 0 (the cloud is used for a while after the controller
reported ``services-unavailable``, then the controller again).

The satellite runs in this process on a ManualClock with the VAD decision injected (as in
test_satellite_core); the cloud is the local fakes of test_satellite_cloud (FakeDeepgram,
FakeDeepSeek) with a :class:`Fault` per path. Each failed turn must end cleanly (the
satellite listens again, a log line names the stage and the cause, never a key) and the
next turn must work.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from satellite_harness import CONFIG, QuietMic, attach, feed
from test_satellite_cloud import (
    DEEPGRAM_KEY,
    DEEPSEEK_KEY,
    FakeDeepgram,
    FakeDeepSeek,
    Fault,
    speech,
)
from test_satellite_service import Speech
from wyoming.error import Error

from satellite.audio_io import MemorySink
from satellite.cloud import CloudAssistant, CloudConfig
from satellite.core import Satellite
from satellite.state import TurnState
from satellite.vad import SpeechDetector
from voice_runtime.clock import ManualClock

__all__ = ["speech"]
QUESTION = "..vvvvv......"  # speech, then enough silence to end it


@contextlib.asynccontextmanager
async def cloud_satellite(
    speech: Speech, *, timeout: float = 5.0, local_retry_seconds: float = 0.0,
) -> AsyncIterator[tuple[Satellite, FakeDeepgram, FakeDeepSeek]]:
    async with FakeDeepgram(speech) as deepgram, FakeDeepSeek() as deepseek:
        cloud = CloudAssistant(CloudConfig(deepgram_key=DEEPGRAM_KEY, deepseek_key=DEEPSEEK_KEY,
                                           deepgram_url=deepgram.url, deepseek_url=f"{deepseek.url}/v1",
                                           timeout=timeout))
        config = dataclasses.replace(CONFIG, local_retry_seconds=local_retry_seconds)
        sat = Satellite(config, QuietMic(), MemorySink(16000), cloud=cloud, clock=ManualClock())
        sat.detector = SpeechDetector(config.vad, is_speech=lambda frame: frame[0] == 1)
        await sat.start()
        try:
            yield sat, deepgram, deepseek
        finally:
            await sat.stop()


async def cloud_turn(sat: Satellite) -> bytes:
    """Say the question, wait for the cloud turn to finish, play what it answered; the audio heard."""
    feed(sat, QUESTION)
    task = sat._cloud_task
    assert task is not None, sat.state
    await asyncio.wait_for(asyncio.wait({task}), 60)
    played = b""
    for _ in range(2000):  # drain the reply (a 30 ms frame per call)
        if sat.state == TurnState.LISTENING:
            break
        played += feed(sat, ".")
    assert sat.state == TurnState.LISTENING
    return played


FAULTS = {
    "stt 503": ("/v1/listen", Fault(status=503, times=1), "stt: HTTP 503"),
    "chat 502": ("/v1/chat/completions", Fault(status=502, times=1), "chat: HTTP 502"),
    "tts 500": ("/v1/speak", Fault(status=500, times=1), "tts: HTTP 500"),
    "stt hangs": ("/v1/listen", Fault(hang=True, times=1), "stt: timed out"),
    "chat hangs": ("/v1/chat/completions", Fault(hang=True, times=1), "chat: timed out"),
    "tts first byte too slow": ("/v1/speak", Fault(delay=3.0, times=1), "tts: timed out"),
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_a_failing_cloud_ends_the_turn_cleanly_and_the_next_turn_works(
    speech: Speech, caplog: pytest.LogCaptureFixture, fault: tuple[str, Fault, str],
) -> None:
    path, injected, logged = fault
    caplog.set_level(logging.INFO, logger="satellite")
    async with cloud_satellite(speech, timeout=1.0) as (sat, deepgram, deepseek):
        server = deepseek if path.startswith("/v1/chat") else deepgram
        server.faults[path] = injected
        assert not await cloud_turn(sat)  # nothing was played, the satellite listens again
        assert injected.times == 0 and sat.turns == 1
        assert any(r.levelno == logging.ERROR and f"cloud turn failed: {logged}" in r.getMessage()
                   for r in caplog.records), [r.getMessage() for r in caplog.records]
        heard = await cloud_turn(sat)  # the fault is spent: a whole reply
        assert sat.turns == 2 and len(deepgram.spoken) >= 2
        assert deepgram.spoken[-1] in heard
    assert not any(DEEPGRAM_KEY in r.getMessage() or DEEPSEEK_KEY in r.getMessage() for r in caplog.records)


async def test_a_slow_first_byte_within_the_timeout_is_waited_for(speech: Speech) -> None:
    async with cloud_satellite(speech, timeout=5.0) as (sat, deepgram, deepseek):
        deepgram.faults["/v1/listen"] = Fault(delay=0.5, times=1)
        deepseek.faults["/v1/chat/completions"] = Fault(delay=0.5, times=1)
        deepgram.faults["/v1/speak"] = Fault(delay=0.5, times=1)
        heard = await cloud_turn(sat)
    assert [json_text(r.body) for r in deepgram.tts()] == ["It is noon.", "Have a nice day."]
    assert all(audio in heard for audio in deepgram.spoken)


def json_text(body: bytes) -> str:
    return str(httpx.Response(200, content=body).json()["text"])


async def test_local_retry_seconds_keeps_turns_in_the_cloud_then_tries_the_controller(speech: Speech) -> None:
    async with cloud_satellite(speech, local_retry_seconds=10.0) as (sat, deepgram, _):
        clock = sat.clock
        assert isinstance(clock, ManualClock)
        link = await attach(sat)
        feed(sat, "..vvv")  # a local turn: streamed to the controller
        await sat.on_controller_event(link, Error(text="all down", code="services-unavailable").event())
        heard = await cloud_turn(sat)  # the same utterance, answered by the cloud
        assert len(deepgram.stt()) == 1 and deepgram.spoken[-1] in heard
        clock.advance(9.9)  # still within local_retry_seconds: the cloud, the controller is not asked
        await cloud_turn(sat)
        assert len(deepgram.stt()) == 2
        await sat.flush()
        assert link.types().count("run-pipeline") == 1
        clock.advance(0.2)  # 10.1 s on: the controller again
        feed(sat, QUESTION)
        await sat.flush()
        assert link.types()[-3:] == ["run-pipeline", "audio-start", "audio-stop"]
        assert link.types().count("run-pipeline") == 2 and len(deepgram.stt()) == 2
        assert sat.state == TurnState.WAITING  # for the controller's reply


async def test_an_assert_in_a_fake_route_fails_the_test_at_once() -> None:
    """Not after a timeout: the route's failure cancels the waiting test and is raised as its cause."""

    async def broken(request: object, writer: asyncio.StreamWriter) -> None:
        raise AssertionError("the fake saw a bad request")

    with pytest.raises(AssertionError, match="the fake saw a bad request"):
        async with FakeDeepSeek() as fake:
            fake.routes["/v1/chat/completions"] = broken
            async with httpx.AsyncClient() as http:
                await http.post(f"{fake.url}/v1/chat/completions", json={})
                await asyncio.Event().wait()  # a test waiting for a reply that never comes
