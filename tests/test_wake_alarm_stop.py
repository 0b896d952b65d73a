"""A ringing timer stops when the user says "stop" (without the wake word), and no turn starts.

Issue 15: the alarm repeats "until the wake word, 'stop', or 30 s". The satellite has no model
for "stop", so while the alarm rings, speech the VAD accepts silences it (and is not sent
anywhere); without a ringing alarm, speech without the wake word still starts nothing. Real
microWakeWord and WebRTC VAD, Piper speech, frames fed by hand (as in test_satellite_wake).
"""

from __future__ import annotations

from speech import speak
from test_satellite_wake import play, wake_satellite
from wyoming.timer import TimerFinished, TimerStarted

from satellite.state import TurnState


async def test_saying_stop_silences_a_ringing_timer_and_starts_no_turn() -> None:
    async with wake_satellite() as (sat, link):
        await sat.on_controller_event(link, TimerStarted(id="t1", total_seconds=1, name="pasta").event())
        await sat.on_controller_event(link, TimerFinished(id="t1").event())
        play(sat, bytes(3200))
        assert sat.alarm.ringing is not None
        play(sat, speak("Stop.") + bytes(32000))
        await sat.flush()
        assert sat.alarm.ringing is None and sat.state == TurnState.LISTENING
        assert "run-pipeline" not in link.types()
        play(sat, speak("Stop.") + bytes(32000))  # no alarm now: speech without the wake word starts nothing
        await sat.flush()
        assert "run-pipeline" not in link.types() and sat.state == TurnState.LISTENING
        play(sat, speak("Okay Nabu.") + speak("What time is it?") + bytes(80000))  # later, the wake word works
        await sat.flush()
        assert link.types().count("run-pipeline") == 1
