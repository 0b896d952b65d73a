"""A client of another protocol pointed at the wrong engine gets ONE clear error per stream, not one
per event, and the server keeps serving: the speech-to-text and conversation servers, real
processes on real sockets (the text-to-speech server: tests/test_tts_foreign.py). The rule lives
once, in voice_runtime.handler.ServiceHandler."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from helpers import ServiceProcess, connected, start_service
from test_tts_foreign import whisper_session
from wyoming.asr import Transcript
from wyoming.error import Error
from wyoming.event import Event
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop


def tts_stream(words: list[str]) -> list[Event]:
    events = [SynthesizeStart().event(), *(SynthesizeChunk(text=w + " ").event() for w in words)]
    return [*events, Synthesize(text=" ".join(words)).event(), SynthesizeStop().event()]


def errors(events: list[Event]) -> list[Error]:
    return [Error.from_event(e) for e in events if Error.is_type(e.type)]


@pytest.fixture
async def llama() -> AsyncIterator[ServiceProcess]:
    service = await start_service(
        "wyoming_llama", "--threads", "1", "--context-size", "512", "--parallel", "1", "--warm-up-slots", "0"
    )
    try:
        yield service
    finally:
        await service.stop()


@pytest.fixture
async def whisper() -> AsyncIterator[ServiceProcess]:
    service = await start_service("wyoming_whisper", "--model", "tiny.en", "--no-warmup")
    try:
        yield service
    finally:
        await service.stop()


async def test_an_audio_stream_sent_to_the_llm_server_gets_one_error(llama: ServiceProcess) -> None:
    async with connected(llama.port) as wrong:
        for event in whisper_session(40) + whisper_session(5):
            await wrong.send(event)
        await wrong.send(Transcript(text="  "))  # served after the sessions, in order (no model call)
        got = await wrong.recv_until("handled-stop")
    found = errors(got)
    assert len(found) == 2, [e.text for e in found]  # one per session (old code: 51, one per event)
    assert all(e.code == "unknown-event" for e in found)
    assert "'transcribe'" in found[0].text and "conversation server" in found[0].text
    assert [e.type for e in got if not Error.is_type(e.type)][0] == "handled-start"


async def test_a_tts_stream_sent_to_the_stt_server_gets_one_error(whisper: ServiceProcess) -> None:
    async with connected(whisper.port) as wrong, connected(whisper.port) as other:
        for event in tts_stream(["Hello", "there", "friend."]) + tts_stream(["Again."]):
            await wrong.send(event)
        for event in whisper_session(20):  # then what this server serves, on the same connection
            await wrong.send(event)
        got = await wrong.recv_until("transcript")
        found = errors(got)
        assert len(found) == 2, [e.text for e in found]  # one per stream (old code: 10)
        assert all(e.code == "unknown-event" for e in found)
        assert "'synthesize-start'" in found[0].text and "speech-to-text server" in found[0].text

        for event in whisper_session(5):  # another client, served as ever
            await other.send(event)
        heard = await other.recv_until("transcript")
        assert not errors(heard)


async def test_a_stray_event_after_a_served_one_is_answered_again(whisper: ServiceProcess) -> None:
    """The one-error state ends at an event the server serves: a later stray stream is told again."""
    async with connected(whisper.port) as client:
        await client.send(Synthesize(text="One."))
        await client.send(Synthesize(text="Two."))  # the same foreign stream: no second error
        for event in whisper_session(5):
            await client.send(event)
        await client.send(Synthesize(text="Three."))
        for event in whisper_session(5):
            await client.send(event)
        first = await client.recv_until("transcript-stop")
        second = await client.recv_until("transcript-stop")
    assert [e.type for e in first].count("error") == 1 and first[0].type == "error"
    assert [e.type for e in second].count("error") == 1 and second[0].type == "error"
