"""llama-server's thread and polling flags on a small box: paired, quiet and beside a CPU-bound load.

One llama-server per arm, each started with ``wyoming_llama``'s own command line
(:meth:`LlamaServerConfig.command`: the default model, ``--ctx-size 8192 --parallel 4 --kv-unified``,
``--no-repack`` as this VM needs) plus the arm's flags, its slots warmed with the real system prompt
(:meth:`LocalProvider.warm_up`). Then the room corpus's LLM questions, asked through the real provider
(:class:`LocalProvider`, streamed, a slot per conversation) with the real prompt (the default system
prompt, the kept history of :class:`HistoryStore`, the clock line when :func:`needs_clock` says so), a
new conversation every ``--turns`` questions, stopped after 3 sentences as the service does. Every
question goes to every arm in turn (the order rotates), in two conditions: ``quiet`` (nothing of ours
besides) and ``load`` (one CPU-bound process at the bench's own priority: whisper's final decode or
Kokoro's synthesis). The conditions alternate in blocks of ``--block`` questions, each with its own
conversations. Per ask: llama-server's prompt evaluation (ms, its ``timings``), the uncached and cached
prompt tokens, the first text piece (ms from the request) and the generation speed (tokens/s).

    nice -n 10 .venv/bin/python bench/llama_threads_bench.py "t2p50=--threads 2" "t2p0=--threads 2 --poll 0" \\
        "t1=--threads 1" --rounds 16 --out bench/results/s21_llama_threads.json

Run the whole bench at one priority (the load inherits it, so llama-server and the load compete as
equals, as llama-server at nice 0 does with whisper and Kokoro).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voice_runtime import llama_check  # noqa: E402
from voice_runtime.models import resolve_llama_server, resolve_llm  # noqa: E402
from voice_runtime.procs import free_port  # noqa: E402
from wyoming_llama.config import DEFAULT_SYSTEM_PROMPT  # noqa: E402
from wyoming_llama.handler import clock_line, needs_clock  # noqa: E402
from wyoming_llama.history import HistoryStore  # noqa: E402
from wyoming_llama.llm import GenerationSettings, LocalProvider, ReplyStats  # noqa: E402
from wyoming_llama.process import LlamaServerConfig, _child_setup  # noqa: E402
from wyoming_llama.spoken import SentenceBudget  # noqa: E402

# The room corpus's LLM questions (bench/results/room_turns/*.json, the turns not taken as commands).
QUESTIONS = [
    "How far away is Mars?", "What time does the store close?", "What is the tallest mountain in the world?",
    "How long does it take to boil an egg?", "Who wrote the novel Pride and Prejudice?", "Good morning.",
    "Where is the nearest pharmacy?", "Tell me a joke about penguins.", "How old is the universe?",
    "Read me the news headlines from today.", "What is the capital of Australia?",
    "How many days are there in a leap year?", "How far away is the moon from the earth?",
    "Can you play some music by the Beatles?", "What's the weather going to be like tomorrow?", "Thank you.",
]
BUDGET = 8192 - 80 - 64  # LlamaService.prompt_budget at the defaults
BURN = "while True: pass"


def start(exe: Path, model: Path, flags: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = LlamaServerConfig(exe=exe, model=model).command(port) + flags.split()
    if llama_check.NO_REPACK not in command:
        command.append(llama_check.NO_REPACK)
    parent = os.getpid()  # the server dies with the bench, however it ends
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=out,
                                preexec_fn=lambda: _child_setup(parent, 0))  # noqa: PLW1509 (no threads yet)
    return proc, f"http://127.0.0.1:{port}"


async def healthy(provider: LocalProvider, proc: subprocess.Popen[bytes]) -> None:
    url = provider.url
    for _ in range(1200):
        if proc.poll() is not None:
            raise RuntimeError(f"llama-server exited with {proc.returncode}")
        try:
            response = await provider._client.get(f"{url}/health")
            if response.status_code == 200:
                return
        except Exception:  # not up yet
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} not healthy")


async def ask(provider: LocalProvider, history: HistoryStore, conversation: str, question: str,
              settings: GenerationSettings) -> dict[str, Any]:
    note = clock_line(dt.datetime.now()) if needs_clock(question) else ""
    messages = history.build(conversation, DEFAULT_SYSTEM_PROMPT, question, BUDGET, note=note)
    stats = ReplyStats()
    budget = SentenceBudget(3)
    said: list[str] = []
    load = os.getloadavg()[0]
    started = time.monotonic()
    first: float | None = None
    stream = provider.stream(messages, settings, stats, conversation=conversation)
    try:
        async for generated in stream:
            piece = budget.take(generated)
            if piece:
                if first is None:
                    first = time.monotonic()
                said.append(piece)
            if budget.done:
                break
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    history.add(conversation, question, "".join(said), note=note)
    return {"question": question, "conversation": conversation, "load1": round(load, 2),
            "first_ms": round(((first or time.monotonic()) - started) * 1000, 1),
            "prompt_ms": stats.prompt_ms, "prompt_n": (stats.prompt_tokens or 0) - (stats.cached_tokens or 0),
            "cached": stats.cached_tokens, "tokens": stats.completion_tokens, "tok_s": stats.tokens_per_second,
            "total_ms": round((time.monotonic() - started) * 1000, 1), "reply": "".join(said)}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 1)) - 1))]  # nearest rank


def summary(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| condition | arm | n | load1 p50 | prompt ms p50 / p95 | first piece ms p50 / p95 | uncached p50 "
             "| tok/s p50 |", "|---|---|---|---|---|---|---|---|"]
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    keys = sorted({(r["condition"], r["arm"]) for r in rows}, key=lambda k: (k[0], arms.index(k[1])))
    for condition, arm in keys:
        got = [r for r in rows if r["condition"] == condition and r["arm"] == arm]
        prompt = [r["prompt_ms"] for r in got if r["prompt_ms"] is not None]
        first = [r["first_ms"] for r in got]
        speed = [r["tok_s"] for r in got if r["tok_s"]]
        lines.append(
            f"| {condition} | {arm} | {len(got)} | {statistics.median(r['load1'] for r in got):.2f} | "
            f"{statistics.median(prompt):.0f} / {pct(prompt, 0.95):.0f} | "
            f"{statistics.median(first):.0f} / {pct(first, 0.95):.0f} | "
            f"{statistics.median(r['prompt_n'] for r in got):.0f} | {statistics.median(speed):.1f} |")
    return lines


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("arms", nargs="+", metavar="NAME=FLAGS")
    parser.add_argument("--rounds", type=int, default=16, help="questions per condition (each asked of every arm)")
    parser.add_argument("--turns", type=int, default=8, help="questions per conversation")
    parser.add_argument("--block", type=int, default=4, help="questions in a row per condition")
    parser.add_argument("--conditions", default="quiet,load")
    parser.add_argument("--max-tokens", type=int, default=80, help="longest reply (80: wyoming_llama's default)")
    parser.add_argument("--logs", type=Path, default=Path("/tmp/llama_threads_bench"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    arms = dict(arm.split("=", 1) for arm in args.arms)
    settings = GenerationSettings(max_tokens=args.max_tokens, temperature=0.0)  # temperature: the default
    conditions = args.conditions.split(",")
    exe, model = resolve_llama_server(), resolve_llm()
    args.logs.mkdir(parents=True, exist_ok=True)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    providers: dict[str, LocalProvider] = {}
    burner: asyncio.subprocess.Process | None = None
    rows: list[dict[str, Any]] = []
    try:
        for name, flags in arms.items():
            procs[name], url = start(exe, model, flags, args.logs / f"{name}.log")
            providers[name] = LocalProvider(url=url, slots=4, read_timeout=300.0)
        for name, provider in providers.items():
            await healthy(provider, procs[name])
            await provider.warm_up(DEFAULT_SYSTEM_PROMPT)
        histories = {(c, name): HistoryStore() for c in conditions for name in arms}
        done = dict.fromkeys(conditions, 0)
        k = 0
        while any(n < args.rounds for n in done.values()):
            for condition in conditions:
                if condition == "load" and burner is None:
                    burner = await asyncio.create_subprocess_exec(sys.executable, "-c", BURN)
                for _ in range(min(args.block, args.rounds - done[condition])):
                    i = done[condition]
                    question = QUESTIONS[i % len(QUESTIONS)]
                    names = list(arms)
                    order = names[k % len(names):] + names[:k % len(names)]
                    k += 1
                    for name in order:
                        row = await ask(providers[name], histories[(condition, name)],
                                        f"{condition}-c{i // args.turns}", question, settings)
                        row.update(arm=name, condition=condition, turn=i % args.turns + 1, i=i)
                        rows.append(row)
                        print(json.dumps({key: row[key] for key in ("condition", "arm", "i", "load1", "prompt_ms",
                                                                     "prompt_n", "cached", "first_ms", "tok_s")}),
                              flush=True)
                    done[condition] += 1
                if burner is not None:
                    burner.kill()
                    await burner.wait()
                    burner = None
    finally:
        if burner is not None:
            burner.kill()
            await burner.wait()
        for provider in providers.values():
            await provider.aclose()
        for proc in procs.values():
            proc.terminate()
            proc.wait()
    table = summary(rows)
    print("\n".join(table))
    if args.out:
        args.out.write_text(json.dumps({"arms": arms, "rows": rows, "summary": table}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
