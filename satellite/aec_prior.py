"""After a speaker restart: the kept echo path, tried at the old delay and near it, before the delay is measured.

Pure and synchronous (numpy only). Every barge-in hold kills the sound command; the reply (or the next
one) plays on a restarted one, and the canceller waits until :mod:`satellite.delay` has measured the
echo delay afresh (0.2-0.45 s of audible playback). A user who speaks right as that reply begins is
heard over an echo nobody cancels: offline (``bench/echo_interrupt_bench.py``, 0.6 s onsets) the hold
took 570 ms (p50) and the reply's words reached the question.

A restart rarely changes the room's echo path, only the speaker's buffer level: the kept filter of the
held shadow canceller (:mod:`satellite.aec_shadow`) still describes the room, at the old delay plus a
shift. The room's restarts (session 22's taps, 21 of them): the new delay was the old one in 6, in the
others 10 or 20 ms away (the card's period), to a fraction of a sample. :class:`PriorPath` predicts the
echo with that filter, frozen, at every shift within ``REACH_MS`` of the old delay, on the first frames
of echo after the restart; once one shift cancels ``MIN_DB`` or more of it over ``MIN_FRAMES`` frames,
and no other shift ``SHIFT_OVER``+ samples away comes within ``CLEAR_DB`` of it (a periodic echo fits
several shifts), the front end adopts it (``satellite.aec.AudioFrontend``): the reference is delayed by
it, speex resumes, and for speex's tail the frozen kept path's output stands in (speex's own history of
the reference is stale). The filter does not adapt meanwhile. The measured delay decides: the same, and
nothing changes for the echo judge; another, and the path changed as before. A stand-in 3 dB louder
than a loud mic frame (:func:`kept_off_path`) is dropped too.

Cost: one FFT convolution of the filter with the reference over the frame and the reach, and a
correlation over the shifts: ~1 ms per 30 ms frame, only until the delay is measured (~0.3-0.5 s).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from .realign import TAPS, delayed

REACH_MS = 32  # shifts tried either side of the old delay (the room: 10-20 ms, a card's period or two)
MIN_DB = 18.0  # the best shift cancels this much of the echo ...
MIN_FRAMES = 3  # ... over this many frames of echo
CLEAR_DB = 6.0  # ... and every shift SHIFT_OVER or more samples away cancels at least this much less
FRACTIONS = 9  # fractions of a sample tried past the best whole shift (-0.5 .. 0.5 in 1/8)
FRACTION_DB = 12.0  # a whole shift this far under MIN_DB is not tried to the fraction (half a sample: ~10 dB)
FRACTION_GAIN_DB = 3.0  # ... and taken only when it leaves this much less echo than the whole shift
KEPT_FRAMES = 8  # echo frames the fraction is judged on (the last ones)
SHIFT_OVER = 8  # samples: neighbours of the best shift (its own peak) are not rivals
OFF_PATH_RATIO = 2.0  # kept_off_path: the output this much louder than the mic (3 dB) ...
_LOUD_MIC = 32768 * 10 ** (-40 / 20)  # ... on a mic frame this loud
_ECHO_RMS = 32768 * 10 ** (-55 / 20)  # a frame whose predicted echo is this loud counts as echo
Real = np.ndarray[Any, np.dtype[np.float64]]


def _fft_len(n: int) -> int:
    return 1 << int(np.ceil(np.log2(max(2, n))))


def echo_of(h: Real, ref: np.ndarray[Any, Any], n: int) -> Real:
    """The echo of the last ``n`` samples of ``ref`` through the filter ``h`` (the ``len(h) - 1`` samples
    before them in ``ref`` too; a shorter ``ref``: ``h`` is cut to what there is)."""
    taps = max(1, min(len(h), len(ref) - n + 1))
    x = np.asarray(ref[len(ref) - n - taps + 1 :], dtype=np.float64)
    size = _fft_len(len(x) + taps - 1)
    full = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h[:taps], size), size)
    out: Real = full[taps - 1 : taps - 1 + n]
    return out


class PriorPath:
    """``h``: the kept echo path after the bulk delay (taps, 16 kHz); ``reach``: shifts tried either side (samples)."""

    def __init__(self, h: Real, reach: int) -> None:
        energy = np.cumsum(np.square(h[::-1]))[::-1]
        keep = int(np.count_nonzero(energy > energy[0] * 1e-4)) if energy[0] > 0 else 0  # to 40 dB under
        self.h: Real = np.asarray(h[: max(1, keep)], dtype=np.float64)
        self.reach = reach
        shifts = 2 * reach + 1
        self._mic = 0.0  # echo energy at the mic over the echo frames so far
        self._res = np.zeros(shifts)  # ... left by each shift (index reach + s: the echo s samples later)
        self.frames = 0  # echo frames seen
        self.shift: int | None = None  # the shift taken (samples later than the old delay), once proven ...
        self.frac = 0.0  # ... and a fraction of a sample more (-0.5..0.5)
        self._kept: deque[tuple[Real, Real]] = deque(maxlen=KEPT_FRAMES)  # (mic, predictions) of the echo frames
        self.erle_db = float("-inf")  # ... what it cancelled over the echo frames when it was taken
        self.used = 0  # frames its output was used on (satellite.aec.AudioFrontend)

    def rebase(self) -> None:
        """The reference is now delayed by the proven offset: drop what was kept for the proof."""
        self._kept.clear()

    @property
    def offset(self) -> float:
        """The proven shift with its fraction (samples; 0 while none is proven)."""
        return 0.0 if self.shift is None else self.shift + self.frac

    @property
    def span(self) -> int:
        """Reference samples needed before a frame's first sample at the old delay (and ``reach`` after its last)."""
        return len(self.h) - 1 + self.reach

    def predictions(self, ref: Real, n: int) -> tuple[Real, Real, Real]:
        """The predicted echo of the ``n`` samples of a frame at every shift (rows: the echo ``s`` samples
        later than at the old delay in row ``reach + s``; a read-only view) and each row's energy. ``ref``:
        the reference at the old delay (delay-compensated) with the frame's ``n`` samples preceded by
        :attr:`span` older ones and followed by ``reach`` newer ones (zeros where not written yet). Third:
        the predicted echo over all shifts (sample ``reach - s + i`` is the frame's sample i at shift s)."""
        taps, reach = len(self.h), self.reach
        size = _fft_len(len(ref) + taps - 1)
        full = np.fft.irfft(np.fft.rfft(ref, size) * np.fft.rfft(self.h, size), size)
        # The echo at the frame's sample i, shift s, is full[taps - 1 + reach - s + i].
        valid = full[taps - 1 : taps - 1 + 2 * reach + n]
        rows = np.lib.stride_tricks.sliding_window_view(valid, n)[::-1]
        power = np.concatenate([[0.0], np.cumsum(np.square(valid))])
        energy = (power[n:] - power[:-n])[::-1]
        return rows, energy, valid

    def at(self, valid: Real, n: int) -> Real:
        """The proven shift's prediction of the frame (its fraction interpolated, :mod:`satellite.realign`)."""
        assert self.shift is not None
        end = self.reach - self.shift + n
        if self.frac and end - n - self.frac >= TAPS and end + TAPS + 1 <= len(valid):
            out: Real = delayed(valid, end - self.frac, n)
            return out
        return valid[end - n : end]

    def feed(self, mic: Real, rows: Real, energy: Real, valid: Real) -> None:
        """Adds one frame (``rows``, ``energy``, ``valid``: :meth:`predictions`); takes a shift once one is proven."""
        if float(np.max(energy)) < _ECHO_RMS**2 * len(mic):
            return  # no echo expected at any shift: nothing to learn from
        self._kept.append((mic, valid.copy()))
        if self.shift is not None:  # proven: its fraction judged again on the newest frames (the first are faint)
            if len(self._kept) <= KEPT_FRAMES // 2:
                self.frac = self._refine(self.shift)[0]
            return
        mic_energy = float(np.dot(mic, mic))
        self.frames += 1
        self._mic += mic_energy
        self._res += mic_energy - 2.0 * (rows @ mic) + energy
        if self.frames < MIN_FRAMES:
            return
        best = int(np.argmin(self._res))
        shift = best - self.reach
        whole = 10.0 * np.log10(max(self._mic, 1e-9) / max(float(self._res[best]), 1e-9))
        if abs(shift) > self.reach - TAPS - 1 or whole < MIN_DB - FRACTION_DB:
            return  # at the edge of the reach (no fraction to find), or no fraction could make it (CPU: ~5 ms)
        frac, left = self._refine(shift)
        if 10.0 * np.log10(max(float(self._res[best]), 1e-9) / max(left, 1e-9)) < FRACTION_GAIN_DB:
            frac, left = 0.0, float(self._res[best])  # no fraction it needs: one fitted on a few faint frames
            # drifted (-0.375, -0.5 ... at every restart, offline at 0 dB: the judge held on the residual)
        erle = 10.0 * np.log10(max(self._mic, 1e-9) / max(left, 1e-9))
        far = np.abs(np.arange(len(self._res)) - best) >= SHIFT_OVER
        rival = float(np.min(self._res[far])) if np.any(far) else float("inf")
        if erle >= MIN_DB and 10.0 * np.log10(max(rival, 1e-9) / max(left, 1e-9)) >= CLEAR_DB:
            self.shift, self.frac, self.erle_db = shift, frac, erle

    def _refine(self, shift: int) -> tuple[float, float]:
        """The fraction of a sample (``FRACTIONS`` steps) past ``shift`` that leaves the least echo over the
        frames seen, and that residual energy: a restarted speaker at 22050 Hz moves the echo by whole
        speaker samples, fractions at 16 kHz (whole shifts left 17-19 dB where the kept path cancelled 30)."""
        best, least = 0.0, float("inf")
        for mu in np.linspace(-0.5, 0.5, FRACTIONS):
            left = 0.0
            for mic, valid in self._kept:
                n = len(mic)
                end = self.reach - shift + n - float(mu)
                pred = delayed(valid, end, n) if abs(mu) > 1e-9 else valid[int(round(end)) - n : int(round(end))]
                left += float(np.sum(np.square(mic - pred)))
            if left < least:
                best, least = float(mu), left
        return best, least


def segment(history: np.ndarray[Any, Any], bulk: int, n: int, before: int, after: int, *, frac: float = 0.0) -> Real:
    """The reference ``history`` (newest last) delayed by ``bulk`` + ``frac`` samples (:mod:`satellite.realign`):
    its last ``n`` samples with ``before`` older and ``after`` newer ones (zeros beyond what it holds)."""
    end, pad = len(history) - bulk, (TAPS + 1 if frac else 0)
    a, b = end - n - before - pad, end + after + pad
    seg = np.asarray(history[max(a, 0) : min(b, len(history))], dtype=np.float64)
    seg = np.concatenate([np.zeros(max(0, -a)), seg, np.zeros(max(0, b - len(history)))])
    return delayed(seg, len(seg) - pad - frac, len(seg) - 2 * pad) if frac else seg


def agrees(prior: PriorPath | None, lag: int, assumed: int | None) -> bool | None:
    """The delay measured after the restart (``lag``) against the one the kept path proved (``assumed``: the
    delay meter was told, :meth:`satellite.delay.EchoDelay.assume`): within 1 ms (True: nothing changed for
    the echo judge, which trusted that output), not (False: the path changed), or nothing was proven (None)."""
    if prior is None or prior.shift is None or assumed is None:
        return None
    return abs(lag - assumed) <= 16


def kept_off_path(mic: np.ndarray[Any, Any], out: Real) -> bool:
    """The kept path's output louder than the mic on a loud frame: it subtracts an echo that is not there (no
    voice does that). Offline, a kept path proven on a reply's faint first syllable went from 38 to -10 dB
    over the next frames and the judge, trusting it early, held on its output."""
    x = np.asarray(mic, dtype=np.float64)
    energy = float(np.dot(x, x))
    return energy >= _LOUD_MIC**2 * len(x) and float(np.dot(out, out)) > energy * OFF_PATH_RATIO


def warm(prior: PriorPath, history: np.ndarray[Any, Any], bulk: int, frac: float, mic: np.ndarray[Any, Any]) -> Real:
    """``mic`` less the kept path's echo, the reference delayed by the proven delay (``bulk`` + ``frac``)."""
    n = len(mic)
    ref = segment(history, bulk, n, len(prior.h) - 1, 0, frac=frac)
    out: Real = np.asarray(mic, dtype=np.float64) - echo_of(prior.h, ref, n)
    return out


def cancel(prior: PriorPath, history: np.ndarray[Any, Any], bulk: int, frac: float, mic: np.ndarray[Any, Any]
           ) -> Real | None:
    """One frame while the delay is measured: ``mic`` less the kept path's echo at the proven shift, or None
    (not proven yet: the frame is left as it is)."""
    n = len(mic)
    rows, energy, valid = prior.predictions(segment(history, bulk, n, prior.span, prior.reach, frac=frac), n)
    x = np.asarray(mic, dtype=np.float64)
    prior.feed(x, rows, energy, valid)
    if prior.shift is None:
        return None
    out: Real = x - prior.at(valid, n)
    prior.used += 1
    return out
