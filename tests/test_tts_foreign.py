"""A speech-to-text client pointed at the TTS server by mistake gets ONE clear error per stream,
not one per event (a whisper session used to get 89), and the server keeps serving."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from helpers import ServiceProcess, connected, start_service
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.tts import Synthesize

SILENCE = bytes(2 * 1024)


@pytest.fixture
async def server() -> AsyncIterator[ServiceProcess]:
    service = await start_service(
        "wyoming_kokoro", "--provider", "piper", "--engines", "piper", "--no-warmup", "--cache-mb", "0"
    )
    try:
        yield service
    finally:
        await service.stop()


def whisper_session(chunks: int) -> list[Event]:
    events = [Transcribe(language="en").event(), AudioStart(rate=16000, width=2, channels=1).event()]
    events += [AudioChunk(rate=16000, width=2, channels=1, audio=SILENCE).event() for _ in range(chunks)]
    return [*events, AudioStop().event()]


async def test_a_whisper_session_gets_one_error_per_stream_and_the_server_keeps_serving(
    server: ServiceProcess,
) -> None:
    async with connected(server.port) as wrong, connected(server.port) as other:
        for event in whisper_session(40) + whisper_session(5):
            await wrong.send(event)
        await wrong.send(Synthesize(text="Still here."))  # handled after the sessions, in order
        got = await wrong.recv_until("audio-stop")
        errors = [Error.from_event(e) for e in got if Error.is_type(e.type)]
        assert len(errors) == 2, [e.text for e in errors]  # one per whisper session (old code: 49)
        assert all(e.code == "unknown-event" for e in errors)
        assert "'transcribe'" in errors[0].text and "text-to-speech server" in errors[0].text
        assert [e.type for e in got if not Error.is_type(e.type)][0] == "audio-start"
        assert any(AudioChunk.is_type(e.type) and e.payload for e in got)

        await other.send(Synthesize(text="And here."))  # another client, served as ever
        heard = await other.recv_until("audio-stop")
        assert not any(Error.is_type(e.type) for e in heard) and any(AudioChunk.is_type(e.type) for e in heard)


async def test_chunks_with_no_start_get_one_error_until_a_tts_event(server: ServiceProcess) -> None:
    async with connected(server.port) as client:
        for _ in range(10):
            await client.send(AudioChunk(rate=16000, width=2, channels=1, audio=SILENCE))
        await client.send(Synthesize(text="One."))
        first = await client.recv_until("audio-stop")
        await client.send(AudioChunk(rate=16000, width=2, channels=1, audio=SILENCE))  # a new stray stream
        await client.send(Synthesize(text="Two."))
        second = await client.recv_until("audio-stop")
    assert [e.type for e in first].count("error") == 1 and first[0].type == "error"
    assert [e.type for e in second].count("error") == 1 and second[0].type == "error"
