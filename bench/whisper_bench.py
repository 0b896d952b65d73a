"""Speech-to-text benchmark: wyoming_whisper vs wyoming-faster-whisper, same model, same clips.

Both servers run tiny.en int8, beam 5, English. Each clip (a home command spoken by Piper,
0.3 s of silence before it) is streamed in real time in 1024-sample chunks; we time from
sending ``audio-stop`` to receiving the final ``transcript``. Two scenarios: 0.7 s of silence
after the speech before ``audio-stop`` (what Home Assistant's VAD sends by default), and
0.1 s (a client that ends the stream right after the speech, e.g. push-to-talk). Servers
are interleaved clip by clip so load drift hits both alike. Reported:
median and p90 latency, word error rate (normalised: lower case, no punctuation) and the
latency ratio (ours / peer). Also the real-time factor of our engine vs faster-whisper called
directly on the same clips with the same options (engine overhead, both with the full 30 s
encoder window), and the engine's RTF with its default shortened encoder window.

    .venv/bin/python bench/whisper_bench.py [--runs 2] [--threads 2]

The peer runs from its own virtualenv (scripts/setup.sh puts wyoming-faster-whisper==3.8.1 in
~/.cache/hearth/peers/wyoming-faster-whisper). Results go to bench/results/whisper_bench.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert  # noqa: E402
from voice_runtime.models import cache_dir, resolve_piper, resolve_whisper  # noqa: E402
from voice_runtime.procs import ServiceProcess, start_service  # noqa: E402
from wyoming_whisper.engine import normalise  # noqa: E402

COMMANDS = [
    "Turn on the kitchen light.",
    "Turn off all the lights in the living room.",
    "What is the weather like tomorrow?",
    "Open the garage door.",
    "Lock the front door.",
    "Play some relaxing music in the bedroom.",
    "Is the back door locked?",
    "Close the blinds in the office.",
    "Start the vacuum cleaner.",
    "Turn the heating up a little, please.",
]
LEAD = 0.3
SCENARIOS = {"ha-vad-0.7s": 0.7, "push-to-talk-0.1s": 0.1}  # silence after the speech, seconds
CHUNK_SAMPLES = 1024


@dataclass
class Clip:
    text: str
    pcm: bytes

    def with_trail(self, seconds: float) -> Clip:
        return Clip(self.text, self.pcm + bytes(int(seconds * 16000) * 2))

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 32000


@dataclass
class Server:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    edits: int = 0
    words: int = 0
    heard: dict[str, str] = field(default_factory=dict)


def make_clips() -> list[Clip]:
    from piper import PiperVoice

    voice = PiperVoice.load(str(resolve_piper()))
    clips = []
    for text in COMMANDS:
        buf = io.BytesIO()
        with wave.open(buf, "wb") as wav:
            voice.synthesize_wav(text, wav)
        buf.seek(0)
        with wave.open(buf, "rb") as wav:
            fmt = AudioFormat(wav.getframerate(), wav.getsampwidth(), wav.getnchannels())
            pcm = convert(wav.readframes(wav.getnframes()), fmt, PCM16_MONO_16K)
        clips.append(Clip(text, bytes(int(LEAD * 16000) * 2) + pcm))
    return clips


def word_edits(ref: str, hyp: str) -> int:
    a, b = normalise(ref).split(), normalise(hyp).split()
    row = list(range(len(b) + 1))
    for i, wa in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, wb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (wa != wb))
    return row[-1]


async def stream_clip(port: int, clip: Clip) -> tuple[float, str]:
    """Latency from audio-stop to transcript, and the transcript."""
    client = AsyncTcpClient("127.0.0.1", port)
    await client.connect()
    try:
        await client.write_event(Transcribe(language="en").event())
        await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
        loop = asyncio.get_running_loop()
        begin = loop.time()
        step = CHUNK_SAMPLES * 2
        for i in range(0, len(clip.pcm), step):
            await client.write_event(AudioChunk(rate=16000, width=2, channels=1, audio=clip.pcm[i : i + step]).event())
            await asyncio.sleep(max(0.0, begin + (i + step) / 32000 - loop.time()))
        sent = time.perf_counter()
        await client.write_event(AudioStop().event())
        while True:
            event = await asyncio.wait_for(client.read_event(), 120)
            if event is None:
                raise ConnectionError("closed before transcript")
            if Transcript.is_type(event.type):
                return time.perf_counter() - sent, Transcript.from_event(event).text
    finally:
        await client.disconnect()


async def start_servers(threads: int) -> tuple[ServiceProcess, ServiceProcess]:
    ours = await start_service("wyoming_whisper", "--model", "tiny.en", "--compute-type", "int8",
                               "--beam-size", "5", "--language", "en", "--cpu-threads", str(threads))
    peer_bin = cache_dir() / "peers" / "wyoming-faster-whisper" / "bin" / "wyoming-faster-whisper"
    peer = await start_service(
        "wyoming-faster-whisper", "--model", str(resolve_whisper("tiny.en")), "--stt-library", "faster-whisper",
        "--local-files-only", "--data-dir", tempfile.mkdtemp(prefix="wfw-"), "--compute-type", "int8",
        "--language", "en", "--beam-size", "5", "--cpu-threads", str(threads),
        command=[str(peer_bin)], ready_marker="Ready",
    )
    return ours, peer


def engine_overhead(clips: list[Clip], threads: int) -> dict[str, Any]:
    """RTF of WhisperEngine.transcribe vs faster-whisper called directly (same model object and options)."""
    import numpy as np
    from faster_whisper import WhisperModel

    from wyoming_whisper.engine import EngineConfig, WhisperEngine, pcm16_to_float

    path = resolve_whisper("tiny.en")
    stock = WhisperEngine(EngineConfig(path, cpu_threads=threads, beam_size=5, audio_context=30.0))
    short = WhisperEngine(EngineConfig(path, cpu_threads=threads, beam_size=5))
    model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads)
    audios = [pcm16_to_float(c.with_trail(0.3).pcm) for c in clips]

    def direct(audio: Any) -> str:
        segments, _ = model.transcribe(audio, language="en", beam_size=5, temperature=0.0,
                                       condition_on_previous_text=False, without_timestamps=True)
        return " ".join(s.text.strip() for s in segments)

    runs = (("direct", direct), ("engine_30s", stock.transcribe), ("engine_default", short.transcribe))
    for _, fn in runs:
        fn(np.zeros(16000, dtype=np.float32))  # warm-up
    totals = dict.fromkeys((name for name, _ in runs), 0.0)
    for audio in audios:  # interleaved so drift hits all alike
        for name, fn in runs:
            start = time.perf_counter()
            fn(audio)
            totals[name] += time.perf_counter() - start
    audio_seconds = sum(len(a) / 16000 for a in audios)
    return {
        "rtf_direct": totals["direct"] / audio_seconds,
        "rtf_engine_30s": totals["engine_30s"] / audio_seconds,
        "rtf_engine_default": totals["engine_default"] / audio_seconds,
        "overhead": totals["engine_30s"] / totals["direct"] - 1.0,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2, help="passes over the clips (default 2)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for both servers (default 2)")
    args = parser.parse_args()

    clips = make_clips()
    load_before = os.getloadavg()[0]
    ours, peer = await start_servers(args.threads)
    procs = {"wyoming_whisper": ours, "wyoming-faster-whisper 3.8.1": peer}
    results = {(scenario, name): Server(name) for scenario in SCENARIOS for name in procs}
    try:
        for _ in range(args.runs):
            for clip in clips:
                for (scenario, name), result in results.items():
                    try:
                        latency, text = await stream_clip(procs[name].port, clip.with_trail(SCENARIOS[scenario]))
                    except (OSError, TimeoutError) as err:
                        print(f"{result.name}: {clip.text!r} failed: {err}", file=sys.stderr)
                        result.errors += 1
                        continue
                    result.latencies.append(latency)
                    result.edits += word_edits(clip.text, text)
                    result.words += len(normalise(clip.text).split())
                    result.heard[clip.text] = text
                    print(f"{scenario:18s} {name:30s} {latency * 1000:7.0f} ms  {text!r}", flush=True)
    finally:
        for proc in procs.values():
            await proc.stop()
    overhead = await asyncio.to_thread(engine_overhead, clips, args.threads)
    write_results(args, clips, results, overhead, (load_before, os.getloadavg()[0]))


def write_results(args: argparse.Namespace, clips: list[Clip], results: dict[tuple[str, str], Server],
                  overhead: dict[str, Any], load: tuple[float, float]) -> None:
    def summary(r: Server) -> dict[str, Any]:
        lat = sorted(r.latencies)
        return {
            "name": r.name, "runs": len(lat), "errors": r.errors,
            "median_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
            "p90_ms": round(lat[int(0.9 * (len(lat) - 1))] * 1000, 1) if lat else None,
            "wer": round(r.edits / r.words, 4) if r.words else None,
            "heard": r.heard,
        }

    scenarios: dict[str, Any] = {}
    for scenario in SCENARIOS:
        ours, peer = (summary(r) for (s, _), r in results.items() if s == scenario)
        ratio = ours["median_ms"] / peer["median_ms"] if ours["median_ms"] is not None and peer["median_ms"] else None
        scenarios[scenario] = {"ours": ours, "peer": peer,
                               "latency_ratio": round(ratio, 4) if ratio is not None else None}
    report = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": platform.platform(), "runs": args.runs,
        "threads": args.threads, "clips": len(clips), "load_average_1min": {"start": load[0], "end": load[1]},
        "clip_seconds": round(statistics.mean(c.seconds for c in clips), 2),
        "setup": "tiny.en int8 beam 5 en; clips streamed in real time, 0.3 s of silence before the speech",
        "scenarios": scenarios,
        "engine_overhead": {k: round(v, 4) for k, v in overhead.items()},
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "whisper_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# Speech-to-text: wyoming_whisper vs wyoming-faster-whisper 3.8.1",
        "",
        f"{report['date']}, {report['machine']}; {report['setup']}; {len(clips)} clips x {args.runs} runs, "
        f"{args.threads} threads each; 1-minute load average {load[0]:.1f} at the start, {load[1]:.1f} at the end "
        f"(the machine is shared: compare the two servers, not runs).",
        "",
        "| silence before audio-stop | server | median audio-stop -> transcript | p90 | WER | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for scenario, found in scenarios.items():
        for key in ("ours", "peer"):
            r = found[key]
            ratio_cell = f"**{found['latency_ratio']}**" if key == "ours" else ""
            lines.append(f"| {scenario} | {r['name']} | {r['median_ms']} ms | {r['p90_ms']} ms | {r['wer']} | "
                         f"{ratio_cell} |")
    lines += [
        "",
        "Ratio: our median latency / the peer's.",
        "",
        f"Engine overhead vs faster-whisper called directly (same options, full 30 s window): RTF "
        f"{overhead['rtf_engine_30s']:.3f} vs {overhead['rtf_direct']:.3f} ({overhead['overhead'] * 100:+.1f} %). "
        f"With the default 10 s encoder window: RTF {overhead['rtf_engine_default']:.3f}.",
        "",
    ]
    (out / "whisper_bench.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
