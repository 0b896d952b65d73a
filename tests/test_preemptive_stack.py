"""Preemptive replies on the real engines: our whisper sends the speculative transcript, the turn
prepares the LLM reply and its audio while the end-of-turn silence runs, and nothing of it goes
out before the end of the turn."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: bench/

from speech import speak
from stack import Stack

from bench.paced import Events, chunks
from orchestrator.intents import IntentRecognizer, Recognized
from orchestrator.pipeline import Pipeline, PipelineConfig, TurnResult
from orchestrator.services import ServicePool


class CountingRecognizer(IntentRecognizer):
    def __post_init__(self) -> None:
        self.recognized: list[str] = []
        super().__post_init__()
        self.recognized.clear()  # the start-up's own warm-up recognitions

    def recognize(self, text: str) -> list[Recognized]:
        self.recognized.append(text)
        return super().recognize(text)


def pipeline_for(stack: Stack, *, preemptive: bool, intents: IntentRecognizer | None = None) -> Pipeline:
    return Pipeline(
        ServicePool("asr", [stack.whisper.uri]),
        ServicePool("handle", [stack.llama.uri]),
        ServicePool("tts", [stack.tts.uri]),
        intents=intents or IntentRecognizer(),
        config=PipelineConfig(vad_sensitivity="default", preemptive=preemptive),
    )


async def test_a_finished_question_is_answered_from_the_prepared_reply(stack: Stack) -> None:
    audio = speak("What is the capital of France?") + bytes(2 * 16000 * 2)  # then 2 s of silence
    # Both pipelines are built before either turn starts, sharing one recognizer as the orchestrator
    # does. Building a recognizer is 0.2-1.2 s of CPU on the event loop (hassil, and the GC of the
    # last one's garbage); built inside its turn, the second one ran while the first turn's ASR
    # connect and probe (1 s each) waited, and the pool gave up on a whisper server that was
    # answering: "no asr service reachable (...: TimeoutError)" in 2 of 8 runs at load 7-9.
    intents = IntentRecognizer()
    pipelines = {pre: pipeline_for(stack, preemptive=pre, intents=intents) for pre in (True, False)}

    async def turn(preemptive: bool) -> tuple[Events, TurnResult]:
        out, result = Events(), TurnResult()
        await pipelines[preemptive].run_turn(chunks(audio), out, conversation_id=f"pre-{preemptive}", result=result)
        return out, result

    # With and without: two satellites asking at once (each its own pipeline and conversation;
    # whisper and llama-server serve both together), so the paced audio is waited for once.
    try:
        turns = await asyncio.gather(turn(True), turn(False))
    finally:
        for pipeline in pipelines.values():
            await pipeline.close()
    for preemptive, (out, result) in zip((True, False), turns, strict=True):
        types = [e.type for e in out.events]
        assert result.error is None and result.intent is None and result.reply.strip(), (result, types)
        assert ("preemptive" in result.marks) is preemptive, result.marks
        # Nothing of the reply before the end of the turn: the audio follows the transcript.
        assert types.index("voice-stopped") < types.index("transcript") < types.index("audio-start"), types
        assert types.count("audio-start") == 1 and types.count("audio-stop") == 1 and "synthesize" in types
        assert result.audio_bytes == sum(len(e.payload or b"") for e in out.events if e.type == "audio-chunk") > 16000


async def test_a_command_is_not_prepared_and_is_done_after_the_end(stack: Stack) -> None:
    intents = CountingRecognizer()
    pipeline = pipeline_for(stack, preemptive=True, intents=intents)
    out, result = Events(), TurnResult()
    try:
        await pipeline.run_turn(
            chunks(speak("What time is it?") + bytes(2 * 16000 * 2)), out, conversation_id="pre-command", result=result
        )
    finally:
        await pipeline.close()
    assert result.intent is not None and result.intent.name == "HassGetCurrentTime", result
    assert "preemptive" not in result.marks
    # recognised once: on the speculative transcript, and that is reused for the same final text
    assert intents.recognized == [result.transcript], intents.recognized
