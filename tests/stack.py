"""Our three engine servers as real processes, started once per test session when asked for."""

from __future__ import annotations

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
    whisper = await start_service("wyoming_whisper", "--model", "tiny.en")
    # greedy: the same question gets the same reply, so tests (and their failures) repeat
    llama = await start_service("wyoming_llama", "--max-tokens", "120", "--temperature", "0")
    tts = await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper")
    return Stack(whisper, llama, tts)
