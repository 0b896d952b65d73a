"""A continuation hold whose speech goes quiet short of its minimum resumes the reply at once (satellite.held).

Session 19's room, held-60 "Next song.": the controller ended the question early (a whole
command), the reply started, and the question's own tail (and the noisy clip's noise) reached
4 of the continuation's 6 voiced frames: the reply was held until the VAD's end of that speech,
0.6 s of silence, a 0.6 s stutter at the reply's start, with nobody speaking on. Now such speech,
quiet for ``continuation_lapse_seconds`` (0.21 s; 0.15 s until session 28) short of its minimum,
resumes the reply; a real short word, voiced without such a gap, still continues the question
(``test_satellite_cont_short_word.py``).

The real satellite process, its mic a FIFO fed step by step, a FAKE controller (the one of
``test_satellite_cont_short_word.py``) over a real socket; the speaker a WAV written one frame
per mic frame, so the held silence is measured in mic time, not on a clock.
"""

from __future__ import annotations

import asyncio
import os
import wave
from dataclasses import replace
from pathlib import Path

import numpy as np
from helpers import Client
from satellite_harness import CONFIG, REPLY, VAD, attach, chunk, feed, running
from test_satellite_cont_short_word import MS, FakeController, first_of
from test_satellite_service import satellite, silence
from wyoming.vad import VoiceStopped

from satellite.core import Satellite
from satellite.state import TurnState, TurnTrigger

FRAME = 960  # bytes: the satellite's 30 ms VAD frame


def buzz(seconds: float) -> bytes:
    """A voice-like buzz (140 Hz, 3 Hz tremolo) at -16 dBFS RMS: WebRTC's VAD calls it voiced, and it is
    the same every run (Piper's speech is not: its length and the VAD's verdicts vary by a frame)."""
    t = np.arange(round(seconds * 16000)) / 16000
    x = np.sign(np.sin(2 * np.pi * 140 * t)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    x *= 10 ** (-16 / 20) * 32768 / np.sqrt(np.mean(x**2))
    return x.astype("<i2").tobytes()


def longest_silence_inside(path: Path) -> float:
    """Seconds of the longest run of zero samples between the speaker's first and last sound."""
    with wave.open(str(path)) as wav:
        x = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
        rate = wav.getframerate()
    loud = np.flatnonzero(x != 0)
    inside = x[loud[0]: loud[-1] + 1] == 0
    edges = np.flatnonzero(np.diff(np.concatenate([[0], inside.astype(np.int8), [0]])))
    runs = edges[1::2] - edges[0::2]
    return float(runs.max()) / rate if len(runs) else 0.0


async def test_a_burst_right_after_the_end_of_the_question_is_no_long_stutter(tmp_path: Path) -> None:
    """The old code kept the reply held over the quiet after the burst until the VAD's end (0.6 s);
    here it never got there: 0.24 s after the burst two more frames the VAD called voiced (its
    hangover, once the energy gate opened on the held reply's silence) made the six, and the reply
    was cut for a new turn (``frames=vv........vv``). Now the hold lapses after seven quiet frames (five until
    session 28)."""
    fifo = tmp_path / "mic.pcm"
    os.mkfifo(fifo)
    speaker = tmp_path / "speaker.wav"
    args = ("--mic-command", f"cat {fifo}", "--snd-wav", str(speaker), "--snd-rate", "16000",
            "--no-tones", "--no-aec", "--controller-end-seconds", "2.0")
    async with satellite(*args) as sat:
        controller = FakeController(await Client.connect(sat.port))
        mic = os.open(fifo, os.O_RDWR)

        def write(audio: bytes) -> None:
            view = memoryview(audio)
            while view:
                view = view[os.write(mic, view):]

        try:
            await controller.start()
            await sat.wait_log("controller attached")
            # In whole frames: the burst starts on a frame of its own and is voiced in four (the VAD's
            # hangover after it is the reply's echo to the energy gate): short of six.
            question = silence(0.48) + buzz(0.99) + silence(0.3)
            assert len(question) % FRAME == 0
            await asyncio.to_thread(write, question)
            await controller.wait_heard(len(question) / MS - 30)
            await controller.end_and_reply("Lock the front door.", reply_seconds=2.0)
            await sat.wait_log("reply audio complete")
            await asyncio.to_thread(write, buzz(0.12) + silence(3.5))
            await first_of(sat, ("on reply-done", 1), ("audio-stop to the controller at mic", 2))
        finally:
            os.close(mic)
            await controller.close()
        await sat.stop()  # (the WAV's header is written at close)
    log = "\n".join(sat.log[-40:])
    assert "hold (continuation)" in log, log  # held as the user going on, at first
    assert "barge-in -> speaking on speech-lapsed" in log, log
    assert "on continued" not in log and "on barge-in-confirmed" not in log, log  # the reply was not cut
    assert longest_silence_inside(speaker) < 0.4, log  # the hold: the burst and 0.21 s, not 0.6 s of silence


# --- in process: the VAD's verdicts injected, frames fed by hand -----------------------------------
LONG_END = replace(CONFIG, vad=replace(VAD, silence_frames_required=20), barge_in_min_seconds=0.4)


async def _answered(sat: Satellite, *, reply_chunk: int = 3000, quiet: int = 2) -> None:
    """The controller ends a question (five voiced frames), its reply starts, ``quiet`` frames of silence."""
    link = await attach(sat)
    feed(sat, "vvvvv")
    await sat.on_controller_event(link, VoiceStopped().event())
    for event in (REPLY, chunk(reply_chunk)):
        await sat.on_controller_event(link, event)
    feed(sat, "." * quiet)


async def _after_the_end(pattern: str) -> tuple[TurnState, int]:
    """The controller ends a question, its reply starts, ``pattern`` is heard over it: the state and
    how many of the next 10 frames the reply played."""
    async with running(LONG_END) as sat:
        await _answered(sat)
        feed(sat, pattern)
        state = sat.state
        played = feed(sat, "." * 10)
        return state, sum(any(played[i: i + VAD.frame_bytes]) for i in range(0, len(played), VAD.frame_bytes))


async def _later_in_the_reply(pattern: str) -> TurnState:
    """The same, 1.2 s into the reply (a barge-in hold)."""
    async with running(LONG_END) as sat:
        await _answered(sat, reply_chunk=4000, quiet=40)
        feed(sat, pattern)
        return sat.state


async def test_only_a_continuation_hold_gone_quiet_resumes_the_reply() -> None:
    """Four voiced frames, seven quiet (0.21 s; five until session 28), right after the end: resumed, the reply
    plays on (the old code held it until 20 quiet frames). Not so a word with a shorter gap inside ("in the |
    kitchen": four quiet frames), which continues the question, nor a barge-in hold later in the
    reply, which waits for the VAD's end as before."""
    state, played = await _after_the_end("vvvv.......")
    assert (state, played) == (TurnState.SPEAKING, 10)
    assert (await _after_the_end("vvv....vvvv"))[0] == TurnState.STREAMING
    assert await _later_in_the_reply("vvvv.......") == TurnState.BARGE_IN


async def _held_late(pattern: str) -> TurnState:
    """A word held at ~0.84 s of the reply (where the room held most late-heard words), 0.3 s after the end."""
    async with running(CONFIG) as sat:
        await _answered(sat, quiet=25)
        feed(sat, pattern)
        return sat.state


async def test_a_continuation_is_confirmed_within_the_windows_or_not_at_all() -> None:
    """Held at ~0.84 s of the reply: the word confirmed 0.09 s later (~0.93 s) continues the question (the
    old 0.6 s window made it a barge-in hold: BARGE_IN). One whose voice has a gap and reaches six frames
    only 0.21 s later (~1.05 s) continues it too since session 21: the run-pipeline tells our orchestrator
    the reply played before the hold (0.84 s, under its 1.0 s), not the time since the reply's first
    chunk (session 20 made it a barge-in hold, to stay inside that clock: the room lost such words)."""
    assert await _held_late("vvvvvvv") == TurnState.STREAMING
    assert await _held_late("vvv....vvv") == TurnState.STREAMING


# --- a stop's closure inside the user's words is no lapse (session 28) ------------------------------
# A stop's closure inside the user's words is no lapse of a continuation hold (satellite.held, config).
#
# The whole-stack CI test (tests/test_full_stack.py: the story interrupted by "What time is it?") failed under load,
# 6 of 25 runs beside the whisper server's tests (session 28, load 5-11): the first hold lapsed (``speech-lapsed``),
# the reply resumed and the user was held again, a stutter. Traced frame by frame: load only made the first hold a
# continuation's (the test's Room fed the mic slower than its 2x real time, so the reply began under 1.4 s of mic
# time after the question's end: 10 of the 25 first holds, the other 15 barge-in holds, which wait for the VAD's
# end); in all six failures the VAD then heard Piper's "What" for one held frame and the closure of the "t" before
# "time" as five quiet frames (the mic at -30 to -66 dBFS), ``frames=v.....``: the 0.15 s lapse. The four
# continuation holds that passed had 0-4 quiet frames there (``v.vvv``, ``v....vvv``). The lapse is now 0.21 s
# (seven frames): a closure inside a word, or between two, is no end of the speech; the question's own tail that the
# lapse is for (session 19's held-60, ``frames=vv........vv``) still lapses, at 0.21 s of quiet instead of 0.15.


async def _triggers_after_the_end(pattern: str) -> list[TurnTrigger]:
    """The controller ends a question, its reply starts, ``pattern`` is heard over it: the triggers fired."""
    async with running(LONG_END) as sat:
        await _answered(sat)
        before = len(sat.machine.history)
        feed(sat, pattern)
        return [trigger for _, trigger, _ in sat.machine.history[before:]]


async def test_what_time_with_the_closure_of_its_t_continues_at_the_first_hold() -> None:
    """The failures' frames: held on "What" (three voiced), five quiet (the closure), "time is it" voiced. Main:
    SPEECH_LAPSED on the fifth quiet frame, then a second hold."""
    assert await _triggers_after_the_end("vvv.....vvvvvvv") == [TurnTrigger.SPEECH_START, TurnTrigger.CONTINUED]


async def test_a_burst_gone_quiet_still_lapses() -> None:
    """The question's tail the lapse is for: four voiced frames, then seven quiet: the reply resumes."""
    assert await _triggers_after_the_end("vvvv.......") == [TurnTrigger.SPEECH_START, TurnTrigger.SPEECH_LAPSED]
