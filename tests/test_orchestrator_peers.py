"""The orchestrator with wyoming-faster-whisper and wyoming-piper in place of our servers.

A home command is answered by the intent fast path: the conversation service sits behind a
proxy that counts connections, and must never be contacted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from speech import speak, transcribe
from wyoming.audio import AudioChunk

from orchestrator.intents import IntentRecognizer
from orchestrator.pipeline import Pipeline
from orchestrator.services import ServicePool
from orchestrator.wavio import WavSink
from voice_runtime.faultproxy import FaultProxy
from voice_runtime.procs import ServiceProcess, free_port


async def chunks(pcm: bytes) -> AsyncIterator[AudioChunk]:
    for i in range(0, len(pcm), 640):
        yield AudioChunk(16000, 2, 1, pcm[i:i + 640])


async def test_home_command_through_peers_never_calls_the_llm(peers: tuple[ServiceProcess, ServiceProcess]) -> None:
    whisper, piper = peers
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
