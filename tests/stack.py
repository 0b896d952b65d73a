"""Our three engine servers as real processes, started once per test session when asked for."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

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
