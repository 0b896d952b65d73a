"""The orchestrator driving a satellite the way Home Assistant does, against a scripted satellite.

ASR and TTS are the real peers (wyoming-faster-whisper, wyoming-piper); replies come from the
intent fast path, so no LLM is needed here (tests/test_orchestrator_e2e.py covers the LLM).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from peers import start_peer_piper, start_peer_whisper
from speech import speak
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Attribution, Info, Satellite
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.snd import Played

from orchestrator.continuation import ContinuationPolicy
from orchestrator.intents import NO_HOME_REPLY, IntentRecognizer
from orchestrator.pipeline import Pipeline
from orchestrator.satellite_link import LinkConfig, SatelliteLink
from orchestrator.services import ServicePool
from orchestrator.timers import TimerManager
from voice_runtime.faultproxy import FaultProxy
from voice_runtime.handler import ServiceHandler
from voice_runtime.procs import ServiceProcess
from voice_runtime.server import HandlerFactory, ServerConfig, WyomingServer

__all__ = ["start_peer_piper", "start_peer_whisper"]
ATTR = Attribution("tests", "")
INFO = Info(satellite=Satellite(name="scripted", description="scripted satellite", attribution=ATTR,
                                installed=True, version="1", area="Lab", has_vad=True))


@dataclass
class Script:
    """What the scripted satellite says, and everything it heard."""

    utterances: list[str]
    barge_in_on_first_audio: bool = False
    received: list[Event] = field(default_factory=list)
    arrived: list[str] = field(default_factory=list)  # event types in the order they hit the socket
    marks: dict[str, int] = field(default_factory=dict)  # name -> index into received
    connections: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    drop_first_connection: bool = False

    def __post_init__(self) -> None:
        for text in self.utterances:
            speak(text)  # synthesise now: the satellite's event loop must not stall mid-test


class ScriptedSatellite(ServiceHandler):
    script: Script
    end_stage: PipelineStage = PipelineStage.TTS  # where each run-pipeline it sends ends

    async def preempt(self, event: Event) -> None:
        self.script.arrived.append(event.type)

    async def handle_event(self, event: Event) -> bool:
        s = self.script
        if event.type == "run-satellite":
            s.connections += 1
            if s.drop_first_connection and s.connections == 1:
                return False  # the link must reconnect
            await self._say(s.utterances[0])
            return True
        if event.type == "ping":
            return True
        s.received.append(event)
        if event.type == "audio-chunk" and s.barge_in_on_first_audio and "barge" not in s.marks:
            await self._say(s.utterances[1], barge=True)
        elif event.type == "audio-stop":
            await self.write_event(Played().event())
            if not s.barge_in_on_first_audio or "barge" in s.marks:
                s.done.set()
        return True

    async def _say(self, text: str, barge: bool = False) -> None:
        pcm = speak(text)
        await self.write_event(RunPipeline(start_stage=PipelineStage.ASR, end_stage=self.end_stage).event())
        if barge:
            self.script.marks["barge"] = len(self.script.arrived)
        await self.write_event(AudioStart(16000, 2, 1).event())
        for i in range(0, len(pcm), 640):
            await self.write_event(AudioChunk(16000, 2, 1, pcm[i:i + 640]).event())
            await asyncio.sleep(0)  # like a real mic stream, let the reader see what arrives
        await self.write_event(AudioStop().event())


def assert_clean_cut(script: Script, first_reply_bytes: int) -> None:
    """After the barge-in the first reply stops: only chunks already in flight arrive, it never
    gets its audio-stop, and nothing of it interleaves with the second turn."""
    after = script.arrived[script.marks["barge"]:]
    start = after.index("voice-started")
    assert set(after[:start]) <= {"audio-chunk"}, after[:start]
    second = after[start:]
    assert second[:3] == ["voice-started", "voice-stopped", "transcript"], second[:6]
    audio_start = second.index("audio-start")
    assert set(second[audio_start + 1:-1]) <= {"audio-chunk"} and second[-1] == "audio-stop", second
    assert second.count("audio-start") == 1
    assert first_reply_bytes > 0


@contextlib.asynccontextmanager
async def serving(factory: HandlerFactory) -> AsyncIterator[WyomingServer]:
    """A scripted satellite's server on a free loopback port (``factory`` makes each handler)."""
    server = WyomingServer(ServerConfig(uri="tcp://127.0.0.1:0"), factory)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def satellite(script: Script) -> AsyncIterator[WyomingServer]:
    def factory(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> ScriptedSatellite:
        handler = ScriptedSatellite(r, w, info=lambda: INFO)
        handler.script = script
        return handler

    async with serving(factory) as server:
        yield server


NO_CONTINUATION = ContinuationPolicy(window=0)


@contextlib.asynccontextmanager
async def link_to(port: int, pipeline: Pipeline, timers: TimerManager | None = None,
                  **kw: object) -> AsyncIterator[SatelliteLink]:
    """The link as ``serve`` makes it (``timers``: the ringer of the satellite's timers; ``kw``: LinkConfig)."""
    link = SatelliteLink(LinkConfig(f"tcp://127.0.0.1:{port}", **kw), pipeline,  # type: ignore[arg-type]
                         timers=timers)
    task = asyncio.create_task(link.run())
    try:
        yield link
    finally:
        await link.stop()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        await pipeline.close()


async def test_barge_in_stops_reply_audio_within_one_chunk_and_closes_tts(
    peers: tuple[ServiceProcess, ServiceProcess],
) -> None:
    whisper, piper = peers
    # A slow link to the TTS keeps the first reply streaming when the user barges in.
    tts_proxy = FaultProxy("127.0.0.1", piper.port, mode="delay", delay=0.05)
    await tts_proxy.start()
    pipeline = Pipeline(ServicePool("asr", [whisper.uri], warm=False), ServicePool("handle", []),
                        ServicePool("tts", [tts_proxy.uri], warm=False), intents=IntentRecognizer())
    script = Script(["Turn off the bedroom lamp.", "What time is it?"], barge_in_on_first_audio=True)
    try:
        # At the reply's first audio, new speech would continue the question: here it is a barge-in.
        async with satellite(script) as sat, link_to(sat.port or 0, pipeline, continuation=NO_CONTINUATION) as link:
            await asyncio.wait_for(script.done.wait(), 120)
            turns = await asyncio.wait_for(link.wait_turns(2), 30)
            open_tts = len(tts_proxy._writers) // 2
    finally:
        await tts_proxy.stop()
    first, second = turns
    assert first.cancelled and "lamp" in first.transcript.lower()
    assert not second.cancelled and second.intent is not None and second.intent.name == "HassGetCurrentTime"
    assert_clean_cut(script, first.audio_bytes)
    # The first reply's TTS connection was closed; nothing is left open.
    assert open_tts == 0
    assert tts_proxy.connections == 2
    assert [s for (_, _, s) in link.machine.history][-1].value == "idle"


async def test_link_reconnects_after_the_satellite_drops(peers: tuple[ServiceProcess, ServiceProcess]) -> None:
    whisper, piper = peers
    pipeline = Pipeline(ServicePool("asr", [whisper.uri]), ServicePool("handle", []),
                        ServicePool("tts", [piper.uri]), intents=IntentRecognizer())
    script = Script(["Switch on the porch light."], drop_first_connection=True)
    async with satellite(script) as sat, link_to(sat.port or 0, pipeline, reconnect_delay=0.2) as link:
        await asyncio.wait_for(script.done.wait(), 120)
        turns = await asyncio.wait_for(link.wait_turns(1), 30)
    assert script.connections == 2
    # tiny.en sometimes hears "porch slide": the intent and the room are what matter here.
    assert turns[0].intent is not None and turns[0].intent.name == "HassTurnOn"
    assert turns[0].reply == NO_HOME_REPLY  # no home connected: never a confirmation
    types = [e.type for e in script.received]
    assert "transcript" in types and "synthesize" in types and types[-1] == "audio-stop"
