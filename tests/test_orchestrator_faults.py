"""Engine servers dying mid-turn: the turn ends with an error, the next uses a replica, and a
restarted server is used again without restarting the orchestrator. Real processes (the
wyoming-faster-whisper and wyoming-piper peers), killed with SIGKILL."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from helpers import long_answer_intents
from peers import start_peer_piper
from speech import speak
from test_orchestrator_peers import chunks
from wyoming.audio import AudioChunk
from wyoming.event import Event

from orchestrator.intents import NO_HOME_REPLY, IntentRecognizer
from orchestrator.pipeline import Pipeline
from orchestrator.services import ServicePool
from orchestrator.wavio import WavSink
from voice_runtime.faultproxy import FaultProxy
from voice_runtime.procs import ServiceProcess


class KillOnFirstAudio(WavSink):
    """A sink that SIGKILLs a server as soon as the first reply audio arrives."""

    def __init__(self, victim: ServiceProcess) -> None:
        super().__init__()
        self.victim = victim
        self.killed = False

    async def event(self, event: Event) -> None:
        if AudioChunk.is_type(event.type) and not self.killed:
            # Once: returncode is set only when asyncio's watcher has reaped the child, and a second
            # send_signal polls (reaps) it first, so the watcher then reports 255 instead of -9.
            self.killed = True
            self.victim.proc.send_signal(signal.SIGKILL)
        await super().event(event)


def audio(text: str) -> AsyncIterator[AudioChunk]:
    return chunks(speak(text))


LONG_ANSWER = " ".join(f"Rule number {n}: keep the door closed and the lights off when you leave the room."
                       for n in ("one", "two", "three", "four", "five", "six", "seven", "eight"))


async def test_tts_killed_mid_turn_then_replica_takes_over(
    peers: tuple[ServiceProcess, ServiceProcess], tmp_path: Path,
) -> None:
    whisper, _ = peers
    first = await start_peer_piper()
    second = await start_peer_piper()
    # A slow link keeps the first reply streaming when its server dies.
    slow = FaultProxy("127.0.0.1", first.port, mode="delay", delay=0.05)
    await slow.start()
    tts = ServicePool("tts", [slow.uri, second.uri], cooldown=60, warm=False)
    pipeline = Pipeline(ServicePool("asr", [whisper.uri]), ServicePool("handle", []), tts,
                        intents=long_answer_intents(tmp_path, LONG_ANSWER))
    try:
        killed = await pipeline.run_turn(audio("Tell me the house rules."), KillOnFirstAudio(first),
                                         conversation_id="f")
        assert killed.error is not None and killed.error.code == "tts-failed"
        assert killed.audio_bytes > 0  # it failed mid-reply, after audio went out: no retry
        # reaped by asyncio's child watcher a moment after its sockets closed: wait, do not race it
        assert await asyncio.wait_for(first.proc.wait(), 30) == -signal.SIGKILL

        sink = WavSink()
        next_turn = await pipeline.run_turn(audio("Turn off the hallway light."), sink, conversation_id="f")
        assert next_turn.error is None and next_turn.reply == NO_HOME_REPLY
        assert sink.seconds > 0.5
    finally:
        await slow.stop()
        await first.stop()
        await second.stop()
        await pipeline.close()


async def test_only_server_down_gives_services_unavailable_then_recovers(
    peers: tuple[ServiceProcess, ServiceProcess],
) -> None:
    whisper, _ = peers
    piper = await start_peer_piper()
    port = piper.port
    pipeline = Pipeline(ServicePool("asr", [whisper.uri]), ServicePool("handle", []),
                        ServicePool("tts", [piper.uri], cooldown=0.0), intents=IntentRecognizer())
    try:
        await piper.stop(signal.SIGKILL)
        sink = WavSink()
        down = await pipeline.run_turn(audio("Turn on the hallway light."), sink, conversation_id="g")
        assert down.error is not None and down.error.code == "services-unavailable"
        errors = [e for e in sink.events if e.type == "error"]
        assert errors and errors[0].data["code"] == "services-unavailable"

        restarted = await start_peer_piper(port)
        try:
            back = await pipeline.run_turn(audio("Turn on the hallway light."), WavSink(), conversation_id="g")
            assert back.error is None and back.audio_bytes > 0
        finally:
            await restarted.stop()
    finally:
        await piper.stop()
        await pipeline.close()


async def test_asr_replica_takes_over_when_the_first_is_dead(
    peers: tuple[ServiceProcess, ServiceProcess],
) -> None:
    whisper, piper = peers
    dead = FaultProxy("127.0.0.1", whisper.port, mode="reset")
    await dead.start()
    pipeline = Pipeline(ServicePool("asr", [dead.uri, whisper.uri], warm=False), ServicePool("handle", []),
                        ServicePool("tts", [piper.uri]), intents=IntentRecognizer())
    try:
        result = await pipeline.run_turn(audio("What time is it?"), WavSink(), conversation_id="h")
    finally:
        await dead.stop()
        await pipeline.close()
    assert result.error is None and result.intent is not None and result.intent.name == "HassGetCurrentTime"
