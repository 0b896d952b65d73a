"""The cascade's two stages: microWakeWord's low bar starts a verification, our verifier decides.

A candidate microWakeWord scores between ``FIRST_STAGE`` (0.1) and ``TRUSTED_STAGE`` (0.2) is
verified too, but only a score of ours over ``STRICT_CUTOFF`` (0.99) confirms it
(``bench/wake_policy.py`` chose this on the tuning corpora).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from test_satellite_wake import VAD, detections

from satellite.wake import MicroDetector, WakeConfig, WakeGate
from satellite.wake_cascade import STRICT_CUTOFF, TRUSTED_STAGE, CascadeDetector, Verifier
from voice_runtime.audio import read_wav

AUDIO = Path(__file__).parent / "audio"


def _micro_peak(clip: bytes) -> float:
    micro, peak = MicroDetector(("okay_nabu",), (), None), 0.0
    for i in range(0, len(clip) - 959, 960):
        micro.process(clip[i:i + 960])
        peak = max(peak, micro.peak.get("okay_nabu", 0.0))
    return peak


def test_a_word_microwakeword_scores_under_the_old_low_bar_is_verified_strictly() -> None:
    """Kokoro af_heart's "Okay Nabu." after 2 s of silence: microWakeWord peaks at 0.14, under the
    old first stage (0.2): no verification ever started. Now one does, and ours scores it 0.994."""
    clip = bytes(64000) + read_wav(str(AUDIO / "af_heart_okay_nabu.wav"))[0] + bytes(32000)
    assert 0.1 < _micro_peak(clip) <= 0.2 == TRUSTED_STAGE
    gate = WakeGate(WakeConfig(), VAD.frame_seconds)
    try:
        assert isinstance(gate.detector, CascadeDetector)
        assert [n for n, _ in detections(gate, clip)] == ["okay_nabu"]
        assert gate.detector.candidates == 1
    finally:
        asyncio.run(gate.stop())


def test_a_strict_verification_wants_the_strict_cutoff() -> None:
    """A near miss ours scores 0.25 ("Okay, Napoli.", am_eric), with our cutoff lowered under it:
    a normal candidate is confirmed, a strict one (microWakeWord still under 0.2) is not."""
    audio = bytes(64000) + read_wav(str(AUDIO / "am_eric_okay_napoli.wav"))[0] + bytes(32000)
    verifier = Verifier(["okay_nabu"], "ours")
    verifier.ours["okay_nabu"].cutoff = 0.2
    assert verifier.start("okay_nabu", audio, strict=False)
    assert not verifier.start("okay_nabu", audio, strict=True)
    assert STRICT_CUTOFF > 0.9


class FakeMicro:
    """microWakeWord's per-frame probability, scripted (the first stage's output is the input here)."""

    names = ("okay_nabu",)

    def __init__(self, peaks: list[float]) -> None:
        self.peaks = peaks
        self.peak: dict[str, float] = {}

    def process(self, frame: bytes) -> str | None:
        self.peak = {"okay_nabu": self.peaks.pop(0) if self.peaks else 0.0}
        return None

    def reset(self) -> None:
        pass


def test_a_strict_verification_that_ended_does_not_hold_back_the_next_candidate() -> None:
    """The word's "Okay" passes 0.1 (a strict verification starts and ends 0.5 s after it falls back), then
    "Nabu" passes 0.2 within the 1.5 s hold: that candidate starts at once (the first cut of the
    rule waited out the hold, which made the listening tone ~0.4 s later on bm_fable)."""
    peaks = [0.15] * 5 + [0.0] * 25 + [0.5] * 5  # 30 ms frames: 0.9 s from the first candidate
    detector = CascadeDetector(FakeMicro(peaks), ["okay_nabu"], who="ours", trust_micro=False)  # type: ignore[arg-type]
    try:
        for _ in range(len(peaks) + 10):
            detector.process(bytes(960))
            detector.drain()
        assert detector.candidates == 2
    finally:
        detector.close()
