"""A question over a trusted canceller is streamed from just before its onset, not with half a
second of the reply's residual in front (satellite.speaker_path._preroll).

The room (issue 17, session 14's kept taps, 77 interruptions replayed): over a trusted canceller
the frames before the user's onset are the reply's echo cancelled to -40..-50 dBFS, "quiet", and
the pre-roll counted them as the user's (a pause in the question), so the turn began 0.3-0.55 s
before the onset with the reply's words, faint. Whisper (tiny.en, beam 5, as the server
decodes) then heard "Stop. What time is it? Stop. What time is it?" 4 times and "We'll let rain
on Thursday." (clean: right). Here the satellite's chain (test_satellite_echopath.Chain) over
the second reply, canceller trusted, the user as loud as the echo.
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
    ("question", "gain_db"), [("Stop. What time is it?", -6.0), ("Will it rain on Thursday?", 0.0)]
)
def test_a_question_over_a_trusted_canceller_starts_near_its_onset(question: str, gain_db: float) -> None:
    """Measured: the kept pre-roll began 0.52 / 0.51 s before the onset (old code), now 0.20 /
    0.19 s before it."""
    reply = samples(speak(REPLY))
    far = np.concatenate([np.zeros(RATE), reply, np.zeros(RATE), reply, np.zeros(RATE)])
    played = played_frames(far)
    n = len(played) * FRAME
    mic = noise(n, -60.0) + echo_path(far[:n], delay_ms=70.0, gain_db=gain_db)
    user = samples(speak(question))
    echo_rms = float(np.sqrt(np.mean(echo_path(reply, delay_ms=70.0, gain_db=gain_db) ** 2)))
    user *= echo_rms / float(np.sqrt(np.mean(user[np.abs(user) > 30] ** 2)))
    at = 2 * RATE + len(reply) + int(1.5 * RATE)  # 1.5 s into the second reply, as the room's barge-ins
    mic[at : at + len(user)] += user[: n - at]
    e = 10 * np.log10(np.mean(np.square(user[: len(user) // 160 * 160].reshape(-1, 160)), axis=1) + 1e-12)
    onset = at + int(np.nonzero(e > e.max() - 35)[0][0]) * 160
    chain = Chain()
    end = chain.first_start(played, mic)
    assert end > onset, "a turn began before the user spoke"
    assert chain.guard.converged, "the canceller is not trusted: not the case of this test"
    kept = chain._preroll(chain.detector.take_preroll(), 2 * FRAME, True)
    start = end - len(kept) // 2
    assert start <= onset, f"the question's first {(start - onset) / RATE:.3f} s were cut"
    assert onset - start <= 0.25 * RATE, f"{(onset - start) / RATE:.3f} s of the reply's residual kept before it"
