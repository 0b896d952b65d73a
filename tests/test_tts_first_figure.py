"""A reply that starts "X is approximately <figure> ...", streamed into the real TTS server (Piper):
the first piece ends before the figure (``--first-figure-words``, default 2), so the first audio
is two words instead of the whole figure, and the figure is still read whole (real Whisper hears
its digits together, not "5, 280")."""

from __future__ import annotations

import asyncio
import re

from helpers import connected, start_service
from speech import transcribe
from wyoming.audio import AudioChunk
from wyoming.tts import SynthesizeChunk, SynthesizeStart, SynthesizeStop

from voice_runtime.audio import AudioFormat

REPLY = "A mile is approximately 5,280 feet."  # SmolLM2-135M's reply (2026-12-03); one piece before


async def test_first_piece_ends_before_the_figure_and_the_figure_reads_whole() -> None:
    service = await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper")
    try:
        async with connected(service.port) as client:
            await client.send(SynthesizeStart())
            for token in re.findall(r"\s*[^\s,]+,?", REPLY):  # as an LLM streams it: "141", ",", "872"...
                await client.send(SynthesizeChunk(text=token))
            await client.send(SynthesizeStop())
            events = await client.recv_until("synthesize-stopped")
        assert await service.wait_log("pieces=2 ", timeout=30), service.log[-5:]  # "A mile is," | the rest
        chunks = [AudioChunk.from_event(e) for e in events if AudioChunk.is_type(e.type)]
        fmt = AudioFormat(chunks[0].rate, chunks[0].width, chunks[0].channels)
        heard = await asyncio.to_thread(transcribe, b"".join(c.audio for c in chunks), fmt)
        assert re.search(r"5,?280", heard), heard
    finally:
        await service.stop()
