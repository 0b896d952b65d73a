"""A question whose double talk is called late keeps its start (satellite.speaker_path._reach_back).

The whole-stack room (issue 17, session 12): a stall at a reply's start dropped two speaker
frames, the canceller re-aligned (untrusted, ERLE 6-7 dB) and the delay meter restarted: double
talk, the only way through then, was not called for 1.2 s after a restart (0.78 s + the stall's
backlog since session 17), so it came 1.5 s after the user's onset and the question lost its first
1118 ms (the VAD's pre-roll is 0.6 s).
Here the satellite's chain (test_satellite_echopath.Chain) over a second reply: two speaker
frames dropped 0.3 s into it (the echo 60 ms sooner from then on), the user, as loud as the
echo, starts soon after.
"""

from __future__ import annotations

import numpy as np
import pytest
from speech import speak
from test_satellite_echopath import REPLY, Chain

from bench.aec_bench import FRAME, echo_path, noise, played_frames, samples
from satellite.speex import load_library

RATE = 16000
pytestmark = pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")


@pytest.mark.parametrize(
    ("question", "at_s"),
    [("Which country is the Eiffel Tower in?", 0.45), ("How many strings does a violin have?", 0.25)],
)
def test_a_question_let_through_by_late_double_talk_keeps_its_start(question: str, at_s: float) -> None:
    """Measured (the VAD's start 0.93 / 0.78 s after the onset): the kept audio began 0.604 /
    0.183 s after the onset on session 12's code, then 0.146 / 0.117 s before it. Since session 17
    double talk is called 0.78 s after the restart, not 1.23: the violin question, starting 0.6 s
    in, was let through 0.49 s after its onset (within the pre-roll: not this case); starting
    0.25 s in, just before the drop, its VAD start is 1.13 s after the onset, kept from 0.127 s
    before it."""
    reply = samples(speak(REPLY))
    far = np.concatenate([np.zeros(RATE), reply, np.zeros(RATE), reply, np.zeros(RATE)])
    played = played_frames(far)
    n = len(played) * FRAME
    far = far[:n]
    second = 2 * RATE + len(reply)
    drop = second + int(0.3 * RATE)
    before, after = far.copy(), far.copy()
    before[drop:], after[:drop] = 0.0, 0.0
    mic = (
        noise(n, -60.0)
        + echo_path(before, delay_ms=110.0, gain_db=-6.0)
        + echo_path(after, delay_ms=50.0, gain_db=-6.0)
    )
    user = samples(speak(question))
    echo_rms = float(np.sqrt(np.mean(echo_path(reply, delay_ms=110.0, gain_db=-6.0) ** 2)))
    user *= echo_rms / float(np.sqrt(np.mean(user[np.abs(user) > 30] ** 2)))
    at = second + int(at_s * RATE)
    mic[at : at + len(user)] += user[: n - at]
    e = 10 * np.log10(np.mean(np.square(user[: len(user) // 160 * 160].reshape(-1, 160)), axis=1) + 1e-12)
    onset = at + int(np.nonzero(e > e.max() - 35)[0][0]) * 160
    chain = Chain()
    chain.speaker.dropped_frames = 0  # type: ignore[attr-defined]  # as satellite.audio_io.CommandSink counts them

    def stall(i: int) -> None:
        if i == drop // FRAME:
            chain.speaker.dropped_frames = 2  # type: ignore[attr-defined]

    end = chain.first_start(played, mic, stall)
    assert end > onset, "a turn began before the user spoke"
    assert end - onset > 0.6 * RATE, "double talk came in time: not the case of this test"
    assert not chain.guard.converged and chain.frontend is not None and chain.frontend.double_talk
    kept = chain._preroll(chain.detector.take_preroll(), 2 * FRAME, True)
    start = end - len(kept) // 2
    assert start <= onset, f"the question's first {(start - onset) / RATE:.3f} s were cut"
    assert onset - start <= 0.2 * RATE, f"{(onset - start) / RATE:.3f} s of the reply's echo kept before it"
