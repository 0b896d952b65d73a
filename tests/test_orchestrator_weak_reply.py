"""A weak speculative transcript (the words read finished, tiny.en wrote no final . ? !, so our
whisper waits its 1.2 s weak cap) gets a reply prepared during that wait, like a finished one:
when the turn ends on the same text the prepared audio plays at once, not after the LLM's first
token and the first TTS piece (the LLM-turn tail of issue 17: "What is the capital of Australia"
written without its "?" waited the weak cap and then asked the LLM).

What is offered to the preemptive reply is decided per speculative transcript
(:func:`orchestrator.asr_session.offered_for_reply`): finished ones as before, weak ones of two
words or more (a one-word weak text, "Tari" for a cough at a pause, is too little to go on; a
weak command is offered too, and the preemptor's recogniser prepares nothing for it, as
``tests/test_preemptive.py`` checks). Recorded sequences: what our whisper sent, in order, then the
final transcript (the end-of-turn corpus's decodes, ``bench/results/turn_rules_decodes.json``, and
the room's whisper logs); replayed by a Wyoming server that plays the recorded session back to
the real :class:`~orchestrator.asr_session.AsrSession`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk
from wyoming.event import Event, async_read_event, async_write_event

from orchestrator.asr_session import AsrSession, offered_for_reply
from orchestrator.intents import IntentRecognizer
from orchestrator.preemptive import SpecAction, Speculation
from orchestrator.services import ServicePool
from orchestrator.turn import PipelineConfig
from voice_runtime.latency import LatencyMonitor
from voice_runtime.speculative import SpeculativeTranscript

# (speculative transcripts as (text, weak), final transcript, texts a reply is prepared for)
SEQUENCES = [
    # tune-08 (clean): the question whole, written without its "?": waited the weak cap unprepared.
    (
        [("What is the capital of Australia", True)],
        "What is the capital of Australia",
        ["What is the capital of Australia"],
    ),
    # a finished question: as before.
    (
        [("What is the tallest mountain in the world?", False)],
        "What is the tallest mountain in the world?",
        ["What is the tallest mountain in the world?"],
    ),
    # tune-22 (far+noise): a finished-reading text heard unsure (ends in "."): as before.
    (
        [("We wrote the novel, five, and pageings.", True)],
        "We wrote the novel, five, and pageings.",
        ["We wrote the novel, five, and pageings."],
    ),
    # tune-03 (noisy): at the pause "Tari" (one word: not offered), then the whole, weak.
    (
        [("Tari", True), ("turn on the kitchen lights", True)],
        "turn on the kitchen lights",
        ["turn on the kitchen lights"],
    ),
    # a paused question read weakly at its pause, then whole: both offered (the first is dropped
    # when the second comes: tests/test_preemptive.py).
    (
        [("who wrote the novel", True), ("Who wrote the novel Pride and Prejudice?", False)],
        "Who wrote the novel Pride and Prejudice?",
        ["who wrote the novel", "Who wrote the novel Pride and Prejudice?"],
    ),
]


@pytest.mark.parametrize(("speculative", "final", "offered"), SEQUENCES)
def test_what_is_offered_to_the_preemptive_reply(
    speculative: list[tuple[str, bool]], final: str, offered: list[str]
) -> None:
    assert [text for text, weak in speculative if offered_for_reply(text, weak)] == offered


def test_a_weak_whole_question_is_prepared_and_used_a_weak_command_is_not_prepared() -> None:
    recognizer = IntentRecognizer()

    def replay(texts: list[str], final: str) -> list[SpecAction]:
        spec = Speculation()
        actions = [spec.speculative(t, recognizer.recognize(t)) for t in texts if offered_for_reply(t, True)]
        return [*actions, spec.final(final)]

    assert replay(["What is the capital of Australia"], "What is the capital of Australia") == [
        SpecAction.START,
        SpecAction.USE,
    ]
    assert replay(["next song"], "next song") == [SpecAction.NONE, SpecAction.NONE]  # a command: never prepared
    # "Remind me to call my ... mother tomorrow": the weak first part is prepared, then dropped.
    assert replay(["who wrote the novel"], "Who wrote the novel Pride and Prejudice?") == [
        SpecAction.START,
        SpecAction.CANCEL,
    ]


@contextlib.asynccontextmanager
async def recorded_whisper(events: list[Event], asked: list[Transcribe]) -> AsyncIterator[str]:
    """A Wyoming server that plays a recorded whisper session back: once the first audio chunk
    arrives it sends ``events`` in order (then reads on until the client closes)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sent = False
        try:
            while (event := await async_read_event(reader)) is not None:
                if Transcribe.is_type(event.type):
                    asked.append(Transcribe.from_event(event))
                if AudioChunk.is_type(event.type) and not sent:
                    sent = True
                    for out in events:
                        await async_write_event(out, writer)
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


class Events:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def event(self, event: Event) -> None:
        self.events.append(event)


@pytest.mark.parametrize(("speculative", "final", "offered"), SEQUENCES)
async def test_the_session_hands_the_recorded_speculative_texts_on(
    speculative: list[tuple[str, bool]], final: str, offered: list[str]
) -> None:
    recorded = [SpeculativeTranscript(text=t, weak=w).event() for t, w in speculative]
    recorded.append(Transcript(text=final).event())
    asked: list[Transcribe] = []
    got: list[str] = []
    stop = asyncio.Event()

    async def audio() -> AsyncIterator[AudioChunk]:
        yield AudioChunk(16000, 2, 1, bytes(960))
        await stop.wait()  # the microphone stays open: the service's transcript ends the turn

    async with recorded_whisper(recorded, asked) as uri:
        session = AsrSession(
            ServicePool("asr", [uri], warm=False, probe=False),
            PipelineConfig(vad_sensitivity="default"),
            Events(),
            LatencyMonitor().start_turn(),
            on_speculative=got.append,
            complete=lambda text: False,  # the command end asks for the weak texts; none is a command here
        )
        text = await session.run(audio())
    stop.set()
    assert text == final
    assert asked[0].context is not None and asked[0].context.get("speculative_weak") is True
    assert got == offered
