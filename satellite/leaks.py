"""Echo leaking through a trusted canceller, told from the user (the echo judge's onsets: :mod:`satellite.echojudge`).

Pure. Moved out of :mod:`satellite.echojudge` unchanged (session 22: that file reached 400 lines).
"""

from __future__ import annotations

from .residual import ResidualGate

LEAK_DB = 8.0  # a frame the canceller took this much out of is mostly echo: it is echo leaking ...
LEAK_EXCESS_DB = 15.0  # ... unless this far over the residual echo (see is_fresh)
# The cancelled frame this correlated with the canceller's estimate: echo (is_fresh). 0.3, not 0.5: the
# echo 6 dB louder mid-reply (the speaker turned up), speex re-adapting left frames 0.34-0.48 correlated
# 10-14 dB over the residual echo (held at 0 and -6 dB); the users' frames: at most 0.20 (26 room runs),
# 0.19 (session 19's five barge-in taps, 88 frames 8 dB or more over the residual echo).
UNDERRATED_CORR = 0.3
OFF_PATH_CORR = -0.4  # ... or anti-correlated this much: the estimate subtracted where no such echo was


def is_fresh(cancelled_db: float, residual: ResidualGate) -> bool:
    """Is this frame, clearly over the residual echo of a trusted canceller, more than echo
    leaking through? Not if the canceller still took ``LEAK_DB`` out of it (most of the frame
    was echo it cancelled) and it is less than ``LEAK_EXCESS_DB`` over the residual echo: the
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
    did not). Nor is a frame correlated ``UNDERRATED_CORR`` (0.3) or more with the canceller's echo
    estimate (:attr:`satellite.aec.AudioFrontend.estimate_corr`), however far over the residual:
    the room at 0 dB (session 17's lead, 143.1 s): a phrase's first echo frames cancelled 8-9 dB
    at 25 dB ERLE, on an unmoved path, 16 dB over the residual, 0.92-0.96 (a false hold); the
    users' frames over the trusted canceller, 26 replayed room runs: at most 0.20 (the caller
    checks it: it overrules a hiss too, an underrated echo's high band is underrated as well). Nor
    one anti-correlated ``OFF_PATH_CORR`` or more: the room at 0 dB on a box at load 6 (session
    18, 34.3 s): the room's card played 20 ms of silence inside a reply that no stall or underrun
    showed, the canceller (trusted, ERLE 29 dB) took 5 then -0.7 dB out, -0.47 / -0.46 (a false
    hold); the users' frames >= 10 dB over the residual: at least -0.30."""
    return not (cancelled_db >= LEAK_DB and residual.excess_db < LEAK_EXCESS_DB)
