"""Every Wyoming event class the project sends survives the wire unchanged.

Each is written with ``wyoming``'s writer and read back with our limited frame reader, then
parsed with the class's own ``from_event``.
"""

from __future__ import annotations

import asyncio

import pytest
from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Eventable, async_write_event
from wyoming.handle import Handled, HandledChunk, HandledStart, HandledStop, NotHandled
from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    Describe,
    HandleModel,
    HandleProgram,
    Info,
    Satellite,
    TtsProgram,
    TtsVoice,
)
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import PauseSatellite, RunSatellite
from wyoming.snd import Played
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)
from wyoming.vad import VoiceStarted, VoiceStopped

from voice_runtime.limits import Limits
from voice_runtime.protocol import read_frame
from voice_runtime.speculative import SpeculativeTranscript

ATTR = Attribution("hearth", "https://example.invalid")
EVENTS: list[Eventable] = [
    Describe(),
    Info(
        asr=[AsrProgram(name="whisper", description="d", attribution=ATTR, installed=True, version="1",
                        models=[AsrModel(name="tiny.en", description="d", attribution=ATTR, installed=True,
                                         version="1", languages=["en"])],
                        supports_transcript_streaming=True)],
        tts=[TtsProgram(name="kokoro", description="d", attribution=ATTR, installed=True, version="1",
                        voices=[TtsVoice(name="af_heart", description="d", attribution=ATTR, installed=True,
                                         version="1", languages=["en-us"])],
                        supports_synthesize_streaming=True)],
        handle=[HandleProgram(name="llama", description="d", attribution=ATTR, installed=True, version="1",
                              models=[HandleModel(name="smollm2", description="d", attribution=ATTR, installed=True,
                                                  version="1", languages=["en"])],
                              supports_handled_streaming=True)],
    ),
    Info(satellite=Satellite(name="kitchen", description="d", attribution=ATTR, installed=True, version="1",
                             area="Kitchen", has_vad=True)),
    Error(text="bad", code="bad-json"),
    Ping(text="x"),
    Pong(text="x"),
    Transcribe(language="en"),
    TranscriptStart(language="en"),
    TranscriptChunk(text="turn on"),
    Transcript(text="turn on the lights", context={"conversation_id": "c1"}, language="en"),
    TranscriptStop(),
    SpeculativeTranscript(text="turn on the lights."),
    AudioStart(rate=16000, width=2, channels=1),
    AudioChunk(rate=16000, width=2, channels=1, audio=b"\x01\x00" * 160),
    AudioStop(),
    Synthesize(text="Hello.", voice=SynthesizeVoice(name="af_heart")),
    SynthesizeStart(voice=SynthesizeVoice(name="af_heart")),
    SynthesizeChunk(text="Hel"),
    SynthesizeStop(),
    SynthesizeStopped(),
    HandledStart(),
    HandledChunk(text="Paris"),
    Handled(text="Paris is the capital."),
    NotHandled(text="No."),
    HandledStop(),
    RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS),
    RunPipeline(start_stage=PipelineStage.TTS, end_stage=PipelineStage.TTS, announce_text="Dinner is ready"),
    RunSatellite(),
    PauseSatellite(),
    Played(),
    VoiceStarted(),
    VoiceStopped(),
]


@pytest.mark.parametrize("original", EVENTS, ids=lambda e: type(e).__name__)
async def test_round_trip_over_the_wire(original: Eventable) -> None:
    reader = asyncio.StreamReader()

    class Sink:
        def writelines(self, lines: list[bytes]) -> None:
            for line in lines:
                reader.feed_data(line)

        def write(self, data: bytes) -> None:
            reader.feed_data(data)

        async def drain(self) -> None:
            return None

    await async_write_event(original.event(), Sink())  # type: ignore[arg-type]
    reader.feed_eof()
    event = await read_frame(reader, Limits())
    assert event is not None
    assert type(original).is_type(event.type)
    parsed = type(original).from_event(event)
    assert parsed == original
