"""A residual echo level learned before the echo came must not hold the reply once the canceller
is trusted again (satellite.echojudge: the residual echo's floor from the ERLE).

The room (issue 17, session 16's lead run at 0 dB, 07:44:16, replayed with bench/echo_replay.py):
after a speaker restart the judge forgets the residual echo's level and learns it again. It
learned it on the first 10 frames it could: a pause in the reply, the mic at the room's noise
and the words before it still in the echo's 0.98 s span: -38.6 dB under the playback. Then the
canceller, re-converging from 3 dB, left every echo frame over that level, so none was learned as
echo (a frame over it is the user, and 0.5 s after it nothing is learned) and the level stayed.
Once the ERLE had held 12-22 dB for 10 frames the canceller was trusted alone, with the residual
still at -38.6: two frames it took 3-7 dB out of, 14-17 dB over it, held the reply. Here the judge
alone, on frames made to order, through the same steps.
"""

from __future__ import annotations

import numpy as np
from echo_frames import FRAME, OTHER, RATE, VOICE, pcm

from satellite.echo import EchoConfig
from satellite.echojudge import EchoJudge

_NOISE = 30.0 * np.random.default_rng(3).standard_normal(FRAME)  # the room, about -60 dBFS
_SILENT = np.zeros(FRAME)
_LEVEL = float(np.sqrt(np.mean(VOICE**2)))


def _db(x: float) -> float:
    return float(10 ** (x / 20))


def _frame(judge: EchoJudge, mic: np.ndarray, cleaned: np.ndarray, played: np.ndarray, **kw: bool) -> bool:
    return judge.process(pcm(mic), pcm(cleaned), pcm(played), **kw)


def _restarted_judge() -> EchoJudge:
    """Trusted at 21 dB, then the speaker restarted; the residual relearned in a pause; the canceller
    re-converged to 20 dB and trusted again with that stale residual level."""
    judge = EchoJudge(EchoConfig(), FRAME / RATE, cancels_echo=True)
    for _ in range(66):
        _frame(judge, VOICE, VOICE * _db(-21), VOICE)
    assert judge.converged
    judge.path_changed()  # the speaker restarted
    judge.set_echo_path(None, 0.5)  # its delay is being measured: echo expected from the last 0.98 s
    for _ in range(8):  # the first words, heard raw: the canceller waits for the delay
        _frame(judge, VOICE, VOICE, VOICE, cancelling=False)
    for _ in range(12):  # a pause: the mic at the room's noise, the words still in the span
        _frame(judge, _NOISE, _NOISE, _SILENT)
    stale = judge.residual.coupling_db
    assert judge.residual.learned >= 10 and stale < -35.0
    for _ in range(20):  # the echo again, the canceller re-converging (3 dB)
        assert not _frame(judge, VOICE, VOICE * _db(-3), VOICE)
    quiet = VOICE * _db(-20)  # ... then at 20 dB: loud words and quieter ones
    for _ in range(40):
        _frame(judge, VOICE, VOICE * _db(-20), VOICE)
        for _ in range(3):
            _frame(judge, quiet, quiet * _db(-20), quiet)
        if judge.converged:
            break
    assert judge.converged, "the canceller was never trusted again: not the case of this test"
    assert judge.residual.coupling_db == stale, "the residual level was learned again: not the case"
    assert judge.erle_db is not None and 17.0 < judge.erle_db < 23.0
    return judge


def test_echo_the_canceller_missed_over_a_stale_residual_is_no_onset() -> None:
    """Two frames of a quieter phrase (18 dB under the loudest playback) cancelled only 4 dB: 20 dB
    over the stale residual. Old code: an onset (the lead's false hold). Now the residual echo is
    expected at least ERLE + 6 dB under the raw echo (26 dB): 4 dB over it."""
    judge = _restarted_judge()
    _frame(judge, VOICE, VOICE * _db(-20), VOICE)
    missed = VOICE * _db(-18)
    onset = allowed = False
    for _ in range(2):
        allowed = _frame(judge, missed, missed * _db(-4), missed) or allowed
        onset = onset or judge.onset
    assert not onset and not allowed


def test_a_user_as_loud_as_the_echo_still_holds_at_once_over_that_canceller() -> None:
    """The user, as loud as the echo, over the same trusted canceller: an onset on the second frame."""
    judge = _restarted_judge()
    user = OTHER * _LEVEL
    onset = False
    for _ in range(2):
        _frame(judge, VOICE + user, VOICE * _db(-20) + user, VOICE)
        onset = onset or judge.onset
    assert onset
