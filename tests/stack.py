"""Our three engine servers as real processes, started once per test session when asked for."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from speech import speak
from test_orchestrator_peers import chunks
from wyoming.event import Event

from orchestrator.pipeline import Pipeline, PipelineConfig, TurnResult
from orchestrator.services import ServicePool
from voice_runtime.procs import ServiceProcess, start_service


@dataclass
class Stack:
    whisper: ServiceProcess
    llama: ServiceProcess
    tts: ServiceProcess

    async def stop(self) -> None:
        for proc in (self.whisper, self.llama, self.tts):
            await proc.stop()


async def start_stack() -> Stack:
    """The three start at once (their model loads overlap); one that fails stops the others."""
    started = await asyncio.gather(
        start_service("wyoming_whisper", "--model", "tiny.en"),
        # greedy: the same question gets the same reply, so tests (and their failures) repeat
        start_service("wyoming_llama", "--max-tokens", "120", "--temperature", "0"),
        start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper"),
        return_exceptions=True,
    )
    procs = [p for p in started if isinstance(p, ServiceProcess)]
    if len(procs) < len(started):
        for proc in procs:
            await proc.stop()
        raise next(p for p in started if isinstance(p, BaseException))
    whisper, llama, tts = procs
    return Stack(whisper, llama, tts)


class _Unheard:
    async def event(self, event: Event) -> None:
        pass


async def ask_llm_at_once(stack: Stack, texts: list[str], conversation: str) -> list[TurnResult]:
    """Each spoken text asked through the stack up to the LLM's reply (no templates: it reaches
    SmolLM2-135M itself), all at once, as satellites would ask: llama-server batches them in its
    slots (conversations ``{conversation}-0``, ``-1``, ...), so they take about as long as the
    slowest, not the sum. Four prompts at once on a loaded box can take over the 30 s inactivity
    timeout to a first token (seen at load 12): a retry would only ask again, so it is 180 s."""
    pipeline = Pipeline(ServicePool("asr", [stack.whisper.uri]), ServicePool("handle", [stack.llama.uri]),
                        ServicePool("tts", [stack.tts.uri]), config=PipelineConfig(handle_timeout=180.0))
    results = [TurnResult() for _ in texts]
    try:
        await asyncio.gather(*(pipeline.run_turn(chunks(speak(text)), _Unheard(), conversation_id=f"{conversation}-{i}",
                                                 result=result, end_stage="handle")
                               for i, (text, result) in enumerate(zip(texts, results, strict=True))))
    finally:
        await pipeline.close()
    return results
