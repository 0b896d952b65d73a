"""One request of a kept room run replayed through a whisper server: what did the end of turn wait on?

Cuts the room's ``mic.wav`` around one request (``--wav held-62.wav``, by the scenario's clip name; the
mic's clock is the scenario's plus ``wav_offset_s``), from ``preroll`` seconds before the clip starts to
``TAIL`` seconds after the room's speech offset, and streams it at real-time pace in 32 ms chunks into one
``wyoming_whisper`` server as serve asks (``vad_sensitivity: default``, semantic endpoint), once per
start phase (``--prerolls``: tiny.en's decodes differ by where the audio starts). Prints, per phase,
the transcript, the room's speech offset -> transcript, and the server's end-of-turn verdicts (with
``avg_logprob`` and the end-mark reason). Run it from main's tree and from a branch for a paired look.

    .venv/bin/python bench/room_clip_replay.py --room /tmp/p29/quiet/rt-h2 --wav held-62.wav
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import wave
from pathlib import Path

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import run_until_signalled  # noqa: E402
from bench.turn_bench import TINY_WHISPER_ARGS  # noqa: E402
from voice_runtime.procs import start_service  # noqa: E402

RATE = 16000
CHUNK = 512
TAIL = 2.5


async def stream(port: int, pcm: bytes, speech_end: float) -> tuple[str, float]:
    """Stream ``pcm`` paced like a microphone; its transcript and the room's speech end -> transcript."""
    client = AsyncTcpClient("127.0.0.1", port)
    await client.connect()
    try:
        await client.write_event(Transcribe(language="en", vad_sensitivity="default",
                                            context={"partial_transcripts": False}).event())
        await client.write_event(AudioStart(rate=RATE, width=2, channels=1).event())
        begin = time.perf_counter()
        reader = asyncio.ensure_future(client.read_event())
        step = CHUNK * 2
        for i in range(0, len(pcm), step):
            await asyncio.sleep(max(0.0, begin + (i + step) / (2 * RATE) - time.perf_counter()))
            while reader.done():
                event = reader.result()
                if event is None:
                    raise ConnectionError("closed before transcript")
                if Transcript.is_type(event.type):
                    return Transcript.from_event(event).text, time.perf_counter() - begin - speech_end
                reader = asyncio.ensure_future(client.read_event())
            await client.write_event(AudioChunk(rate=RATE, width=2, channels=1, audio=pcm[i : i + step]).event())
        await client.write_event(AudioStop().event())
        while True:
            event = await asyncio.wait_for(reader, 60)
            if event is None:
                raise ConnectionError("closed before transcript")
            if Transcript.is_type(event.type):
                return Transcript.from_event(event).text, time.perf_counter() - begin - speech_end
            reader = asyncio.ensure_future(client.read_event())
    finally:
        await client.disconnect()


async def run(args: argparse.Namespace) -> int:
    room = Path(args.room)
    result = json.loads((room / "result.json").read_text())
    utt = next(u for u in result["utterances"] if u["wav"] == args.wav)
    with wave.open(str(room / "mic.wav")) as w:
        mic = w.readframes(w.getnframes())
    server = await start_service("wyoming_whisper", *TINY_WHISPER_ARGS)
    try:
        for preroll in [float(p) for p in args.prerolls.split(",")]:
            start = utt["at"] + result["wav_offset_s"] - preroll
            end = utt["offset"] + result["wav_offset_s"] + TAIL
            pcm = mic[int(start * RATE) * 2 : int(end * RATE) * 2]
            del server.log[:]
            text, latency = await stream(server.port, pcm, utt["offset"] - utt["at"] + preroll)
            verdicts = [line.split("msg=", 1)[-1] for line in server.log
                        if "end of turn?" in line or "avg_logprob=" in line]
            print(f"preroll {preroll:.2f}s: {text!r} room offset -> transcript {latency:+.3f}s")
            for line in verdicts:
                print("   ", line[:160])
    finally:
        await server.stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--room", required=True, help="a kept bench/room_turns_bench.py run folder")
    parser.add_argument("--wav", required=True, help="the request's clip name in the scenario (held-62.wav)")
    parser.add_argument("--prerolls", default="0.3,0.45,0.6,0.75,0.9")
    return run_until_signalled(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
