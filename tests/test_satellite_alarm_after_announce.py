"""A timer that finishes while an announcement plays rings its whole time after the announcement.

Session 19's Home Assistant rig: HA's timer-finished came during an announcement; the satellite
counted the alarm's time from timer-finished, so with a short alarm time the beeps had ended (or
never started) by the time the announcement was over. The turn driver runs as in
test_satellite_announce (frames by hand, ManualClock advanced one frame per frame here).
"""

from __future__ import annotations

import dataclasses

from satellite_harness import CONFIG, attach, feed, running
from test_satellite_announce import announce, rings, sine
from wyoming.timer import TimerFinished

from satellite.core import Satellite
from satellite.timers import AlarmConfig
from satellite.tones import ToneConfig
from voice_runtime.clock import ManualClock

SHORT = dataclasses.replace(CONFIG, alarm=AlarmConfig(seconds=2.0), tones=ToneConfig(enabled=False))


def frames_in_time(sat: Satellite, count: int) -> list[bytes]:
    """``count`` silent mic frames, the clock moving one frame each; what the speaker played per frame."""
    assert isinstance(sat.clock, ManualClock)
    out = []
    for _ in range(count):
        out.append(feed(sat, "."))
        sat.clock.advance(sat.config.vad.frame_seconds)
    return out


async def test_a_timer_finished_during_an_announcement_rings_after_it() -> None:
    async with running(SHORT) as sat:
        link = await attach(sat)
        await announce(sat, link, sine(440.0, 3.0))
        await sat.on_controller_event(link, TimerFinished(id="t1").event())
        played = frames_in_time(sat, 100 + 90)  # the 3 s announcement, then 2.7 s
        assert not rings(b"".join(played[:95]))  # the announcement goes first
        assert rings(b"".join(played[100:140]))  # then the beeps: its 2 s are still to come
        assert sat.alarm.ringing is None  # and it stopped after them
        assert not any(b"".join(frames_in_time(sat, 40)))


async def test_an_alarm_that_sounds_at_once_still_stops_after_its_time() -> None:
    async with running(SHORT) as sat:
        link = await attach(sat)
        await sat.on_controller_event(link, TimerFinished(id="t2").event())
        played = frames_in_time(sat, 60)  # 1.8 s: ringing
        assert rings(b"".join(played)) and sat.alarm.ringing is not None
        frames_in_time(sat, 10)  # 2.1 s
        assert sat.alarm.ringing is None
