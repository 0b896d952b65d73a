"""A weak whole question on the real engines: Piper says "Who painted the Mona Lisa" with no
falling voice, tiny.en writes it without its "?" (measured: ``'who painted the Mona Lisa'``), so
our whisper waits its 1.2 s weak cap and sends the text as a weak speculative transcript. The turn
prepares the LLM reply and its audio during that wait and answers from it when the turn ends on
the same text (before, weak texts without . ? ! were never prepared: the LLM was asked only after
the wait). Nothing of the reply goes out before the end of the turn.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: bench/

from speech import speak
from stack import Stack

from bench.paced import Events, chunks
from orchestrator.intents import IntentRecognizer
from orchestrator.pipeline import Pipeline, PipelineConfig, TurnResult
from orchestrator.services import ServicePool
from wyoming_whisper.endpoint import judge


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
