"""A turn that ended with no speech recognised is no question to continue (orchestrator.continuation).

Measured on main, 2026-12-02 14:09-14:15 (a satellite opening turns on its canceller's output
over a silent mic): "turn 11 answered transcript=''", then a run-pipeline 0.08 s after its
voice-stopped was merged into it as a continuation ("turn 12 ... continued=True").
"""

from __future__ import annotations

from orchestrator.continuation import TurnTrack, Verdict


def test_no_speech_turn_is_not_continued() -> None:
    track = TurnTrack()
    track.sent("voice-stopped", now=10.0)
    assert track.decide(10.08).verdict is Verdict.MERGE  # a question that had speech: merged as before
    decision = track.decide(10.08, no_speech=True)
    assert decision.verdict is Verdict.NEW
    assert "no speech" in decision.reason
