"""The canceller on a digitally silent mic with a speaker it cannot hear (the "continuation storm").

A muted mic (or a quiet USB mic) gives digital silence, and a speaker the mic cannot hear gives
no echo. speex then has nothing to learn the echo path from, and when the user speaks over the
playback (the listening tone, a reply) it adapts on the user's words: its filter learns an echo
that is not there. Back on the silent mic, the 440 Hz tone or the next reply came out of the
canceller as its "echo estimate" alone, at -50 to -59 dBFS, the VAD (whose noise floor is zero)
called it speech, and the satellite opened turns with nothing said in them, 0.1-0.5 s after each
tone or reply, which the orchestrator merged into the question as continuations.
"""

from __future__ import annotations

import numpy as np
import pytest
from speech import speak

from bench.aec_bench import FRAME, SPEAKER_RATE, pcm, played_frames, samples
from satellite.aec import AudioFrontend, FrontendConfig
from satellite.speex import load_library
from satellite.tones import PROCESS_HZ, ToneConfig, tone
from satellite.vad import SpeechDetector, VadConfig, VadEvent
from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert

needs_speex = pytest.mark.skipif(load_library() is None, reason="libspeexdsp1 is not installed")


@needs_speex
@pytest.mark.parametrize("floor", [0, 1], ids=["digital-silence", "1-lsb-dither"])
def test_a_silent_mic_stays_silent_after_double_talk_with_no_echo_path(floor: int) -> None:
    """Measured on the old code: a peak of 2084 (-24 dBFS) out of a digitally silent mic, and a VAD
    start; with a dithered mic (+-1 LSB) the same."""
    reply = samples(speak("It is one fourteen in the afternoon, and the sun is out."))
    played = played_frames(np.concatenate([reply, reply]))
    frontend = AudioFrontend(FrontendConfig(aec=True, aec_engine="speex"), SPEAKER_RATE)
    rng = np.random.default_rng(7)
    silent_mic = pcm(rng.integers(-floor, floor + 1, FRAME).astype(np.float64))
    half = len(played) // 2
    for frame in played[:half]:  # a reply the mic does not hear: no delay is found, speex starts anyway
        frontend.process(silent_mic, frame)
    assert frontend.cancelling
    user = samples(speak("What is the capital of Spain?"))
    for i, frame in enumerate(played[half:]):  # the user speaks over the rest of it (no echo in the mic)
        near = user[i * FRAME : (i + 1) * FRAME]
        frontend.process(pcm(near) if len(near) == FRAME else silent_mic, frame)
    # Back to digital silence while the "understood" tone plays (and then nothing).
    beep = convert(tone(PROCESS_HZ, 16000, ToneConfig()), PCM16_MONO_16K, AudioFormat(SPEAKER_RATE, 2, 1))
    per = len(played[0])
    ref = beep.ljust(per * 20, b"\0")
    detector = SpeechDetector(VadConfig(frame_ms=FRAME * 1000 // 16000, settle_seconds=0.0))
    events, out = [], bytearray()
    for i in range(len(ref) // per):
        cleaned = frontend.process(silent_mic, ref[i * per : (i + 1) * per])
        out += cleaned
        events.append(detector.process(cleaned))
    peak = float(np.max(np.abs(samples(bytes(out)))))
    assert peak <= floor, f"the canceller added {peak:.0f} of its own to a silent mic"
    assert VadEvent.START not in events
