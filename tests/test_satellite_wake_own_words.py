"""A wake word "heard" in the user's own question must not cut the answer to it.

Real models: Piper speaks, the satellite's default wake word chain (microWakeWord okay_nabu with
its verifier cascade) listens. Piper's "What time is it?" after "Okay Nabu." is confirmed as
"okay_nabu" again at its last word (a false accept; 1 of 37 commands in 7 voices, 2026-12-02).
In a real run (satellite + orchestrator, the time intent answered at once) that second detection
came 0.08 s into the reply, 0.21 s after the question's stream ended: it cut the reply
(dropped_ms=1711) and started an empty turn.
"""

from __future__ import annotations

from speech import speak
from test_satellite_wake import Link, state  # the recording controller link the wake-word driver tests use
from wyoming.audio import AudioChunk
from wyoming.event import Event
from wyoming.satellite import RunSatellite
from wyoming.vad import VoiceStopped

from satellite.audio_io import MemorySink
from satellite.core import Satellite, SatelliteConfig
from satellite.echo import EchoConfig
from satellite.state import TurnState
from satellite.tones import ToneConfig
from satellite.vad import VadConfig
from satellite.wake import WakeConfig, WakeGate
from satellite.wake_cascade import CascadeDetector

VAD = VadConfig()
FRAME = VAD.frame_bytes
DEFAULT_WAKE = WakeConfig(names=("okay_nabu",))  # the satellite's defaults: the cascade verifies


class QuietMic:
    frame_bytes = FRAME

    async def open(self) -> None:
        return None

    async def read(self) -> bytes:
        raise EOFError  # frames are fed by the test

    async def close(self) -> None:
        return None


def play(sat: Satellite, gate: WakeGate, audio: bytes) -> None:
    audio += bytes(-len(audio) % FRAME)
    assert isinstance(gate.detector, CascadeDetector)
    drain = gate.detector.drain  # the verifier's worker: audio time, not wall time
    for i in range(0, len(audio), FRAME):
        sat.process_frame(audio[i : i + FRAME], sat.playback.next_frame())
        drain()


async def test_a_wake_word_heard_in_the_question_does_not_cut_its_answer() -> None:
    gate = WakeGate(DEFAULT_WAKE, VAD.frame_seconds)
    config = SatelliteConfig(
        vad=VAD,
        echo=EchoConfig(enabled=False),
        tones=ToneConfig(enabled=False),
        wake=DEFAULT_WAKE,
        barge_in_min_seconds=5.0,
    )  # only the wake word interrupts
    sat = Satellite(config, QuietMic(), MemorySink(16000), wake=gate)
    link = Link()
    await sat.start()
    try:
        await sat.on_controller_event(link, RunSatellite().event())
        question = speak("What time is it?")
        spoken = len(question) - int(0.3 * 16000) * 2  # speak() adds 0.3 s of silence either side
        play(sat, gate, speak("Okay Nabu.") + question[:spoken])
        assert state(sat) == TurnState.STREAMING
        await sat.on_controller_event(link, VoiceStopped().event())  # the controller's end of turn
        await sat.on_controller_event(link, Event("audio-start", {"rate": 16000, "width": 2, "channels": 1}))
        reply = AudioChunk(rate=16000, width=2, channels=1, audio=b"\x10\x00" * 16000 * 5).event()
        await sat.on_controller_event(link, reply)  # "It is 4:15 PM." comes at once (an intent)
        assert state(sat) == TurnState.SPEAKING
        play(sat, gate, question[spoken:] + bytes(32000))
        await sat.flush()
        assert state(sat) == TurnState.SPEAKING and sat.playback.has_reply, link.types()  # the answer plays on
        assert link.types().count("detection") == 1 and link.types().count("run-pipeline") == 1, link.types()
    finally:
        await sat.stop()
