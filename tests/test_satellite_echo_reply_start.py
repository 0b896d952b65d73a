"""The echo of a reply's first word is not double talk (satellite.delay.EchoDelay._echo_begins).

The room at 0 dB (issue 17, session 13, replayed from the satellite's own frames with
bench/echo_replay.py): twice in one run, with the echo delay measured but the canceller not yet
trusted again after stalls (ERLE 7-10 dB), echo alone was called double talk 0.1 s into a reply
(explained 0.41-0.42 by the playback; 0.98 one estimate later), and the three frames until the
next estimate were a VAD start: a false hold and cut (echo-only reply 8; the barge-in half's
reply 3). The mic window was mostly the room's noise and the echo's first milliseconds. Here the
front end the satellite runs (speex, the delay meter, estimates every 90 ms as while untrusted)
over a reply, 2 s of silence, and the next reply's start, at the two start phases that gave
double talk on the old code.
"""

from __future__ import annotations

import numpy as np
import pytest
from speech import speak

from bench.aec_bench import FRAME, SPEAKER_RATE, echo_path, noise, pcm, played_frames, samples
from satellite.aec import AudioFrontend, FrontendConfig
from satellite.speex import load_library

RATE = 16000
REPLY = (
    "Here is the forecast for this week. Tomorrow will be sunny and warm, with a light breeze from the "
    "south, and rain on Thursday."
)
pytestmark = pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")


@pytest.mark.parametrize(("delay_ms", "phase_ms", "seed"), [(120.0, 30, 4), (200.0, 45, 5)])
def test_echo_alone_at_a_replys_start_is_not_double_talk(delay_ms: float, phase_ms: int, seed: int) -> None:
    """Old code: double talk 0.08 s after the second reply's echo began (0.50 / 0.58 s after its
    playback), three frames in a row."""
    reply = samples(speak(REPLY))
    gap = np.zeros(2 * RATE + phase_ms * RATE // 1000)
    far = np.concatenate([np.zeros(RATE), reply[: 4 * RATE], gap, reply[:RATE]])
    played = played_frames(far)
    n = len(played) * FRAME
    mic = noise(n, -60.0, seed=seed) + echo_path(far[:n], delay_ms=delay_ms, gain_db=0.0, seed=seed)
    frontend = AudioFrontend(FrontendConfig(), SPEAKER_RATE)
    second = RATE + 4 * RATE + len(gap)
    called = []
    for i, frame in enumerate(played):
        frontend.watch(True)  # as while the echo judge does not trust the canceller
        frontend.process(pcm(mic[i * FRAME : (i + 1) * FRAME]), frame)
        if (i + 1) * FRAME > second and frontend.double_talk:
            called.append(round(((i + 1) * FRAME - second) / RATE, 2))
    assert frontend.cancelling  # the delay was measured on the first reply (else not the room's case)
    assert called == [], f"echo alone called double talk {called} s into the second reply"
