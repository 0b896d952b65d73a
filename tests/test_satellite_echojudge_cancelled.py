"""What the canceller did to a frame tells echo from the user (satellite.echojudge).

The room (issue 17, session 14, 0 dB, replayed from the satellite's own frames with
bench/echo_replay.py), two false holds over a trusted canceller with nobody speaking:

* the canceller made frames LOUDER than the mic (1.8 and 14.8 dB): the echo delay had moved
  10 ms under it, so it subtracted an echo that was not there; the residual gate saw 23 dB of
  excess and the onset test held the reply. No voice does that: the user adds to the mic what
  the canceller leaves.
* the playback paused between phrases while the echo's tail still filled the mic: the canceller
  took 16-24 dB out of those frames, about its ERLE (21 dB), but the residual gate, which predicts
  the residual from the playback, expected less and saw 9-10 dB of excess: an onset. The user's
  voice is not cancelled: the room's true onset frames lost 7.3-22 dB less than the ERLE.

Here the judge alone, on frames made to order: a playback, its echo cancelled by a known ERLE,
then two frames of each kind.
"""

from __future__ import annotations

import numpy as np
from echo_frames import ERLE_DB, FRAME, OTHER, RATE, VOICE, pcm

from satellite.echo import EchoConfig
from satellite.echojudge import EchoJudge

_RESIDUAL = 10 ** (-ERLE_DB / 20)


def _judge() -> EchoJudge:
    """A judge that has heard 2 s of the playback's echo, cancelled by ERLE_DB."""
    judge = EchoJudge(EchoConfig(), FRAME / RATE, cancels_echo=True)
    for _ in range(66):
        judge.process(pcm(VOICE), pcm(VOICE * _RESIDUAL), pcm(VOICE))
    assert judge.converged and abs((judge.erle_db or 0.0) - ERLE_DB) < 0.5
    return judge


def _two(judge: EchoJudge, mic: np.ndarray, cleaned: np.ndarray, played: np.ndarray) -> tuple[bool, bool]:
    """(onset, allowed) over two such frames."""
    onset = allowed = False
    for _ in range(2):
        allowed = judge.process(pcm(mic), pcm(cleaned), pcm(played)) or allowed
        onset = onset or judge.onset
    return onset, allowed


def test_a_frame_the_canceller_made_louder_is_not_the_user() -> None:
    """Echo at its usual level, the canceller's output 6 dB over the mic (it subtracted a moved
    echo). Old code: onset and allowed. Now neither, and the judge stops trusting the canceller
    (the satellite asks the delay meter again)."""
    judge = _judge()
    mic = VOICE * 0.5
    onset, allowed = _two(judge, mic, -2.0 * mic, VOICE)
    assert not onset and not allowed
    assert judge.suspended and not judge.converged
    judge = _judge()
    judge.process(pcm(mic), pcm(-2.0 * mic), pcm(VOICE))
    assert judge.misaligned  # on the first such frame: the satellite rechecks the delay


def test_echo_cancelled_as_usual_is_not_the_user_when_the_playback_went_quiet() -> None:
    """The playback went 30 dB quieter, then the echo rose 9 dB over what that playback predicts
    (the tail of what played before), cancelled by the ERLE as usual. Old code: onset."""
    judge = _judge()
    quiet = VOICE * 10 ** (-30 / 20)
    for _ in range(12):  # longer than the gates' window: the loud playback has left it
        judge.process(pcm(quiet), pcm(quiet * _RESIDUAL), pcm(quiet))
    mic = quiet * 10 ** (9 / 20)
    onset, allowed = _two(judge, mic, mic * _RESIDUAL, quiet)
    assert judge.residual.excess_db > judge.config.onset_margin_db  # the playback-based gate alone: the user
    assert not onset and not allowed


def test_the_user_over_the_echo_still_holds_at_once() -> None:
    """A voice 6 dB under the echo, not cancelled: the frame loses ~1 dB to the canceller, far
    less than its ERLE: an onset on the second frame, as before."""
    judge = _judge()
    user = OTHER * float(np.sqrt(np.mean(VOICE**2))) * 10 ** (-6 / 20)
    onset, allowed = _two(judge, VOICE + user, VOICE * _RESIDUAL + user, VOICE)
    assert onset and allowed
    assert judge.converged


def test_the_satellite_measures_the_delay_again_when_the_judge_finds_the_canceller_off_its_path() -> None:
    """speaker_path wires :attr:`EchoJudge.misaligned` to the front end's recheck (the delay meter
    measures afresh; unchanged, it confirms the judge; moved, the canceller is re-aligned)."""
    from bench.echo_replay import ReplayChain

    chain = ReplayChain(EchoConfig())
    assert chain.frontend is not None
    chain._judge(bytes(FRAME * 2), bytes(1324))
    assert not chain.frontend._rechecking
    judge_process = chain.guard.process

    def misaligned(*args: object, **kwargs: object) -> bool:
        allowed = judge_process(*args, **kwargs)  # type: ignore[arg-type]
        chain.guard.misaligned = True
        return allowed

    chain.guard.process = misaligned  # type: ignore[method-assign]
    chain._judge(bytes(FRAME * 2), bytes(1324))
    assert chain.frontend._rechecking
