"""When the error tone plays and when it does not: the turn driver in-process (frames fed by hand,
the VAD decision injected, tests/test_satellite_core.py), tones on. The real process:
tests/test_satellite_error_tone.py."""

from __future__ import annotations

import dataclasses

import pytest
from satellite_harness import CONFIG, REPLY, attach, chunk, feed, running
from state_harness import state
from test_satellite_error_tone import _error_tones
from wyoming.audio import AudioStop
from wyoming.error import Error
from wyoming.satellite import PauseSatellite

from satellite.state import TurnState
from satellite.tones import ToneConfig

TONES = dataclasses.replace(CONFIG, tones=ToneConfig(enabled=True))
AFTER = "." * 20  # 0.6 s of frames: the 0.4 s tone plays out


async def test_an_error_while_waiting_plays_the_tone_once() -> None:
    async with running(TONES) as sat:
        link = await attach(sat)
        feed(sat, "vvvvv.....")
        assert state(sat) == TurnState.WAITING
        await sat.on_controller_event(link, Error(text="boom", code="turn-failed").event())
        assert state(sat) == TurnState.LISTENING
        assert len(_error_tones(feed(sat, AFTER))) == 1


async def test_an_error_that_cuts_a_reply_short_plays_no_tone() -> None:
    async with running(TONES) as sat:
        link = await attach(sat)
        feed(sat, "vvvvv.....")
        for event in (REPLY, chunk(1000)):  # reply audio, no audio-stop yet: the error cuts it
            await sat.on_controller_event(link, event)
        feed(sat, "...")
        await sat.on_controller_event(link, Error(text="tts died", code="tts-failed").event())
        assert state(sat) == TurnState.LISTENING
        assert _error_tones(feed(sat, AFTER)) == []


async def test_an_error_after_a_whole_apology_lets_it_play_without_a_tone() -> None:
    async with running(TONES) as sat:
        link = await attach(sat)
        feed(sat, "vvvvv.....")
        for event in (REPLY, chunk(100), AudioStop().event(), Error(text="x", code="llm-failed").event()):
            await sat.on_controller_event(link, event)
        assert state(sat) == TurnState.SPEAKING
        assert _error_tones(feed(sat, AFTER)) == [] and state(sat) == TurnState.LISTENING


@pytest.mark.parametrize("code", ["no-speech", "stt-no-text-recognized"])  # ours, Home Assistant's
async def test_no_speech_without_the_wake_word_plays_no_tone(code: str) -> None:
    async with running(TONES) as sat:
        link = await attach(sat)
        feed(sat, "vvvvv.....")
        await sat.on_controller_event(link, Error(text="nothing heard", code=code).event())
        assert state(sat) == TurnState.LISTENING
        assert _error_tones(feed(sat, AFTER)) == []


async def test_a_pause_or_an_error_after_the_turn_ended_plays_no_tone() -> None:
    async with running(TONES) as sat:
        link = await attach(sat)
        feed(sat, "vvvvv")
        await sat.on_controller_event(link, PauseSatellite().event())  # the user muted it: no failure
        assert state(sat) == TurnState.IDLE
        assert _error_tones(feed(sat, AFTER)) == []
        link = await attach(sat)
        await sat.on_controller_event(link, Error(text="late", code="turn-failed").event())  # no turn running
        assert _error_tones(feed(sat, AFTER)) == []


async def test_the_controller_lost_mid_turn_plays_the_tone_even_when_idle_after() -> None:
    async with running(TONES) as sat:
        link = await attach(sat)
        feed(sat, "vvvvv.....")
        sat.detach(link)  # no cloud: disarmed, but the speaker still plays out
        assert state(sat) == TurnState.IDLE
        assert len(_error_tones(feed(sat, AFTER))) == 1


async def test_no_error_tone_flag() -> None:
    async with running(dataclasses.replace(TONES, error_tone=False)) as sat:
        link = await attach(sat)
        feed(sat, "vvvvv.....")
        await sat.on_controller_event(link, Error(text="boom", code="turn-failed").event())
        assert _error_tones(feed(sat, AFTER)) == []
