"""Wake word on the satellite (satellite.wake): real models from the packages, real TTS speech.

"Okay Nabu" / "Hey Jarvis" are spoken by Piper; the detectors are microWakeWord and
openWakeWord with the TFLite models their packages ship. The remote engine talks to a small
real Wyoming wake server run in-process (it uses the microWakeWord detector).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import pytest
from helpers import connected, free_port, start_service
from speech import speak
from wyoming.audio import AudioChunk, AudioStop
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import RunSatellite
from wyoming.server import AsyncEventHandler, AsyncTcpServer
from wyoming.timer import TimerFinished, TimerStarted
from wyoming.tts import Synthesize
from wyoming.vad import VoiceStopped
from wyoming.wake import Detect, Detection

from satellite.__main__ import build_parser, wake_config
from satellite.audio_io import MemorySink
from satellite.core import Satellite, SatelliteConfig
from satellite.echo import EchoConfig
from satellite.handler import satellite_info
from satellite.state import TurnState
from satellite.tones import ToneConfig
from satellite.vad import VadConfig
from satellite.wake import MicroDetector, RemoteDetector, WakeConfig, WakeGate, _Threaded, make_detector
from voice_runtime.audio import PCM16_MONO_16K, write_wav
from voice_runtime.clock import ManualClock

VAD = VadConfig()
FRAME = VAD.frame_bytes
MICRO = WakeConfig(names=("okay_nabu", "hey_jarvis"), cascade=False)  # microWakeWord alone


def state(sat: Satellite) -> TurnState:
    """The satellite's state now (read through a call: mypy keeps no narrowing across the awaits between asserts)."""
    return sat.state


def frames(audio: bytes) -> list[bytes]:
    audio = audio + bytes(-len(audio) % FRAME)
    return [audio[i:i + FRAME] for i in range(0, len(audio), FRAME)]


def detections(gate: WakeGate, audio: bytes) -> list[tuple[str, float]]:
    found = []
    drain = getattr(gate.detector, "drain", None)  # a worker thread: wait for it frame by frame (audio time)
    for i, frame in enumerate(frames(audio)):
        if (name := gate.process(frame)) is not None:
            found.append((name, (i + 1) * VAD.frame_seconds))
        if drain is not None:
            drain()
    return found


def test_micro_detects_its_words_and_nothing_else() -> None:
    gate = WakeGate(MICRO, VAD.frame_seconds)
    assert detections(gate, speak("Okay Nabu.")) and detections(gate, speak("Okay Nabu."))[0][0] == "okay_nabu"
    assert [n for n, _ in detections(gate, speak("Hey Jarvis."))] == ["hey_jarvis"]
    assert detections(gate, speak("The weather is nice today, and tomorrow it will rain.")) == []


class FakeDetector:
    """Fires on frames whose first byte is 1 (to place detections exactly in time)."""

    names = ["okay_nabu"]

    def process(self, frame: bytes) -> str | None:
        return "okay_nabu" if frame[0] == 1 else None

    def reset(self) -> None:
        return None


def test_refractory_period_counts_one_detection() -> None:
    gate = WakeGate(MICRO, VAD.frame_seconds, detector_factory=lambda _: FakeDetector())
    fire, quiet = b"\x01" + bytes(FRAME - 1), bytes(FRAME)
    ticks = [fire] + [quiet] * 9 + [fire] + [quiet] * 39 + [fire] + [quiet] * 10 + [fire]  # 0, 0.3, 1.5, 1.83 s
    got = [i for i, frame in enumerate(ticks) if gate.process(frame) is not None]
    assert got == [0, 61]  # 0.3 s and 1.5 s after the first are within the 1.5 s refractory period
    real = WakeGate(MICRO, VAD.frame_seconds)
    once = speak("Okay Nabu.")
    assert len(detections(real, once + bytes(32000) + once)) == 2  # ~2.5 s apart: both count


def test_open_wake_word_runs_in_a_worker_thread() -> None:
    gate = WakeGate(WakeConfig(engine="open", names=("hey_jarvis",)), VAD.frame_seconds)
    assert isinstance(gate.detector, _Threaded)
    try:
        found = []
        for frame in frames(bytes(32000) + speak("Hey Jarvis.") + bytes(32000)):
            if (name := gate.process(frame)) is not None:
                found.append(name)
            gate.detector.drain()  # as in real time: the worker keeps up frame by frame
        assert found == ["hey_jarvis"]
    finally:
        asyncio.run(gate.stop())


def test_threshold_overrides_the_models_own_cutoff() -> None:
    args = build_parser().parse_args(["--wake-threshold", "0.6"])
    assert wake_config(args).threshold == 0.6
    wake = bytes(32000) + speak("Okay Nabu.") + bytes(32000)  # a live mic: the verifier needs ~2 s of audio
    assert detections(WakeGate(WakeConfig(), VAD.frame_seconds), wake)  # the default cascade
    alone = WakeConfig(threshold=1.0, cascade=False)
    assert detections(WakeGate(alone, VAD.frame_seconds), wake) == []  # a mean never exceeds 1
    with pytest.raises(ValueError, match="threshold"):
        WakeConfig(threshold=1.5)
    micro = MicroDetector(("okay_nabu", "hey_jarvis"), ())
    assert [m.probability_cutoff for m in micro._models] == [0.65, 0.97]  # measured okay_nabu; the model's own


def test_unknown_wake_word_is_a_clear_startup_error() -> None:
    with pytest.raises(ValueError, match="available: okay_nabu, hey_jarvis, hey_mycroft, alexa"):
        make_detector(WakeConfig(names=("hey_siri",)))
    proc = subprocess.run([sys.executable, "-m", "satellite", "--wake-word", "hey_siri", "--mic-wav", "/dev/null"],
                          check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown wake word hey_siri" in proc.stderr and "okay_nabu" in proc.stderr


def test_flags_and_describe() -> None:
    assert wake_config(build_parser().parse_args([])) == WakeConfig()  # on by default, okay_nabu
    args = build_parser().parse_args(["--wake-word", "alexa", "--wake-word", "hey_jarvis", "--wake-engine", "open"])
    assert wake_config(args).names == ("alexa", "hey_jarvis") and wake_config(args).engine == "open"
    assert not wake_config(build_parser().parse_args(["--no-wake-word"])).enabled
    assert not wake_config(build_parser().parse_args(["--no-wake-cascade"])).cascade
    assert isinstance(WakeGate(WakeConfig(cascade=False), VAD.frame_seconds).detector, MicroDetector)
    gate = WakeGate(MICRO, VAD.frame_seconds)
    info = Info.from_event(satellite_info("kitchen", None, gate.programs()).event())
    assert info.wake[0].name == "micro" and [m.name for m in info.wake[0].models] == ["okay_nabu", "hey_jarvis"]
    assert info.satellite is not None and info.satellite.active_wake_words == ["okay_nabu", "hey_jarvis"]


# -- the turn driver in wake-word mode ---------------------------------------------------
class Link:
    def __init__(self) -> None:
        self.client = "ha"
        self.received: list[Event] = []

    async def write_event(self, event: Event) -> None:
        self.received.append(event)

    def types(self) -> list[str]:
        return [e.type for e in self.received if e.type != "audio-chunk"]


class QuietMic:
    frame_bytes = FRAME

    async def open(self) -> None:
        return None

    async def read(self) -> bytes:
        await asyncio.Event().wait()
        return b""

    async def close(self) -> None:
        return None


@contextlib.asynccontextmanager
async def wake_satellite(barge_in_min_seconds: float = 0.4,
                         clock: ManualClock | None = None) -> AsyncIterator[tuple[Satellite, Link]]:
    config = SatelliteConfig(vad=VAD, echo=EchoConfig(enabled=False), tones=ToneConfig(enabled=True), wake=MICRO,
                             barge_in_min_seconds=barge_in_min_seconds)
    sat = Satellite(config, QuietMic(), MemorySink(16000), wake=WakeGate(MICRO, VAD.frame_seconds), clock=clock)
    await sat.start()
    link = Link()
    await sat.on_controller_event(link, RunSatellite().event())
    try:
        yield sat, link
    finally:
        await sat.stop()


def play(sat: Satellite, audio: bytes) -> bytes:
    heard = b""
    for frame in frames(audio):
        out = sat.playback.next_frame()
        heard += out
        sat.process_frame(frame, out)
    return heard


async def test_wake_word_starts_the_pipeline_from_asr_speech_alone_does_not() -> None:
    async with wake_satellite() as (sat, link):
        play(sat, speak("What time is it?") + bytes(32000))
        await sat.flush()
        assert link.types() == [] and state(sat) == TurnState.LISTENING  # no wake word: nothing starts
        heard = play(sat, speak("Okay Nabu.") + speak("What time is it?") + bytes(80000))  # 2.5 s: our VAD's
        # fallback end (this scripted controller never ends the question itself)
        await sat.flush()
        assert link.types()[:3] == ["detection", "run-pipeline", "audio-start"]
        assert Detection.from_event(link.received[0]).name == "okay_nabu"
        run = RunPipeline.from_event(link.received[1])
        assert run.start_stage == PipelineStage.ASR and run.wake_word_name == "okay_nabu"
        assert any(heard)  # the listening tone played
        assert "audio-stop" in link.types() and state(sat) == TurnState.WAITING  # the command ended by the VAD


async def test_wake_word_during_a_reply_is_a_barge_in() -> None:
    async with wake_satellite(barge_in_min_seconds=5.0) as (sat, link):  # only the wake word confirms it
        play(sat, speak("Okay Nabu.") + speak("Tell me a story.") + bytes(80000))
        assert state(sat) == TurnState.WAITING
        await sat.on_controller_event(link, Event("audio-start", {"rate": 16000, "width": 2, "channels": 1}))
        long_reply = AudioChunk(rate=16000, width=2, channels=1, audio=b"\x10\x00" * 16000 * 20).event()
        await sat.on_controller_event(link, long_reply)
        assert state(sat) == TurnState.SPEAKING
        # 1 s of the reply first: right after the question's end, speech over the reply's first moments
        # is the user going on (a continuation, satellite/held.py: within 1.4 s / 0.95 s of the reply)
        play(sat, bytes(32000) + speak("Okay Nabu."))
        await sat.flush()
        assert state(sat) == TurnState.STREAMING and not sat.playback.has_reply  # the reply was dropped
        assert link.types().count("run-pipeline") == 2 and link.types().count("detection") == 2


async def test_a_reply_that_asks_a_question_is_answered_without_the_wake_word() -> None:
    """Continue conversation: after a reply ending in "?", speech alone starts the next turn."""
    async with wake_satellite() as (sat, link):
        play(sat, speak("Okay Nabu.") + speak("Turn on the light.") + bytes(80000))
        assert state(sat) == TurnState.WAITING
        await sat.on_controller_event(link, Synthesize(text="Which room?").event())
        await sat.on_controller_event(link, Event("audio-start", {"rate": 16000, "width": 2, "channels": 1}))
        await sat.on_controller_event(link, AudioChunk(rate=16000, width=2, channels=1, audio=bytes(3200)).event())
        await sat.on_controller_event(link, AudioStop().event())
        play(sat, bytes(6400))  # the reply plays out: played, listening, follow-up open
        assert state(sat) == TurnState.LISTENING and sat.follow_up_open
        play(sat, speak("The kitchen.") + bytes(32000))
        await sat.flush()
        assert link.types().count("run-pipeline") == 2 and link.types().count("detection") == 1
        assert "played" in link.types()


@pytest.mark.parametrize("later", [0.0, 2.0])
async def test_going_on_right_after_the_controller_ended_the_question_needs_no_wake_word(later: float) -> None:
    """Cut at a pause ("Turn off the lights ... in the living room"): the rest, spoken at once,
    is streamed as a new turn (the orchestrator joins it to the question); later, it needs the
    wake word again."""
    clock = ManualClock()
    async with wake_satellite(clock=clock) as (sat, link):
        play(sat, speak("Okay Nabu.") + speak("Turn off the lights."))
        assert state(sat) == TurnState.STREAMING
        await sat.on_controller_event(link, VoiceStopped().event())  # the controller's end of turn
        assert state(sat) == TurnState.WAITING
        clock.advance(later)
        play(sat, speak("in the living room.") + bytes(80000))
        await sat.flush()
        assert link.types().count("detection") == 1
        assert link.types().count("run-pipeline") == (2 if later == 0 else 1), link.types()


async def test_the_wake_word_stops_a_ringing_timer_and_starts_no_turn() -> None:
    async with wake_satellite() as (sat, link):
        await sat.on_controller_event(link, TimerStarted(id="t1", total_seconds=1).event())
        await sat.on_controller_event(link, TimerFinished(id="t1").event())
        play(sat, bytes(3200))
        assert sat.alarm.ringing is not None
        play(sat, speak("Okay Nabu.") + bytes(32000))
        await sat.flush()
        assert sat.alarm.ringing is None and "run-pipeline" not in link.types()


# -- a remote Wyoming wake service ---------------------------------------------------------
class MicroWakeHandler(AsyncEventHandler):
    """A real (small) Wyoming wake service: microWakeWord on the audio it is sent."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.detector = MicroDetector(("okay_nabu",), ())

    async def handle_event(self, event: Event) -> bool:
        if Detect.is_type(event.type) or not AudioChunk.is_type(event.type):
            return True
        if (name := self.detector.process(AudioChunk.from_event(event).audio)) is not None:
            await self.write_event(Detection(name=name).event())
        return True


async def test_remote_wake_service() -> None:
    port = free_port()
    server = AsyncTcpServer("127.0.0.1", port)
    await server.start(partial(MicroWakeHandler))
    gate = WakeGate(WakeConfig(uri=f"tcp://127.0.0.1:{port}", names=("okay_nabu",)), VAD.frame_seconds)
    await gate.start()
    try:
        remote = gate.detector
        assert isinstance(remote, RemoteDetector)
        await asyncio.wait_for(remote.connected.wait(), 10)
        found: list[str] = []
        for frame in frames(bytes(16000) + speak("Okay Nabu.") + bytes(16000)):
            if (name := gate.process(frame)) is not None:
                found.append(name)
            await asyncio.sleep(0)  # the mic loop awaits between frames: the sender runs
        await asyncio.wait_for(remote.detected.wait(), 10)
        found += [n for n in [gate.process(bytes(FRAME))] if n is not None]
        assert found == ["okay_nabu"]
    finally:
        await gate.stop()
        await server.stop()


async def test_the_satellite_process_with_its_defaults_wakes_on_okay_nabu(tmp_path: Path) -> None:
    """`python -m satellite` as installed: wake word and echo canceller on by default."""
    wav = tmp_path / "mic.wav"
    write_wav(str(wav), bytes(16000) + speak("What time is it?") + speak("Okay Nabu.") + speak("What time is it?")
              + bytes(64000), PCM16_MONO_16K)
    sat = await start_service("satellite", "--mic-wav", str(wav), "--mic-wav-fast", "--snd-wav", "/dev/null",
                              "--no-tones")
    try:
        async with connected(sat.port) as client:
            await client.send(Describe())
            info = Info.from_event((await client.recv_until("info"))[-1])
            assert info.wake and info.wake[0].models[0].name == "okay_nabu"
            await client.send(RunSatellite())
            events = await client.recv_until("audio-stop", timeout=60)
        types = [e.type for e in events if e.type not in ("audio-chunk", "ping", "pong")]
        assert types[:3] == ["detection", "run-pipeline", "audio-start"]  # not on the question without it
        run = RunPipeline.from_event(events[[e.type for e in events].index("run-pipeline")])
        assert run.wake_word_name == "okay_nabu"
        assert await sat.wait_log("mic front end: aec=speex") or await sat.wait_log("mic front end: aec=webrtc")
    finally:
        await sat.stop()


def test_custom_model_file() -> None:
    import pymicro_wakeword

    config = Path(pymicro_wakeword.__file__).parent / "models" / "hey_jarvis.json"  # any model config file
    gate = WakeGate(WakeConfig(names=(), model_paths=(str(config),)), VAD.frame_seconds)
    assert gate.detector.names == ["hey_jarvis"]
    assert [n for n, _ in detections(gate, speak("Hey Jarvis."))] == ["hey_jarvis"]
    with pytest.raises(ValueError, match="does not exist"):
        make_detector(WakeConfig(names=(), model_paths=("/nonexistent/model.json",)))
    args = build_parser().parse_args(["--wake-word-model", str(config)])
    assert wake_config(args).names == () and wake_config(args).model_paths == (str(config),)
