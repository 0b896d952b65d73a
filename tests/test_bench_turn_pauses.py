"""The corpus's pauses are measured as the silence a listener hears (bench/turn_pauses.py), and
generation 2 of the corpus makes that measured silence the nominal pause."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: bench/

from bench.turn_corpus import piper_speech
from bench.turn_pauses import RATE, fit_pause, inserted_zeros, measured_pause, speech_windows
from voice_runtime.models import resolve_piper

Audio = np.ndarray[Any, np.dtype[np.float32]]


def tone(seconds: float, rms_dbfs: float, hz: float = 180.0) -> Audio:
    """A speech-like burst (a tone and two harmonics) of the given RMS level."""
    t = np.arange(1, round(seconds * RATE) + 1) / RATE
    if not len(t):
        return zeros(0)
    x = np.sin(2 * np.pi * hz * t) + 0.5 * np.sin(4 * np.pi * hz * t) + 0.25 * np.sin(6 * np.pi * hz * t)
    level: Audio = (x / np.sqrt(np.mean(x**2)) * 10 ** (rms_dbfs / 20)).astype(np.float32)
    return level


def zeros(seconds: float) -> Audio:
    return np.zeros(round(seconds * RATE), dtype=np.float32)


def paused(gap: float, *, quiet_tail: float = 0.12, quiet_lead: float = 0.08) -> Audio:
    """Two bursts with ``gap`` s of inserted zeros between them. The first ends with 50 ms at
    -34 dBFS (still speech) then ``quiet_tail`` s at -50 dBFS (silence to the ear and to the
    measure); the second starts with ``quiet_lead`` s at -52 dBFS. The silence heard is
    ``quiet_tail + gap + quiet_lead``."""
    return np.concatenate(
        [
            zeros(0.3),
            tone(0.4, -20),
            tone(0.05, -34),
            tone(quiet_tail, -50),
            zeros(gap),
            tone(quiet_lead, -52, 220),
            tone(0.4, -22, 220),
        ]
    )


def test_the_pause_is_the_silence_heard_not_the_zeros_inserted() -> None:
    x = paused(0.3)
    z0, z1 = inserted_zeros(x)
    assert (z1 - z0) / RATE == 0.3
    # the quiet tail and lead count as silence, the -34 dBFS end of the word as speech
    assert abs(measured_pause(x) - 0.5) <= 0.011
    # at -60 dBFS the quiet tail and lead are speech: only the zeros are silence
    assert abs(measured_pause(x, -60.0) - 0.3) <= 0.011


def test_speech_windows_follow_the_level() -> None:
    flags = speech_windows(np.concatenate([tone(0.1, -39), tone(0.1, -41), zeros(0.1)]))
    assert flags.tolist() == [True] * 10 + [False] * 20


def test_fit_pause_grows_or_shrinks_the_zeros_to_the_nominal_pause() -> None:
    for gap, quiet, nominal in ((0.45, 0.12, 0.45), (0.9, 0.2, 0.9), (0.3, 0.25, 0.3), (0.6, 0.0, 0.9)):
        x = paused(gap, quiet_tail=quiet, quiet_lead=quiet)
        assert abs(measured_pause(x) - nominal) > 0.05  # generation 1's pause is not the nominal one
        fitted = fit_pause(x, nominal)
        assert abs(measured_pause(fitted) - nominal) <= 0.011
        # the speech on both sides is kept as it was
        assert np.array_equal(fitted[: round(0.75 * RATE)], x[: round(0.75 * RATE)])
        assert np.array_equal(fitted[-round(0.4 * RATE) :], x[-round(0.4 * RATE) :])


def piper(text: str) -> Audio:
    """Piper joe (the corpus's sixth voice), as the corpus speaks it."""
    from piper import PiperVoice

    return piper_speech(PiperVoice.load(str(resolve_piper())), text)


def test_a_real_voice_split_pause_measured_is_the_nominal_one() -> None:
    first, second = piper("Set a timer for"), piper("fifteen minutes.")
    old = np.concatenate([first, zeros(0.6), second])  # generation 1: the zeros are the pause
    assert measured_pause(old) > 0.6  # Piper's quiet ends of words add to it (0.62 s)
    fitted = fit_pause(old, 0.6)
    assert abs(measured_pause(fitted) - 0.6) <= 0.011
    assert len(fitted) - len(old) == round((0.6 - measured_pause(old)) * RATE)
