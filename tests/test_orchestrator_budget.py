"""Timeouts that fit and a fast fallback (issue 14), on our real engines (``stack``).

* A satellite that breaks while the reply streams is not a TTS failure.
* A healthy reply that takes longer than ``tts_timeout`` in all is not cut (the timeout is
  an inactivity timeout).
* An engine down (refused, unreachable, black hole, hung): the satellite gets
  ``services-unavailable``, sends the utterance to its cloud (local fakes) and plays the cloud's
  reply. The timings are measured by ``bench/fallback_bench.py`` (RELIABILITY.md); here the
  waits only bound the test (the previous code took 27–60 s and the satellite gave up at 20 s).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from speech import piper_voice, speak
from stack import Stack
from test_satellite_service import Speech
from wyoming.audio import AudioChunk
from wyoming.event import Event

from bench.fallback_bench import fallback_case
from orchestrator.intents import IntentRecognizer
from orchestrator.pipeline import Pipeline, PipelineConfig
from orchestrator.services import ServicePool
from orchestrator.wavio import WavSink
from voice_runtime.faultproxy import FaultProxy

LONG = ("The front door is locked, the kitchen lights are off, the heating is set to twenty degrees, "
        "the garage door is closed, and the washing machine will finish in about forty minutes. "
        "Tomorrow morning the alarm rings at seven, and the bins go out on Thursday.")


class GoneSatellite:
    """Fault injection: the satellite's socket breaks at the first reply audio."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def event(self, event: Event) -> None:
        if AudioChunk.is_type(event.type):
            raise ConnectionResetError("the satellite went away")
        self.events.append(event)


async def test_a_satellite_write_error_is_not_a_tts_failure(stack: Stack) -> None:
    proxy = FaultProxy("127.0.0.1", stack.tts.port or 0)
    await proxy.start()
    tts = ServicePool("tts", [proxy.uri], warm=False)
    pipeline = Pipeline(ServicePool("asr", []), ServicePool("handle", []), tts)
    try:
        result = await pipeline.announce("The kitchen light is on and the front door is locked.", GoneSatellite())
    finally:
        await pipeline.close()
        await proxy.stop()
    assert result.error is not None and result.error.code == "output-lost"
    assert proxy.connections == 1  # synthesised once: not retried for a client that is gone
    assert tts._replicas[0].down_until == 0.0  # the healthy TTS replica was not marked down


async def test_a_reply_longer_than_the_tts_timeout_is_not_cut(stack: Stack) -> None:
    slow = FaultProxy("127.0.0.1", stack.tts.port or 0, mode="delay", delay=1.25)  # a slow but steady link
    await slow.start()
    tts = ServicePool("tts", [slow.uri], probe_timeout=6.0)  # describe crosses the slow link twice
    # tts_timeout 10 s: no gap between events is that long (2.5 s of link latency before the first),
    # but the whole ~13 s answer takes longer to make and send (the link holds every read 1.25 s; at
    # least 9 reads of 64 KB for ~570 KB of 22 kHz audio), so a whole-reply deadline would cut it.
    # (It was said twice, ~24 s and 25 s of test, then once at 1 s a read, ~15 s, to prove the same.)
    # Not 4 s at 0.5 s a read: the service synthesises its text in runs of up to 120 characters, and
    # at load 8-11 one run took Piper 4.7-5.5 s to make (session 21; 2 of 2 runs failed "nothing for
    # 4s", as CI did at load 9.6): the gap was the CPU, not the link. A run's gap now has 10 s.
    pipeline = Pipeline(ServicePool("asr", []), ServicePool("handle", []), tts,
                        config=PipelineConfig(tts_timeout=10.0))
    sink = WavSink()
    try:
        started = time.monotonic()
        result = await pipeline.announce(LONG, sink)
        took = time.monotonic() - started
    finally:
        await pipeline.close()
        await slow.stop()
    assert took > 10.0, "the reply did not outlast tts_timeout: the test proves nothing"
    assert result.error is None, result.error
    assert [e.type for e in sink.events if e.type in ("audio-start", "audio-stop")] == ["audio-start", "audio-stop"]
    assert sink.seconds > 10, sink.seconds  # the whole answer (~13 s of speech), not a cut


async def test_a_dead_llm_is_found_while_the_user_is_still_speaking(stack: Stack) -> None:
    """The LLM is black-holed: its probe starts with the turn, so by the end of speech the turn
    already knows, and ends with services-unavailable without waiting for a probe then."""
    proxy = FaultProxy("127.0.0.1", stack.llama.port or 0, mode="drop")
    await proxy.start()
    pipeline = Pipeline(ServicePool("asr", [stack.whisper.uri]), ServicePool("handle", [proxy.uri]),
                        ServicePool("tts", [stack.tts.uri]), intents=IntentRecognizer())
    pcm = speak("Why is the sky blue?")
    checked_during_speech = False

    async def mic() -> AsyncIterator[AudioChunk]:
        nonlocal checked_during_speech
        for i in range(0, len(pcm), 640):
            yield AudioChunk(rate=16000, width=2, channels=1, audio=pcm[i:i + 640])
        for _ in range(200):  # the user is still speaking (audio-stop not sent) until the LLM was tried
            if proxy.connections:
                checked_during_speech = True
                break
            await asyncio.sleep(0.05)

    sink = WavSink()
    try:
        result = await pipeline.run_turn(mic(), sink, conversation_id="ready")
    finally:
        await pipeline.close()
        await proxy.stop()
    assert checked_during_speech
    assert result.error is not None and result.error.code == "services-unavailable"
    assert result.audio_bytes == 0 and [e.data["code"] for e in sink.events if e.type == "error"] == [
        "services-unavailable"]


@pytest.fixture(scope="module")
def speech() -> Speech:
    """One Piper voice (and its cache of what it said) for the four fault cases: loading it took
    4.6 s at load 11, once per case before."""
    return Speech(piper_voice())


@pytest.mark.parametrize(("kind", "fault"), [("handle", "black-hole"), ("tts", "hung"), ("asr", "refused"),
                                             ("handle", "unreachable")])
async def test_an_engine_down_sends_the_utterance_to_the_cloud(stack: Stack, speech: Speech, tmp_path: Path,
                                                               kind: str, fault: str) -> None:
    case = await fallback_case(stack, speech, tmp_path, kind, fault)
    assert case.orchestrator_error == "services-unavailable", case
    assert case.local_audio_bytes == 0  # nothing was said locally
    assert case.error_after_end_s is not None and case.cloud_reply_after_end_s is not None, case
    assert case.error_before_cloud_stt
    assert case.cloud_reply_after_end_s > case.error_after_end_s  # the cloud reply follows the error
    assert case.cloud_utterance_bytes > 32000  # the utterance (> 1 s) went to the cloud
