"""A stall under the write-ahead's 40 ms lead ends the trust in the canceller (satellite.speaker_path).

The room (issue 17, session 16's lead run at 0 dB, 07:44:12, replayed with bench/echo_replay.py;
the tap's speaker stream aligned with the room's played.wav): the satellite read one mic frame
41 ms late, under the 45 ms it called a stall; the room's card ran dry for one sample then (45 us:
what it played from there on was one sample later than the canceller's reference), which the
write-ahead's level estimate did not see. The canceller, trusted at 39 dB ERLE, took 11-17 dB
out of the echo from there on and the judge held the reply 4-9 frames later. A stall is now
35 ms: the judge stops trusting the canceller at once and the delay is measured again. Here the
satellite's chain (test_satellite_echopath.Chain) over the third reply, a frame read 40 ms late.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: bench/

import pytest
from test_satellite_echopath import Chain, scene

from bench.aec_bench import FRAME, pcm
from satellite.speex import load_library

RATE = 16000
pytestmark = pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")


@pytest.mark.parametrize("late_s", [0.038, 0.041])
def test_a_frame_read_40_ms_late_ends_the_trust_and_rechecks_the_delay(late_s: float) -> None:
    """Old code (45 ms): still trusted, no recheck."""
    s = scene(0.0, 110.0)
    chain = Chain()
    late = (s["third"] + 2 * RATE) // FRAME  # 2 s into the third reply
    for i, played in enumerate(s["played"][:late]):
        chain.frame(pcm(s["mic"][i * FRAME : (i + 1) * FRAME]), played, (i + 1) * FRAME / RATE)
    assert chain.guard.converged, "the canceller is not trusted: not the case of this test"
    chain.trace.read = (late + 1) * FRAME / RATE + late_s
    chain._check_lag()
    assert chain.guard.suspended and not chain.guard.converged
    assert chain.frontend is not None and chain.frontend._rechecking
