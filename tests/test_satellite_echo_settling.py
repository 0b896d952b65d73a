"""After a fine move of the reference the canceller's output is no measure of the echo for a moment (aec_delay).

Issue 17, session 29's lead quiet room_bench, 0 dB, barge-in half, reply 15 (kept tap
/tmp/p29/quiet/rb/barge+0dB/tap, mic 68.6-68.9 s): the reply's first echo frame found the speaker slipped
(0.73 samples sooner: reference re-aligned, speex cancelled 27-34 dB after it); 0.15 s later the delay meter
moved the reference 0.73 samples back; speex, trusted at 28.7 dB ERLE, took 17 then 14 dB out of the next two
frames (the playback explaining the mic as echo alone: 0.98), 10-13 dB over the residual echo: an onset on
echo alone 60 ms after the move, a continuation hold and a stutter (0.34 s). Now for ``SETTLE`` (150 ms of
cancelled audio) after such a move (:attr:`satellite.aec_delay.DelayView.settling`) a frame the playback
explains as echo alone is no evidence for the judge; the user's voice (not explained as echo alone) is judged
as before. Replayed (``bench/echo_replay.py``): the hold at 68.88 s is gone.
"""

from __future__ import annotations

from test_satellite_echojudge_giveback import _trusted
from test_satellite_echojudge_trust import _VOICE, FRAME, RATE, _pcm
from test_satellite_echopath import Chain
from test_satellite_slip_onset_room import ONSET, frames

from satellite.aec_delay import SETTLE
from satellite.echojudge import EchoJudge


def _held(judge: EchoJudge, taken_db: list[float], *, settling: bool, echo_only: bool) -> bool:
    """Frames of echo the canceller took ``taken_db`` out of (a user's voice is the same: not cancelled)."""
    held = False
    for db in taken_db:
        judge.process(_pcm(_VOICE), _pcm(_VOICE * 10 ** (-db / 20)), _pcm(_VOICE), echo_only=echo_only,
                      settling=settling)
        held = held or judge.onset
    return held


def test_echo_alone_right_after_a_fine_move_is_no_onset() -> None:
    """The room's two frames (17, 14 dB out at ~29 dB ERLE): an onset before; none while settling."""
    assert _held(_trusted(), [17.0, 14.0], settling=False, echo_only=True)  # the room's hold (main)
    assert not _held(_trusted(), [17.0, 14.0], settling=True, echo_only=True)


def test_a_voice_right_after_a_fine_move_still_holds() -> None:
    """Not explained as echo alone (the user over it): judged as ever, an onset on the same frames."""
    assert _held(_trusted(), [17.0, 14.0], settling=True, echo_only=False)


def test_the_front_end_settles_after_the_slip_it_re_aligns() -> None:
    """The room's slipped reply onset (test_satellite_slip_onset_room.py): the slip re-aligned on the reply's first
    echo frame makes the front end settle for SETTLE samples of cancelled audio, then not."""
    chain = Chain()
    assert chain.frontend is not None
    settling: list[int] = []
    scene = list(frames())
    last = 0
    for k, (onset_frame, mic, played) in enumerate(scene):
        chain.trace.read = (k + 1) * FRAME / RATE
        chain._check_lag()
        chain._judge(mic, played)
        if onset_frame is not None:
            last = onset_frame
            if chain.frontend.settling:
                settling.append(onset_frame)
    assert chain.frontend.slips >= 1
    assert settling, "never settling after the slip"
    first = settling[0]
    assert ONSET - 1 <= first <= ONSET + 1  # at the reply's first echo frame (the slip found there)
    assert settling == list(range(first, last + 1))  # to the excerpt's end (the live run's kill) ...
    more = 0
    for k, (_, mic, played) in enumerate(scene[:10]):  # ... and, the reply going on, SETTLE in all
        chain.trace.read = (len(scene) + k + 1) * FRAME / RATE
        chain._check_lag()
        chain._judge(mic, played)
        more += chain.frontend.settling
    assert len(settling) + more == SETTLE // FRAME
