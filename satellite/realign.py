"""The echo canceller's reference, re-aligned to the fraction of a sample after the speaker moved.

Pure and synchronous (numpy only). A speaker that ran dry plays silence the satellite never wrote:
what follows plays later by a whole number of samples *at the speaker's rate* (22050 Hz in the
room), which at the canceller's 16 kHz is a fraction of a sample as often as not (one sample at
22050 Hz is 0.73 at 16 kHz). The delay meter (:mod:`satellite.delay`) finds the new delay to the
nearest 16 kHz sample, and moves the reference only when it moved by more than 1 ms: a speaker
that ran dry for 3 samples (2.2 at 16 kHz) left the canceller off its path by 2.2 samples, one that
ran dry for 50 (36.3) by 0.3. Synthetic (the room's echo model, 0 dB, speex converged at 31-34 dB),
the reply after such a move: 17.4 dB of ERLE for the 3 samples, 27.5 dB for the 50, 30.7 dB for
51 (37.0: whole at 16 kHz) and 31.5-31.9 dB with the reference moved exactly; the next reply still
5 dB under for the 3 samples (speex re-adapts slowly).

The delay meter's estimates are refined to 1/32 of a sample (:func:`peak_offset`, on its
whitened correlation: +-0.05 sample on speech); their difference across the move, in whole
speaker samples (:func:`snap`), moves the reference (:func:`delayed`, a windowed sinc). Synthetic,
the same moves signalled as the write-ahead signals an underrun: 29.6, 30.6 and 30.6 dB in that
reply (1, 3 and 50 samples; 24.1, 17.4, 27.5 dB before), 33.7, 32.4, 32.6 dB in the next.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

Floats = np.ndarray[Any, np.dtype[np.float64]]
TAPS = 16  # each side of the windowed sinc: a reference delayed by a fraction needs this many newer samples


@functools.lru_cache(maxsize=128)
def _kernel(mu: float) -> Floats:
    """Weights for x[i - TAPS + 1 .. i + TAPS] giving x at i + ``mu`` (0 <= mu < 1). Cached: the
    peak search asks for the same 62 grid offsets at every delay estimate, and the reference for
    the same fraction every frame until the next move (callers only read the array)."""
    t = np.arange(-TAPS + 1, TAPS + 1, dtype=np.float64) - mu
    window = 0.5 * (1.0 + np.cos(np.pi * t / (TAPS + 1)))  # Hann, zero beyond the taps
    k: Floats = np.sinc(t) * window
    return k


def delayed(x: Floats, end: float, n: int) -> Floats:
    """``n`` samples of ``x`` ending (exclusive) at the real index ``end``: ``x(end - n + j)``, j < n,
    interpolated between samples. Needs ``TAPS`` samples after ``floor(end) - 1`` and before
    ``end - n``; whole ``end``: plain slicing."""
    whole = math.floor(end)
    mu = end - whole
    if mu < 1e-9:
        out: Floats = x[whole - n : whole].astype(np.float64)
        return out
    first = whole - n  # x(first + mu) is the first sample wanted
    seg = x[first - TAPS + 1 : whole + TAPS].astype(np.float64)
    return np.convolve(seg, _kernel(mu)[::-1], mode="valid")[:n]


def peak_offset(corr: Floats, k: int) -> float:
    """Where, within a sample of ``corr[k]`` (a band-limited correlation's largest value), its
    peak lies: ``corr`` interpolated (windowed sinc) on a 1/32-sample grid over [-1, 1]."""
    if k - TAPS - 1 < 0 or k + TAPS + 2 > len(corr):
        return 0.0
    best, at = float(corr[k]), 0.0
    for step in range(-31, 32):
        if step == 0:
            continue
        d = step / 32.0
        base = k + math.floor(d)
        mu = d - math.floor(d)
        value = float(np.dot(corr[base - TAPS + 1 : base + TAPS + 1], _kernel(mu)))
        if value > best:
            best, at = value, d
    return at


def snap(shift: float, step: float) -> float:
    """``shift`` (samples at 16 kHz) to the nearest whole number of the speaker's samples (``step``
    16 kHz samples each): a speaker that runs dry plays whole samples of silence."""
    return round(shift / step) * step if step > 0 else shift
