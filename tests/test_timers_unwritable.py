"""A timer that cannot be saved is not claimed as set: the user hears so, the satellite gets an
``error``, the turn is logged as failed (here ``--data-dir`` is under a file: as root a read-only
folder cannot be faked with chmod). Real speech-to-text and text-to-speech (the
wyoming-faster-whisper and wyoming-piper peers), a scripted satellite. Before: the link logged "turn
1 could not reach the satellite: [Errno 20] Not a directory", sent nothing more, and a real
satellite waited out its 45 s thinking timeout in silence; then (s13) it got ``turn-failed``, heard
nothing, and the orchestrator logged "turn ok"."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from test_orchestrator_satellite import Script, satellite
from test_timers_satellite import serving
from wyoming.error import Error
from wyoming.event import Event

from orchestrator.intents import IntentRecognizer
from orchestrator.pipeline import Pipeline
from orchestrator.services import ServicePool
from orchestrator.timers import TimerManager
from voice_runtime.clock import ManualClock
from voice_runtime.procs import ServiceProcess


async def test_a_turn_that_fails_in_the_orchestrator_ends_with_an_error_to_the_satellite(
    peers: tuple[ServiceProcess, ServiceProcess],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    whisper, piper = peers
    caplog.set_level(logging.INFO, logger="orchestrator")
    (tmp_path / "a-file").write_text("not a folder")
    clock = ManualClock()
    timers = TimerManager(tmp_path / "a-file" / "data", clock=clock, wall=lambda: 1_800_000_000.0 + clock.now())
    pipeline = Pipeline(
        ServicePool("asr", [whisper.uri]),
        ServicePool("handle", []),
        ServicePool("tts", [piper.uri]),
        intents=IntentRecognizer(timers=timers),
    )
    script = Script(["Set a timer for two minutes."])
    script.received = errors = _Watched("error")
    async with satellite(script) as sat, serving(sat.port or 0, pipeline, timers) as link:
        turns = await asyncio.wait_for(link.wait_turns(1), 60)
        await asyncio.wait_for(errors.seen.wait(), 10)  # the satellite hears that the turn ended
    types = [e.type for e in script.received]
    assert "transcript" in types and types.index("error") > types.index("transcript"), types
    error = Error.from_event(script.received[types.index("error")])
    assert error.code == "timer-not-saved" and "Not a directory" in error.text, error
    assert "audio-chunk" in types[: types.index("error")], types  # "I couldn't save the timer" is said first
    assert turns[0].transcript == "Set a timer for two minutes."
    assert turns[0].error is not None and turns[0].error.code == "timer-not-saved"
    assert timers.timers(link.owner) == []  # not claimed as set
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("turn ")]
    assert any(m.startswith("turn timer-not-saved") for m in logged), logged
    assert not any(m.startswith("turn ok") for m in logged), logged


class _Watched(list[Event]):
    """The scripted satellite's received events; ``seen`` is set once one of type ``kind`` arrives."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.seen = asyncio.Event()

    def append(self, event: Event) -> None:
        super().append(event)
        if event.type == self.kind:
            self.seen.set()
