"""The satellite as Home Assistant meets it: `python -m satellite` on a TCP port, a WAV as the
mic, a WAV as the speaker, and a scripted Wyoming controller that connects, sends
run-satellite/describe/pings and answers each run-pipeline with a transcript and reply audio.

The speaker WAV is written one frame per mic frame, so a sample index in it is the same
moment as in the mic WAV: the tests read playback, tones and barge-in off that timeline.
Speech comes from Piper, generated at test time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, Client, free_port
from piper import PiperVoice
from speech import piper_voice
from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.ping import Ping
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import RunSatellite
from wyoming.snd import Played
from wyoming.tts import Synthesize

from satellite.tones import LISTEN_HZ, PROCESS_HZ, tone_power
from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert, read_wav, write_wav
from voice_runtime.discovery import browse
from voice_runtime.procs import ServiceProcess

PIPER_FMT = AudioFormat(22050, 2, 1)
MS = 32  # bytes per millisecond of 16 kHz 16-bit mono
FRAME_MS = 30


# --- speech ---------------------------------------------------------------------------
@dataclass
class Speech:
    voice: PiperVoice
    cache: dict[str, bytes] = field(default_factory=dict)

    def piper(self, text: str) -> bytes:
        if text not in self.cache:
            self.cache[text] = b"".join(chunk.audio_int16_bytes for chunk in self.voice.synthesize(text))
        return self.cache[text]

    def mic(self, text: str) -> bytes:
        return convert(self.piper(text), PIPER_FMT, PCM16_MONO_16K)

    def reply(self, text: str) -> bytes:
        """Reply audio as a TTS sends it (22.05 kHz), after 0.3 s of silence."""
        return bytes(int(0.3 * 22050) * 2) + self.piper(text)


@pytest.fixture(scope="module")
def speech() -> Speech:
    return Speech(piper_voice())


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * 16000) * 2)


# --- the satellite process, with its log watched -----------------------------------------
class SatelliteProcess(ServiceProcess):
    """A running process (a satellite, or the orchestrator) whose log the tests wait on."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        super().__init__(proc, f"tcp://127.0.0.1:{port}", port)

    async def wait_log(self, text: str, count: int = 1, timeout: float = 60.0) -> bool:
        try:
            seen = await super().wait_log(text, count, timeout)
        except TimeoutError:  # say what the process was doing, not only that time ran out
            raise AssertionError(f"{text!r} not logged within {timeout:.0f}s:\n" + "\n".join(self.log[-60:])) from None
        assert seen, "\n".join(self.log[-30:])
        return seen

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        return await super().stop(sig, timeout)


@contextlib.asynccontextmanager
async def satellite(*flags: str, env: dict[str, str] | None = None) -> AsyncIterator[SatelliteProcess]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "satellite", "--uri", f"tcp://127.0.0.1:{port}", "--no-wake-word",
        "--controller-end-seconds", "0.6", *flags,  # this scripted controller never ends a question
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        cwd=str(ROOT), env={**os.environ, **(env or {})},
    )
    sat = SatelliteProcess(proc, port)
    try:
        await sat.wait_log("listening uri=")
        yield sat
    finally:
        await sat.stop()


# --- a scripted controller (what Home Assistant or the orchestrator does) ----------------
@dataclass
class Turn:
    pipeline: RunPipeline
    start: AudioStart | None = None
    chunks: list[AudioChunk] = field(default_factory=list)
    stopped: bool = False
    played: bool = False

    @property
    def audio(self) -> bytes:
        return b"".join(c.audio for c in self.chunks)

    @property
    def first_ms(self) -> int:
        assert self.chunks[0].timestamp is not None
        return self.chunks[0].timestamp


class ScriptedController:
    """Connects like Home Assistant; answers each utterance with a transcript and a reply."""

    def __init__(self, client: Client, reply: Callable[[int], bytes | Error | None], transcript: str = "hello") -> None:
        self.client = client
        self.reply = reply  # turn number -> 22.05 kHz reply audio, or an error to answer with
        self.transcript = transcript
        self.turns: list[Turn] = []
        self.events: list[str] = []
        self._changed = asyncio.Condition()
        self.info: Info | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls, port: int, reply: Callable[[int], bytes | Error | None]
    ) -> AsyncIterator[ScriptedController]:
        client = await Client.connect(port)
        ctl = cls(client, reply)
        await client.send(RunSatellite())
        await client.send(Describe())
        tasks = [asyncio.create_task(ctl._read(), name="controller read"),
                 asyncio.create_task(ctl._ping(), name="controller ping")]
        try:
            yield ctl
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await client.close()

    async def _ping(self) -> None:
        while True:  # Home Assistant pings a satellite every 2 s
            await asyncio.sleep(2.0)
            await self.client.send(Ping())

    async def _read(self) -> None:
        while (event := await self.client.recv(timeout=120)) is not None:
            await self._on_event(event)
            async with self._changed:
                self.events.append(event.type)
                self._changed.notify_all()

    async def _on_event(self, event: Event) -> None:
        if Info.is_type(event.type):
            self.info = Info.from_event(event)
        elif RunPipeline.is_type(event.type):
            self.turns.append(Turn(RunPipeline.from_event(event)))
        elif AudioStart.is_type(event.type):
            self.turns[-1].start = AudioStart.from_event(event)
        elif AudioChunk.is_type(event.type):
            self.turns[-1].chunks.append(AudioChunk.from_event(event))
        elif AudioStop.is_type(event.type):
            self.turns[-1].stopped = True
            await self._answer(len(self.turns))
        elif Played.is_type(event.type):
            self.turns[-1].played = True

    async def _answer(self, turn: int) -> None:
        audio = self.reply(turn)
        if audio is None:
            return
        if isinstance(audio, Error):
            await self.client.send(audio)
            return
        await self.client.send(Transcript(text=self.transcript))
        await self.client.send(Synthesize(text="a reply"))
        await self.client.send(AudioStart(rate=22050, width=2, channels=1))
        step = 1024 * 2
        for i in range(0, len(audio), step):
            await self.client.send(AudioChunk(rate=22050, width=2, channels=1, audio=audio[i:i + step]))
        await self.client.send(AudioStop())

    async def wait(self, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)


# --- reading the speaker timeline -----------------------------------------------------------
def windows(pcm: bytes, ms: int = FRAME_MS) -> list[bytes]:
    step = ms * MS
    return [pcm[i:i + step] for i in range(0, len(pcm) - step + 1, step)]


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, "<i2").astype(np.float64) / 32768.0
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def tone_starts(pcm: bytes, freq: float) -> list[int]:
    """Start (ms) of each run of windows dominated by a tone at ``freq``."""
    hits = [i for i, w in enumerate(windows(pcm)) if rms(w) > 0.05 and tone_power(w, 16000, freq) > 0.7]
    return [i * FRAME_MS for j, i in enumerate(hits) if j == 0 or hits[j - 1] != i - 1]


def first_sound_after(pcm: bytes, ms: int, level: float = 0.01) -> int:
    for i, w in enumerate(windows(pcm[ms * MS:])):
        if rms(w) > level:
            return ms + i * FRAME_MS
    return -1


def speaker(path: Path) -> bytes:
    pcm, fmt = read_wav(str(path))
    assert fmt == PCM16_MONO_16K
    return pcm


# --- tests ----------------------------------------------------------------------------
async def test_turn_streams_preroll_plays_reply_sends_played_with_tones(speech: Speech, tmp_path: Path) -> None:
    question = speech.mic("What is the weather like in Paris today?")
    onset_ms = 500
    mic = silence(0.5) + question + silence(1.0)
    write_wav(str(tmp_path / "mic.wav"), mic, PCM16_MONO_16K)
    reply = speech.reply("It is sunny.")
    out = tmp_path / "speaker.wav"
    # --no-aec: the streamed bytes are compared with the mic's (an echo canceller changes them, by design).
    flags = ("--mic-wav", str(tmp_path / "mic.wav"), "--mic-wav-fast", "--snd-wav", str(out), "--snd-rate", "16000",
             "--name", "kitchen-sat", "--area", "Kitchen", "--zeroconf", "--no-aec")
    async with satellite(*flags) as sat:
        found = await browse(timeout=5.0, interface="127.0.0.1", want="kitchen-sat")
        assert [(f.name, f.port) for f in found if f.name == "kitchen-sat"] == [("kitchen-sat", sat.port)]
        async with ScriptedController.connect(sat.port, lambda _turn: reply) as ctl:
            await ctl.wait(lambda: "played" in ctl.events)
            assert ctl.info is not None and ctl.info.satellite is not None
            assert ctl.info.satellite.has_vad and ctl.info.satellite.area == "Kitchen"
            assert [e for e in ctl.events if e not in ("info", "pong")][:3] == ["run-pipeline", "audio-start",
                                                                                "audio-chunk"]
            assert len(ctl.turns) == 1
            turn = ctl.turns[0]
            assert turn.pipeline.start_stage == PipelineStage.ASR and turn.pipeline.end_stage == PipelineStage.TTS
            assert turn.start is not None and (turn.start.rate, turn.start.width, turn.start.channels) == (16000, 2, 1)
            assert turn.stopped and turn.played
            # The start is intact: the stream begins before the speech and is the mic audio itself.
            assert turn.first_ms <= onset_ms
            assert turn.audio == mic[turn.first_ms * MS: turn.first_ms * MS + len(turn.audio)]
            assert len(turn.audio) >= len(question)
    played = speaker(out)
    listen, process = tone_starts(played, LISTEN_HZ), tone_starts(played, PROCESS_HZ)
    assert len(listen) == 1 and len(process) == 1, (listen, process)
    stop_ms = turn.first_ms + len(turn.audio) // MS
    assert onset_ms <= listen[0] <= onset_ms + 600  # as the voice is detected
    assert listen[0] < stop_ms <= process[0] + FRAME_MS  # processing tone once the stream is over
    reply_16k = convert(reply, PIPER_FMT, PCM16_MONO_16K)
    voice_ms = first_sound_after(played, process[0] + 200)
    assert process[0] < voice_ms
    # The whole reply was played, after the tones.
    assert rms(played[voice_ms * MS:]) > 0.01
    assert sum(rms(w) > 0.005 for w in windows(played[voice_ms * MS:])) * FRAME_MS >= \
        0.6 * sum(rms(w) > 0.005 for w in windows(reply_16k)) * FRAME_MS


@dataclass
class BargeInRun:
    turns: list[Turn]
    played: bytes
    interrupt_ms: int
    interrupt_end_ms: int
    reply_ms: int


INTERRUPTION = "Stop, tell me about London instead."


async def _barge_in_run(speech: Speech, tmp_path: Path, said: str | None, *flags: str) -> BargeInRun:
    """A question, then (if ``said``) the user speaks 2.4 s after it, over the long reply."""
    question = speech.mic("What is the weather like in Paris today?")
    interruption = speech.mic(said) if said else b""
    interrupt = said == INTERRUPTION
    text = "The weather in Paris today is sunny with a light breeze from the west"
    if interrupt:  # long enough to be cut short
        text += ", and the temperature will reach twenty two degrees in the afternoon, so take a hat"
    reply = speech.reply(text + ".")
    short = speech.reply("London is cloudy.")
    lead = silence(0.5) + question + silence(2.4)
    mic = lead + interruption + silence(1.5 if interrupt else 0.0)
    write_wav(str(tmp_path / "mic.wav"), mic, PCM16_MONO_16K)
    out = tmp_path / "speaker.wav"
    all_flags = ("--mic-wav", str(tmp_path / "mic.wav"), "--snd-wav", str(out), "--snd-rate", "16000", "--no-tones",
                 "--no-aec", *flags)  # the streamed bytes are compared with the mic's: the raw mic
    async with satellite(*all_flags) as sat, \
            ScriptedController.connect(sat.port, lambda turn: reply if turn == 1 else short) as ctl:
        # Until the second utterance has been streamed, or (no interruption) the reply was played.
        await ctl.wait(lambda: (len(ctl.turns) >= 2 and ctl.turns[1].stopped)
                       or (not interrupt and bool(ctl.turns) and ctl.turns[0].played))
        turns = list(ctl.turns)
    return BargeInRun(turns, speaker(out), len(lead) // MS, (len(lead) + len(interruption)) // MS,
                      len(convert(reply, PIPER_FMT, PCM16_MONO_16K)) // MS)


def _assert_barged_in(run: BargeInRun) -> int:
    assert len(run.turns) == 2, "the interruption did not start a new turn"
    first, second = run.turns
    assert not first.played  # interrupted: no played for the first reply
    assert second.pipeline.start_stage == PipelineStage.ASR
    # The new utterance starts before the interruption's onset (pre-roll): its start is intact.
    assert second.first_ms <= run.interrupt_ms
    confirmed_ms = second.first_ms + len(second.chunks[0].audio) // MS
    assert run.interrupt_ms < confirmed_ms < run.interrupt_ms + 1500
    # The reply played until the user spoke (it is held from the VAD's start on, dropped when
    # the speech has lasted long enough) and not a chunk after the barge-in was decided.
    before = run.played[(run.interrupt_ms - 300) * MS: run.interrupt_ms * MS]
    after = run.played[(confirmed_ms + FRAME_MS) * MS: run.interrupt_end_ms * MS]
    assert rms(before) > 0.01, "the reply was not playing when the user interrupted"
    assert after and not any(after), "playback did not stop within one chunk"
    return confirmed_ms


async def test_barge_in_stops_playback_within_a_chunk_and_streams_new_utterance(
    speech: Speech, tmp_path: Path
) -> None:
    run = await _barge_in_run(speech, tmp_path, INTERRUPTION)
    confirmed_ms = _assert_barged_in(run)
    second = run.turns[1]
    mic, _ = read_wav(str(tmp_path / "mic.wav"))
    # Exactly what the mic heard, from before the onset on (no echo path in this run).
    assert second.audio == mic[second.first_ms * MS: second.first_ms * MS + len(second.audio)]
    # Tones were turned off for this run: none in the speaker's output.
    assert tone_starts(run.played, LISTEN_HZ) == [] and tone_starts(run.played, PROCESS_HZ) == []
    # The rest of the long reply was dropped, not drained.
    reply_start = first_sound_after(run.played, run.turns[0].first_ms + 1000)
    assert confirmed_ms - reply_start < run.reply_ms - 2000


async def test_own_voice_through_echo_path_does_not_barge_in(speech: Speech, tmp_path: Path) -> None:
    run = await _barge_in_run(speech, tmp_path, None, "--echo-sim-delay-ms", "60", "--echo-sim-gain-db", "-10")
    assert len(run.turns) == 1 and run.turns[0].played
    # The whole reply was heard.
    loud = sum(rms(w) > 0.005 for w in windows(run.played)) * FRAME_MS
    assert loud > 0.6 * run.reply_ms


async def test_without_echo_guard_the_echo_path_does_barge_in(speech: Speech, tmp_path: Path) -> None:
    """The control for the test above: the simulated echo is loud enough to matter.

    (Without the hold, which silences the reply when speech starts and so hides the echo too.)
    """
    run = await _barge_in_run(speech, tmp_path, None, "--echo-sim-delay-ms", "60", "--echo-sim-gain-db", "-10",
                              "--no-echo-guard", "--no-barge-in-hold")
    assert len(run.turns) >= 2 or not run.turns[0].played


async def test_real_speech_over_the_echo_does_barge_in(speech: Speech, tmp_path: Path) -> None:
    run = await _barge_in_run(speech, tmp_path, INTERRUPTION, "--echo-sim-delay-ms", "60", "--echo-sim-gain-db",
                              "-10")
    _assert_barged_in(run)


async def test_a_cough_over_the_reply_only_pauses_it(speech: Speech, tmp_path: Path) -> None:
    run = await _barge_in_run(speech, tmp_path, "Uh.")  # ~0.25 s of voice, under the 0.4 s minimum
    assert len(run.turns) == 1 and run.turns[0].played
    # Held while the user made the sound, then resumed where it stopped: a gap, nothing lost.
    tail = run.played[run.interrupt_ms * MS:]
    gap = [not any(w) for w in windows(tail)]
    assert any(gap[:20]), "the reply was not held"
    loud = sum(rms(w) > 0.005 for w in windows(run.played)) * FRAME_MS
    assert loud > 0.6 * run.reply_ms
