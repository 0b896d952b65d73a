"""A weak whole question on the real engines: Piper says "Who painted the Mona Lisa" with no
falling voice, tiny.en writes it without its "?" (measured: ``'who painted the Mona Lisa'``), so
our whisper waits its 1.2 s weak cap and sends the text as a weak speculative transcript. The turn
prepares the LLM reply and its audio during that wait and answers from it when the turn ends on
the same text (before, weak texts without . ? ! were never prepared: the LLM was asked only after
the wait). Nothing of the reply goes out before the end of the turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from speech import speak
from stack import Stack
from wyoming.audio import AudioChunk
from wyoming.event import Event

from orchestrator.intents import IntentRecognizer
from orchestrator.pipeline import Pipeline, PipelineConfig, TurnResult
from orchestrator.services import ServicePool
from wyoming_whisper.endpoint import judge


class Events:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def event(self, event: Event) -> None:
        self.events.append(event)


async def chunks(pcm: bytes) -> AsyncIterator[AudioChunk]:
    """30 ms chunks at the microphone's pace (the end of turn is decided as the audio comes)."""
    loop = asyncio.get_running_loop()
    begin = loop.time()
    for n, i in enumerate(range(0, len(pcm), 960)):
        yield AudioChunk(16000, 2, 1, pcm[i : i + 960])
        await asyncio.sleep(max(0.0, begin + (n + 1) * 0.03 - loop.time()))  # pacing, not sync


async def test_a_weak_whole_question_is_answered_from_the_reply_prepared_during_the_weak_wait(stack: Stack) -> None:
    audio = speak("Who painted the Mona Lisa") + bytes(2 * 16000 * 3)  # then 3 s of silence
    pipeline = Pipeline(
        ServicePool("asr", [stack.whisper.uri]),
        ServicePool("handle", [stack.llama.uri]),
        ServicePool("tts", [stack.tts.uri]),
        intents=IntentRecognizer(),
        config=PipelineConfig(vad_sensitivity="default"),
    )
    out, result = Events(), TurnResult()
    try:
        await pipeline.run_turn(chunks(audio), out, conversation_id="weak", result=result)
    finally:
        await pipeline.close()
    types = [e.type for e in out.events]
    verdict = judge(result.transcript)
    assert verdict.weak and not verdict.finished, result.transcript  # the wait was the weak cap
    assert result.error is None and result.intent is None and result.reply.strip(), (result, types)
    assert "preemptive" in result.marks, result.marks  # answered from the prepared reply
    assert types.index("voice-stopped") < types.index("transcript") < types.index("audio-start"), types
    assert types.count("audio-start") == 1 and types.count("audio-stop") == 1
