"""The speaker slipped a sample or two, unseen: the echo comes that much later (or sooner) than the canceller expects.

Pure and synchronous (numpy only); used by :class:`satellite.aec.AudioFrontend`. A speaker that runs dry
for one sample while it plays silence between replies (the room's card: the write-ahead's queue a sample
short at one of its 10 ms reads) shifts everything after it by one sample at its rate (22050 Hz: 0.73 of
a sample at the canceller's 16 kHz). Nothing says so, and while the speaker plays silence no echo shows
it. The next reply's echo then comes a fraction of a sample off the path speex converged on, and speex,
trusted at 30 dB ERLE, takes only 5-20 dB out of the reply's first loud frames (a filter off by 0.73
of a sample leaves ``1 - e^(-j w 0.73)`` of the echo: -4 dB at 2 kHz), with the high band worst: the
room at 0 dB (session 25's lead, reply 6: the reply's first echo frames at -16 / -10 / -8 dBFS cancelled
16 / 20 / 20 dB, hiss 8.7 dB over the high band's residual echo: an onset and a false hold). The
delay meter (:mod:`satellite.delay`) finds the move, but from two agreeing estimates 0.4 s or more
into the reply: too late for the onset.

The test, on each loud frame the canceller left much of: its output is the echo minus its estimate; if
the echo is the estimate heard ``k`` speaker samples later, the mic less the estimate delayed by that
(a windowed sinc, :func:`satellite.realign.delayed`) leaves far less. When one of ``k`` in
``SHIFTS`` leaves ``MIN_GAIN_DB`` less than the estimate as it is, the path moved by that: the frame's
output is the mic less the shifted estimate, and the caller delays the reference by as much from the
next frame on (as for a move the write-ahead signals, :mod:`satellite.realign`). One speaker sample
only: a move of two or more is :class:`satellite.estimate.LaterEcho`'s (a mid-reply move of 2 samples in
tests/test_satellite_echo_unseen.py's seed 5, re-aligned here, still left its move's frames 16 dB over
the residual echo and held; LaterEcho suspends the trust there instead). Not while the delay meter
measures afresh (after a restart or a recheck), nor while the kept path stands in for speex after one.
A user's voice is not in the estimate: no shift of it takes the voice out (the users' strong frames
over eight tapped room runs of session 25: at most 0.8 dB; echo-only frames up to 11.7).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .realign import TAPS, delayed

Floats = np.ndarray[Any, np.dtype[np.float64]]
SHIFTS = (-1, 1)  # speaker samples the echo may have moved by (> 0: later; 2 or more: estimate.LaterEcho)
MIN_GAIN_DB = 6.0  # the shifted estimate leaves this much less of the frame than the estimate as it is
_MIN_MIC = 32768 * 10 ** (-50 / 20)  # only a mic frame this loud (RMS) is looked at (a reply's first echo: -44) ...
_LEFT_DB = 20.0  # ... that the canceller took less than this out of (on its path, converged: 25-40) ...
_ESTIMATE_DB = 10.0  # ... and its estimate within this of the mic (it predicted an echo there)
_HISTORY = 64  # the estimate's samples kept from the frame before (a shift of a few samples reaches back)
_EDGE = TAPS + 4  # the frame's last samples: the windowed sinc needs this many after each


class Slip:
    """:meth:`check` once per frame the canceller ran on, in order (:meth:`skip` for the others)."""

    def __init__(self, step: float) -> None:
        self._step = step  # one speaker sample at 16 kHz
        self._before: Floats = np.zeros(_HISTORY)
        self.gain_db = 0.0  # the last frame looked at: how much less the best shift left

    def skip(self) -> None:
        self._before = np.zeros(_HISTORY)

    def check(
        self, mic: np.ndarray[Any, Any], cancelled: np.ndarray[Any, Any], *, look: bool = True
    ) -> tuple[float, Floats] | None:
        """(the move in 16 kHz samples, the frame cancelled on the moved path) when the frame's echo is the
        canceller's estimate heard a few speaker samples later or sooner; None if not (or not looked at:
        ``look`` False, the frame only kept as the history of the next)."""
        x = np.asarray(mic, dtype=np.float64)
        y = np.asarray(cancelled, dtype=np.float64)
        est = x - y
        e = np.concatenate([self._before, est])
        self._before = est[len(est) - _HISTORY :].copy()
        self.gain_db = 0.0
        n = len(x)
        mic_e, out_e, est_e = float(np.dot(x, x)), float(np.dot(y, y)), float(np.dot(est, est))
        if (
            not look
            or self._step <= 0
            or n <= _EDGE + _HISTORY
            or mic_e < n * _MIN_MIC**2
            or out_e * 10 ** (_LEFT_DB / 10) < mic_e
            or est_e * 10 ** (_ESTIMATE_DB / 10) < mic_e
        ):
            return None
        m = n - _EDGE
        plain = float(np.dot(y[:m], y[:m]))
        best, best_left = 0, plain
        for k in SHIFTS:
            left = x[:m] - delayed(e, _HISTORY + m - k * self._step, m)
            energy = float(np.dot(left, left))
            if energy < best_left:
                best, best_left = k, energy
        self.gain_db = 10 * math.log10(max(plain, 1e-9) / max(best_left, 1e-9))
        if best == 0 or self.gain_db < MIN_GAIN_DB:
            return None
        shift = best * self._step
        out = y.copy()
        out[:m] = x[:m] - delayed(e, _HISTORY + m - shift, m)  # (the last _EDGE samples: as cancelled)
        return shift, out
