"""Between the turns of a conversation the talker gate keys the VAD too (session 20; issue 17).

In a live room run (session 19, ``bench/turn_talker_live.py``, gate on) a TV 25 dB under the talker
opened 9 turns without the wake word in 20 slots: continuations right after the question and
barge-ins over the reply. The gate streamed nothing of them, but each delayed the reply by 2-4 s
(the orchestrator joined it to the question and answered again) and two replies were still owed
when the next wake word came. Now the VAD between turns hears the room for frames far under the
last wake word's level, so only the talker starts such a turn.

Real parts: Piper speaks, the satellite's default wake word chain detects "Okay Nabu.", the
satellite's own turn driver (frame by frame) streams to a recording controller link, and what it
streamed is transcribed by our whisper handler (tiny.en). The TV is Piper, band-limited, 25 dB under
the user. A manual clock: the 1.5 s to go on after the question are audio time here, not the box's.
"""

from __future__ import annotations

import numpy as np
from speech import speak
from state_harness import state
from test_satellite_talker_gate import floats, norm_words, pcm, tv
from test_satellite_wake import Link
from test_satellite_wake_own_words import QuietMic, play
from whisper_clip import transcript
from wyoming.audio import AudioChunk, AudioStart
from wyoming.satellite import RunSatellite
from wyoming.vad import VoiceStopped

from satellite.audio_io import MemorySink
from satellite.core import Satellite, SatelliteConfig
from satellite.echo import EchoConfig
from satellite.state import TurnState
from satellite.talker_gate import TalkerGate, TalkerGateConfig
from satellite.tones import ToneConfig
from satellite.vad import VadConfig
from satellite.wake import WakeConfig, WakeGate
from voice_runtime.clock import ManualClock

VAD = VadConfig()
WAKE = WakeConfig(names=("okay_nabu",))
FRAME = VAD.frame_bytes


def turns_of(link: Link) -> list[bytes]:
    """The audio streamed in each turn (from its run-pipeline on)."""
    turns: list[bytearray] = []
    for event in link.received:
        if event.type == "run-pipeline":
            turns.append(bytearray())
        elif AudioChunk.is_type(event.type) and turns:
            turns[-1] += AudioChunk.from_event(event).audio
    return [bytes(t) for t in turns]


async def after_the_question(then: np.ndarray, *, reply: bool) -> tuple[Link, TurnState]:
    """The question "Okay Nabu. Turn off the lights.": the controller ends it (and with ``reply`` a long reply
    starts playing), then ``then`` (the TV, and maybe the user) is heard."""
    wake = WakeGate(WAKE, VAD.frame_seconds)
    config = SatelliteConfig(
        vad=VAD, echo=EchoConfig(enabled=False), tones=ToneConfig(enabled=False), wake=WAKE, talker=TalkerGateConfig()
    )
    sat = Satellite(config, QuietMic(), MemorySink(16000), wake=wake, clock=ManualClock())
    link = Link()
    await sat.start()
    try:
        await sat.on_controller_event(link, RunSatellite().event())
        question = floats(speak("Okay Nabu. Turn off the lights."))
        play(sat, wake, pcm(np.concatenate([np.zeros(16000, np.float32), question])))
        assert state(sat) == TurnState.STREAMING
        await sat.on_controller_event(link, VoiceStopped().event())  # the controller's end of turn
        assert state(sat) == TurnState.WAITING
        if reply:
            await sat.on_controller_event(link, AudioStart(rate=16000, width=2, channels=1).event())
            long_reply = AudioChunk(rate=16000, width=2, channels=1, audio=b"\x10\x00" * 16000 * 20).event()
            await sat.on_controller_event(link, long_reply)
            assert state(sat) == TurnState.SPEAKING
        play(sat, wake, pcm(then))
        await sat.flush()
        return link, sat.state
    finally:
        await sat.stop()


async def test_the_tv_right_after_the_question_starts_no_turn_and_the_talker_still_goes_on() -> None:
    said = floats(speak("in the living room."))
    tv_on = tv(3.0 + len(said) / 16000 + 2.5, -25.0)
    # the TV at once after the end of the question (within the 1.5 s the user may go on without the wake word)
    link, _ = await after_the_question(tv_on[: int(1.2 * 16000)], reply=False)
    assert link.types().count("run-pipeline") == 1, link.types()  # before: the TV started a second turn
    # the talker going on over the TV still does, and is heard whole
    x = tv_on.copy()
    x[int(0.3 * 16000) : int(0.3 * 16000) + len(said)] += said
    link, _ = await after_the_question(x, reply=False)
    turns = turns_of(link)
    assert len(turns) == 2, link.types()
    assert "living" in norm_words(await transcript(turns[1]))  # (tiny.en hears "living right" over the TV, as before)


async def test_the_tv_over_the_reply_is_no_barge_in_and_the_talker_still_is() -> None:
    link, state = await after_the_question(tv(4.0, -25.0), reply=True)
    assert state == TurnState.SPEAKING, link.types()  # before: held, then dropped for a new turn
    assert link.types().count("run-pipeline") == 1
    said = floats(speak("What time is it?"))
    x = tv(1.0 + len(said) / 16000 + 0.5, -25.0)
    x[16000 : 16000 + len(said)] += said
    link, state = await after_the_question(x, reply=True)
    assert link.types().count("run-pipeline") == 2, link.types()  # the talker barged in
    assert "time" in norm_words(await transcript(turns_of(link)[1]))


def test_a_turn_started_between_turns_gets_its_soft_onset_as_the_mic_heard_it() -> None:
    """The VAD heard a soft onset under the bar as the room; the turn it starts streams it as heard
    (the gate's own pre-roll reaches back to it), not the room's noise."""
    gate = TalkerGate(TalkerGateConfig(), 0.03)
    rng = np.random.default_rng(2)

    def frame(db: float) -> bytes:
        return pcm(rng.standard_normal(480).astype(np.float32) * 10 ** (db / 20))

    for _wake_word in range(2):  # (the second within the conversation the first began)
        for _ in range(40):
            gate.step(frame(-60.0), gating=False)
        for _ in range(10):
            gate.step(frame(-16.0), gating=False)  # the wake word
        gate.begin(b"", wake_word=True)
        for _ in range(30):
            gate.step(frame(-60.0), gating=True)  # its turn
    for _ in range(20):  # the turn is over: between turns, the TV is the room to the VAD from the first frame
        gate.step(frame(-40.0), gating=False)  # (the wake word's hangover ended with its turn)
        assert gate.now != gate._recent[-1][1]
    onset = [frame(-32.0), frame(-31.0), frame(-30.0)]  # under the bar (-28 dBFS), then the talker
    words = [frame(-18.0) for _ in range(6)]
    heard = []
    for f in onset + words:
        gate.step(f, gating=False)
        heard.append(gate.now)
    assert heard[:3] != onset and heard[3:] == words  # the VAD heard the onset as the room
    streamed = gate.begin(b"".join(heard), wake_word=False)  # the VAD's pre-roll, as it heard it
    out = [streamed[i : i + FRAME] for i in range(0, len(streamed), FRAME)]
    assert out[-9:] == onset + words  # the gate's 0.09 s pre-roll: the onset as heard
