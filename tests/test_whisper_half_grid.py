"""A word said apart after a pause is looked for on two window grids (``VadPolicy.half_grid``).

tests/audio/pharmacy_half_grid_room.wav is the room's microphone for "Where is the nearest ...
pharmacy?" (af_nicole, noisy -10 dB / -40 dBFS, a 0.6 s pause after "nearest"; request held-48 of
bench/room_turns_bench.py held part 1/2, session 15's run at 2026-12-02 21:19 UTC, where the turn
ended on "where is the nearest?" after the 1.9 s cap: "pharmacy" was never speech to whisper),
cut to start 0.40 s before the clip did. Silero's score of the quiet "pharmacy" depends on where
the 512-sample grid falls: from this start no window of it reaches 0.45 (from 4 of 1280 start
offsets over 0.9 s; 103 more gave it one window), on the grid shifted by half a window it is
speech. On the old code the speech ends after "nearest" and the transcript is "where is the
nearest?".
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from whisper_clip import AUDIO, clip_float, clip_pcm, transcript

from voice_runtime.models import silero_vad
from wyoming_whisper.engine import SAMPLE_RATE
from wyoming_whisper.vad import WINDOW, SileroVad, VadPolicy, speech_windows

CLIP = AUDIO / "pharmacy_half_grid_room.wav"


def test_only_a_run_apart_from_the_speech_counts_on_the_half_grid() -> None:
    policy = VadPolicy()
    probs = [0.05] * 4 + [0.9] * 6 + [0.3] * 2 + [0.05] * 6 + [0.3, 0.4, 0.3, 0.35] + [0.05] * 4
    # half[j - 1] ends in the middle of window j: a later word scores 0.6-0.7 there
    half = [0.05] * 4 + [0.9] * 6 + [0.6] + [0.05] * 6 + [0.6, 0.7, 0.65, 0.6] + [0.05] * 5
    assert speech_windows(probs, policy) == (4, 9)  # one grid
    assert speech_windows(probs, replace(policy, half_grid=False), half) == (4, 9)
    assert speech_windows(probs, policy, half) == (4, 21)
    # the fading end of the last word (right after it) does not move the end
    fading = [0.05] * 4 + [0.9] * 6 + [0.7, 0.6, 0.5] + [0.05] * 10
    assert speech_windows(probs, policy, fading) == (4, 9)
    # nor does a blip under min_speech_windows
    blip = [0.05] * 4 + [0.9] * 6 + [0.05] * 7 + [0.6, 0.6] + [0.05] * 10
    assert speech_windows(probs, policy, blip) == (4, 9)


def test_the_quiet_word_is_speech_on_the_half_grid() -> None:
    audio = clip_float(CLIP)
    stream = SileroVad(silero_vad()).stream()
    stream.feed(audio)
    one = speech_windows(stream.probs, VadPolicy(half_grid=False))
    both = speech_windows(stream.probs, VadPolicy(), stream.half_probs)
    assert one is not None and both is not None
    assert (one[1] + 1) * WINDOW < len(audio) - 1.2 * SAMPLE_RATE  # ends before "pharmacy"
    assert (both[1] + 1) * WINDOW > len(audio) - 0.8 * SAMPLE_RATE  # ends in it


def test_a_stream_in_pieces_scores_the_half_grid_as_a_whole() -> None:
    audio = clip_float(CLIP)
    whole = SileroVad(silero_vad()).stream()
    whole.feed(audio)
    pieces = SileroVad(silero_vad()).stream()
    for i in range(0, len(audio), 100):  # pieces shorter than the half-window skip
        pieces.feed(audio[i : i + 100])
    assert whole.half_probs is not None and pieces.half_probs is not None
    assert len(pieces.half_probs) == (len(audio) - WINDOW // 2) // WINDOW
    np.testing.assert_allclose(pieces.half_probs, whole.half_probs, atol=1e-5)


async def test_the_word_after_the_pause_is_heard() -> None:
    text = await transcript(clip_pcm(CLIP) + bytes(2 * int(2.0 * SAMPLE_RATE)))
    assert "pharmacy" in text.lower(), text
