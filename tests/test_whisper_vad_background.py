"""Background speech under the room's noise is not a request (``VadPolicy.quiet_rise_db``).

tests/audio/background_far_talker_under_noise.wav is bench/turn_background.py's bg-06 (af_sky,
"Coming up after the break, we will look at the weather for the weekend. ...", a far talker:
0.6 s of synthetic reverb) 45 dB under the end-of-turn corpus's clean requests (about -65 dBFS),
under -60 dBFS white noise (the room's), its first 4 s. Nobody addresses the assistant. Silero
scores it 0.3-0.49 (two windows over 0.45): session 15's quiet-request rule made that speech, and
the live bench transcribed it as "Thank you very much." (2026-12-03 06:44). It never rises over
the noise floor (its loudest window -55.9 dBFS, the floor -60.2), the quiet request of
tests/test_whisper_quiet_request.py does by 11.8 dB or more (bench/results/turn_background.md).
"""

from __future__ import annotations

from whisper_clip import AUDIO, clip_float, clip_pcm, scores, transcript

from wyoming_whisper.engine import SAMPLE_RATE
from wyoming_whisper.vad import VadPolicy, speech_windows

BACKGROUND = AUDIO / "background_far_talker_under_noise.wav"
QUIET = AUDIO / "quiet_request_far.wav"
SESSION_15 = VadPolicy(quiet_rise_db=None)


def test_quiet_speech_must_rise_over_the_floor() -> None:
    quiet = [0.05] * 10 + [0.32, 0.38, 0.41, 0.36, 0.33] + [0.05] * 10
    flat = [-60.0] * 25
    assert speech_windows(quiet, SESSION_15, None, flat) == (10, 14)
    assert speech_windows(quiet, VadPolicy(), None, flat) is None
    rising = [-60.0] * 10 + [-55.0, -50.0, -48.0, -52.0, -57.0] + [-60.0] * 10
    assert speech_windows(quiet, VadPolicy(), None, rising) == (10, 14)
    # louder speech is speech at any level (the check is the quiet rule's only)
    loud = [0.05] * 10 + [0.9] * 5 + [0.05] * 10
    assert speech_windows(loud, VadPolicy(), None, flat) == (10, 14)


def test_background_under_the_noise_is_not_speech_and_the_quiet_request_is() -> None:
    probs, half, levels = scores(clip_float(BACKGROUND))
    assert speech_windows(probs, SESSION_15, half, levels) is not None  # session 15: speech
    assert speech_windows(probs, VadPolicy(), half, levels) is None
    probs, half, levels = scores(clip_float(QUIET))
    assert speech_windows(probs, VadPolicy(), half, levels) is not None


async def test_the_background_gives_an_empty_transcript() -> None:
    text = await transcript(clip_pcm(BACKGROUND) + bytes(2 * SAMPLE_RATE))
    assert text == "", text
