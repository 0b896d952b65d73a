"""Replay what Home Assistant heard from our satellite (``bench/ha_end_of_turn.py --tap DIR``) into our
whisper as HA's STT stream, at the times HA got each chunk, and print when the server decoded what:
why HA's transcript came as late as it did after ``audio-stop`` (session 29).

    .venv/bin/python bench/ha_tap_whisper.py DIR/egg-0.9-ours-0 [DIR/time-ours-0 ...]

Per run: ``audio-stop`` -> ``transcript`` and the server's lines about its speculative final decodes
(``--debug``: whether the final transcript came from one made before ``audio-stop``).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wyoming.asr import Transcribe, Transcript  # noqa: E402
from wyoming.audio import AudioChunk, AudioStart, AudioStop  # noqa: E402
from wyoming.client import AsyncTcpClient  # noqa: E402

from voice_runtime.procs import ServiceProcess, start_service  # noqa: E402

SHOWN = ("speculative", "early decode", "transcript=")


async def replay(server: ServiceProcess, run: str) -> None:
    meta = json.loads(await asyncio.to_thread(Path(f"{run}.ha.json").read_text))
    raw = await asyncio.to_thread(Path(f"{run}.ha.raw").read_bytes)
    seen = len(server.log)
    async with AsyncTcpClient("127.0.0.1", server.port) as client:
        await client.write_event(Transcribe(language="en").event())
        await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
        start, first, offset = time.monotonic(), meta["chunks"][0][0], 0
        for at, size in meta["chunks"]:
            await asyncio.sleep(max(0.0, (at - first) - (time.monotonic() - start)))
            chunk = AudioChunk(rate=16000, width=2, channels=1, audio=raw[offset : offset + size])
            await client.write_event(chunk.event())
            offset += size
        await asyncio.sleep(max(0.0, (meta["audio_stop"][0] - first) - (time.monotonic() - start)))
        stopped = time.monotonic()
        await client.write_event(AudioStop().event())
        while (event := await client.read_event()) is not None and not Transcript.is_type(event.type):
            pass
        waited = time.monotonic() - stopped
    text = Transcript.from_event(event).text if event is not None else None
    print(f"{run}: audio-stop -> transcript {waited:.3f} s, {text!r}")
    await asyncio.sleep(0.3)  # the server's last log lines
    for line in server.log[seen:]:
        if any(key in line for key in SHOWN):
            print("    " + line)


async def main(runs: list[str]) -> None:
    server = await start_service("wyoming_whisper", "--model", "tiny.en", "--debug")
    try:
        for run in runs:
            await replay(server, run)
    finally:
        await server.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
