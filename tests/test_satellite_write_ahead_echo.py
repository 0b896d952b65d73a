"""The echo canceller follows the write-ahead's trims exactly (satellite.write_ahead, speaker_path, aec).

With ``--snd-lead-ms`` the speaker's stream is kept unbroken and idle silence is left out in
whole units (20 ms at 22050 Hz) when the card holds more than the lead: everything after plays
exactly that much sooner. The satellite's chain (speex with delay compensation, the echo judge,
WebRTC VAD: test_satellite_echopath.Chain) is told through the sink's ``ahead.trimmed`` and
shortens its reference delay by as much. Unannounced (session 14's code knows no trims), the
next reply's echo comes 20 ms before the canceller expects it: speex adapts to the shifted echo
until the delay meter re-measures it and the judge stops trusting the canceller.
"""

from __future__ import annotations

import numpy as np
import pytest
from speech import speak
from test_satellite_echopath import REPLY, Chain

from bench.aec_bench import FRAME, SPEAKER_RATE, echo_path, noise, pcm, played_frames, samples
from satellite.speex import load_library
from satellite.write_ahead import WriteAhead

RATE = 16000
pytestmark = pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")


def test_idle_silence_left_out_between_replies_keeps_the_canceller_on_its_path() -> None:
    reply = samples(speak(REPLY))
    parts = [np.zeros(RATE), reply, np.zeros(RATE), reply, np.zeros(RATE), reply, np.zeros(RATE)]
    written_frames = played_frames(np.concatenate(parts))
    n = len(written_frames) * FRAME
    far = np.concatenate(parts)[:n]
    trim = sum(len(x) for x in parts[:5]) - RATE // 2  # in the silence before the third reply
    before, after = far.copy(), far.copy()
    before[trim:], after[:trim] = 0.0, 0.0
    # 20 ms sooner from the trim on: 441 samples at 22050 Hz, 320 at 16 kHz.
    mic = noise(n, -60.0) + echo_path(before, delay_ms=70.0, gain_db=0.0) + echo_path(after, delay_ms=50.0, gain_db=0.0)
    chain, holds = Chain(), []
    ahead = WriteAhead(SPEAKER_RATE, lead_ms=40)
    chain.speaker.ahead = ahead  # type: ignore[attr-defined]  # as satellite.speakers' sinks carry it
    for i, frame in enumerate(written_frames):
        if i == trim // FRAME:
            ahead.trimmed = 441  # what WriteAhead._trim counts when it leaves out 20 ms
            chain.guard.take_reply_erle()
        if chain.frame(pcm(mic[i * FRAME : (i + 1) * FRAME]), frame, (i + 1) * FRAME / RATE):
            holds.append(i)
    third, frames = chain.guard.take_reply_erle()
    assert frames > 100
    assert holds == []
    # Measured: the third reply 27.1 dB (the first two, from a fresh filter: 11.4 dB); unannounced
    # (session 14's code): 4.5 dB and a false hold on echo alone.
    assert third is not None and third >= 20.0, third
