"""The first barge-in of a run keeps the start of the user's words (satellite.speaker_path._preroll).

The whole-stack room (issue 17): in every run the first interruption, spoken over a canceller
not yet trusted, lost its start (174-880 ms: "any strings does a violin have"). Over a reply
the question's pre-roll starts a few frames before the first frame the echo judge let through;
before the canceller is trusted that frame is the first the double-talk detector called, and it
calls on the last 0.3 s of mic once the user outweighs the echo there: 0.3-0.5 s after the onset.
Here the satellite's chain (test_satellite_echopath.Chain) over the first reply at -6 dB, the
user as loud as the echo: the pre-roll kept at the VAD's start must reach back to the onset.
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


@pytest.mark.parametrize(("question", "at_s"), [("How many strings does a violin have?", 2.0),
                                                ("Which country is the Eiffel Tower in?", 0.8)])
def test_a_question_over_an_untrusted_canceller_keeps_its_start(question: str, at_s: float) -> None:
    """Measured: the kept pre-roll began 290 / 320 ms after the onset (old code), now 40 / 10 ms
    before it."""
    reply = samples(speak(REPLY))
    far = np.concatenate([np.zeros(RATE), reply, np.zeros(RATE)])
    played = played_frames(far)
    n = len(played) * FRAME
    mic = noise(n, -60.0) + echo_path(far[:n], delay_ms=70.0, gain_db=-6.0)
    user = samples(speak(question))
    echo_rms = float(np.sqrt(np.mean(echo_path(reply, delay_ms=70.0, gain_db=-6.0) ** 2)))
    user *= echo_rms / float(np.sqrt(np.mean(user[np.abs(user) > 30] ** 2)))
    at = RATE + int(at_s * RATE)
    mic[at:at + len(user)] += user[: n - at]
    e = 10 * np.log10(np.mean(np.square(user[: len(user) // 160 * 160].reshape(-1, 160)), axis=1) + 1e-12)
    onset = at + int(np.nonzero(e > e.max() - 35)[0][0]) * 160
    chain = Chain()
    end = chain.first_start(played, mic)
    assert end > onset, "a turn began before the user spoke"
    assert not chain.guard.converged  # the case of the room's first barge-ins (else not this test)
    kept = chain._preroll(chain.detector.take_preroll(), 2 * FRAME, True)
    start = end - len(kept) // 2
    assert start <= onset, f"the question's first {(start - onset) / RATE:.3f} s were cut"
    assert onset - start <= 0.2 * RATE, f"{(onset - start) / RATE:.3f} s of the reply's echo kept before it"
