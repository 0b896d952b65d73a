"""A request said quietly is still speech: when fewer than 3 Silero windows reach the threshold,
windows scoring ``VadPolicy.quiet_threshold`` (0.3) or more are the speech.

tests/audio/quiet_request_far.wav is the end-of-turn corpus's tune-27 ("Turn the bedroom lights
down to fifty percent.", af_nicole, far-field -20 dB, a 0.45 s pause after "down") 6 dB quieter
again, with -60 dBFS white noise (seed 1; bench/turn_vad_probe.py's room model), 0.3 s before the
speech and 0.3 s after it. Silero scores it at most 0.46 (two windows over 0.45), so on the old
code no speech was found and the transcript was empty; tiny.en reads the request whole.
"""

from __future__ import annotations

import numpy as np
from whisper_clip import AUDIO, clip_float, clip_pcm, scores, transcript

from wyoming_whisper.engine import SAMPLE_RATE
from wyoming_whisper.vad import WINDOW, VadPolicy, speech_windows

CLIP = AUDIO / "quiet_request_far.wav"
OFF = VadPolicy(quiet_threshold=None)


def test_quiet_windows_are_speech_only_without_louder_speech() -> None:
    quiet = [0.05] * 5 + [0.32, 0.38, 0.41, 0.36, 0.33] + [0.05] * 10
    assert speech_windows(quiet, VadPolicy()) == (5, 9)
    assert speech_windows(quiet, OFF) is None
    # louder speech: its fading end (0.3-0.45) is not speech, so it ends where it did
    loud = [0.05] * 5 + [0.9] * 6 + [0.4, 0.35, 0.31] + [0.05] * 5 + [0.33, 0.36, 0.34] + [0.05] * 5
    assert speech_windows(loud, VadPolicy()) == speech_windows(loud, OFF) == (5, 10)
    # two blips under 0.3 are not a request
    assert speech_windows([0.05, 0.29, 0.28, 0.29, 0.05], VadPolicy()) is None


def test_silero_finds_the_quiet_request_and_not_white_noise() -> None:
    audio = clip_float(CLIP)
    probs, half, levels = scores(np.concatenate([audio, np.zeros(SAMPLE_RATE, np.float32)]))
    assert speech_windows(probs, OFF, half, levels) is None  # the old rule: no speech at all
    found = speech_windows(probs, VadPolicy(), half, levels)  # it rises over the noise floor
    assert found is not None
    # the speech spans the request (0.3 s of lead, ~3.4 s of words), not a blip in it
    assert found[0] * WINDOW < 0.6 * SAMPLE_RATE and found[1] * WINDOW > 3.0 * SAMPLE_RATE
    for dbfs in (-60, -40, -30):
        noise = np.random.default_rng(-dbfs).standard_normal(5 * SAMPLE_RATE) * 10 ** (dbfs / 20)
        assert speech_windows(scores(noise)[0], VadPolicy()) is None, dbfs  # not even without levels


async def test_a_quiet_request_is_transcribed() -> None:
    text = await transcript(clip_pcm(CLIP) + bytes(2 * int(1.5 * SAMPLE_RATE)))
    assert "bedroom lights" in text.lower(), text
