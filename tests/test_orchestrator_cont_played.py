"""The reply heard is the reply played before the satellite held it (orchestrator.continuation).

The room, session 20 (the lead's run 19:58-20:04, cont-01): a far "please" held at 0.87 s of the
reply reached a continuation's 6 voiced frames 0.1 s later; the orchestrator's clock of the reply
heard (the time since its first chunk) ran on while the reply was held silent, so the satellite had
to give such a hold up as a barge-in's at 0.95 s (to stay under the 1.0 s limit) and the word was
lost. Our satellite now says in the ``run-pipeline`` how much it had played (``reply_played``);
the limit counts that. Satellites that do not say it are judged by the clock as before.
"""

from __future__ import annotations

import pytest
from wyoming.pipeline import PipelineStage, RunPipeline

from orchestrator.continuation import REPLY_PLAYED, TurnTrack, Verdict, reply_played
from satellite.held import REPLY_PLAYED as SATELLITE_SAYS


def replying(first_chunk_at: float = 10.2, seconds: float = 3.0) -> TurnTrack:
    track = TurnTrack()
    track.sent("voice-stopped", now=10.0)
    track.sent("audio-chunk", now=first_chunk_at, seconds=seconds)
    return track


def test_a_word_held_inside_the_first_second_is_joined_though_confirmed_after_it() -> None:
    """1.15 s after the reply's first chunk, 0.87 s of it played before the hold: merged (main: a barge-in)."""
    decision = replying().decide(11.35, played=0.87)
    assert decision.verdict is Verdict.MERGE, decision
    assert decision.reply_heard == pytest.approx(0.87)


def test_without_the_satellite_saying_so_the_clock_stands() -> None:
    decision = replying().decide(11.35)
    assert decision.verdict is Verdict.NEW and decision.reply_heard == pytest.approx(1.15)


def test_a_reply_played_past_the_limit_is_a_barge_in_whatever_the_clock() -> None:
    assert replying().decide(11.3, played=1.3).verdict is Verdict.NEW


def test_the_played_seconds_cannot_exceed_the_reply_sent() -> None:
    assert replying(seconds=0.4).decide(11.3, played=2.0).reply_heard == pytest.approx(0.4)


def test_the_window_after_the_end_still_counts_wall_time() -> None:
    assert replying().decide(11.6, played=0.2).verdict is Verdict.NEW  # 1.6 s after the end of speech


def test_the_run_pipeline_field_is_read_from_the_event() -> None:
    assert REPLY_PLAYED == SATELLITE_SAYS  # one name on both sides
    event = RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS).event()
    assert reply_played(event.data) is None
    event.data[REPLY_PLAYED] = 0.42
    assert reply_played(RunPipeline.from_event(event).event().data) is None  # (the typed class drops it)
    assert reply_played(event.data) == pytest.approx(0.42)
    for bad in ("0.4", -1.0, float("nan"), True, None):
        assert reply_played({REPLY_PLAYED: bad}) is None
