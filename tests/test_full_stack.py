"""The whole product as a user runs it, every part a real process: our three engines
(``stack``), ``voice-orchestrator serve`` and ``voice-satellite`` with its speaker into a WAV.

The mic is a command (``cat FIFO``) the test feeds like a room (``Room`` of the cloud tests:
silence, and speech when told), not a fixed WAV: the interruption must be spoken while the
reply plays, and when the reply starts depends on the machine's load (on the shared 2-core
box the LLM's first sentence came anywhere from 1 to over 7 s after the question). So the
test speaks the interruption once the satellite reports that the reply is playing, which is
also what a user does.

Expected: the question (a long story, for the LLM) is answered and playing; the
interruption ("What time is it?") stops it (the satellite holds then drops the reply, the
orchestrator cancels the turn); the interruption is answered (the time, from the intent
fast path) and played to the end.

A question with a pause after a word that can end it ("Turn off the lights. ... in the living
room") is cut by the end of turn at the pause; the rest, spoken at once, continues the same
question (orchestrator/continuation.py): the orchestrator answers the whole of it. (The Room
feeds the mic at twice real time: the pause lasts 0.35 s of wall time.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from helpers import ROOT
from speech import speak
from stack import Stack
from test_satellite_cloud import Room
from test_satellite_service import SatelliteProcess, satellite

QUESTION = "Tell me a long story about a brave little dragon."
INTERRUPTION = "What time is it?"
FIRST_PART, REST = "Turn off the lights.", "in the living room."


async def orchestrator(stack: Stack, satellite_uri: str, *flags: str) -> SatelliteProcess:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator", "serve", "--satellite", satellite_uri, "--asr", stack.whisper.uri,
        "--handle", stack.llama.uri, "--tts", stack.tts.uri, *flags,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        cwd=str(ROOT), env=dict(os.environ),
    )
    return SatelliteProcess(proc, 0)


@contextlib.contextmanager
def logs_on_failure(**procs: SatelliteProcess) -> Iterator[None]:
    """On a failure (a timeout while running, an assertion after), each process's last log lines, once."""
    try:
        yield
    except BaseException:
        for name, proc in procs.items():
            print(f"{name}:", *proc.log[-120:], sep="\n")
        raise


def states(log: list[str]) -> list[str]:
    return [line.split('msg="state ', 1)[1].rstrip('"') for line in log if 'msg="state ' in line]


async def test_question_reply_interruption_stops_the_reply_and_is_answered(stack: Stack, tmp_path: Path) -> None:
    fifo = tmp_path / "mic.fifo"
    os.mkfifo(fifo)
    # Synthesised before the room starts: speak() runs Piper in this event loop, and while it runs
    # the Room stops feeding the mic, which the satellite takes for a stall of its own (it re-measures
    # the echo path just as the user starts speaking over the reply).
    question, interruption = speak(QUESTION), speak(INTERRUPTION)
    # --reply-timeout: the satellite gives up on a turn after 20 s without an event of it; at load
    # ~10 the story's first audio came 32 s after the transcript (first token 18 s), and the
    # reply then played as an announcement (seen in a loop of this test). Not what is tested here.
    # The cause was llama-server's two threads on this 2-core box (session 22, two busy loops at
    # nice 0, load ~12: first token 17-23 s, first audio 47-53 s, the satellite gave the turn up;
    # with the one thread wyoming_llama now runs there: first token 2.3-5.6 s, first audio 3.3-8.9 s).
    async with satellite("--mic-command", f"cat {fifo}", "--snd-wav", str(tmp_path / "speaker.wav"),
                         "--snd-rate", "16000", "--no-tones", "--reply-timeout", "300") as sat, Room(fifo) as room:
        # Spoken over a reply that has begun: a barge-in, never the rest of the question.
        orch = await orchestrator(stack, sat.uri, "--continuation-max-reply", "0")
        try:
            with logs_on_failure(orchestrator=orch, satellite=sat):
                await sat.wait_log("controller attached", timeout=30)
                room.say(question)
                await sat.wait_log("waiting -> speaking on reply-start", timeout=180)  # the story plays
                await asyncio.sleep(0)
                room.say(interruption)  # spoken over the story
                await orch.wait_log("turn ok", timeout=180)  # the interruption, answered
                await sat.wait_log("on reply-done", timeout=60)  # … and played to the end
        finally:
            await orch.stop(signal.SIGTERM)
            await sat.stop()
    with logs_on_failure(satellite=sat):
        heard(sat, orch)


def heard(sat: SatelliteProcess, orch: SatelliteProcess) -> None:
    """The interruption test's checks on the two logs (after both stopped)."""
    sat_log, orch_log = "\n".join(sat.log), "\n".join(orch.log)
    seen = states(sat.log)
    # Heard over the reply: held at once, confirmed, a new turn streamed.
    start = seen.index("waiting -> speaking on reply-start")
    # (a reply that began within 1 s of the question's end: confirmed as a continuation, on less speech;
    # satellite/held.py. The orchestrator, --continuation-max-reply 0, takes it as a barge-in all the same.)
    seen = [x.replace("on continued", "on barge-in-confirmed") for x in seen]
    assert seen[start + 1:start + 4] == ["speaking -> barge-in on speech-start",
                                         "barge-in -> streaming on barge-in-confirmed",
                                         "streaming -> waiting on speech-end"], (seen, sat_log)
    assert "playback stopped dropped_ms=" in sat_log  # the rest of the story dropped, not played
    # The orchestrator cancelled the story's turn because of the barge-in, then answered. On a quiet
    # box the story's 120 tokens can all be made and sent before the barge-in is confirmed (seen in a
    # clean-clone CI run at load 0.1): then turn 1 ended "ok" BEFORE the barge-in and nothing is left
    # to cancel; the satellite still dropped the rest of the story (asserted above).
    outcomes = [line.split('msg="turn ', 1)[1].split(" ", 1)[0] for line in orch.log if 'msg="turn ' in line
                and "conversation=" in line]
    if "barge-in: cancelling turn 1" in orch_log:
        assert outcomes == ["cancelled", "ok"], orch_log
    else:
        assert outcomes == ["ok", "ok"], orch_log
        story_done = next(line for line in orch.log if 'msg="turn ok' in line)
        # Nothing to cancel only if the story's turn ended before the satellite CONFIRMED the barge-in
        # (the hold at speech start comes earlier: a clean-clone CI run had the turn end between them).
        barge_in = next(line for line in sat.log if "barge-in -> streaming on barge-in-confirmed" in line
                        or "barge-in -> streaming on continued" in line)
        assert story_done.split()[0] < barge_in.split()[0], (story_done, barge_in)  # ts=... ISO times
    answered = [line for line in orch.log if 'msg="turn ok' in line]
    assert "intent=HassGetCurrentTime" in answered[-1], orch_log
    # The answer to the interruption was played to the end, and nothing of the story after it.
    served = seen[:seen.index("listening -> idle on disarm")] if "listening -> idle on disarm" in seen else seen
    assert served[start + 4:] == ["waiting -> waiting on transcript", "waiting -> speaking on reply-start",
                                  "speaking -> listening on reply-done"], seen


async def test_a_question_cut_at_a_pause_is_answered_whole(stack: Stack, tmp_path: Path) -> None:
    fifo = tmp_path / "mic.fifo"
    os.mkfifo(fifo)
    # 0.3 s + 0.1 s + 0.3 s: a 0.7 s pause after "lights", where the request reads as finished.
    question = speak(FIRST_PART) + bytes(3200) + speak(REST)
    async with satellite("--mic-command", f"cat {fifo}", "--snd-wav", str(tmp_path / "speaker.wav"),
                         "--snd-rate", "16000", "--no-tones", "--controller-end-seconds", "2.0") as sat, \
            Room(fifo) as room:
        orch = await orchestrator(stack, sat.uri)
        try:
            await sat.wait_log("controller attached", timeout=30)
            room.say(question)
            # The rest was answered (alone or whole). Not "room" in any line: the command end's own
            # log line ("end of turn from the words: '... living room.'") came before the answer and
            # the test stopped the orchestrator mid-turn (CI, session 22); nor the second answer:
            # turn 1 may be cancelled by the continuation before it is answered.
            with contextlib.suppress(TimeoutError):  # the asserts below say what was logged
                await orch.wait_lines(lambda line: "answered transcript=" in line and "room" in line.lower(), 1, 120)
        finally:
            await orch.stop(signal.SIGTERM)
            await sat.stop()
    orch_log = "\n".join(orch.log)
    answered = [line for line in orch.log if "answered transcript=" in line]
    assert "light" in answered[-1].lower() and "room" in answered[-1].lower(), orch_log
    assert "continued=True" in answered[-1] and "after turn 1: continuation" in orch_log, orch_log
