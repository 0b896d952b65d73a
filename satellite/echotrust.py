"""What makes the echo judge (:mod:`satellite.echojudge`) trust the canceller, and a frame over it fresh.

Pure: numbers in, a verdict out (kept apart so the judge stays small).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

_LEAK_DB = 8.0  # a frame the canceller took this much out of is mostly echo: it is echo leaking ...
_LEAK_EXCESS_DB = 15.0  # ... unless this far over the residual echo (is_fresh)
# After a speaker restart with the canceller's filter kept: trusted once its ERLE over at least KEPT_FRAMES echo
# frames is _KEPT_ERLE_DB and its last _KEPT_LAST each took converged_erle_db out (kept_proven)
KEPT_FRAMES = 4
_KEPT_ERLE_DB = 18.0
_KEPT_LAST = 3


def kept_proven(erle: deque[tuple[float, float]], loud: list[float], converged_erle_db: float) -> bool:
    """``erle``: (echo energy at the mic, after the canceller) of the echo frames since the restart;
    ``loud``: their ERLEs (dB) within 20 dB of the loudest. After a speaker restart the canceller
    keeps its filter (:meth:`satellite.echojudge.EchoJudge.path_changed`), usually still right:
    once the ERLE over ``KEPT_FRAMES`` or more echo frames since is ``_KEPT_ERLE_DB`` (18 dB) and
    each of the last ``_KEPT_LAST`` took ``converged_erle_db`` (12 dB) out, it is on its path:
    trusted then, not after ``trust_after_ms`` of echo + 10 frames (~0.55 s: the room, session
    21: cancelling from ~0.3 s of each reply after a hold, ERLE >= 12 dB from ~0.34 s, trusted only
    at 0.8-0.92 s; until then a user had to be 6 dB over the whole echo, and the rest of a request
    said over a reply's first 0.6 s was heard late or never: far voices never). A canceller
    re-converging (session 17: 11.1, 14.0, 12.4, 16.3 dB, then echo let through) has no such run."""
    if len(erle) < max(KEPT_FRAMES, _KEPT_LAST) or len(loud) < KEPT_FRAMES:
        return False
    last = list(erle)[-_KEPT_LAST:]
    return float(np.median(loud)) >= _KEPT_ERLE_DB and all(
        10.0 * math.log10(max(a, 1e-18) / max(b, 1e-18)) >= converged_erle_db for a, b in last)


def is_fresh(cancelled_db: float, excess_db: float) -> bool:
    """Is this frame, clearly over the residual echo of a trusted canceller, more than echo
    leaking through? Not if the canceller still took ``_LEAK_DB`` out of it (most of the frame
    was echo it cancelled) and it is less than ``_LEAK_EXCESS_DB`` over the residual echo: the
    canceller cancelling a few frames 12-17 dB instead of its 26-32 (the room, replayed: a
    new phrase's first frames, a reply's first echo; excess 8-13 dB). A voice is not
    cancelled: the users' frames up to their first hold (236 frames, 145 barge-ins) lost at
    most 8.4 dB (those two 12-14 dB over the residual), and the best frame of each onset at
    most 5.0 dB. A hiss in the high band is fresh whatever the broadband (an "s" over echo:
    the broadband mostly echo; the leaks had none, -9 to +2.4 dB over the high band's
    residual). The cost: over a trusted canceller a voice 7 dB or more under the echo with
    no hiss must be 15 dB, not 8, over the residual echo (up to ERLE - 15 dB under the echo:
    11 dB at 26 dB ERLE) for an onset or the VAD while the echo plays. The first frame of a run stays the
    user's either way (the VAD's speech start came a frame later on four barge-ins when it
    did not). Nor is a frame correlated ``echojudge._UNDERRATED_CORR`` (0.3) or more with the canceller's echo
    estimate (:attr:`satellite.aec.AudioFrontend.estimate_corr`), however far over the residual:
    the room at 0 dB (session 17's lead, 143.1 s): a phrase's first echo frames cancelled 8-9 dB
    at 25 dB ERLE, on an unmoved path, 16 dB over the residual, 0.92-0.96 (a false hold); the
    users' frames over the trusted canceller, 26 replayed room runs: at most 0.20 (the caller
    checks it: it overrules a hiss too, an underrated echo's high band is underrated as well). Nor
    one anti-correlated ``echojudge._OFF_PATH_CORR`` or more: the room at 0 dB on a box at load 6 (session
    18, 34.3 s): the room's card played 20 ms of silence inside a reply that no stall or underrun
    showed, the canceller (trusted, ERLE 29 dB) took 5 then -0.7 dB out, -0.47 / -0.46 (a false
    hold); the users' frames >= 10 dB over the residual: at least -0.30."""
    return not (cancelled_db >= _LEAK_DB and excess_db < _LEAK_EXCESS_DB)
