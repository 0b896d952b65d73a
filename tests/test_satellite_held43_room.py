"""A user going on over a reply, over a trusted canceller, recorded in the room (satellite.estimate.LaterEcho).

Issue 17, session 24's quiet run (lead-turns-1, 12:08 UTC): held-43, "Play the next song on ... my
playlist" (0.9 s pause after "on", am_michael, clean, -6 dB echo). The end of turn came in the pause,
the no-home reply started, and "my playlist" began 0.47 s into it, about as loud as the reply's echo.
The canceller was trusted (ERLE 29 dB) and the residual gate heard the word 17-24 dB over the residual
echo; but on the word's first loud frame the canceller's estimate, shifted 45 samples later, explained
4.6 dB of the output (LaterEcho's line: 4.0): taken for an echo path that had moved unseen, the judge
stopped trusting the canceller, which waited 0.4 s for the delay to be measured again ("moved 0.00
samples"). Over a canceller that waits, a word at the echo's level passes no gate: never held, the
request answered half ("Play the next song."). An echo path that moved stays moved: LaterEcho now asks
the frame before to agree (satellite.estimate), and a frame found alone is no evidence either way (the
judge neither lets it through nor counts it): the word is held 0.09 s after its first loud frame.

The audio: that run's mic.wav and played.wav (no tap was kept) rebuilt as a tap (``bench/echo_room_tap.py
--lead-ms 69``: the live satellite measured 109 ms of echo delay, the room adds 40), frames 2210-2319
(held-42's reply, 64.3-67.5 s: the canceller's trust is earned there, nobody speaks) and 2645-2679
(77.3-78.3 s: held-43's reply and "my playlist" over it), the mic (16 kHz) and what the speaker played
69 ms after each mic read (22.05 kHz, 661/662 samples a tick).
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
WORD = 130  # the excerpt's frame of the first loud frame of "my" (the room's 77.92 s)
pytestmark = pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")


def test_the_user_going_on_over_a_trusted_canceller_is_held_and_the_echo_alone_is_not() -> None:
    """Measured on this audio: old code, the judge suspended on frame 131 (LaterEcho, 45 samples) and
    nothing was held to the excerpt's end (0.36 s after the word began); now an onset on frame 133,
    the trust kept."""
    mic, _ = read_wav(str(AUDIO / "held43_continuation_trusted_mic.wav"))
    played, _ = read_wav(str(AUDIO / "held43_continuation_trusted_played.wav"))
    chain = Chain()
    holds = []
    trusted_at_word = False
    for i in range(len(mic) // (2 * FRAME)):
        a, b = int(i * 661.5), int((i + 1) * 661.5)  # the speaker's samples of this mic read
        chain.trace.read = (i + 1) * FRAME / RATE
        chain._check_lag()
        cleaned, allow = chain._judge(mic[i * 2 * FRAME : (i + 1) * 2 * FRAME], played[a * 2 : b * 2])
        event = chain.detector.process(cleaned, allow)
        if i == WORD - 1:
            trusted_at_word = chain.guard.converged
        if event == VadEvent.START or chain.guard.onset:
            holds.append((i, chain.guard.converged))
    assert trusted_at_word, "the room's case: the canceller trusted when the word began"
    assert [i for i, _ in holds if i < WORD] == [], "held on the replies' echo alone"
    assert holds, "the user going on was never held"
    first, trusted = holds[0]
    assert first <= WORD + 3, f"held {(first - WORD) * FRAME / RATE:.2f} s after the word's first loud frame"
    assert trusted, "the judge stopped trusting the canceller on the user's word"
