"""The satellite's onset judge and echo judge in the turn driver (frames fed by hand, fake judges;
the harness: ``satellite_harness.py``)."""

from __future__ import annotations

import dataclasses

from satellite_harness import (
    CONFIG,
    REPLY,
    VAD,
    Link,
    attach,
    chunk,
    feed,
    running,
    sat_fixture,  # noqa: F401 (the `sat` fixture)
)
from wyoming.audio import AudioChunk

from satellite.core import Satellite
from satellite.going_on import GoingOn
from satellite.speaker_path import _PRE_USER
from satellite.state import TurnState


class FakeOnsetJudge:
    """Stands in for the echo judge: lets every frame through, reports an onset when told to."""

    converged = True
    misaligned = False
    phantom = False  # (satellite.killed_echo: no speaker killed here matters)

    def __init__(self) -> None:
        self.onset = False
        self.path_changes = 0
        self.going_on = GoingOn(VAD.frame_seconds)  # (satellite.going_on: opened and stopped by the satellite)

    def process(self, raw: bytes, cleaned: bytes, played: bytes, *, cancelling: bool = True,
                not_echo: bool = False, double_talk: bool = False, echo_only: bool = False,
                estimate_corr: float = 0.0, later_echo: bool = False,
                later_voice: bool = False, settling: bool = False) -> bool:
        return True

    def path_changed(self) -> None:
        self.path_changes += 1

    def speaker_dropped(self) -> None:
        return None

    def take_reply_erle(self) -> tuple[float | None, int]:
        return None, 0


async def _speaking_with_onset_judge(sat: Satellite) -> tuple[Link, FakeOnsetJudge]:
    judge = FakeOnsetJudge()
    sat.guard = judge  # type: ignore[assignment]
    link = await attach(sat)
    feed(sat, "vvv")
    feed(sat, "v.....")
    for event in (REPLY, chunk(3000)):
        await sat.on_controller_event(link, event)
    assert any(feed(sat, "...")) and sat.state == TurnState.SPEAKING
    return link, judge


async def test_an_onset_holds_the_reply_at_once_and_it_resumes_when_no_speech_follows(sat: Satellite) -> None:
    link, judge = await _speaking_with_onset_judge(sat)
    judge.onset = True
    feed(sat, ".")  # the onset frame: held, the speaker restarted
    judge.onset = False
    # The echo still arriving is on the old path: the judge is told of a new one only when the
    # restarted speaker plays again.
    assert sat.state == TurnState.BARGE_IN and judge.path_changes == 0
    assert not any(feed(sat, "." * 9)) and sat.state == TurnState.BARGE_IN  # silent while held
    feed(sat, ".")  # 300 ms after the onset, nothing the VAD calls speech: the onset lapsed
    assert sat.state == TurnState.SPEAKING
    assert any(feed(sat, "..")), "the reply did not resume"
    assert judge.path_changes == 1
    await sat.flush()
    assert "run-pipeline" not in link.types()[1:]  # no new turn


async def test_an_onset_the_vad_confirms_becomes_a_barge_in(sat: Satellite) -> None:
    link, judge = await _speaking_with_onset_judge(sat)
    judge.onset = True
    feed(sat, ".")
    judge.onset = False
    assert sat.state == TurnState.BARGE_IN
    assert not any(feed(sat, "vvvvvvvvvvvvvvv"))  # held from the onset on, through the confirmation
    assert sat.state == TurnState.STREAMING
    await sat.flush()
    assert link.types().count("run-pipeline") == 2


class FakeEchoJudge(FakeOnsetJudge):
    """Holds back the frames marked as the reply's echo (second byte 1), lets the rest through."""

    def process(self, raw: bytes, cleaned: bytes, played: bytes, *, cancelling: bool = True,
                not_echo: bool = False, double_talk: bool = False, echo_only: bool = False,
                estimate_corr: float = 0.0, later_echo: bool = False,
                later_voice: bool = False, settling: bool = False) -> bool:
        return raw[1] != 1


async def test_a_barge_in_turn_starts_where_the_judge_first_heard_the_user_not_in_the_echo_before() -> None:
    """The loaded whole-stack room: the question spoken over a reply was sent with the VAD's
    whole 0.6 s pre-roll, 380 ms of it the reply's echo, and whisper heard "One day, stop. What
    time is it?". Now the pre-roll of a speech start over a reply begins ``_PRE_USER`` frames
    before the first frame the judge let through (old code: all 10 echo frames before it were sent)."""
    async with running(dataclasses.replace(CONFIG, vad=dataclasses.replace(VAD, preroll_seconds=0.6))) as sat:
        link, _ = await _speaking_with_onset_judge(sat)
        sat.guard = FakeEchoJudge()  # type: ignore[assignment]
        echo = b"\x01\x01" + b"\x00\x40" * (VAD.frame_bytes // 2 - 1)  # loud, voiced, but the judge calls it echo
        for _ in range(10):
            sat.process_frame(echo, sat.playback.next_frame())
        assert sat.state == TurnState.SPEAKING
        feed(sat, "v" * 15)
        assert sat.state == TurnState.STREAMING
        await sat.flush()
    turn = [i for i, e in enumerate(link.received) if e.type == "run-pipeline"][1]
    first = next(AudioChunk.from_event(e) for e in link.received[turn:] if e.type == "audio-chunk")
    frames = [first.audio[i:i + VAD.frame_bytes] for i in range(0, len(first.audio), VAD.frame_bytes)]
    assert sum(f[1] == 1 for f in frames) == _PRE_USER, [f[:2] for f in frames]
    assert frames[_PRE_USER][:2] == b"\x01\x00"  # the user's first frame follows
