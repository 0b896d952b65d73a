"""The turn driver without audio hardware: frames fed by hand, controller events in, events out.

Voiced/unvoiced frames are marked by their first byte (the VAD decision is injected), the
echo guard is off (the test's frames are not real sound), time is a ManualClock.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from satellite_harness import (
    CONFIG,
    REPLY,
    VAD,
    QuietMic,
    attach,
    chunk,
    feed,
    running,
    sat_fixture,  # noqa: F401 (the `sat` fixture)
)
from state_harness import state
from wyoming.asr import Transcript
from wyoming.audio import AudioStop
from wyoming.satellite import PauseSatellite
from wyoming.vad import VoiceStopped

from satellite.audio_io import MemorySink
from satellite.core import Satellite
from satellite.state import TurnState
from satellite.vad import VadConfig
from voice_runtime.clock import ManualClock


async def test_late_audio_of_an_interrupted_reply_is_dropped(sat: Satellite) -> None:
    link = await attach(sat)
    assert state(sat) == TurnState.LISTENING
    feed(sat, "..vvv")
    assert state(sat) == TurnState.STREAMING
    feed(sat, "v.....")
    assert state(sat) == TurnState.WAITING
    for event in (REPLY, chunk(2000)):
        await sat.on_controller_event(link, event)
    assert state(sat) == TurnState.SPEAKING
    assert any(feed(sat, "." * 32))  # the reply plays (past its first 0.95 s: a barge-in, not a continuation)
    assert any(feed(sat, "vvv"))  # written before the third voiced frame was heard
    assert state(sat) == TurnState.BARGE_IN and sat.playback.has_reply
    assert not any(feed(sat, "v"))  # held from the next frame on
    feed(sat, "vvvvvv")  # 10 voiced frames = 0.3 s: confirmed
    assert state(sat) == TurnState.STREAMING and not sat.playback.has_reply
    # The old reply keeps arriving for a while: none of it plays.
    for event in (chunk(500), AudioStop().event()):
        await sat.on_controller_event(link, event)
    assert not any(feed(sat, "v....."))
    assert state(sat) == TurnState.WAITING
    await sat.on_controller_event(link, chunk(500))  # still old (no audio-start yet)
    assert not sat.playback.has_reply
    await sat.on_controller_event(link, REPLY)
    await sat.on_controller_event(link, chunk(100, 2000))
    assert state(sat) == TurnState.SPEAKING and sat.playback.has_reply
    await sat.flush()
    assert link.types() == ["run-pipeline", "audio-start", "audio-stop", "run-pipeline", "audio-start", "audio-stop"]
    second = [e for e in link.received if e.type == "audio-chunk"][-7:]
    preroll = second[0].payload or b""  # pre-roll (5 frames) + the speech heard while held (7)
    assert [preroll[i] for i in range(0, len(preroll), VAD.frame_bytes)] == [0, 0] + [1] * 10


async def test_controller_vad_ends_the_stream_and_played_follows_the_reply(sat: Satellite) -> None:
    link = await attach(sat)
    feed(sat, "vvvvv")
    await sat.on_controller_event(link, VoiceStopped().event())
    assert state(sat) == TurnState.WAITING
    feed(sat, "......")  # the user's VAD ending later changes nothing
    for event in (REPLY, chunk(100), AudioStop().event()):
        await sat.on_controller_event(link, event)
    feed(sat, "...")
    assert state(sat) == TurnState.SPEAKING
    feed(sat, "..")  # 100 ms of reply = 4 frames: drained
    assert state(sat) == TurnState.LISTENING
    await sat.flush()
    assert link.types() == ["run-pipeline", "audio-start", "audio-stop", "played"]


async def test_speech_going_on_after_the_controller_ended_the_question_is_a_new_turn(sat: Satellite) -> None:
    """The controller's end of turn came while the user was still (or again) speaking ("Can you
    play some music ... by the Beatles"): the rest is streamed as a new turn at once (the
    orchestrator joins it to the question), not swallowed as the tail of the old one."""
    link = await attach(sat)
    feed(sat, "vvvvv")
    await sat.on_controller_event(link, VoiceStopped().event())
    assert state(sat) == TurnState.WAITING
    feed(sat, "vvv")  # still speaking
    assert state(sat) == TurnState.STREAMING
    await sat.flush()
    assert link.types() == ["run-pipeline", "audio-start", "audio-stop", "run-pipeline", "audio-start"]


async def test_pause_and_a_replacing_controller(sat: Satellite) -> None:
    first = await attach(sat, "first")
    await sat.on_controller_event(first, PauseSatellite().event())
    assert state(sat) == TurnState.IDLE
    feed(sat, "vvvvvv.....")
    second = await attach(sat, "second")
    assert state(sat) == TurnState.LISTENING
    feed(sat, ".....vvv")
    assert state(sat) == TurnState.STREAMING
    await sat.on_controller_event(first, VoiceStopped().event())  # not the controller any more
    assert state(sat) == TurnState.STREAMING
    sat.detach(first)  # the old connection closing changes nothing
    assert state(sat) == TurnState.STREAMING
    sat.detach(second)  # the controller gone, no cloud: the turn ends, the mic is ignored
    assert state(sat) == TurnState.IDLE
    await sat.flush()
    assert first.received == [] and second.types() == ["run-pipeline", "audio-start"]


async def test_no_reply_within_the_timeout(sat: Satellite) -> None:
    link = await attach(sat)
    feed(sat, "vvv.....")
    assert state(sat) == TurnState.WAITING
    feed(sat, "..")
    assert state(sat) == TurnState.WAITING
    assert isinstance(sat.clock, ManualClock)
    sat.clock.advance(5.1)
    feed(sat, ".")
    assert state(sat) == TurnState.LISTENING
    await sat.on_controller_event(link, REPLY)  # too late: ignored
    assert state(sat) == TurnState.LISTENING and not sat.playback.has_reply


async def test_once_the_question_is_heard_a_slow_answer_is_waited_for() -> None:
    # A local LLM on a busy box can take 20-30 s to its first audio after the transcript, and the
    # controller says nothing meanwhile: the reply timeout (5 s here) must not drop that answer.
    async with running(dataclasses.replace(CONFIG, thinking_timeout=12.0)) as sat:
        link = await attach(sat)
        feed(sat, "vvv.....")
        await sat.on_controller_event(link, Transcript(text="what is the meaning of life").event())
        assert state(sat) == TurnState.WAITING
        assert isinstance(sat.clock, ManualClock)
        sat.clock.advance(11.0)
        feed(sat, ".")
        assert state(sat) == TurnState.WAITING
        await sat.on_controller_event(link, REPLY)
        await sat.on_controller_event(link, chunk(100))
        assert state(sat) == TurnState.SPEAKING and sat.playback.has_reply
        # the next turn's question is again held to the reply timeout until its transcript
        await sat.on_controller_event(link, AudioStop().event())
        while state(sat) != TurnState.LISTENING:
            feed(sat, ".")
        feed(sat, "vvv.....")
        assert state(sat) == TurnState.WAITING
        sat.clock.advance(5.1)
        feed(sat, ".")
        assert state(sat) == TurnState.LISTENING


async def test_a_heard_question_with_no_answer_is_given_up_after_the_thinking_timeout() -> None:
    async with running(dataclasses.replace(CONFIG, thinking_timeout=12.0)) as sat:
        link = await attach(sat)
        feed(sat, "vvv.....")
        await sat.on_controller_event(link, Transcript(text="never mind").event())
        assert isinstance(sat.clock, ManualClock)
        sat.clock.advance(12.1)
        feed(sat, ".")
        assert state(sat) == TurnState.LISTENING


async def test_endless_speech_is_cut() -> None:
    async with running(dataclasses.replace(CONFIG, max_speech_seconds=0.6)) as sat:
        link = await attach(sat)
        feed(sat, "vvv" + "v" * 16)  # 19 frames: the pre-roll is the 3 frames heard so far
        assert state(sat) == TurnState.STREAMING
        feed(sat, "v")  # 20 frames = 0.6 s
        assert state(sat) == TurnState.WAITING
        feed(sat, "v" * 10)  # still talking: a new utterance once the VAD starts again
        await sat.flush()
        assert link.types()[:3] == ["run-pipeline", "audio-start", "audio-stop"]


async def test_barge_in_in_the_frame_the_reply_ends_leaves_the_next_reply_audible(sat: Satellite) -> None:
    """Issue 17.5: speech starting in the very frame the reply drains used to keep `held` set."""
    link = await attach(sat)
    feed(sat, "vvv")
    feed(sat, "v.....")
    for event in (REPLY, chunk(90), AudioStop().event()):  # 90 ms = 3 frames of reply
        await sat.on_controller_event(link, event)
    assert any(feed(sat, "vv"))
    assert state(sat) == TurnState.SPEAKING
    feed(sat, "v")  # the third voiced frame starts speech in the frame the reply's last 30 ms play
    assert state(sat) == TurnState.STREAMING
    feed(sat, "v.....")
    assert state(sat) == TurnState.WAITING
    for event in (REPLY, chunk(60, 2000), AudioStop().event()):
        await sat.on_controller_event(link, event)
    assert any(feed(sat, ".."))  # the next reply is heard, not played as silence
    feed(sat, ".")
    assert state(sat) == TurnState.LISTENING
    await sat.flush()
    assert link.types().count("played") == 2 and not sat.playback.held


@pytest.mark.parametrize("dbfs", [-70.0, -60.0, -45.0])
async def test_quiet_room_noise_right_after_arming_opens_no_turn_but_speech_does(dbfs: float) -> None:
    """Issue 15.4: the fresh WebRTC VAD called the first frames of −60 dBFS noise speech (a turn at 60–90 ms)."""
    from speech import speak  # Piper, loaded only here

    config = dataclasses.replace(CONFIG, vad=VadConfig(preroll_seconds=0.15))  # the real VAD, default settling
    satellite = Satellite(config, QuietMic(), MemorySink(16000), clock=ManualClock())
    await satellite.start()
    rng = np.random.default_rng(int(-dbfs))
    amp = 32767 * 10 ** (dbfs / 20)

    def hear(pcm: np.ndarray) -> None:
        for start in range(0, len(pcm) - VAD.frame_samples + 1, VAD.frame_samples):
            noisy = pcm[start:start + VAD.frame_samples] + rng.normal(0, amp, VAD.frame_samples)
            satellite.process_frame(np.clip(noisy, -32768, 32767).astype("<i2").tobytes(),
                                    satellite.playback.next_frame())

    try:
        link = await attach(satellite)
        hear(np.zeros(16000 * 5))  # 5 s of room noise only, from the moment it is armed
        await satellite.flush()
        assert link.types() == [] and state(satellite) == TurnState.LISTENING
        hear(np.frombuffer(speak("Turn on the kitchen lights."), "<i2").astype(np.float64))
        await satellite.flush()
        assert link.types()[:2] == ["run-pipeline", "audio-start"]
    finally:
        await satellite.stop()


async def test_a_pause_mid_question_is_left_to_the_controller() -> None:
    """Streaming to a controller, a 0.9 s pause does not end the question (it did after 0.6 s:
    "turn on the ... kitchen lights" was cut); the controller's voice-stopped does, at once, and
    our own VAD ends it only after controller_end_seconds of silence."""
    config = dataclasses.replace(CONFIG, controller_end_seconds=2.0)
    async with running(config) as sat:
        link = await attach(sat)
        feed(sat, "..vvvvv")
        assert state(sat) == TurnState.STREAMING
        feed(sat, "." * 30 + "vvvv")  # 0.9 s pause, then the rest of the question
        assert state(sat) == TurnState.STREAMING
        await sat.on_controller_event(link, VoiceStopped().event())
        # The controller ended the utterance: our VAD starts afresh, so speech from now on (a
        # barge-in over the reply, or the user going on) is heard as new speech.
        assert state(sat) == TurnState.WAITING and not sat.detector.in_speech
        feed(sat, ".....")
        await sat.flush()
        assert link.types()[:3] == ["run-pipeline", "audio-start", "audio-stop"]
    async with running(config) as sat:  # a controller that never ends it: our VAD, after 2 s
        await attach(sat)
        feed(sat, "..vvvvv" + "." * 60)
        assert state(sat) == TurnState.STREAMING
        feed(sat, "." * 7)
        assert state(sat) == TurnState.WAITING
