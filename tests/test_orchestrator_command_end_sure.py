"""The orchestrator's end of turn on a SURE whole command: a speculative transcript our whisper sent
as finished and decoded sure (``weak: false``) that the intent templates read as a whole command
ends the turn at once (``audio-stop``), instead of waiting for the server's own end at its base
silence (0.256 s with ``default``; the decode is in at ~0.19 s: session 22, bench/results/s22_eot.md).

Recorded texts: what tiny.en wrote at the end of the room's intent turns (session 21's lead runs,
/tmp/p21/lead-turns-1/-2 whisper.log: held-41, held-47, held-64, held-65). A Wyoming server plays
the speculative transcript back to the real :class:`~orchestrator.asr_session.AsrSession` and
answers ``audio-stop`` with the final transcript; it never ends the turn itself, and the microphone
stays open, so only the session's own end of turn can end it. Texts that are not whole commands (a
question for the LLM, a door, a pause text) must not end it: there the server ends the turn.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from functools import partial

import pytest
from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStop
from wyoming.event import Event, async_read_event, async_write_event

from orchestrator.asr_session import AsrSession
from orchestrator.command_end import complete_command
from orchestrator.intents import IntentRecognizer
from orchestrator.services import ServicePool
from orchestrator.turn import PipelineConfig
from voice_runtime.latency import LatencyMonitor
from voice_runtime.speculative import SpeculativeTranscript

WHOLE_COMMANDS = [
    "Switch off the Bedroom lamp.",  # held-41
    "Set the thermostat to 20 degrees.",  # held-47
    "What day is it?",  # held-64
    "Volume down.",  # held-65
]
NOT_COMMANDS = [
    "What is the tallest mountain in the world?",  # an LLM question: the server's base silence
    "Lock the front door.",  # doors and locks wait as before (held-55's pause text)
    "Can you play some music?",  # tune-09's pause text
]
BOUND_S = 30.0  # a failure bound only: on the old code the turn never ends


@contextlib.asynccontextmanager
async def recorded_whisper(text: str, server_ends: bool) -> AsyncIterator[tuple[str, list[str]]]:
    """A server that sends ``text`` as a sure speculative transcript after the first audio chunk;
    ``server_ends``: then the final transcript at once (its own end of turn), else only after
    ``audio-stop``. Yields its URI and what it saw ("audio-stop")."""
    seen: list[str] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sent = False
        try:
            while (event := await async_read_event(reader)) is not None:
                if AudioChunk.is_type(event.type) and not sent:
                    sent = True
                    await async_write_event(SpeculativeTranscript(text=text, weak=False).event(), writer)
                    if server_ends:
                        await async_write_event(Transcript(text=text).event(), writer)
                if AudioStop.is_type(event.type):
                    seen.append("audio-stop")
                    if not server_ends:
                        await async_write_event(Transcript(text=text).event(), writer)
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"tcp://127.0.0.1:{server.sockets[0].getsockname()[1]}", seen
    finally:
        server.close()
        await server.wait_closed()


class Events:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def event(self, event: Event) -> None:
        self.events.append(event)


@pytest.fixture(scope="module")
def intents() -> IntentRecognizer:
    return IntentRecognizer()


async def run_session(uri: str, intents: IntentRecognizer) -> tuple[AsrSession, str]:
    stop = asyncio.Event()

    async def audio() -> AsyncIterator[AudioChunk]:
        yield AudioChunk(16000, 2, 1, bytes(960))
        await stop.wait()  # the microphone stays open

    session = AsrSession(
        ServicePool("asr", [uri], warm=False, probe=False),
        PipelineConfig(vad_sensitivity="default"),
        Events(),
        LatencyMonitor().start_turn(),
        complete=partial(complete_command, intents),
    )
    try:
        async with asyncio.timeout(BOUND_S):
            text = await session.run(audio())
    finally:
        stop.set()
    return session, text


@pytest.mark.parametrize("text", WHOLE_COMMANDS)
async def test_a_sure_whole_command_ends_the_turn_at_once(intents: IntentRecognizer, text: str) -> None:
    async with recorded_whisper(text, server_ends=False) as (uri, seen):
        session, final = await run_session(uri, intents)
    assert final == text
    assert session.ended_by == text  # the session ended it, not the server
    assert seen == ["audio-stop"]


@pytest.mark.parametrize("text", NOT_COMMANDS)
async def test_a_sure_text_that_is_no_whole_command_waits_for_the_server(intents: IntentRecognizer, text: str) -> None:
    async with recorded_whisper(text, server_ends=True) as (uri, _seen):
        session, final = await run_session(uri, intents)
    assert final == text
    assert session.ended_by is None
