"""A canceller is trusted only once its ERLE has held (satellite.echojudge).

The room (issue 17, session 14, 0 dB, barge-in half, reply 19; replayed from the satellite's
frames): after a speaker restart the canceller re-converged, its ERLE crossed 12 dB and back
(11.1, 14.0, 12.4, 16.3 dB), and 5 frames after the judge first trusted it, it let 5-9 dB of
echo through (15 dB over the residual it had learned): an onset 0.37 s before the user spoke,
a false cut. The true onsets of that run came 24-103 frames after the trust began. Here the
judge alone on frames made to order: a canceller trusted, then re-proven after a stall, and
two frames that leak.
"""

from __future__ import annotations

import numpy as np

from satellite.echo import EchoConfig
from satellite.echojudge import EchoJudge

FRAME = 480
RATE = 16000
_t = np.arange(FRAME) / RATE
_VOICE = 6000.0 * np.sin(2 * np.pi * 200.0 * _t) + 250.0 * np.random.default_rng(3).standard_normal(FRAME)


def _pcm(x: np.ndarray) -> bytes:
    return bytes(np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes())


def _echo(judge: EchoJudge, erle_db: float) -> None:
    judge.process(_pcm(_VOICE), _pcm(_VOICE * 10 ** (-erle_db / 20)), _pcm(_VOICE))


def _leak(judge: EchoJudge) -> bool:
    """Two frames with the echo cancelled by only 4 dB (24 dB over its residual): an onset?"""
    held = False
    for _ in range(2):
        judge.process(_pcm(_VOICE), _pcm(_VOICE * 10 ** (-4 / 20)), _pcm(_VOICE))
        held = held or judge.onset
    return held


def _judge_just_past_12_db() -> EchoJudge:
    """A judge that trusted a 30 dB canceller, stopped (a stall: the path may have moved; its
    residual level is kept) and is re-proving it, at the moment its ERLE first says 12 dB."""
    judge = EchoJudge(EchoConfig(), FRAME / RATE, cancels_echo=True)
    for _ in range(100):
        _echo(judge, 30.0)
    assert judge.converged
    judge.suspend()
    judge.confirm()  # the delay was measured unchanged: trusted again once the ERLE says so
    for _ in range(40):
        _echo(judge, 28.0)
        if len(judge._loud_erle()) >= judge._min_erle_frames:  # the old code trusted it from here
            return judge
    raise AssertionError("the ERLE never reached 12 dB")


def test_a_leak_just_as_the_canceller_is_trusted_again_is_no_onset() -> None:
    """Old code: trusted at once, and the leak held the reply."""
    judge = _judge_just_past_12_db()
    assert not _leak(judge)


def test_a_leak_once_the_erle_has_held_is_an_onset() -> None:
    """The same frames a third of a second later: trusted, an onset (as a user's would be)."""
    judge = _judge_just_past_12_db()
    for _ in range(12):
        _echo(judge, 28.0)
    assert judge.converged
    assert _leak(judge)
