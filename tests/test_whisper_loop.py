"""A speculative final decode that repeats the request is decoded again with more of the silence.

tests/audio/emerald_loop_tiny_en.wav is what the satellite sent for "What color is an emerald?"
(said once; Piper in the simulated room, bench/room_stack_barge.py, 2026-12-02 10:31, turn 38),
cut 0.7 s after the speech. tiny.en (beam 5, the 10 s encoder window) decodes its speech plus the
0.1 s endpointing pad as "What color is an emerald? What color is an emerald?" and the same
samples plus 0.1-0.2 s more silence as the question once; the server used to send the doubled text.
Its first 0.2 s are a noise blip (tiny.en: "."), 0.35 s before the question: ``endpoint_after``
keeps the end of turn out of it here, where the audio comes faster than real time (in the room the
satellite's pre-roll burst reached the question before the blip was judged).
"""

from __future__ import annotations

import asyncio
import socket
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event, async_read_event
from wyoming.info import Info
from wyoming.vad import VoiceStopped

from voice_runtime.models import resolve_whisper, silero_vad
from wyoming_whisper.engine import SAMPLE_RATE, EngineConfig, WhisperEngine
from wyoming_whisper.handler import WhisperHandler
from wyoming_whisper.policy import request_policy
from wyoming_whisper.service import WhisperService
from wyoming_whisper.stream import LOOP_RETRY_SECONDS, StreamPolicy, Utterance
from wyoming_whisper.vad import SileroVad

CLIP = Path(__file__).parent / "audio" / "emerald_loop_tiny_en.wav"
POLICY = StreamPolicy(endpoint_max_windows=round(1.5 * SAMPLE_RATE / 512))


def _clip() -> bytes:
    with wave.open(str(CLIP)) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (SAMPLE_RATE, 2, 1)
        return wav.readframes(wav.getnframes())


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad(silero_vad())


def test_a_looped_verdict_grows_the_region_once_the_silence_is_in(vad: SileroVad) -> None:
    utterance = Utterance(vad.stream(), request_policy(POLICY, Transcribe(vad_sensitivity="default")))
    pcm = _clip()
    utterance.add(pcm[: 2 * 32000])  # 2 s: the speech and 0.1 s of silence after it
    plain = utterance.region()
    assert plain is not None
    utterance.judge(plain, "What color is an emerald? What color is an emerald?")
    assert utterance.region() == plain  # the longer region's audio is not in yet
    utterance.add(pcm[2 * 32000 :])
    longer = utterance.region()
    assert longer == (plain[0], plain[1] + int(LOOP_RETRY_SECONDS * SAMPLE_RATE))
    utterance.judge(longer, "What color is an emerald? What color is an emerald?")
    assert utterance.region() == longer  # a second loop is kept: no third decode


def test_a_finished_verdict_keeps_the_region(vad: SileroVad) -> None:
    utterance = Utterance(vad.stream(), request_policy(POLICY, Transcribe(vad_sensitivity="default")))
    utterance.add(_clip())
    plain = utterance.region()
    assert plain is not None
    utterance.judge(plain, "What color is an emerald?")
    assert utterance.region() == plain


@pytest.fixture
async def handler(vad: SileroVad) -> AsyncIterator[tuple[WhisperHandler, asyncio.StreamReader]]:
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    client_reader, client_writer = await asyncio.open_connection(sock=theirs)
    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
    service = WhisperService(engine=engine, vad=vad, info=Info, policy=POLICY)
    handler = WhisperHandler(reader, writer, service=service)
    try:
        yield handler, client_reader
    finally:
        await handler.disconnect()
        for w in (writer, client_writer):
            w.close()
            await w.wait_closed()


async def test_the_question_said_once_is_transcribed_once(
    handler: tuple[WhisperHandler, asyncio.StreamReader],
) -> None:
    whisper, client = handler
    audio = _clip()
    context = {"partial_transcripts": False, "endpoint_after": 0.6}
    events = [Transcribe(language="en", vad_sensitivity="default", context=context).event(),
              AudioStart(rate=SAMPLE_RATE, width=2, channels=1).event()]
    events += [AudioChunk(rate=SAMPLE_RATE, width=2, channels=1, audio=audio[i:i + 1024]).event()
               for i in range(0, len(audio), 1024)]
    events.append(AudioStop().event())
    for event in events:  # as the runtime reads them: each handled before the next is read
        await whisper.preempt(event)
        await whisper.handle_event(event)
    got: list[Event] = []
    while not got or got[-1].type != "transcript-stop":
        event = await asyncio.wait_for(async_read_event(client), 60)
        assert event is not None
        got.append(event)
    text = next(Transcript.from_event(e).text for e in got if Transcript.is_type(e.type))
    assert text.lower().count("emerald") == 1, text
    # ... and the turn ended on its own, as a finished request (the clip's 0.8 s of silence is
    # shorter than the 1.9 s an unfinished one, a looped text, waits for)
    assert any(VoiceStopped.is_type(e.type) for e in got), [e.type for e in got]
