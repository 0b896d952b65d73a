"""Idle trims past the reference delay end the trust in the canceller (satellite.aec.advance_reference).

The room (issue 17, session 17, 0 dB, echo-only replies; replayed with bench/echo_replay.py): a
313 ms stall left the room's card holding 229 ms; the write-ahead then left 200 ms of idle silence
out, which took the canceller's reference delay down to 19 ms, and the next trim would have taken
it below zero: the canceller stopped, waiting for a new delay, but the judge was not told and went
on trusting it (ERLE 27 dB). The next reply's first echo came through whole and held it at 0.09 s
(a false hold and cut). Here the satellite's chain (test_satellite_echopath.Chain) over the third
reply, a write-ahead that has trimmed more than the reference delay.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: bench/

import pytest
from test_satellite_echopath import Chain, scene

from bench.aec_bench import FRAME, SPEAKER_RATE, pcm
from satellite.speex import load_library

RATE = 16000
pytestmark = pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")


def test_a_trim_past_the_reference_delay_ends_the_trust() -> None:
    """Old code: the canceller waits for a delay (cancelling off) and the judge still trusts it."""
    s = scene(0.0, 110.0)
    chain = Chain()
    ahead = SimpleNamespace(rate=SPEAKER_RATE, trimmed=0, underruns=0)
    chain.speaker.ahead = ahead  # type: ignore[attr-defined]
    frames = list(enumerate(s["played"]))
    at = (s["third"] + 2 * RATE) // FRAME  # 2 s into the third reply
    for i, played in frames[:at]:
        chain.frame(pcm(s["mic"][i * FRAME : (i + 1) * FRAME]), played, (i + 1) * FRAME / RATE)
    assert chain.guard.converged and chain.frontend is not None and chain.frontend.cancelling
    bulk_s = chain.frontend.bulk / RATE
    ahead.trimmed = round((bulk_s + 0.02) * SPEAKER_RATE)  # more than the reference is delayed by
    i, played = frames[at]
    chain.frame(pcm(s["mic"][i * FRAME : (i + 1) * FRAME]), played, (i + 1) * FRAME / RATE)
    assert not chain.frontend.cancelling, "the canceller did not wait for a new delay: not the case"
    assert not chain.guard.converged
