"""Turns without the wake word that nobody near speaks in (issue 17, session 21).

Session 20's live room (``bench/turn_talker_live.py``, gate on): 3 of 14 slots had a continuation
opened by the talker's own trailing frames right after the controller ended the question; the talker
gate (keyed to the wake word) never opened, the turn streamed the room for 2.1 s (the satellite's
fallback end) and the reply came ~2.4 s later. Replayed on the room's mic taps (/tmp/p19, /tmp/p20),
the gate opened for the continuations the user did go on in 0.0-0.6 s into the turn (n=9): such a turn
now ends when the gate has not opened ``UNHEARD_SECONDS`` (1.0 s) into it.

And session 19's turn 24, held 8.8 s: the gate had not opened (the tap), but it filled the gated frames
with noise at "room -38.7 dBFS", a floor taken from the few frames heard since the last turn (the
talker's last syllable), and the satellite's VAD (its noise estimate the room's, -55) heard that noise
as speech. The floor is now the room's last estimate when the history is that short.

Real parts: Piper speaks, the default wake word chain detects "Okay Nabu.", Silero (the satellite's VAD),
the satellite's own turn driver frame by frame with a manual clock.
"""

from __future__ import annotations

import numpy as np
from speech import speak
from test_satellite_talker_between import turns_of
from test_satellite_talker_gate import floats, pcm
from test_satellite_wake import Link
from test_satellite_wake_own_words import QuietMic, play
from wyoming.satellite import RunSatellite
from wyoming.vad import VoiceStopped

from satellite.audio_io import MemorySink
from satellite.core import Satellite, SatelliteConfig
from satellite.echo import EchoConfig
from satellite.talker_gate import TalkerGate, TalkerGateConfig, frame_db
from satellite.tones import ToneConfig
from satellite.vad import VadConfig
from satellite.wake import WakeConfig, WakeGate
from voice_runtime.clock import ManualClock

VAD = VadConfig()
WAKE = WakeConfig(names=("okay_nabu",))
FRAME = VAD.frame_bytes
ROOM_DB = -60.0


def frames_of(audio: bytes) -> list[bytes]:
    return [audio[i : i + FRAME] for i in range(0, len(audio) - FRAME + 1, FRAME)]


async def test_a_continuation_the_talkers_last_syllable_opened_ends_when_the_gate_stays_shut() -> None:
    wake = WakeGate(WAKE, VAD.frame_seconds)
    config = SatelliteConfig(vad=VAD, echo=EchoConfig(enabled=False), tones=ToneConfig(enabled=False), wake=WAKE,
                             talker=TalkerGateConfig(open_db=14.0))
    sat = Satellite(config, QuietMic(), MemorySink(16000), wake=wake, clock=ManualClock())
    link = Link()
    rng = np.random.default_rng(1)
    question = floats(speak("Okay Nabu. Turn off the lights."))
    x = np.concatenate([np.zeros(16000, np.float32), question, np.zeros(4 * 16000, np.float32)])
    x += rng.standard_normal(len(x)).astype(np.float32) * 10 ** (ROOM_DB / 20)
    frames = frames_of(pcm(x))
    levels = [frame_db(f) for f in frames]
    last = max(i for i, db in enumerate(levels) if db > max(levels) - 14)  # the last frame of "lights" near its peak
    await sat.start()
    try:
        await sat.on_controller_event(link, RunSatellite().event())
        play(sat, wake, b"".join(frames[:last]))
        await sat.on_controller_event(link, VoiceStopped().event())  # the controller ends it at the last syllable
        play(sat, wake, b"".join(frames[last:]))  # "-ts" and the room
        await sat.flush()
    finally:
        await sat.stop()
    turns = turns_of(link)
    assert len(turns) == 2, link.types()  # the syllable's tail opened a continuation (as in the room)
    seconds = len(turns[1]) / 32000
    assert seconds < 1.3, seconds  # before: 2.1 s of the room streamed, the reply that much later
    assert max(frame_db(f) for f in frames_of(turns[1])) < ROOM_DB + 10  # the room, not the syllable


def test_a_turn_right_after_another_fills_its_silence_at_the_rooms_level() -> None:
    gate = TalkerGate(TalkerGateConfig(), 0.03)
    rng = np.random.default_rng(2)

    def frame(db: float) -> bytes:
        return pcm(rng.standard_normal(480).astype(np.float32) * 10 ** (db / 20))

    for _ in range(100):
        gate.step(frame(-55.0), gating=False)  # the room
    for _ in range(20):
        gate.step(frame(-16.0), gating=False)  # the wake word
    gate.begin(b"", wake_word=True)
    for _ in range(40):
        gate.step(frame(-18.0), gating=True)  # its question
    tail = [frame(-24.0), frame(-30.0), frame(-36.0)]  # the talker's last syllable, heard after the turn ended
    for f in tail:
        gate.step(f, gating=False)
    gate.begin(b"".join(tail), wake_word=False)  # a continuation it opened
    assert not gate.heard
    streamed = [f for _ in range(30) for f in gate.step(frame(-55.0), gating=True)]
    loudest = max(frame_db(f) for f in streamed)
    assert loudest < -48.0, loudest  # before: filled at the syllable's level (-36 dBFS and up): heard as speech
