"""The echo of the very first reply is not taken for the user (satellite.delay double talk).

The room at 0 dB (issue 17, session 12, `--onset-high-band` run): echo alone held and cut the
run's first reply 0.1 s into its audio, a VAD start on double talk before any echo delay was
measured (judge line: cancelling=False double_talk=True). The delay meter called double talk
because the echo's own delay did not yet count as heard (its playback window held less than
``min_audible`` of audible playback) while shorter delays did, and those explain the echo
poorly. Here the satellite's chain (test_satellite_echopath.Chain) over the first reply at
0 dB, 110 ms echo delay, at two start phases of the reply against the meter's schedule that
gave a false start on the old code.
"""

from __future__ import annotations

import numpy as np
import pytest
from speech import speak
from test_satellite_echopath import REPLY, Chain

from bench.aec_bench import FRAME, echo_path, noise, pcm, played_frames, samples
from satellite.speex import load_library
from satellite.vad import VadEvent

RATE = 16000
pytestmark = pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")


@pytest.mark.parametrize("phase_ms", [6, 12])
def test_the_first_replys_echo_alone_starts_no_turn(phase_ms: int) -> None:
    """Old code: a VAD start 0.55 s after the reply began (0.19 s into its words), both phases."""
    lead = np.zeros(RATE + phase_ms * RATE // 1000)
    far = np.concatenate([lead, samples(speak(REPLY)), np.zeros(RATE)])
    played = played_frames(far)
    n = len(played) * FRAME
    mic = noise(n, -60.0, seed=phase_ms // 3 + 3) + echo_path(far[:n], delay_ms=110.0, gain_db=0.0, seed=phase_ms // 3)
    chain = Chain()
    for i, frame in enumerate(played):
        chain.trace.read = (i + 1) * FRAME / RATE
        chain._check_lag()
        cleaned, allow = chain._judge(pcm(mic[i * FRAME:(i + 1) * FRAME]), frame)
        started = chain.detector.process(cleaned, allow) == VadEvent.START
        at = (i + 1) * FRAME / RATE - len(lead) / RATE
        assert not (started or chain.guard.onset), f"held on echo alone {at:.2f} s in"
    assert chain.frontend is not None and chain.frontend.cancelling  # a delay was measured (else nothing was tested)
