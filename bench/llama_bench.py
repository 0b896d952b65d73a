"""Conversation benchmark: wyoming_llama vs its llama-server called directly, same model, same prompts.

``python -m wyoming_llama`` starts its own llama-server (SmolLM2-135M-Instruct Q4_1 by
default); the direct client talks to that same llama-server process, so the only difference is
our service (Wyoming framing, history, the SSE relay). Every reply is exactly ``--tokens``
tokens long (``ignore_eos``, temperature 0), and runs alternate between the two paths so load
drift hits both alike. Measured per run:

* time to first chunk: ``transcript`` sent -> first ``handled-chunk`` (service), request sent ->
  first content delta (direct); the system prompt is in llama-server's prompt cache (warm),
  each question is new to it (the two paths phrase it differently, alternating);
* generation rate: tokens after the first / time from the first to the last piece.

    .venv/bin/python bench/llama_bench.py [--runs 10] [--tokens 64] [--threads 2]

Results go to bench/results/llama_bench.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from wyoming.asr import Transcript
from wyoming.client import AsyncTcpClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voice_runtime.procs import ServiceProcess, start_service  # noqa: E402
from wyoming_llama.config import DEFAULT_SYSTEM_PROMPT  # noqa: E402

QUESTIONS = [
    "What is the capital of France?",
    "How many legs does a spider have?",
    "Why is the sky blue?",
    "What should I cook for dinner tonight?",
    "How far away is the moon?",
    "Tell me a fun fact about octopuses.",
    "What is the boiling point of water?",
    "Who wrote Romeo and Juliet?",
    "How do I make a cup of tea?",
    "What is the tallest mountain in the world?",
]


def llama_url(service: ServiceProcess) -> str:
    children: list[str] = []
    for task in Path(f"/proc/{service.pid}/task").iterdir():
        children += (task / "children").read_text().split()
    args = Path(f"/proc/{children[0]}/cmdline").read_bytes().split(b"\0")
    return f"http://127.0.0.1:{args[args.index(b'--port') + 1].decode()}"


async def via_service(port: int, question: str, conversation: str) -> dict[str, float]:
    client = AsyncTcpClient("127.0.0.1", port)
    await client.connect()
    try:
        start = time.perf_counter()
        await client.write_event(Transcript(text=question, context={"conversation_id": conversation}).event())
        times: list[float] = []
        while True:
            event = await client.read_event()
            if event is None:
                raise ConnectionError("service closed the connection")
            if event.type == "handled-chunk":
                times.append(time.perf_counter())
            elif event.type == "handled":
                break
            elif event.type == "error":
                raise RuntimeError(f"service error: {event.data}")
    finally:
        await client.disconnect()
    return _figures(start, times)


async def direct(http: httpx.AsyncClient, url: str, question: str, tokens: int) -> dict[str, float]:
    body: dict[str, Any] = {
        "messages": [{"role": "system", "content": DEFAULT_SYSTEM_PROMPT}, {"role": "user", "content": question}],
        "stream": True, "max_tokens": tokens, "temperature": 0.0, "ignore_eos": True, "cache_prompt": True,
    }
    start = time.perf_counter()
    times: list[float] = []
    async with http.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data:") or line.endswith("[DONE]"):
                continue
            chunk = json.loads(line[5:])
            if any((c.get("delta") or {}).get("content") for c in chunk.get("choices") or []):
                times.append(time.perf_counter())
    return _figures(start, times)


def _figures(start: float, times: list[float]) -> dict[str, float]:
    if not times:
        raise RuntimeError("no text came back")
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
    return {"first_chunk_ms": (times[0] - start) * 1000, "tokens_per_s": rate, "pieces": float(len(times))}


def summary(rows: list[dict[str, float]]) -> dict[str, float]:
    first = sorted(r["first_chunk_ms"] for r in rows)
    rates = [r["tokens_per_s"] for r in rows]
    return {
        "first_chunk_ms_median": statistics.median(first),
        "first_chunk_ms_p90": first[min(len(first) - 1, int(0.9 * len(first)))],
        "tokens_per_s_median": statistics.median(rates),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    service = await start_service(
        "wyoming_llama", "--threads", str(args.threads), "--max-tokens", str(args.tokens), "--temperature", "0",
        "--llm-option", "ignore_eos=true",
    )
    ours: list[dict[str, float]] = []
    theirs: list[dict[str, float]] = []
    try:
        await via_service(service.port, "Hello.", "warm-up")  # waits for llama-server; warms the prompt cache
        url = llama_url(service)
        async with httpx.AsyncClient(timeout=120) as http:
            await direct(http, url, "Hello.", args.tokens)
            for run in range(args.runs):
                question = QUESTIONS[run % len(QUESTIONS)]
                # A new conversation each run: the prompt is the (cached) system prompt + a new question.
                # The two paths get different openings, so neither finds the other's question cached.
                mine, other = (question, f"Now, {question}") if run % 2 else (f"Now, {question}", question)
                ours.append(await via_service(service.port, mine, f"bench-{run}"))
                theirs.append(await direct(http, url, other, args.tokens))
                print(f"run {run + 1}/{args.runs}: service {ours[-1]['first_chunk_ms']:.0f} ms "
                      f"{ours[-1]['tokens_per_s']:.0f} tok/s | direct {theirs[-1]['first_chunk_ms']:.0f} ms "
                      f"{theirs[-1]['tokens_per_s']:.0f} tok/s", flush=True)
    finally:
        await service.stop()

    result: dict[str, Any] = {
        "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
        "settings": {"runs": args.runs, "tokens": args.tokens, "threads": args.threads,
                     "model": "SmolLM2-135M-Instruct.Q4_1"},
        "service": summary(ours),
        "direct": summary(theirs),
        "runs": {"service": ours, "direct": theirs},
    }
    s, d = result["service"], result["direct"]
    overhead = 1 - s["tokens_per_s_median"] / d["tokens_per_s_median"] if d["tokens_per_s_median"] else 0.0
    result["rate_overhead"] = overhead
    result["first_chunk_extra_ms"] = s["first_chunk_ms_median"] - d["first_chunk_ms_median"]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "llama_bench.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        "# llama bench",
        "",
        f"SmolLM2-135M-Instruct Q4_1, llama-server --threads {args.threads}, {args.runs} runs, "
        f"{args.tokens}-token replies, warm prompt cache (system prompt cached, new question each run). "
        "Shared 2-core machine: other work ran at the same time.",
        "",
        "| path | first chunk median (ms) | p90 (ms) | tokens/s median |",
        "|---|---|---|---|",
        f"| wyoming_llama (transcript -> handled-chunk) | {s['first_chunk_ms_median']:.0f} | "
        f"{s['first_chunk_ms_p90']:.0f} | {s['tokens_per_s_median']:.1f} |",
        f"| llama-server direct (SSE) | {d['first_chunk_ms_median']:.0f} | {d['first_chunk_ms_p90']:.0f} | "
        f"{d['tokens_per_s_median']:.1f} |",
        "",
        f"Service overhead: {result['first_chunk_extra_ms']:.0f} ms to first chunk, "
        f"{overhead * 100:.1f} % generation rate (targets: first chunk <= 150 ms, overhead <= 5 %).",
        "",
    ]
    (args.out / "llama_bench.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    asyncio.run(main())
