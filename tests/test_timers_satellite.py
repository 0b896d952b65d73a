"""A timer set by voice rings the satellite that set it: real speech-to-text and text-to-speech
(the wyoming-faster-whisper and wyoming-piper peers), a scripted satellite, a manual clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from test_orchestrator_satellite import Script, satellite
from wyoming.timer import TimerFinished, TimerStarted

from orchestrator.intents import IntentRecognizer
from orchestrator.pipeline import Pipeline
from orchestrator.satellite_link import LinkConfig, SatelliteLink
from orchestrator.services import ServicePool
from orchestrator.timers import TimerManager
from voice_runtime.clock import ManualClock
from voice_runtime.procs import ServiceProcess


@contextlib.asynccontextmanager
async def serving(port: int, pipeline: Pipeline, timers: TimerManager) -> AsyncIterator[SatelliteLink]:
    link = SatelliteLink(LinkConfig(f"tcp://127.0.0.1:{port}"), pipeline, timers=timers)
    tasks = [asyncio.create_task(link.run()), asyncio.create_task(timers.run())]
    try:
        yield link
    finally:
        await link.stop()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        await pipeline.close()


async def test_a_spoken_timer_rings_the_satellite_and_is_announced(
    peers: tuple[ServiceProcess, ServiceProcess], tmp_path: Path,
) -> None:
    whisper, piper = peers
    clock = ManualClock()
    timers = TimerManager(tmp_path, clock=clock, wall=lambda: 1_800_000_000.0 + clock.now())
    pipeline = Pipeline(ServicePool("asr", [whisper.uri]), ServicePool("handle", []),
                        ServicePool("tts", [piper.uri]), intents=IntentRecognizer(timers=timers))
    script = Script(["Set a timer for two minutes."])
    async with satellite(script) as sat, serving(sat.port or 0, pipeline, timers) as link:
        await asyncio.wait_for(script.done.wait(), 120)
        turns = await asyncio.wait_for(link.wait_turns(1), 30)
        assert turns[0].intent is not None and turns[0].intent.name == "HassStartTimer", turns[0]
        assert turns[0].reply == "Timer set for 2 minutes."
        started = [TimerStarted.from_event(e) for e in script.received if TimerStarted.is_type(e.type)]
        assert len(started) == 1 and started[0].total_seconds == 120
        assert [t.id for t in timers.timers(link.owner)] == [started[0].id]
        before = len(script.received)

        script.done.clear()
        clock.advance(120)
        await asyncio.wait_for(script.done.wait(), 60)  # the announcement's audio-stop
    after = script.received[before:]
    types = [e.type for e in after]
    assert types[0] == "timer-finished" and TimerFinished.from_event(after[0]).id == started[0].id
    assert after[0].data.get("announced") is True  # a satellite with --tts-uri does not say it a second time
    assert "audio-start" in types and types[-1] == "audio-stop"
    assert sum(len(e.payload or b"") for e in after if e.type == "audio-chunk") > 16000  # > 0.5 s spoken
    assert timers.timers(link.owner) == []
