"""A trust suspended with nothing stalled is given back when the delay is measured unchanged (satellite.echojudge).

Issue 17, session 27's quiet room run at 0 dB (u12, "What is the weather like this week?" over reply 3): one frame
at a phrase's end, found 48 samples later than the canceller's estimate and explained 8.03 dB (alone: then enough
for a move), suspended the canceller trusted at 25-33 dB ERLE. The delay was measured again, unchanged, 0.48 s
later; but the suspension had cleared the ERLE, so the trust had to be earned again from frames to come (its 240 ms
of echo and 10 frames more): the user, speaking 0.16 s after the find, was held 0.78 s after the onset. The patch
then (``satellite.estimate._ALONE_DB`` 8.0 -> 8.5) only moved the line that one frame crossed. Now a suspension
with nothing stalled (the echo only looked later) keeps what the trust was earned on, and
:meth:`EchoJudge.confirm` gives it back at once; a stall (or a speaker that ran dry, a dropped frame) still
clears it (the canceller was disturbed by the gap: the room's false onsets right after an "unchanged" delay), as
does a stall during the suspension. ``_ALONE_DB`` stays 8.5 (u12's tap was not at hand to replay 8.0 with this).
The judge alone, on frames made to order (those of ``test_satellite_echojudge_trust.py``).
"""

from __future__ import annotations

from test_satellite_echojudge_trust import FRAME, RATE, _echo

from satellite.echo import EchoConfig
from satellite.echojudge import EchoJudge


def _trusted() -> EchoJudge:
    judge = EchoJudge(EchoConfig(), FRAME / RATE, cancels_echo=True)
    for _ in range(100):
        _echo(judge, 30.0)
    assert judge.converged
    return judge


def _frames_to_trust(judge: EchoJudge) -> int:
    """Echo frames (28 dB cancelled) after the confirm until the canceller is trusted again."""
    for n in range(1, 200):
        _echo(judge, 28.0)
        if judge.converged:
            return n
    raise AssertionError("never trusted again")


def _suspended_then_confirmed(*, stalled: bool, stall_during: bool = False) -> int:
    judge = _trusted()
    judge.suspend(stalled=stalled)
    for k in range(16):  # the 0.48 s the delay took to be measured again
        if stall_during and k == 8:
            judge.suspend()  # the satellite fell behind its mic meanwhile
        _echo(judge, 28.0)
        assert not judge.converged
    judge.confirm()
    return _frames_to_trust(judge)


def test_nothing_stalled_and_the_delay_unchanged_gives_the_trust_back_at_once() -> None:
    """Main (no ``stalled``: every suspension clears the ERLE) earns it again over 18 frames."""
    assert _suspended_then_confirmed(stalled=False) == 1


def test_a_stall_still_has_the_trust_earned_again() -> None:
    assert _suspended_then_confirmed(stalled=True) >= 10
    assert _suspended_then_confirmed(stalled=False, stall_during=True) >= 10


def test_a_moved_path_is_proven_again() -> None:
    """Measured changed (:meth:`EchoJudge.path_changed`), not confirmed: nothing is given back."""
    judge = _trusted()
    judge.suspend(stalled=False)
    judge.path_changed()
    judge.confirm()  # (a later recheck of the new path, unchanged)
    assert _frames_to_trust(judge) >= 10
