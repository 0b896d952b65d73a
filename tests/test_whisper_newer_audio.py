"""The end of turn is never decided on stale audio.

On a busy machine the speculative final decode can take longer than the end-of-turn silence;
meanwhile the user may go on ("Lock the front door. ... please"). The handler used to wait for
that decode inside the chunk where the silence was reached, with the rest of the audio queued
behind it, and so ended the turn on "Lock the front door." (room run 2026-12-01 17:50, held-55,
load 11-16). Here the reader queues every chunk before the worker handles one (what a slow
decode makes happen), through the handler's own ``preempt``/``handle_event`` on a real model.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from handler_pair import read_until, tiny_whisper
from speech import speak_paused
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart

from voice_runtime.models import silero_vad
from wyoming_whisper.handler import WhisperHandler
from wyoming_whisper.stream import StreamPolicy
from wyoming_whisper.vad import SileroVad


@pytest.fixture
async def handler() -> AsyncIterator[tuple[WhisperHandler, asyncio.StreamReader]]:
    policy = StreamPolicy(endpoint_max_windows=round(1.5 * 16000 / 512))
    async with tiny_whisper(SileroVad(silero_vad()), policy) as pair:
        yield pair


async def test_speech_queued_after_a_finished_phrase_is_heard_before_the_end(
    handler: tuple[WhisperHandler, asyncio.StreamReader],
) -> None:
    whisper, client = handler
    audio = speak_paused("Lock the front door please.", 4, 0.45) + bytes(int(1.5 * 16000) * 2)
    events = [Transcribe(language="en", vad_sensitivity="default", context={"partial_transcripts": False}).event(),
              AudioStart(rate=16000, width=2, channels=1).event()]
    events += [AudioChunk(rate=16000, width=2, channels=1, audio=audio[i:i + 960]).event()
               for i in range(0, len(audio), 960)]
    for event in events:  # the reader has read (and queued) everything ...
        await whisper.preempt(event)
    for event in events:  # ... before the worker handles the first
        await whisper.handle_event(event)
    got = await read_until(client, "transcript-stop")
    text = next(Transcript.from_event(e).text for e in got if Transcript.is_type(e.type))
    assert "please" in text.lower(), text
