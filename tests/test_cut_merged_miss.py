"""A continued question whose merged transcript has nothing of the new speech
(orchestrator.link_turn.ContinuedOutput).

Recorded in the room (session 19, the lead's quiet run, held-54 "Lock the front door ... please.",
af_nicole, noisy, 0.75 s pause): the first part ended on 'the front door.' (whisper's Silero found
~0.2 s of speech at the end of "door": the decoded region started after "Lock"); the satellite
started a new turn 0.06 s after its audio-stop; the orchestrator merged it (the first part's 2.13 s
re-sent, then 3.03 s of new audio with "please" 0.5 s in: 5.16 s, no gap); whisper's Silero found
no speech after the first part in the merged stream, so the final was the first part's decode again,
'the front door.', and "please" was dropped. Offline the same mic audio on its own read "Please."
from every one of 30 start phases; in the merged stream "please" was missed from 15 of 30.

The speech-to-text service here plays those texts back, one per request (the link's real code,
the scripted satellite of tests/test_orchestrator_satellite.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from test_orchestrator_satellite import INFO, Script, ScriptedSatellite, link_to
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.pipeline import PipelineStage, RunPipeline

from orchestrator.intents import IntentRecognizer
from orchestrator.pipeline import Pipeline
from orchestrator.services import ServicePool
from orchestrator.turn import TurnResult
from voice_runtime.server import ServerConfig, WyomingServer

FIRST = bytes([1, 0]) * 16000  # 1 s of the first part ("... the front door")
THEN = bytes([2, 0]) * 9600  # 0.6 s of what followed ("please")


@contextlib.asynccontextmanager
async def played_back(texts: list[str], heard: list[tuple[Transcribe, bytes]]) -> AsyncIterator[str]:
    """A speech-to-text service answering each request, at its audio-stop, with the next of ``texts``."""
    answers = iter(texts)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request, audio = None, bytearray()
        try:
            while (event := await async_read_event(reader)) is not None:
                if Transcribe.is_type(event.type):
                    request = Transcribe.from_event(event)
                elif AudioChunk.is_type(event.type):
                    audio += AudioChunk.from_event(event).audio
                elif AudioStop.is_type(event.type):
                    assert request is not None
                    heard.append((request, bytes(audio)))
                    await async_write_event(Transcript(text=next(answers)).event(), writer)
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"tcp://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


class GoesOn(ScriptedSatellite):
    """Says the first part; right after the orchestrator's transcript of it, the rest."""

    async def handle_event(self, event: Event) -> bool:
        s = self.script
        if event.type == "ping":
            return True
        if event.type == "run-satellite":
            await self._part(FIRST)
            return True
        s.received.append(event)
        transcripts = [e for e in s.received if e.type == "transcript"]
        if event.type == "transcript" and len(transcripts) == 1:
            await self._part(THEN)
        elif event.type in ("error", "audio-stop") and len(transcripts) == 2:  # the merged turn's end
            s.done.set()
        return True

    async def _part(self, pcm: bytes) -> None:
        await self.write_event(RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS).event())
        await self.write_event(AudioStart(16000, 2, 1).event())
        for i in range(0, len(pcm), 640):
            await self.write_event(AudioChunk(16000, 2, 1, pcm[i:i + 640]).event())
        await self.write_event(AudioStop().event())


async def continued(texts: list[str]) -> tuple[list[TurnResult], list[tuple[Transcribe, bytes]], Script]:
    heard: list[tuple[Transcribe, bytes]] = []
    script = Script([])

    def factory(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> GoesOn:
        handler = GoesOn(r, w, info=lambda: INFO)
        handler.script = script
        return handler

    sat = WyomingServer(ServerConfig(uri="tcp://127.0.0.1:0"), factory)
    await sat.start()
    try:
        async with played_back(texts, heard) as asr:
            pipeline = Pipeline(ServicePool("asr", [asr], warm=False, probe=False), ServicePool("handle", []),
                                ServicePool("tts", []), intents=IntentRecognizer())
            async with link_to(sat.port or 0, pipeline) as link:
                await asyncio.wait_for(script.done.wait(), 60)
                turns = await asyncio.wait_for(link.wait_turns(2), 30)
    finally:
        await sat.stop()
    return turns, heard, script


async def test_new_speech_the_merged_decode_missed_is_transcribed_on_its_own_and_kept() -> None:
    turns, heard, script = await continued(["the front door.", "the front door.", "Please."])
    merged = turns[-1]
    assert merged.transcript == "the front door. Please.", merged  # main: 'the front door.'
    said = [str(e.data["text"]) for e in script.received if e.type == "transcript"]
    assert said[-1] == "the front door. Please.", said  # the satellite is told the text answered
    assert len(heard) == 3, [r.context for r, _ in heard]
    (_, first), (request, both), (alone_request, alone) = heard
    assert first == FIRST and both == FIRST + THEN  # the merge: the first part re-sent, then the rest
    assert request.context and request.context.get("endpoint_after") == 1.0
    assert alone == THEN and not (alone_request.context or {}).get("endpoint_after")  # the new part alone


async def test_a_merged_transcript_with_new_words_is_answered_as_it_is() -> None:
    turns, heard, _ = await continued(["Lock the front door.", "Lock the front door, please.", "unused"])
    assert turns[-1].transcript == "Lock the front door, please.", turns
    assert len(heard) == 2  # no third decode


async def test_new_speech_that_is_no_speech_on_its_own_either_leaves_the_transcript() -> None:
    turns, heard, _ = await continued(["the front door.", "The front door.", ""])
    assert turns[-1].transcript == "The front door.", turns
    assert len(heard) == 3
