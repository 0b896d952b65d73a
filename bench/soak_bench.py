"""Soak: many turns through the full stack; does anything grow or drift?

Our three servers run as real processes; the orchestrator's pipeline runs here and replays
spoken turns (a mix of home commands and LLM questions, spoken by Piper at start) one after
another. Reported: errors; orchestrator asyncio tasks and open file descriptors, and each
server's RSS and open file descriptors, at the start (after a warm-up of 10 turns) and at the
end; latency (end of speech → first audio) of the first and the last 10 % of turns; and a
series every ``--every`` turns (RSS, fds, median latency of those turns) to tell a plateau
from a leak.

    .venv/bin/python bench/soak_bench.py [--turns 1000] [--max-minutes M]
(``--max-minutes`` stops early, after the turn in progress; the report says how many ran.)
Results: bench/results/soak.{md,json} (the JSON also has every turn's stage marks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from wyoming.audio import AudioChunk  # noqa: E402

from bench import run_until_signalled  # noqa: E402
from orchestrator.intents import IntentRecognizer  # noqa: E402
from orchestrator.pipeline import Pipeline  # noqa: E402
from orchestrator.services import ServicePool  # noqa: E402
from orchestrator.wavio import WavSink  # noqa: E402

UTTERANCES = [
    "Turn on the kitchen lights.",
    "What is the capital of France?",
    "Switch off the bedroom lamp.",
    "How many legs does a spider have?",
    "What time is it?",
    "Name a color of the rainbow.",
]
WARMUP = 10


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def tree(pid: int) -> list[int]:
    pids = [pid]
    for task in os.listdir(f"/proc/{pid}/task"):
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return pids


def snapshot(procs: dict[str, int]) -> dict[str, object]:
    servers = {}
    for name, pid in procs.items():
        pids = tree(pid)
        servers[name] = {"rss_mb": round(sum(rss_mb(p) for p in pids), 1), "fds": sum(fds(p) for p in pids)}
    return {"orchestrator": {"tasks": len(asyncio.all_tasks()), "fds": fds(os.getpid()),
                             "rss_mb": rss_mb(os.getpid())}, "servers": servers}


async def chunks(pcm: bytes) -> AsyncIterator[AudioChunk]:
    for i in range(0, len(pcm), 640):
        yield AudioChunk(16000, 2, 1, pcm[i:i + 640])


async def main(args: argparse.Namespace) -> int:
    from speech import speak
    from stack import start_stack

    audio = {text: speak(text) for text in UTTERANCES}
    stack = await start_stack()
    pipeline = Pipeline(ServicePool("asr", [stack.whisper.uri]), ServicePool("handle", [stack.llama.uri]),
                        ServicePool("tts", [stack.tts.uri]), intents=IntentRecognizer())
    procs = {"wyoming_whisper": stack.whisper.pid, "wyoming_llama": stack.llama.pid, "wyoming_kokoro": stack.tts.pid}
    latencies: list[float] = []
    per_turn: list[dict[str, object]] = []  # each turn's marks (s after the end of speech), for drift analysis
    series: list[dict[str, object]] = []
    window: list[float] = []
    errors: dict[str, int] = {}
    start_snapshot: dict[str, object] = {}
    started = time.monotonic()
    done = 0
    try:
        for index in range(args.turns + WARMUP):
            if args.max_minutes and index > WARMUP and time.monotonic() - started > args.max_minutes * 60:
                print(f"  time budget of {args.max_minutes} min spent after {done} turns", flush=True)
                break
            if index == WARMUP:
                start_snapshot = snapshot(procs)
            text = UTTERANCES[index % len(UTTERANCES)]
            result = await pipeline.run_turn(chunks(audio[text]), WavSink(), conversation_id=f"soak-{index % 3}")
            if index < WARMUP:
                continue
            done += 1
            per_turn.append({"turn": done, "conversation": index % 3, "by_intent": result.intent is not None,
                             "error": result.error.code if result.error is not None else None,
                             **{k: round(v, 3) for k, v in result.marks.items()}})
            if result.error is not None:
                errors[result.error.code] = errors.get(result.error.code, 0) + 1
            elif "first_audio_sent" in result.marks:
                latencies.append(result.marks["first_audio_sent"])
                window.append(result.marks["first_audio_sent"])
            if done % args.every == 0:
                point = snapshot(procs)
                series.append({"turns": done, "seconds": round(time.monotonic() - started),
                               "latency_p50": round(statistics.median(window), 3) if window else None,
                               **{name: v for name, v in point["servers"].items()},  # type: ignore[attr-defined]
                               "orchestrator": point["orchestrator"]})
                window = []
                print(f"  {done}/{args.turns} turns, {sum(errors.values())} errors, "
                      f"{time.monotonic() - started:.0f}s, latency p50 {series[-1]['latency_p50']} s, "
                      + ", ".join(f"{n} {point['servers'][n]['rss_mb']} MB" for n in procs),  # type: ignore[index]
                      flush=True)
        end_snapshot = snapshot(procs)
    finally:
        await pipeline.close()
        await stack.stop()
    tenth = max(1, len(latencies) // 10)
    first, last = latencies[:tenth], latencies[-tenth:]
    data = {"turns": done, "turns_asked": args.turns, "errors": errors, "seconds": round(time.monotonic() - started),
            "start": start_snapshot, "end": end_snapshot,
            "latency_first_tenth_p50": statistics.median(first) if first else None,
            "latency_last_tenth_p50": statistics.median(last) if last else None, "series": series,
            "per_turn": per_turn}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(data, indent=2))
    lines = ["# Soak", "", f"{done} turns (of {args.turns} asked; {len(UTTERANCES)} utterances in rotation, "
             "3 conversations), "
             f"{data['seconds']} s, errors: {sum(errors.values())} {errors or ''}", "",
             "| what | start | end | growth |", "|---|---|---|---|"]

    def row(label: str, a: float, b: float) -> None:
        growth = (b - a) / a * 100 if a else 0.0
        lines.append(f"| {label} | {a} | {b} | {growth:+.1f} % |")

    s, e = start_snapshot, end_snapshot
    for key in ("tasks", "fds", "rss_mb"):
        row(f"orchestrator {key}", s["orchestrator"][key], e["orchestrator"][key])  # type: ignore[index]
    for name in procs:
        for key in ("rss_mb", "fds"):
            row(f"{name} {key}", s["servers"][name][key], e["servers"][name][key])  # type: ignore[index]
    lines += ["", f"Latency (end of speech → first audio sent), p50 of the first 10 %: "
              f"{data['latency_first_tenth_p50']:.3f} s; of the last 10 %: {data['latency_last_tenth_p50']:.3f} s."]
    if series:
        names = list(procs)
        lines += ["", f"Every {args.every} turns (RSS in MB; latency p50 of those turns, s):", "",
                  "| turns | minutes | latency p50 | " + " | ".join(f"{n} RSS" for n in names)
                  + " | orchestrator tasks |",
                  "|---" * (4 + len(names)) + "|"]
        for point in series:
            lines.append(f"| {point['turns']} | {int(point['seconds']) / 60:.0f} | {point['latency_p50']} | "  # type: ignore[call-overload]
                         + " | ".join(str(point[n]["rss_mb"]) for n in names)  # type: ignore[index]
                         + f" | {point['orchestrator']['tasks']} |")  # type: ignore[index]
    (args.out / "soak.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 1 if errors else 0


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--max-minutes", type=float, default=0.0, help="stop after this long (0: no limit)")
    parser.add_argument("--every", type=int, default=100, help="sample RSS and latency every N turns")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    return run_until_signalled(main(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(cli())
