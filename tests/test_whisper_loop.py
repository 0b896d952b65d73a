"""A speculative final decode that repeats the request is decoded again with more of the silence.

tests/audio/emerald_loop_tiny_en.wav is what the satellite sent for "What color is an emerald?"
(said once; Piper in the simulated room, bench/room_stack_barge.py, 2026-12-02 10:31, turn 38),
cut 0.7 s after the speech. tiny.en (beam 5, the 10 s encoder window) decodes its speech plus the
0.1 s endpointing pad as "What color is an emerald? What color is an emerald?" and the same
samples plus 0.1-0.2 s more silence as the question once; the server used to send the doubled text
(it now decodes a final text that repeats a phrase again, with 0.2 s of the audio after it).
Its first 0.2 s are a noise blip (tiny.en: "."), 0.35 s before the question: ``endpoint_after``
keeps the end of turn out of it here, where the audio comes faster than real time (in the room the
satellite's pre-roll burst reached the question before the blip was judged).
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from handler_pair import tiny_whisper, transcribe_stream
from wyoming.asr import Transcribe, Transcript
from wyoming.vad import VoiceStopped

from wyoming_whisper.engine import SAMPLE_RATE
from wyoming_whisper.handler import WhisperHandler
from wyoming_whisper.policy import request_policy
from wyoming_whisper.stream import LOOP_RETRY_SECONDS, StreamPolicy, Utterance
from wyoming_whisper.vad import SileroVad

CLIP = Path(__file__).parent / "audio" / "emerald_loop_tiny_en.wav"
POLICY = StreamPolicy(endpoint_max_windows=round(1.5 * SAMPLE_RATE / 512))


def _clip() -> bytes:
    with wave.open(str(CLIP)) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (SAMPLE_RATE, 2, 1)
        frames: bytes = wav.readframes(wav.getnframes())
        return frames


def test_a_final_text_that_repeats_a_phrase_is_decoded_again_with_the_audio_after_it(vad: SileroVad) -> None:
    utterance = Utterance(vad.stream(), request_policy(POLICY, Transcribe(vad_sensitivity="default")))
    pcm = _clip()
    utterance.add(pcm[: 2 * 30208])  # the speech and 0.1 s of silence after it: nothing more yet
    region = utterance.region()
    assert region is not None and region[1] == utterance.samples
    looped = "What color is an emerald? What color is an emerald?"
    assert utterance.loop_retry(region, looped) is None  # no audio after it to decode
    utterance.add(pcm[2 * 30208 :])
    assert utterance.region() == region
    assert utterance.loop_retry(region, looped) == (region[0], region[1] + int(LOOP_RETRY_SECONDS * SAMPLE_RATE))
    assert utterance.loop_retry(region, "What color is an emerald?") is None


@pytest.fixture
async def handler(vad: SileroVad) -> AsyncIterator[tuple[WhisperHandler, asyncio.StreamReader]]:
    async with tiny_whisper(vad, POLICY) as pair:
        yield pair


async def test_the_question_said_once_is_transcribed_once(
    handler: tuple[WhisperHandler, asyncio.StreamReader],
) -> None:
    whisper, client = handler
    audio = _clip() + bytes(2 * int(1.5 * SAMPLE_RATE))  # digital silence: the turn ends at the cap, as in the room
    context: dict[str, object] = {"partial_transcripts": False, "endpoint_after": 0.6}
    got = await transcribe_stream(whisper, client, audio, context)
    text = next(Transcript.from_event(e).text for e in got if Transcript.is_type(e.type))
    assert text.lower().count("emerald") == 1, text
    # the looped speculative text still read as unfinished: the turn ended at the cap (1.9 s), as before
    assert any(VoiceStopped.is_type(e.type) for e in got), [e.type for e in got]


async def test_a_noise_blip_before_the_question_does_not_end_the_turn(
    handler: tuple[WhisperHandler, asyncio.StreamReader],
) -> None:
    """The clip's first 0.2 s (a noise blip, decoded "."), then 0.35 s of quiet, then the question:
    with no ``endpoint_after`` the "." used to read as a finished request, so the turn ended on the
    blip and the transcript was "." (the question was never heard)."""
    whisper, client = handler
    audio = _clip() + bytes(2 * int(1.5 * SAMPLE_RATE))
    got = await transcribe_stream(whisper, client, audio, {"partial_transcripts": False})
    text = next(Transcript.from_event(e).text for e in got if Transcript.is_type(e.type))
    assert "emerald" in text.lower(), text
    stopped = [VoiceStopped.from_event(e).timestamp for e in got if VoiceStopped.is_type(e.type)]
    assert stopped and stopped[0] is not None and stopped[0] > 1000, stopped  # after the question, not the blip
