"""After the echo path moved mid-reply: the mic heard while the canceller waited, fed to it once the delay is known.

Pure and synchronous (numpy only); used by :class:`satellite.aec.AudioFrontend`. When the speaker runs dry
in the middle of a reply (a stall of the satellite longer than the card's level: the card plays silence,
and everything after it is heard later), the canceller is not fed until the delay meter has measured the
new delay (0.4-0.75 s of playback in the room), so that speex does not adapt to a misaligned reference and
keeps its filter (:meth:`satellite.aec.AudioFrontend.recheck`). The filter is then still right at the new
delay, but speex's own history of the reference (its filter's tail, 0.5 s) holds what played before the
wait: its first frames after it predicted the echo of that, not of what plays now, and left the echo
whole or louder (the room at 0 dB, session 26's lead: the three frames after a 20 ms move cancelled 1.8 dB,
one 13 dB *louder* than the mic after a 110 ms move; the replies' ERLE 19.5 and 26.5 dB where the rest
were cancelled 33).

:class:`CatchUp` keeps the last ``CATCH_UP_MS`` of the mic while the canceller waits (armed by a move,
not by a speaker restart, and dropped whenever the user is heard until the canceller resumes: the user's words
would be fed as echo). When the delay is
known the front end gives speex those samples with the reference at the new delay (the echo of what
played then, on the path it was played on: what speex would have been fed had the delay been known),
its output dropped (already past), before the frame that resumes it: speex's history is whole again
and its first frames cancel as its filter does. Cost: speex over up to 0.6 s of samples on that one
frame (~5 ms, once a stall).

The user first (session 28): the user's words can be in the kept mic before anyone has heard them (the judge
is suspended while the canceller waits, so ``user_speaking`` comes a frame or more late): fed as echo, speex
adapted on them (session 27's replayed quiet room_cont run lost cont-12, a clean user's "now" 0.29 s into the
reply, that the code without the catch-up holds). So before speex is fed, each 10 ms block of the kept mic is
checked against the echo speex's own filter predicts at the new delay (:func:`satellite.aec_prior.echo_of`;
:func:`echo_from`): a loud block is more than echo when its mic-to-prediction ratio stands ``OVER_DB`` over
the kept mic's (``BASE_PERCENTILE`` of its loud blocks': the path's gain, whatever the filter's scale; a user
only raises it) or, if the prediction (its scale fitted: the user's voice does not correlate with the
reference) explains ``FIT_DB`` of the kept mic's median loud block, when it leaves ``USER_DB`` more than
itself there. One such block and nothing is fed (as with the catch-up off), but for the first ``EDGE_MS`` of
the kept mic: there such blocks are left out and the rest is fed (the kept mic's edge: the end of a word
spoken before the wait, or the echo of what played before the move, which the margin left in: session 28's
quiet echo-only room run, 0 dB, the one catch-up refused on three blocks at its start). A stale filter
explained the room's kept mic 0-13 dB (session 28's loaded tap): the ratio still follows the echo's envelope.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

CATCH_UP_MS = 600  # the mic kept while the canceller waits (speex's tail is 500 ms)
MARGIN_MS = 30  # ... less the stall's backlog, the move and this much (the echo of the card's silence: see take)
BASE_PERCENTILE = 25  # the kept mic's mic-to-prediction ratio: this percentile of its loud blocks' ...
OVER_DB = 10.0  # ... a block this far over it holds more than echo
USER_DB = 3.0  # ... or one the fitted prediction leaves this much louder than itself ...
FIT_DB = 6.0  # ... when it explains at least this much of the kept mic's median loud block
EDGE_MS = 30  # such blocks in the kept mic's first this much are left out (the rest fed); later ones: nothing fed
LOUD_RMS = 32768 * 10 ** (-50 / 20)  # a block this loud (RMS, 16-bit) counts (the room's noise: -60 dBFS)
Pcm = np.ndarray[Any, np.dtype[np.int16]]
Real = np.ndarray[Any, np.dtype[np.float64]]


class Outcome(StrEnum):
    """What :meth:`CatchUp.take` handed back."""

    FED = "fed"  # the kept mic (echo alone), to feed the canceller
    TRIMMED = "trimmed"  # ... but for its first blocks (more than echo, at its edge: left out)
    REFUSED = "refused"  # the kept mic held more than echo (the user): nothing
    EMPTY = "empty"  # nothing was kept (not armed, or all of it was the stall's backlog and the move)


@dataclass(frozen=True)
class Taken:
    mic: Pcm  # the samples to feed the canceller (whole blocks; empty unless FED or TRIMMED)
    outcome: Outcome


def echo_from(mic: Pcm, echo: Real, block: int, edge: int = 0) -> int | None:
    """Where the kept ``mic`` is the predicted ``echo`` (any scale) alone from on: 0 if no loud ``block`` holds more
    (its ratio to the prediction ``OVER_DB`` over the kept mic's, or, with the fitted prediction explaining
    ``FIT_DB`` of the median loud block, left by it ``USER_DB`` louder than itself), the sample after the last
    such block if all are in the first ``edge`` samples, else None."""
    m = np.asarray(mic, dtype=np.float64)
    k = len(m) // block
    pp = float(np.dot(echo, echo))
    if k == 0 or pp <= 0.0:
        return None
    scaled = echo * (float(np.dot(m, echo)) / pp)
    left = m - scaled

    def energy(x: Real) -> Real:
        out: Real = np.sum(np.square(x[: k * block]).reshape(k, block), axis=1)
        return out

    mic_e, left_e, echo_e = energy(m), energy(left), energy(scaled)
    loud = mic_e >= LOUD_RMS**2 * block
    if not np.any(loud):
        return 0
    ratio = mic_e / np.maximum(echo_e, 1e-9)
    more = loud & (ratio >= float(np.percentile(ratio[loud], BASE_PERCENTILE)) * 10 ** (OVER_DB / 10))
    if float(np.median(mic_e[loud] / np.maximum(left_e[loud], 1e-9))) >= 10 ** (FIT_DB / 10):  # (a user's blocks
        more |= loud & (left_e >= echo_e * 10 ** (USER_DB / 10))  # are few: the median block is the echo's)
    last = np.flatnonzero(more)
    if not len(last):
        return 0
    after = (int(last[-1]) + 1) * block
    return after if after <= edge else None


class CatchUp:
    """``rate``: the mic's sample rate; ``block``: the canceller's block (what is handed back is a multiple)."""

    def __init__(self, rate: int, block: int) -> None:
        self._block = block
        self.limit = rate * CATCH_UP_MS // 1000
        self._rate = rate
        self._mic: Pcm = np.zeros(0, dtype=np.int16)
        self.armed = False
        self._skip = 0  # samples still to leave out of what is kept (the backlog: heard before the move)
        self._delay = 0.0  # the reference's delay when it moved (samples)
        self._lost = 0  # samples kept then dropped for the limit (the oldest)
        self.fed = 0  # times the canceller was caught up
        self.samples = 0  # ... and the samples it was fed then, in all
        self.refused = 0  # times the kept mic held more than echo (the user: echo_from): nothing fed
        self.trimmed = 0  # times only what followed such blocks at its edge was fed

    def arm(self, behind: int, delay: float) -> None:
        """The echo path moved while playing: the mic is kept from the next frame the canceller waits on, but for
        its first ``behind`` samples (a stall's backlog: the echo on the old path, and the card's silence);
        ``delay``: the reference's delay (16 kHz samples) before the move."""
        self.armed = True
        self._mic = np.zeros(0, dtype=np.int16)
        self._skip, self._delay, self._lost = max(0, behind) + self._rate * MARGIN_MS // 1000, delay, 0

    def disarm(self) -> None:
        """A restart (or a reset): nothing kept, nothing fed."""
        self.armed = False
        self._mic = np.zeros(0, dtype=np.int16)

    def keep(self, mic: Pcm) -> None:
        """One frame the canceller did not run on (it waits for the delay); contiguous with the last one kept."""
        if self.armed:
            skipped = min(self._skip, len(mic))
            self._skip -= skipped
            kept = np.concatenate([self._mic, mic[skipped:]])
            self._lost += max(0, len(kept) - self.limit)
            self._mic = kept[-self.limit :]

    def take(self, most: int, delay: float, alone: Callable[[Pcm, int], int | None] | None = None) -> Taken:
        """The kept mic (its newest ``most`` samples at most, whole blocks), right before the frame the canceller
        resumes on with the reference delayed by ``delay``; disarms. The first samples as long as the move are
        left out too: the card played silence for that long (the reference at the new delay has what played
        before it there) and its echo lasts a little more. ``alone(mic, edge)``: where the mic is echo alone from on
        (:func:`echo_from`): only that is handed back, nothing if None (the user's words are no echo to feed); with
        what was done (:class:`Outcome`: the caller logs a refusal from it)."""
        silence = max(0, math.ceil(abs(delay - self._delay)) - self._lost)  # (the oldest kept, if still kept)
        most = max(0, min(most, len(self._mic) - silence))
        mic = self._mic[len(self._mic) - most + most % self._block :] if most else self._mic[:0]
        self.disarm()
        start = alone(mic, self._rate * EDGE_MS // 1000) if len(mic) and alone is not None else 0
        if start is None:
            self.refused += 1
            return Taken(mic[:0], Outcome.REFUSED)
        if start:
            self.trimmed += 1
            mic = mic[start:]
        if not len(mic):
            return Taken(mic, Outcome.EMPTY)
        self.fed += 1
        self.samples += len(mic)
        return Taken(mic, Outcome.TRIMMED if start else Outcome.FED)
