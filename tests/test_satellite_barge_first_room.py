"""The first barge-in of a run at 0 dB echo, recorded in the room (satellite.speaker_path._partly_explained).

Issue 17, session 16: over the run's first reply the echo canceller is not trusted yet (ERLE
6-8 dB) and the judge lets the user through on double talk alone. The playback still explained
"Stop." over the echo to 0.75-0.83 (neither double talk, < 0.75, nor echo alone, >= 0.9), so the
double talk came on "What", 0.73 s after the onset: the reply went silent 0.79 s after it and
"Stop." was cut from the question ("What time is it?").

The audio is the lead's tap of that barge-in (room_bench --echo-db 0 --tap, 2026-12-03
05:32 UTC, main at 03405bd): frames 170-289 of the run, the mic (16 kHz) and what was written
to the speaker at each mic read (22.05 kHz, 661/662 samples a tick), from 0.6 s before the
reply to 0.82 s after the onset (the live satellite's hold: 0.79 s). The user's onset (the room's
label) is 10 ms before the end of the excerpt's frame 81.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: bench/

import pytest
from test_satellite_echopath import Chain

from bench.aec_bench import FRAME
from satellite.speex import load_library
from satellite.vad import VadEvent
from voice_runtime.audio import read_wav

RATE = 16000
AUDIO = Path(__file__).parent / "audio"
ONSET = 82 * FRAME - RATE // 100  # the mic sample of the user's onset ("Stop.")
pytestmark = pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")


def test_the_first_barge_in_over_an_untrusted_canceller_is_heard_soon_and_keeps_stop() -> None:
    """Measured on this audio: old code, the speech start 0.79 s after the onset (as live; its
    pre-roll, replayed on the whole tap, from 0.55 s after the onset); now 0.22 s after it, the
    pre-roll from 0.08 s before it."""
    mic, _ = read_wav(str(AUDIO / "room_first_barge_0db_mic.wav"))
    played, _ = read_wav(str(AUDIO / "room_first_barge_0db_played.wav"))
    chain = Chain()
    start = None
    for i in range(len(mic) // (2 * FRAME)):
        a, b = int(i * 661.5), int((i + 1) * 661.5)  # the speaker's samples written at this mic read
        chain.trace.read = (i + 1) * FRAME / RATE
        chain._check_lag()
        cleaned, allow = chain._judge(mic[i * 2 * FRAME : (i + 1) * 2 * FRAME], played[a * 2 : b * 2])
        if chain.detector.process(cleaned, allow) == VadEvent.START:
            start = (i + 1) * FRAME
            break
    assert start is not None, "the user was not heard within 0.82 s of the onset"
    assert start > ONSET, "a turn began on the reply's echo, before the user spoke"
    assert not chain.guard.converged  # the room's case: the canceller not trusted yet
    assert start - ONSET <= 0.3 * RATE, f"heard {(start - ONSET) / RATE:.3f} s after the onset"
    kept = chain._preroll(chain.detector.take_preroll(), 2 * FRAME, True)
    first = start - len(kept) // 2
    assert first <= ONSET, f"the question's first {(first - ONSET) / RATE:.3f} s were cut ('Stop.')"
    assert ONSET - first <= 0.2 * RATE, f"{(ONSET - first) / RATE:.3f} s of the reply's echo kept before it"
