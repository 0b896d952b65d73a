"""Speech that goes on right after a request was acted on (orchestrator.continuation, AFTER_ACTING).

"Lock the front door ... please": the turn ends at the pause, the lock runs, and "please" over
the reply's start cuts it (the satellite now starts a turn for so short a word right after the
question's end: satellite/held.py). Merging is out (the command must not run twice nor be
re-decided on a longer text); before, "please" went to the LLM as a question of its own and the
user never heard what was done. Now it is heard on its own: courtesy gets the acting turn's reply
again; anything else is answered as a new question.

Our orchestrator's link against the scripted satellite of tests/test_orchestrator_satellite.py,
the real peers (wyoming-faster-whisper, wyoming-piper), the intent fast path with real timers as
the command that acts (a timer is set: it must be set once). The window is widened so the test
does not depend on how fast the first reply audio comes on a loaded box (the verdict is tested,
not the window: tests/test_orchestrator_continuation.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import test_orchestrator_satellite
from speech import speak
from test_orchestrator_satellite import Script, assert_clean_cut, link_to, satellite

from orchestrator.continuation import ContinuationPolicy, TurnTrack, Verdict, adds_nothing
from orchestrator.intents import IntentRecognizer
from orchestrator.pipeline import Pipeline
from orchestrator.services import ServicePool
from orchestrator.timers import TimerManager
from orchestrator.turn import TurnResult
from voice_runtime.procs import ServiceProcess

WIDE = ContinuationPolicy(window=60.0, max_reply_seconds=60.0)


async def went_on(peers: tuple[ServiceProcess, ServiceProcess], tmp_path: Path,
                  then: str) -> tuple[TurnResult, TurnResult, int, Script]:
    """"Set a timer for five minutes."; at the reply's first audio the user says ``then``."""
    whisper, piper = peers
    timers = TimerManager(tmp_path)
    pipeline = Pipeline(ServicePool("asr", [whisper.uri], warm=False), ServicePool("handle", []),
                        ServicePool("tts", [piper.uri], warm=False), intents=IntentRecognizer(timers=timers))
    script = Script(["Set a timer for five minutes.", then], barge_in_on_first_audio=True)
    async with satellite(script) as sat, link_to(sat.port or 0, pipeline, timers, continuation=WIDE) as link:
        await asyncio.wait_for(script.done.wait(), 120)
        first, second = await asyncio.wait_for(link.wait_turns(2), 30)
        count = len(timers.timers(link.owner))
    return first, second, count, script


async def test_please_after_an_acted_request_gets_its_reply_again(
    peers: tuple[ServiceProcess, ServiceProcess], tmp_path: Path
) -> None:
    """Before: "Please." was a question of its own (here, with no LLM, a failed turn) and the user
    never heard that the timer was set."""
    first, second, count, script = await went_on(peers, tmp_path, "Please.")
    assert first.acting and first.cancelled and "timer" in first.reply.lower(), first
    assert adds_nothing(second.transcript), second.transcript
    assert second.error is None and second.intent is None, second
    assert second.reply == first.reply  # what was done, said again
    assert count == 1  # set once
    assert_clean_cut(script, first.audio_bytes)


async def test_a_sound_that_is_no_speech_after_an_acted_request_gets_its_reply_again(
    peers: tuple[ServiceProcess, ServiceProcess], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A noise right after the end (the room, session 19: 4 voiced frames of a far, noisy room's
    noise 0.09 s after the end; 6 would have started a turn) that cut the reply: before, the turn
    ended with a no-speech error and the user heard neither the reply nor why."""
    rng = np.random.default_rng(19)
    noise = (rng.normal(0, 300, 8000)).astype("<i2").tobytes()  # 0.5 s at about -40 dBFS

    def sound(text: str) -> bytes:
        return noise if text == "(noise)" else speak(text)

    monkeypatch.setattr(test_orchestrator_satellite, "speak", sound)
    first, second, count, script = await went_on(peers, tmp_path, "(noise)")
    assert first.acting and first.cancelled
    assert second.error is None and second.reply == first.reply, second
    assert count == 1
    assert_clean_cut(script, first.audio_bytes)


async def test_a_new_question_after_an_acted_request_is_answered(
    peers: tuple[ServiceProcess, ServiceProcess], tmp_path: Path
) -> None:
    first, second, count, script = await went_on(peers, tmp_path, "What time is it?")
    assert first.acting and first.cancelled
    assert second.intent is not None and second.intent.name == "HassGetCurrentTime", second
    assert count == 1
    assert_clean_cut(script, first.audio_bytes)  # one transcript for the satellite, one reply


def test_the_verdict_after_acting_keeps_the_window_and_the_reply_heard() -> None:
    track = TurnTrack(ContinuationPolicy(window=1.5, max_reply_seconds=1.0))
    track.sent("voice-stopped", 10.0)
    track.sent("audio-chunk", 10.5, 2.0)
    assert track.decide(10.9, acting=True).verdict is Verdict.AFTER_ACTING
    assert track.decide(11.7, acting=True).verdict is Verdict.NEW  # the window is over
    late = TurnTrack(ContinuationPolicy(window=3.0, max_reply_seconds=1.0))
    late.sent("voice-stopped", 10.0)
    late.sent("audio-chunk", 10.2, 2.0)
    assert late.decide(11.5, acting=True).verdict is Verdict.NEW  # 1.3 s of the reply heard: a barge-in


@pytest.mark.parametrize(("text", "nothing"), [
    ("Please.", True), ("please!", True), ("Thank you.", True), ("Now, please.", True), ("OK.", True),
    ("", False), ("And the back door.", False), ("Please stop.", False), ("Five minutes please.", False),
])
def test_what_adds_nothing(text: str, nothing: bool) -> None:
    assert adds_nothing(text) is nothing
