"""A reply's onset after the speaker slipped a sample, unseen, in the silence before it (satellite.aec_slip).

Issue 17, session 25's lead quiet room_bench at 0 dB (14:59-15:03 UTC, kept tap
/tmp/p25/lead-rb/echo+0dB/tap): 20 echo-only replies of the same audio; reply 6 was held 0.57 s after
the question's end, nobody speaking (a false hold and cut). In the 5 s of silence before it the room's
card played one sample (at 22050 Hz) the satellite never wrote: the reply's echo came 0.73 of a sample
(16 kHz) later than the canceller's reference, which the delay meter measured only 0.4 s into the
reply (1429.09 -> 1429.91 samples). speex, trusted at 30 dB ERLE, took 5 / 16 / 20 / 20 dB out of the
reply's first echo frames (-44 / -16 / -10 / -8 dBFS), the high band worst: 8.7 dB over its residual
echo (a hiss), then 9.1 dB broadband: an onset. The same onset in the other 19 replies: 34-41 dB.

The audio: the tap's frames 1784-2029 (reply 5, nobody speaking; played three times here so that speex
converges to ~30 dB as it had by then) and 2180-2196 (the silence's end and reply 6's first loud frames,
up to the live run's kill), the mic (16 kHz) and the speaker's frame of each tick (22.05 kHz, 661/662
samples a tick); made by slicing mic.raw / ref.raw by meta.tsv's sizes (tests/audio/README.md).
Old code, on this audio: the reply's first loud frames cancelled 16 / 19 / 22 dB, the high band 9.3 dB
over its residual echo on the second (strong). Now: the slip found on the reply's first echo frame
(the canceller's estimate 0.73 samples later leaves 7.2 dB less), the reference re-aligned, the first
loud frames cancelled 26 / 36 / 37 dB.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: bench/

import pytest
from test_satellite_echopath import Chain

from bench.aec_bench import FRAME
from satellite.echo import frame_rms, ratio_to_db
from satellite.speex import load_library
from satellite.vad import VadEvent
from voice_runtime.audio import read_wav

AUDIO = Path(__file__).parent / "audio"
RATE = 16000
REPLY_FRAMES = 246  # reply 5 (the tap's frames 1784-2029)
LOOPS = 3
ONSET = 13  # the onset excerpt's first echo frame (the tap's 2193); 14-16 its first loud ones
TICK = 661.5  # speaker samples a mic frame (22050 / 16000 * 480)
pytestmark = pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")


def frames() -> Iterator[tuple[int | None, bytes, bytes]]:
    """(frame of the onset excerpt or None, mic frame, speaker frame): reply 5 three times, then reply 6's onset."""
    mic, _ = read_wav(str(AUDIO / "reply_onset_slipped_0db_mic.wav"))
    played, _ = read_wav(str(AUDIO / "reply_onset_slipped_0db_played.wav"))
    mic_split, played_split = REPLY_FRAMES * 2 * FRAME, int(REPLY_FRAMES * TICK) * 2
    for _ in range(LOOPS):
        for i in range(REPLY_FRAMES):
            a, b = int(i * TICK), int((i + 1) * TICK)
            yield None, mic[i * 2 * FRAME : (i + 1) * 2 * FRAME], played[a * 2 : b * 2]
    for i in range((len(mic) - mic_split) // (2 * FRAME)):
        a, b = played_split + int(i * TICK) * 2, played_split + int((i + 1) * TICK) * 2
        yield i, mic[mic_split + i * 2 * FRAME : mic_split + (i + 1) * 2 * FRAME], played[a:b]


def test_a_reply_onset_after_an_unseen_slip_is_cancelled_and_not_held() -> None:
    chain = Chain()
    taken: list[float] = []
    strong: list[int] = []
    held: list[int] = []
    trusted_before = False
    margin = chain.guard.config.onset_margin_db
    for k, (onset_frame, mic, played) in enumerate(frames()):
        chain.trace.read = (k + 1) * FRAME / RATE
        chain._check_lag()
        cleaned, allow = chain._judge(mic, played)
        event = chain.detector.process(cleaned, allow)
        if onset_frame is None:
            continue
        if onset_frame == ONSET - 1:
            trusted_before = chain.guard.converged
        if event == VadEvent.START or chain.guard.onset:
            held.append(onset_frame)
        if onset_frame > ONSET:  # the reply's first loud frames
            taken.append(ratio_to_db(frame_rms(mic)) - ratio_to_db(frame_rms(cleaned)))
            if max(chain.guard.residual.excess_db, chain.guard.residual_hi.excess_db) >= margin:
                strong.append(onset_frame)
    assert trusted_before, "the room's case: the canceller trusted when the reply began"
    assert held == [], f"held on the reply's echo alone (frames {held})"
    assert min(taken) >= 25.0, f"the reply's first loud frames cancelled only {[round(t, 1) for t in taken]} dB"
    assert strong == [], f"frames {strong} reached the onset margin over the residual echo"
