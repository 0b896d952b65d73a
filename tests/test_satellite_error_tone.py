"""A turn that fails with nothing said ends with the error tone (two falling notes), so the user
knows: before, the satellite went back to listening in silence. The real satellite process, a
WAV as the mic and as the speaker, a scripted controller (tests/test_satellite_service.py)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from helpers import free_port
from speech import piper_voice
from test_satellite_orchestrator import orchestrator
from test_satellite_service import FRAME_MS, ScriptedController, Speech, rms, satellite, silence, speaker, windows
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error

from satellite.tones import ERROR_HZ, ToneConfig, tone, tone_power
from voice_runtime.audio import PCM16_MONO_16K, write_wav

WAV_HZ = 1200.0  # the --error-wav replacement: a tone no other sound of the satellite has


@pytest.fixture(scope="module")
def speech() -> Speech:
    return Speech(piper_voice())


class ApologyThenError(ScriptedController):
    """What our orchestrator does for most failures: speaks an apology, then sends ``error``."""

    async def _answer(self, turn: int) -> None:
        audio = self.reply(turn)
        assert isinstance(audio, bytes)
        await self.client.send(AudioStart(rate=22050, width=2, channels=1))
        await self.client.send(AudioChunk(rate=22050, width=2, channels=1, audio=audio))
        await self.client.send(AudioStop())
        await self.client.send(Error(text="the turn failed", code="turn-failed"))


class FifoMic:
    """The satellite's mic (``--mic-command "cat FIFO"``), written by the test at twice real time:
    what :meth:`say` queues, silence between; :meth:`finish` writes ``seconds`` more of silence and
    closes it (the satellite then logs "microphone ended", having played one speaker frame per mic
    frame, so whatever was queued to play before those frames has been played)."""

    FRAME = 960  # 30 ms

    def __init__(self, fifo: Path) -> None:
        self.fifo = fifo
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._last: bytes | None = None  # set by finish(): the final silence, then close
        self._done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def say(self, pcm: bytes) -> None:
        self._queue.put_nowait(pcm)

    async def finish(self, seconds: float) -> None:
        self._last = silence(seconds)
        await self._done.wait()

    async def __aenter__(self) -> FifoMic:
        self._task = asyncio.create_task(self._feed(), name="fifo mic")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _feed(self) -> None:
        fd = await asyncio.to_thread(os.open, self.fifo, os.O_WRONLY)  # waits for the satellite's `cat`
        transport, _ = await asyncio.get_running_loop().connect_write_pipe(
            asyncio.Protocol, os.fdopen(fd, "wb", buffering=0))
        try:
            pending = b""
            while True:
                if not pending and not self._queue.empty():
                    pending = self._queue.get_nowait()
                elif not pending and self._last is not None:
                    transport.write(self._last)
                    break
                frame, pending = pending[: self.FRAME].ljust(self.FRAME, b"\0"), pending[self.FRAME :]
                transport.write(frame)
                await asyncio.sleep(0.015)  # pacing: a mic delivers audio at its own pace (here 2x real time)
        finally:
            transport.close()
            self._done.set()



async def _run(
    tmp_path: Path, speech: Speech, *flags: str, apology: bool = False, hang_up: bool = False
) -> tuple[bytes, list[str]]:
    """One question; the controller answers with an error (or an apology and an error, or hangs up).
    The mic is fed by the test (:class:`FifoMic`), and the satellite stopped only after 3 s of mic
    frames that came after the turn's end (an apology, the tone) had been handled: with a mic WAV
    the test stopped it at the WAV's end, which a loaded box could reach first (CI, session 20: the
    controller-lost tone cut short, not found)."""
    fifo = tmp_path / "mic.fifo"
    os.mkfifo(fifo)
    out = tmp_path / "speaker.wav"
    error = Error(text="no service answered", code="services-unavailable")
    kind = ApologyThenError if apology else ScriptedController
    reply = (
        (lambda _t: speech.reply("Sorry, something went wrong."))
        if apology
        else ((lambda _t: None) if hang_up else (lambda _t: error))
    )
    async with satellite("--mic-command", f"cat {fifo}", "--snd-wav", str(out), "--snd-rate", "16000",
                         *flags) as sat, FifoMic(fifo) as mic:
        mic.say(silence(0.5) + speech.mic("Turn on the kitchen lights."))
        async with kind.connect(sat.port, reply) as ctl:
            await ctl.wait(lambda: "audio-stop" in ctl.events)
            if not hang_up:
                await sat.wait_log("controller error code=")
        if hang_up:
            await sat.wait_log("controller gone")
        await mic.finish(3.0)  # all of it after what ends the turn was queued to play (tone: 0.54 s)
        await sat.wait_log("microphone ended")
    return speaker(out), sat.log


def _starts(played: bytes, freq: float) -> list[int]:
    """Start (ms) of each run of 30 ms windows mostly at ``freq`` (a note on an FFT bin, as 330 Hz is,
    has ~0.66 of its energy in tone_power's ±30 Hz band)."""
    hits = [i for i, w in enumerate(windows(played)) if rms(w) > 0.05 and tone_power(w, 16000, freq) > 0.5]
    return [i * FRAME_MS for j, i in enumerate(hits) if j == 0 or hits[j - 1] != i - 1]


def _error_tones(played: bytes) -> list[int]:
    """Start (ms) of each error tone: its high note, then its low note right after."""
    low = _starts(played, ERROR_HZ[1])
    return [ms for ms in _starts(played, ERROR_HZ[0]) if any(0 < lo - ms <= 300 for lo in low)]


async def test_an_error_with_nothing_said_plays_the_error_tone(speech: Speech, tmp_path: Path) -> None:
    played, log = await _run(tmp_path, speech)  # failed on the old code: no tone, silence
    assert len(_error_tones(played)) == 1, [line for line in log if "error" in line]
    assert any("error tone: turn 1 failed (services-unavailable)" in line for line in log)


async def test_a_controller_lost_mid_turn_plays_the_error_tone(speech: Speech, tmp_path: Path) -> None:
    played, _log = await _run(tmp_path, speech, hang_up=True)
    assert len(_error_tones(played)) == 1


async def test_no_error_tone_after_a_spoken_apology(speech: Speech, tmp_path: Path) -> None:
    played, log = await _run(tmp_path, speech, apology=True)
    assert any("state waiting -> speaking on reply-start" in line for line in log)
    assert _error_tones(played) == []
    assert not any("error tone" in line for line in log)


@pytest.mark.parametrize("flag", ["--no-error-tone", "--no-tones"])
async def test_the_error_tone_can_be_turned_off(speech: Speech, tmp_path: Path, flag: str) -> None:
    played, log = await _run(tmp_path, speech, flag)
    assert any("controller error code=services-unavailable" in line for line in log)
    assert _error_tones(played) == []


async def test_error_wav_replaces_the_tone(speech: Speech, tmp_path: Path) -> None:
    wav = tmp_path / "error.wav"
    write_wav(str(wav), tone(WAV_HZ, 16000, ToneConfig(seconds=0.3)), PCM16_MONO_16K)
    played, _log = await _run(tmp_path, speech, "--error-wav", str(wav))
    assert _error_tones(played) == []
    assert len(_starts(played, WAV_HZ)) == 1


async def test_the_real_orchestrator_with_no_service_reachable_gives_the_tone(speech: Speech, tmp_path: Path) -> None:
    """No cloud fallback, speech-to-text unreachable: `services-unavailable` while the question streams."""
    write_wav(
        str(tmp_path / "mic.wav"),
        silence(0.5) + speech.mic("Turn on the kitchen lights.") + silence(3.0),
        PCM16_MONO_16K,
    )
    dead = [f"tcp://127.0.0.1:{free_port()}" for _ in range(3)]
    out = tmp_path / "speaker.wav"
    sat_flags = ("--mic-wav", str(tmp_path / "mic.wav"), "--snd-wav", str(out), "--snd-rate", "16000")
    async with (
        satellite(*sat_flags) as sat,
        orchestrator("--asr", dead[0], "--tts", dead[1], "--handle", dead[2], "--satellite", sat.uri),
    ):
        await sat.wait_log("mic wav finished", timeout=90)
    assert any("controller error code=services-unavailable" in line for line in sat.log)
    assert len(_error_tones(speaker(out))) >= 1
