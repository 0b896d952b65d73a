"""A weak end of speech (a quiet last word that only just crosses Silero's threshold) keeps more
of the silence after it in the decode.

tests/audio/pharmacy_weak_end_room.wav is the room's microphone for "Where is the nearest ...
pharmacy?" (af_nicole, far + noise, a 0.6 s pause after "nearest"; bench/room_turns_bench.py held
part 1/2, 2026-12-02 13:28 UTC, request held-48), from 0.5 s before the speech to 1.0 s after it.
Fed from this start, Silero scores "pharmacy" 0.04-0.48 (two windows at 0.47/0.48), so the speech
ends ~0.08 s before the word does; tiny.en reads the speech plus the 0.1 s endpointing pad as
"Where is the nearest farm?" (the room's transcripts: "tour", "newest pharmacy", "newest tour" in
sessions 9-13) and reads "pharmacy" once ~0.3 s more of the audio after the word is in. (Silero's
scores depend on where the stream starts: from 0.2-0.45 s or 0.6-1.0 s before the speech the
same word scores 0.6-0.9 and the speech ends after it.)
``endpoint_after`` stands in for the orchestrator's continuation, which merges the two parts of
this request and sends the merged stream so (without it the turn ends at the pause after
"nearest", as in the room). On the old code (no weak end) the transcript is "... nearest farm?".
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from handler_pair import tiny_whisper, transcribe_stream
from wyoming.asr import Transcript

from voice_runtime.models import silero_vad
from wyoming_whisper.engine import SAMPLE_RATE
from wyoming_whisper.handler import WhisperHandler
from wyoming_whisper.stream import StreamPolicy
from wyoming_whisper.vad import WINDOW, SileroVad, VadPolicy, end_pad, speech_region

CLIP = Path(__file__).parent / "audio" / "pharmacy_weak_end_room.wav"
POLICY = StreamPolicy(endpoint_max_windows=round(1.5 * SAMPLE_RATE / WINDOW))
STRONG = [0.05] * 5 + [0.9] * 10 + [0.05] * 20
WEAK = [0.05] * 5 + [0.9] * 10 + [0.1] * 5 + [0.47, 0.48] + [0.05] * 20


def test_the_pad_is_longer_only_after_a_weak_end() -> None:
    policy = VadPolicy(pad_windows=3)
    assert end_pad(STRONG, 14, policy) == 3
    assert end_pad(WEAK, 21, policy) == policy.weak_pad_windows > 3
    assert speech_region(WEAK, len(WEAK) * WINDOW, policy) == (0, (22 + policy.weak_pad_windows) * WINDOW)
    assert speech_region(STRONG, len(STRONG) * WINDOW, policy) == (0, 18 * WINDOW)
    off = VadPolicy(pad_windows=3, weak_peak=None)
    assert end_pad(WEAK, 21, off) == 3


@pytest.fixture
async def handler() -> AsyncIterator[tuple[WhisperHandler, asyncio.StreamReader]]:
    async with tiny_whisper(SileroVad(silero_vad()), POLICY) as pair:
        yield pair


async def test_a_quiet_last_word_is_heard_whole(handler: tuple[WhisperHandler, asyncio.StreamReader]) -> None:
    whisper, client = handler
    with wave.open(str(CLIP)) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (SAMPLE_RATE, 2, 1)
        audio = wav.readframes(wav.getnframes()) + bytes(2 * int(1.5 * SAMPLE_RATE))
    context: dict[str, object] = {"partial_transcripts": False, "endpoint_after": 1.7}
    got = await transcribe_stream(whisper, client, audio, context)
    text = next(Transcript.from_event(e).text for e in got if Transcript.is_type(e.type))
    assert "nearest pharmacy" in text.lower(), text
