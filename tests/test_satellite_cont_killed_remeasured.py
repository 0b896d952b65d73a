"""A delay measured while a hold has the speaker killed does not stop the judge following the user (issue 17).

The room, session 24's base run (load 3-6, 139 write-ahead underruns in 6 minutes): cont-06 "Turn off the
fan ... in the bedroom", held 0.39 s into the reply; the delay meter, measuring again since an underrun
0.4 s before, reported the echo path moved ("moved 1441 samples") 30 ms after the hold killed the speaker.
The echo judge took that for the speaker playing again and ended the span after the kill
(:mod:`satellite.killed_echo`), in which it follows the user's voice at their level: the rest of the word,
at the question's level, was judged against the raw gate's loudest expected echo and not let through; the
hold lapsed (``v.....``) and the reply resumed over "in the bedroom". Replayed frame by frame from the tap
(``bench/echo_replay_cont.py``), the span ended on the frame after the kill. Now the satellite tells the
judge whether the speaker plays (``SpeakerPath._echo_path_moved``): while it is killed, the span goes on.

The judge as ``test_satellite_cont_going_on.judge_through_a_hold`` drives it (a reply heard 6 dB down
through a canceller still waiting for its delay, the question ended at -13 dBFS, a word at -12 dBFS holds
the reply, its softer end at -15 and -17 dBFS); the path change comes through the satellite's own
``SpeakerPath._echo_path_moved``.
"""

from __future__ import annotations

from types import SimpleNamespace

from test_satellite_cont_going_on import tone

from bench.aec_bench import FRAME
from satellite.echo import EchoConfig
from satellite.echojudge import EchoJudge
from satellite.speaker_path import SpeakerPath

RATE = 16000


def through_a_hold(*, remeasured: bool, killed: bool = True) -> list[bool]:
    judge = EchoJudge(EchoConfig(), FRAME / RATE, cancels_echo=True)
    played = tone(-14.0)
    for _ in range(40):  # the raw gate learns the echo's coupling
        echo = tone(-20.0)
        judge.process(echo, echo, played, cancelling=False)
    judge.going_on.expect(10 ** (-13 / 20), 1.4, 0.95)
    verdicts = [judge.process(tone(-12.0), tone(-12.0), played, cancelling=False)]  # the word: held on it
    if killed:
        judge.speaker_dropped()  # the hold killed the speaker
    if remeasured:  # the delay meter reports the path moved (the frontend's on_path_change)
        satellite = SimpleNamespace(guard=judge, frontend=None, _restarted=killed, _span_frames=0, _span_adapted=False)
        satellite._update_echo_span = lambda: SpeakerPath._update_echo_span(satellite)  # type: ignore[arg-type]
        SpeakerPath._echo_path_moved(satellite)  # type: ignore[arg-type]
    silent = bytes(2 * FRAME) if killed else played
    for level in (-12.0, -15.0, -17.0):
        verdicts.append(judge.process(tone(level), tone(level), silent, cancelling=False))
    verdicts.append(judge.process(tone(-40.0), tone(-40.0), silent, cancelling=False))  # the word has ended
    return verdicts


def test_the_users_softer_end_is_followed_through_a_hold_when_the_delay_is_measured_in_it() -> None:
    assert through_a_hold(remeasured=True) == [True, True, True, True, False]


def test_as_without_the_measurement() -> None:
    assert through_a_hold(remeasured=False) == [True, True, True, True, False]


def test_a_path_change_while_the_speaker_plays_follows_no_one() -> None:
    """No kill, the path moved while the reply plays: the softer end under the expected echo is not the user's
    (the raw gate decides, as before)."""
    assert through_a_hold(remeasured=True, killed=False)[2:4] == [False, False]
