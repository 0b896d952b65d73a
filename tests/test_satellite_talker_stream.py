"""The talker gate streams every mic frame once, at its own place, with its own speech flag
(session 18; issue 17 follow-ups).

Before: when the gate opened, its pre-roll (already streamed as silence) went out a second time,
stamped with the opening's time, and the Home Assistant end-of-turn path (``ha_gate``) got those
frames with the speech flag of the opening frame, not their own. The wake word's detection frame
also went out twice (in the turn's pre-roll and again as the frame of the moment), as heard.

Real parts: Piper speaks, the satellite's default wake word chain detects "Okay Nabu.", the
satellite's own turn driver (in process, frame by frame) streams to a recording controller link;
the TV is Piper, band-limited, 25 dB under the wake word, the user 8 dB softer than it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from test_satellite_talker_gate import session
from test_satellite_wake import Link  # the recording controller link the wake-word driver tests use
from test_satellite_wake_own_words import FRAME, QuietMic, play
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.satellite import RunSatellite

from satellite.audio_io import MemorySink
from satellite.core import Satellite, SatelliteConfig
from satellite.echo import EchoConfig
from satellite.talker_gate import TalkerGateConfig
from satellite.tones import ToneConfig
from satellite.vad import VadConfig
from satellite.wake import WakeConfig, WakeGate

VAD = VadConfig()
WAKE = WakeConfig(names=("okay_nabu",))
AUDIO = session("Turn on the kitchen lights.", -8.0, -25.0)


class FlagSatellite(Satellite):
    """The satellite as it is, recording the VAD's verdict on every mic frame and the speech flag
    each streamed frame is handed to the Home Assistant end-of-turn path with."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.verdicts: list[bool] = []  # per mic frame
        self.flagged: list[tuple[bytes, bool]] = []  # per streamed frame

    def process_frame(self, frame: bytes, played: bytes) -> None:
        super().process_frame(frame, played)
        self.verdicts.append(self.detector.voiced)

    def _eot_frames(self, frame: bytes, *voiced: bool) -> list[bytes]:  # (the flag was not passed before)
        self.flagged.append((frame, voiced[0] if voiced else self.detector.voiced))
        return super()._eot_frames(frame, *voiced)


@dataclass
class Turn:
    start_ms: int = -1
    stop_ms: int = -1
    chunks: list[AudioChunk] = field(default_factory=list)


async def run(audio: bytes) -> tuple[Turn, FlagSatellite]:
    wake = WakeGate(WAKE, VAD.frame_seconds)
    config = SatelliteConfig(
        vad=VAD, echo=EchoConfig(enabled=False), tones=ToneConfig(enabled=False), wake=WAKE, talker=TalkerGateConfig()
    )
    sat = FlagSatellite(config, QuietMic(), MemorySink(16000), wake=wake)
    link = Link()
    await sat.start()
    try:
        await sat.on_controller_event(link, RunSatellite().event())
        play(sat, wake, audio)
        await sat.flush()
    finally:
        await sat.stop()
    turn = Turn()
    for event in link.received:
        if AudioStart.is_type(event.type) and turn.start_ms < 0:
            turn.start_ms = AudioStart.from_event(event).timestamp or 0
        elif AudioChunk.is_type(event.type) and turn.stop_ms < 0:
            turn.chunks.append(AudioChunk.from_event(event))
        elif AudioStop.is_type(event.type) and turn.stop_ms < 0:
            turn.stop_ms = AudioStop.from_event(event).timestamp or 0
    assert turn.start_ms >= 0 and turn.stop_ms > turn.start_ms, link.types()
    return turn, sat


async def test_every_mic_frame_is_streamed_once_at_its_own_place() -> None:
    turn, sat = await run(AUDIO)
    assert sat.talker is not None and sat.talker.opened >= 1  # the gate opened on the talker
    # one after the other: each chunk starts where the one before it ended (a pre-roll sent again had
    # the opening's time, the detection frame sent again the detection's)
    at = turn.start_ms
    for chunk in turn.chunks:
        assert chunk.timestamp == at, (chunk.timestamp, at)
        at += len(chunk.audio) * 1000 // 32000
    assert at == turn.stop_ms  # and as much audio as the mic heard from the turn's start to its stop
    # the frames streamed as heard are the mic's frames of that very moment; the rest is the room's noise
    mic = [AUDIO[i : i + FRAME] for i in range(0, len(AUDIO), FRAME)]
    streamed = b"".join(c.audio for c in turn.chunks)
    first = turn.start_ms // 30
    frames = [streamed[i : i + FRAME] for i in range(0, len(streamed), FRAME)]
    where = {frame: i for i, frame in enumerate(mic)}
    heard = [k for k, frame in enumerate(frames) if frame in where]
    assert len(heard) > 40  # "Turn on the kitchen lights." went through (1.5 s)
    assert all(where[frames[k]] == first + k for k in heard), [(first + k, where[frames[k]]) for k in heard]


async def test_home_assistants_end_of_turn_gets_each_frames_own_speech_flag() -> None:
    _, sat = await run(AUDIO)
    mic = {AUDIO[i : i + FRAME]: i // FRAME for i in range(0, len(AUDIO), FRAME)}
    own = [(flag, sat.verdicts[mic[frame]]) for frame, flag in sat.flagged if frame in mic]
    assert len(own) > 40
    assert [flag for flag, _ in own] == [verdict for _, verdict in own]
