"""A short word over a reply's first moments: heard whole, never said twice (issue 17, session 21).

The room, session 20 (the lead's run 19:58-20:04): "Set a timer for five minutes ... thanks", the
"Thanks." confirmed over the timer's reply as the user going on; the command had acted, so our
orchestrator heard "Thanks." alone and sent the command's reply again: "Timer set f-" then
"Timer set for 5 minutes." whole (2 of 3). Now the satellite keeps the rest of a reply that
speech cut (from the start of the word it was cut in) until the next reply starts, and when that
is the same reply again it plays the rest, not all of it twice. And the ``run-pipeline`` of speech
held over a reply says how much of the reply was played before the hold (``reply_played``): our
orchestrator's limit of 1.0 s of the reply heard counted the time the reply was held silent
(cont-01: a far "please" held at 0.87 s, confirmed 0.1 s later, lost).

The real satellite process (``python -m satellite``), a FIFO as its mic fed step by step, and a
FAKE controller (our orchestrator's events, no speech recognition; ``FakeController`` of
``test_satellite_cont_short_word``) over a real socket; its speaker is a WAV file.
"""

from __future__ import annotations

import asyncio
import os
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from helpers import Client
from speech import speak
from test_satellite_cont_short_word import MS, FakeController, _short_word_after, first_of, short_word, voiced
from test_satellite_service import satellite, silence
from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.pipeline import RunPipeline
from wyoming.tts import Synthesize
from wyoming.vad import VoiceStopped

from satellite.state import TurnState

REPLY_TEXT = "Timer set for 5 minutes."
FIRST, AGAIN = 0.025, 0.06  # the two sendings' levels (full scale): which one the speaker played
WORDS = 4  # the reply: four 0.4 s "words" with 0.1 s pauses between


def reply_audio(level: float) -> bytes:
    """A buzz at ``level`` (its every sample at it: which sending played is read off the speaker):
    ``WORDS`` words of 0.4 s, 0.1 s pauses (2.0 s)."""
    t = (np.arange(int(0.4 * 16000)) + 0.5) / 16000
    word = level * np.sign(np.sin(2 * np.pi * 140 * t))
    pcm = np.concatenate([np.concatenate([word, np.zeros(int(0.1 * 16000))]) for _ in range(WORDS)])
    return (pcm * 32767).astype("<i2").tobytes()


@dataclass
class RepeatingController(FakeController):
    """FAKE controller (as :class:`FakeController`) that also keeps each ``run-pipeline``'s data and
    answers the second run with ``REPLY_TEXT`` again (our orchestrator's "its reply again")."""

    data: list[dict[str, object]] = field(default_factory=list)

    async def _on(self, event: Event) -> None:
        if RunPipeline.is_type(event.type):
            self.data.append(dict(event.data or {}))
        await super()._on(event)

    async def reply(self, level: float) -> None:
        await self.client.send(Synthesize(text=REPLY_TEXT))
        await self.client.send(AudioStart(rate=16000, width=2, channels=1))
        pcm = reply_audio(level)
        for i in range(0, len(pcm), 3200):
            await self.client.send(AudioChunk(rate=16000, width=2, channels=1, audio=pcm[i:i + 3200]))
        await self.client.send(AudioStop())


@dataclass
class Run:
    controller: RepeatingController
    log: list[str]
    speaker: np.ndarray


async def thanks_over_the_reply(tmp_path: Path, heard_seconds: float, *, again: str = REPLY_TEXT,
                                home_assistant: bool = False) -> Run:
    """"Set a timer for five minutes", the controller ends it and replies; ``heard_seconds`` into
    the reply a 0.25 s word (``home_assistant``: a 1 s phrase, a barge-in there); when the satellite
    starts the new turn the controller ends it at once and answers ``again`` (the same reply by default)."""
    fifo = tmp_path / "mic.pcm"
    os.mkfifo(fifo)
    wav = tmp_path / "speaker.wav"
    args = ("--mic-command", f"cat {fifo}", "--snd-wav", str(wav), "--snd-rate", "16000",
            "--no-tones", "--no-aec", "--controller-end-seconds", "2.0")
    async with satellite(*args) as sat:
        controller = RepeatingController(await Client.connect(sat.port), home_assistant)
        mic = os.open(fifo, os.O_RDWR)

        def feed(audio: bytes) -> None:
            view = memoryview(audio)
            while view:
                view = view[os.write(mic, view):]

        try:
            await controller.start()
            await sat.wait_log("controller attached")
            question = silence(0.5) + voiced(speak("Set a timer for five minutes.")) + silence(0.3)
            await asyncio.to_thread(feed, question)
            await controller.wait_heard(len(question) / MS - 30)
            await controller.client.send(VoiceStopped())
            await controller.client.send(Transcript(text="Set a timer for five minutes."))
            await controller.reply(FIRST)
            await sat.wait_log("reply audio complete")
            word = voiced(speak("Cancel that timer.")) if home_assistant else short_word()
            await asyncio.to_thread(feed, silence(heard_seconds) + word + silence(0.3))
            await sat.wait_log("local run-pipeline", 2)
            await controller.client.send(VoiceStopped())  # the controller ends it: "Thanks."
            await controller.client.send(Transcript(text="Thanks."))
            if again == REPLY_TEXT:
                await controller.reply(AGAIN)
            else:
                await controller.client.send(Synthesize(text=again))
                await controller.client.send(AudioStart(rate=16000, width=2, channels=1))
                await controller.client.send(AudioChunk(rate=16000, width=2, channels=1,
                                                        audio=reply_audio(AGAIN)[: 16000 * 2]))
                await controller.client.send(AudioStop())
            await sat.wait_log("reply audio complete", 2)
            await asyncio.to_thread(feed, silence(3.0))
            await first_of(sat, ("on reply-done", 1))
        finally:
            os.close(mic)
            await controller.close()
    with wave.open(str(wav)) as w:
        speaker = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64) / 32767
    return Run(controller, sat.log, speaker)


def seconds_at(speaker: np.ndarray, level: float) -> float:
    """Seconds of the speaker's output at the level of one sending."""
    a = np.abs(speaker)
    return float(np.count_nonzero((a > level * 0.95) & (a < level * 1.05))) / 16000


@pytest.mark.parametrize(("heard_seconds", "again_at_most"), [
    (0.3, 0.0),  # in the first word: it goes on where it was cut
    (0.6, 0.3),  # in the second: from the pause before it (its start again), not mid-word
])
async def test_the_same_reply_again_plays_only_its_rest(
        tmp_path: Path, heard_seconds: float, again_at_most: float) -> None:
    """The word over the reply's first or second word: the reply is cut, the controller sends it again;
    the speaker plays the rest of the first sending (from the pause before the cut word), none of the
    second. On main the second played whole (1.6 s at its level) after the first's start: the reply
    said twice."""
    run = await thanks_over_the_reply(tmp_path, heard_seconds)
    log = "\n".join(run.log[-60:])
    assert "barge-in -> streaming on continued" in log, log
    assert seconds_at(run.speaker, AGAIN) < 0.05, log  # the second sending never played
    assert "its rest plays" in log, log
    # the first sending: whole, and of the word it was cut in no more than was heard of it
    whole = WORDS * 0.4
    assert whole - 0.05 <= seconds_at(run.speaker, FIRST) <= whole + again_at_most + 0.05, (
        seconds_at(run.speaker, FIRST), log)


async def test_another_reply_plays_as_sent(tmp_path: Path) -> None:
    """A different answer to the new speech is the new reply, played whole; the cut one is gone."""
    run = await thanks_over_the_reply(tmp_path, 0.3, again="You're welcome.")
    log = "\n".join(run.log[-60:])
    assert "barge-in -> streaming on continued" in log, log
    assert "its rest plays" not in log, log
    assert seconds_at(run.speaker, AGAIN) > 0.5  # the new reply (1 s of it sent) played


async def test_with_home_assistant_the_same_text_plays_as_sent(tmp_path: Path) -> None:
    """Home Assistant answers new speech anew (its run is announced by ``transcribe``): a reply with the
    cut one's text is its answer, played as sent (only our orchestrator's "its reply again" is the rest)."""
    run = await thanks_over_the_reply(tmp_path, 0.3, home_assistant=True)
    log = "\n".join(run.log[-60:])
    assert "barge-in -> streaming on barge-in-confirmed" in log, log
    assert "its rest plays" not in log, log
    assert seconds_at(run.speaker, AGAIN) > 1.5, log  # the second sending played whole


async def test_the_run_pipeline_says_how_much_of_the_reply_was_played(tmp_path: Path) -> None:
    """The new turn's run-pipeline carries the reply played before the hold (the held time is no
    part of it); the question's own run carries none. Main sent no such field."""
    run = await thanks_over_the_reply(tmp_path, 0.3)
    assert "reply_played" not in run.controller.data[0]
    played = run.controller.data[1].get("reply_played")
    assert isinstance(played, float), run.controller.data
    assert 0.2 <= played <= 0.8, played  # the word came 0.3 s into the reply (+ the VAD's start)


@pytest.fixture(autouse=True)
def _piper_loaded() -> None:
    speak("Set a timer for five minutes.")
    speak("Cancel that timer.")
    speak("Please.")


# --- the window of the reply heard, in process (frames fed by hand, the VAD's verdict injected) -----
@pytest.mark.parametrize(("heard_frames", "state"), [
    (26, TurnState.STREAMING),  # held at ~0.84 s of the reply, confirmed ~0.1 s later (main: a barge-in's)
    (28, TurnState.STREAMING),  # held at ~0.9 s: the held time is not heard
    (30, TurnState.BARGE_IN),  # held at ~0.96 s: past the window at the hold's start, as before
])
async def test_the_held_time_does_not_count_as_the_reply_heard(heard_frames: int, state: TurnState) -> None:
    """A short word (7 voiced frames) held just inside the 0.95 s of the reply is still a continuation
    when its voice is confirmed after it: the orchestrator is told the reply played before the hold."""
    assert await _short_word_after(3, heard_frames) == state
