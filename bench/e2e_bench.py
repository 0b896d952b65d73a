"""End-to-end latency: our streaming stack vs a Home-Assistant-style chain, same box, same run.

What a user feels: from the last voiced sample of the question to the first sample of the
reply reaching the satellite's speaker. Each question (spoken by Kokoro ``am_michael``, a voice
other than the TTS voice under test) is streamed in real time through our satellite's WAV
microphone; the satellite writes its speaker output, silence included, on the microphone's
timeline, so both instants are sample positions in two WAV files.

Pipelines (the same satellite, intents and LLM in both):
  ours  wyoming_whisper (tiny.en int8) → wyoming_llama streaming (SmolLM2) → wyoming_kokoro
        (Piper en_US-joe-medium) streaming, orchestrated with streaming end to end;
  peer  wyoming-faster-whisper (tiny.en int8) → wyoming_llama read without streaming →
        wyoming-piper (en_US-joe-medium), chained as Home Assistant does without streaming
        (final transcript → whole reply → whole TTS audio → satellite).

Also: 1/2/4/8 concurrent satellites (ours), peak RSS and CPU seconds per turn of each server.

    ./run.sh bench e2e            # or: .venv/bin/python bench/e2e_bench.py --help
Results: bench/results/e2e.{md,json,csv,png}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from orchestrator.intents import IntentRecognizer  # noqa: E402
from orchestrator.pipeline import Pipeline, PipelineConfig  # noqa: E402
from orchestrator.satellite_link import LinkConfig, SatelliteLink  # noqa: E402
from orchestrator.services import ServicePool  # noqa: E402
from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert, from_float, read_wav, to_float, write_wav  # noqa: E402
from voice_runtime.latency import percentile  # noqa: E402
from voice_runtime.models import resolve_kokoro_model, resolve_kokoro_voices  # noqa: E402
from voice_runtime.procs import ServiceProcess, start_service  # noqa: E402

QUESTIONS = [
    "What is the capital of France?",
    "Turn on the kitchen lights.",
    "How many legs does a spider have?",
    "What time is it?",
    "Why is the sky blue?",
    "Switch off the bedroom lamp.",
    "Give me a tip for sleeping better.",
    "Set a timer for five minutes.",
    "What is the boiling point of water?",
    "Tell me a short joke.",
    "Turn off the porch light.",
    "Who wrote Romeo and Juliet?",
    "What day is it today?",
    "How far away is the moon?",
    "Turn on the living room fan.",
    "What should I cook for dinner tonight?",
    "Name a planet in our solar system.",
    "Set a timer for ten minutes.",
    "What is two plus two?",
    "How do I make a cup of tea?",
    "Switch on the garden lights.",
    "What is the largest ocean on Earth?",
]
QUESTION_VOICE = "am_michael"
LEAD_SECONDS = 1.5
TRAIL_SECONDS = 1.0
SILENCE_THRESHOLD = 300  # |sample| above this (16-bit) counts as sound


@dataclass
class Question:
    text: str
    wav: Path
    speech_end: float  # seconds into the WAV where the last voiced sample is


@dataclass
class Turn:
    pipeline: str
    concurrency: int
    question: str
    transcript: str = ""
    reply: str = ""
    intent: bool = False
    error: str | None = None
    perceived: float | None = None  # last voiced sample → first reply sample at the speaker
    marks: dict[str, float] = field(default_factory=dict)


def make_questions(folder: Path, count: int) -> list[Question]:
    from kokoro_onnx import Kokoro

    kokoro = Kokoro(str(resolve_kokoro_model()), str(resolve_kokoro_voices()))
    questions = []
    for index, text in enumerate((QUESTIONS * 2)[:count]):
        samples, rate = kokoro.create(text, voice=QUESTION_VOICE, speed=1.0, lang="en-us")
        pcm = convert(from_float(np.asarray(samples, dtype=np.float32), 2), AudioFormat(rate, 2, 1), PCM16_MONO_16K)
        voiced = np.flatnonzero(np.abs(np.frombuffer(pcm, dtype="<i2")) > SILENCE_THRESHOLD)
        end = (voiced[-1] + 1) / 16000 if voiced.size else 0.0
        lead, trail = b"\x00\x00" * int(LEAD_SECONDS * 16000), b"\x00\x00" * int(TRAIL_SECONDS * 16000)
        path = folder / f"q{index:02d}.wav"
        write_wav(str(path), lead + pcm + trail, PCM16_MONO_16K)
        questions.append(Question(text, path, LEAD_SECONDS + end))
    return questions


def first_sound(path: Path, after: float) -> float | None:
    pcm, fmt = read_wav(str(path))
    samples = np.abs(to_float(pcm, fmt.width, fmt.channels)[:, 0]) * 32768
    start = int(after * fmt.rate)
    loud = np.flatnonzero(samples[start:] > SILENCE_THRESHOLD)
    return (start + int(loud[0])) / fmt.rate if loud.size else None


class Stack:
    def __init__(self) -> None:
        self.procs: dict[str, ServiceProcess] = {}

    async def start(self, name: str, module: str, *args: str, **kw: Any) -> str:
        print(f"  starting {name} …", flush=True)
        self.procs[name] = await start_service(module, *args, **kw)
        return self.procs[name].uri

    def usage(self) -> dict[str, dict[str, float]]:
        out = {}
        for name, proc in self.procs.items():
            out[name] = proc_usage(proc.pid)
        return out

    async def stop(self) -> None:
        for proc in self.procs.values():
            await proc.stop()


def proc_usage(pid: int) -> dict[str, float]:
    """Peak RSS (MB) and CPU seconds of a process and its children (llama-server)."""
    import os

    total_cpu, peak = 0.0, 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                pids += [int(p) for p in fh.read().split()]
    for p in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total_cpu += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak += int(line.split()[1]) / 1024
    return {"peak_rss_mb": round(peak, 1), "cpu_seconds": round(total_cpu, 2)}


async def one_batch(pipeline: Pipeline, name: str, questions: list[Question], workdir: Path) -> list[Turn]:
    """Run len(questions) satellites at once, one question each."""
    sats: list[ServiceProcess] = []
    links: list[SatelliteLink] = []
    tasks: list[asyncio.Task[None]] = []
    outs = [workdir / f"{name}-{len(questions)}-{i}-{time.monotonic_ns()}.wav" for i in range(len(questions))]
    turns = [Turn(name, len(questions), q.text) for q in questions]
    try:
        for q, out in zip(questions, outs, strict=True):
            sats.append(await start_service(
                "satellite", "--mic-wav", str(q.wav), "--snd-wav", str(out), "--snd-rate", "16000", "--no-tones",
                "--name", out.stem))
        for sat in sats:
            link = SatelliteLink(LinkConfig(sat.uri, reconnect_delay=1.0), pipeline)
            links.append(link)
            tasks.append(asyncio.create_task(link.run()))
        for turn, link in zip(turns, links, strict=True):
            try:
                results = await asyncio.wait_for(link.wait_turns(1), 120)
                result = results[0]
                turn.transcript, turn.reply, turn.intent = result.transcript, result.reply, result.intent is not None
                turn.marks = {k: round(v, 3) for k, v in result.marks.items()}
                if result.error:
                    turn.error = result.error.code
                else:
                    await asyncio.wait_for(link.wait_played(1), 120)
            except TimeoutError:
                turn.error = "timeout"
    finally:
        for link in links:
            await link.stop()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        for sat in sats:
            await sat.stop()
    for turn, q, out in zip(turns, questions, outs, strict=True):
        if turn.error is None and out.is_file():
            heard = first_sound(out, q.speech_end)
            turn.perceived = None if heard is None else round(heard - q.speech_end, 3)
    return turns


def summarize(turns: list[Turn]) -> dict[str, float]:
    vals = [t.perceived for t in turns if t.perceived is not None]
    stats = {"turns": float(len(turns)), "errors": float(sum(t.error is not None for t in turns))}
    if vals:
        stats.update(p50=percentile(vals, 50), p95=percentile(vals, 95))
    for stage in ("transcript", "first_token", "intent", "first_tts_audio", "first_audio_sent"):
        stage_vals = [t.marks[stage] for t in turns if stage in t.marks and t.error is None]
        if stage_vals:
            stats[f"{stage}_p50"] = statistics.median(stage_vals)
    return stats


async def run_pipeline(label: str, pipeline: Pipeline, questions: list[Question], workdir: Path,
                       concurrency: list[int]) -> list[Turn]:
    turns: list[Turn] = []
    for n in concurrency:
        batches = [questions[i:i + n] for i in range(0, len(questions), n)] if n == 1 else [questions[:n]]
        for batch in batches:
            print(f"  {label}: {n} satellite(s): {', '.join(q.text for q in batch)[:80]}", flush=True)
            turns += await one_batch(pipeline, label, batch, workdir)
    return turns


async def main(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="hearth-e2e-"))
    print(f"making {args.questions} questions with Kokoro {QUESTION_VOICE} …", flush=True)
    questions = await asyncio.to_thread(make_questions, workdir, args.questions)
    from peers import start_peer_piper, start_peer_whisper

    all_turns: list[Turn] = []
    usage: dict[str, dict[str, dict[str, float]]] = {}
    scale = [int(x) for x in args.scale.split(",") if x]
    intents = IntentRecognizer()
    stack = Stack()
    try:
        asr = await stack.start("wyoming_whisper", "wyoming_whisper")
        llm = await stack.start("wyoming_llama", "wyoming_llama")
        tts = await stack.start("wyoming_kokoro", "wyoming_kokoro", "--voice", "en_US-joe-medium")
        ours = Pipeline(ServicePool("asr", [asr]), ServicePool("handle", [llm]), ServicePool("tts", [tts]),
                        intents=intents, config=PipelineConfig(voice="en_US-joe-medium"))
        print("ours: one satellite per question", flush=True)
        all_turns += await run_pipeline("ours", ours, questions, workdir, [1])
        if not args.skip_peer:
            stack.procs["wyoming-faster-whisper"] = await start_peer_whisper()
            stack.procs["wyoming-piper"] = await start_peer_piper()
            peer = Pipeline(
                ServicePool("asr", [stack.procs["wyoming-faster-whisper"].uri]), ServicePool("handle", [llm]),
                ServicePool("tts", [stack.procs["wyoming-piper"].uri]), intents=intents,
                config=PipelineConfig(streaming=False),
            )
            print("peer (Home-Assistant-style chain): one satellite per question", flush=True)
            all_turns += await run_pipeline("peer", peer, questions, workdir, [1])
        if scale:
            print(f"ours: concurrency {scale}", flush=True)
            all_turns += await run_pipeline("ours", ours, questions, workdir, [n for n in scale if n > 1])
        usage = {"servers": stack.usage()}
    finally:
        await stack.stop()
    write_report(args.out, all_turns, usage, questions, args)
    errors = [t for t in all_turns if t.error]
    return 1 if len(errors) > len(all_turns) // 4 else 0


def write_report(out: Path, turns: list[Turn], usage: dict[str, Any], questions: list[Question],
                 args: argparse.Namespace) -> None:
    single = {name: summarize([t for t in turns if t.pipeline == name and t.concurrency == 1])
              for name in ("ours", "peer") if any(t.pipeline == name for t in turns)}
    scale = {n: summarize([t for t in turns if t.pipeline == "ours" and t.concurrency == n])
             for n in sorted({t.concurrency for t in turns if t.pipeline == "ours"})}
    data = {"machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
            "single": single, "scale": {str(k): v for k, v in scale.items()}, "usage": usage,
            "turns": [asdict(t) for t in turns]}
    (out / "e2e.json").write_text(json.dumps(data, indent=2))
    with (out / "e2e.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["pipeline", "concurrency", "question", "perceived_s", "error", "intent", "transcript",
                         "reply", *sorted({k for t in turns for k in t.marks})])
        keys = sorted({k for t in turns for k in t.marks})
        for t in turns:
            writer.writerow([t.pipeline, t.concurrency, t.question, t.perceived, t.error, t.intent, t.transcript,
                             t.reply, *[t.marks.get(k) for k in keys]])
    plot(out / "e2e.png", single, scale)
    lines = ["# End-to-end latency", "", f"{len(questions)} questions, {time.strftime('%Y-%m-%d %H:%M')}, "
             f"{data['machine']['cpus']} CPUs. User-perceived = last voiced sample of the question → first "
             "reply sample at the satellite's speaker (both read from WAV files on the mic's timeline).", "",
             "| pipeline | turns | errors | p50 (s) | p95 (s) | transcript p50 | first token p50 "
             "| first TTS audio p50 |",
             "|---|---|---|---|---|---|---|---|"]
    def f(s: dict[str, float], key: str) -> str:
        return f"{s[key]:.3f}" if key in s else "-"

    for name, s in single.items():
        cells = [f(s, k) for k in ("p50", "p95", "transcript_p50", "first_token_p50", "first_tts_audio_p50")]
        lines.append(f"| {name} | {s['turns']:.0f} | {s['errors']:.0f} | " + " | ".join(cells) + " |")
    if "ours" in single and "peer" in single and single["peer"].get("p50"):
        ratio = single["ours"].get("p50", float("nan")) / single["peer"]["p50"]
        lines += ["", f"**Ratio ours/peer (p50): {ratio:.2f}** (target ≤ 0.5; p50 target ≤ 0.8 s)."]
    lines += ["", "Stage marks are seconds after the orchestrator received the satellite's audio-stop "
              "(the satellite's VAD decided the question had ended).", "",
              "## Concurrency (ours)", "", "| satellites | turns | errors | p50 (s) | p95 (s) |",
              "|---|---|---|---|---|"]
    for n, s in scale.items():
        lines.append(f"| {n} | {s['turns']:.0f} | {s['errors']:.0f} | {f(s, 'p50')} | {f(s, 'p95')} |")
    lines += ["", "## Servers", "", "| server | peak RSS (MB) | CPU s (whole run) |", "|---|---|---|"]
    for name, u in usage.get("servers", {}).items():
        lines.append(f"| {name} | {u['peak_rss_mb']} | {u['cpu_seconds']} |")
    lines += ["", "![latency](e2e.png)", "", "Raw per-turn numbers: `e2e.csv`, `e2e.json`."]
    (out / "e2e.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def plot(path: Path, single: dict[str, dict[str, float]], scale: dict[int, dict[str, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    stages = [("transcript_p50", "final transcript"), ("first_token_p50", "first LLM token"),
              ("first_tts_audio_p50", "first TTS audio")]
    names = list(single)
    bottom = np.zeros(len(names))
    for key, label in stages:
        heights = []
        for idx, n in enumerate(names):
            value = single[n].get(key, bottom[idx])
            heights.append(max(0.0, value - bottom[idx]))
        left.bar(names, heights, bottom=bottom, label=label)
        bottom = bottom + np.array(heights)
    left.scatter(names, [single[n].get("p50", np.nan) for n in names], color="black", zorder=3,
                 label="user-perceived p50")
    left.set_ylabel("seconds after end of speech")
    left.set_title("Stage breakdown (p50)")
    left.legend(fontsize=8)
    ns = sorted(scale)
    right.plot(ns, [scale[n].get("p50", np.nan) for n in ns], marker="o", label="p50")
    right.plot(ns, [scale[n].get("p95", np.nan) for n in ns], marker="o", label="p95")
    right.set_xlabel("concurrent satellites")
    right.set_ylabel("user-perceived latency (s)")
    right.set_title("Latency vs concurrency (ours)")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument("--scale", default="1,2,4,8", help="concurrent satellites to try (ours)")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    return asyncio.run(main(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(cli())
