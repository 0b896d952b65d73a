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
