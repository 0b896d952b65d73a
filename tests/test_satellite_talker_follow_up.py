"""A follow-up turn (the reply asked a question; no wake word) is gated too, against the level of
the wake word that began the conversation (session 18; issue 17). Before, only a turn the wake word
opened was gated, so the TV going on after "The kitchen." was streamed as part of the answer and
kept the turn open; and keyed to its own first words, a follow-up the TV opened (most of them in
one live room run) was keyed to the TV.

Real parts: Piper speaks, the satellite's default wake word chain detects "Okay Nabu.", the
satellite's own turn driver (in process, frame by frame) streams to a recording controller link,
and what it streamed in the follow-up turn is transcribed by our whisper handler (tiny.en, real
Silero). The TV is Piper, band-limited, 25 dB under the user (-38 dBFS).
"""

from __future__ import annotations

import numpy as np
from speech import speak
from state_harness import state
from test_satellite_talker_gate import floats, norm_words, pcm, tv
from test_satellite_wake import Link
from test_satellite_wake_own_words import QuietMic, play
from whisper_clip import transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.satellite import RunSatellite
from wyoming.tts import Synthesize

from satellite.audio_io import MemorySink
from satellite.core import Satellite, SatelliteConfig
from satellite.echo import EchoConfig
from satellite.state import TurnState
from satellite.talker_gate import TalkerGateConfig
from satellite.tones import ToneConfig
from satellite.vad import VadConfig
from satellite.wake import WakeConfig, WakeGate
from voice_runtime.clock import ManualClock

VAD = VadConfig()
WAKE = WakeConfig(names=("okay_nabu",))


def room(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * 16000), np.float32)  # (WebRTC's VAD calls steady white noise voiced)


async def follow_up_audio(answer: str | None) -> tuple[bytes, int]:
    """What the satellite streamed in the turn after a reply that asked "Which room?", ``answer`` said
    (or nothing) and the TV going on after it; and the number of turns."""
    wake = WakeGate(WAKE, VAD.frame_seconds)
    config = SatelliteConfig(
        vad=VAD, echo=EchoConfig(enabled=False), tones=ToneConfig(enabled=False), wake=WAKE, talker=TalkerGateConfig()
    )
    # the follow-up's 5 s are the clock's: a manual one, so a slow box does not close it while the test plays
    sat = Satellite(config, QuietMic(), MemorySink(16000), wake=wake, clock=ManualClock())
    link = Link()
    await sat.start()
    try:
        await sat.on_controller_event(link, RunSatellite().event())
        play(sat, wake, pcm(np.concatenate([room(1.0), floats(speak("Okay Nabu. Turn on the light.")), room(2.5)])))
        assert state(sat) == TurnState.WAITING
        await sat.on_controller_event(link, Synthesize(text="Which room?").event())
        await sat.on_controller_event(link, AudioStart(rate=16000, width=2, channels=1).event())
        await sat.on_controller_event(link, AudioChunk(rate=16000, width=2, channels=1, audio=bytes(3200)).event())
        await sat.on_controller_event(link, AudioStop().event())
        play(sat, wake, pcm(room(1.0)))  # the reply plays out: the follow-up opens
        assert state(sat) == TurnState.LISTENING and sat.follow_up_open
        said = floats(speak(answer)) if answer else room(0.3)
        play(sat, wake, pcm(np.concatenate([said, tv(6.0, -25.0)])))
        await sat.flush()
    finally:
        await sat.stop()
    turns: list[bytearray] = []
    for event in link.received:
        if event.type == "run-pipeline":
            turns.append(bytearray())
        elif AudioChunk.is_type(event.type) and turns:
            turns[-1] += AudioChunk.from_event(event).audio
    return bytes(turns[-1]), len(turns)


async def test_a_follow_up_turn_keeps_the_answer_and_not_the_tv_after_it() -> None:
    answer = "The kitchen."
    heard, turns = await follow_up_audio(answer)
    assert turns == 2  # the answer started a turn without the wake word
    assert "kitchen" in norm_words(await transcript(heard))
    # the satellite's VAD heard nobody after the answer: its 2 s of silence ended the turn (the TV's 6 s
    # were streamed before, and kept the turn open)
    said = len(speak(answer)) / 32000  # with 0.3 s of silence either side
    assert len(heard) / 32000 < 0.6 + said + 2.0, len(heard) / 32000
    after = floats(heard[int((0.6 + said) * 16000) * 2 :])  # from the end of the answer (after the VAD's pre-roll)
    assert len(after) and float(np.sqrt(np.mean(after**2))) < 10 ** (-50 / 20)  # silence, not the TV (-38 dBFS)


async def test_the_tv_opens_no_follow_up() -> None:
    _, turns = await follow_up_audio(None)
    # Session 20: between turns the satellite's VAD hears the gate too, so the TV 25 dB under the
    # talker opens no turn at all (session 18: it opened one, streamed as silence, 2 s long; before
    # that, keyed to the TV, 6.6 s of it were streamed). tests/test_satellite_talker_between.py
    assert turns == 1
