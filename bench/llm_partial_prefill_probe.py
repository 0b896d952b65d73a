"""What a prefill of the question's first words (whisper's partial transcript, before the end of the
turn) would save at the end of the turn: one real llama-server as ``wyoming_llama`` runs it (4 slots,
default threads, the service's system prompt, clock line and post-reply prefill, temperature 0, one
sentence a reply), three conversations asked the same questions in turn (rotated order):

* ``base``: as today (the post-reply prefill only);
* ``minus1`` / ``minus2``: also, before the question is asked, its text without the last one / two
  words is evaluated into the conversation's slot (``LocalProvider.evaluate``: the prompt with that
  partial text as the user message, one token), as a prefill from a partial transcript would, then
  a ``--gap`` (the rest of the user's speech and the end-of-turn silence).

Per question and arm: the client's transcript -> first ``handled-chunk``, llama-server's own prompt
evaluation (ms, uncached tokens) of the question, and of the partial prefill (its cost, paid while
the user still speaks). Offline; no whisper: the partial texts are the final text cut by words
(how much a real partial covers is another measure).

    .venv/bin/python bench/llm_partial_prefill_probe.py [--rounds 2] [--out probe.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from wyoming.info import Info

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.llama_common import Recording, first_chunk, served, warmed_llama
from voice_runtime.models import resolve_llama_server, resolve_llm
from wyoming_llama.config import DEFAULT_SYSTEM_PROMPT
from wyoming_llama.handler import LlamaService, clock_line, needs_clock
from wyoming_llama.history import HistoryStore
from wyoming_llama.llm import GenerationSettings, LocalProvider
from wyoming_llama.process import LlamaServerConfig

QUESTIONS = [
    "What is the tallest mountain in the world?",
    "How far away is the moon from the earth?",
    "Who wrote Romeo and Juliet?",
    "Where is the nearest pharmacy?",
    "How long does it take to boil an egg?",
    "What is the capital of France?",
    "How many legs does a spider have?",
    "Why is the sky blue?",
    "What is the boiling point of water?",
    "Who painted the Mona Lisa?",
    "What is the biggest ocean?",
    "How far away is Mars?",
]
ARMS = {"base": 0, "minus1": 1, "minus2": 2}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def partial_prefill(provider: LocalProvider, service: LlamaService, conversation: str,
                          partial: str) -> dict[str, Any]:
    """Evaluate the prompt with ``partial`` as the user's message into the conversation's slot."""
    note = clock_line(service.now()) if service.now and needs_clock(partial) else ""
    messages = service.history.build(conversation, service.system_prompt, partial, service.prompt_budget, note=note)
    slot = provider.slot_map.acquire(conversation) if provider.slot_map is not None else None
    started = time.monotonic()
    try:
        response = await provider.evaluate(await provider._base_url(), messages, slot)
    finally:
        if slot is not None and provider.slot_map is not None:
            provider.slot_map.release(slot)
    data = response.json()
    usage, timings = data.get("usage", {}), data.get("timings", {})
    details = usage.get("prompt_tokens_details") or {}
    return {"partial": partial, "prompt_tokens": usage.get("prompt_tokens"), "cached": details.get("cached_tokens"),
            "prompt_ms": timings.get("prompt_ms"), "wall_ms": (time.monotonic() - started) * 1000}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="times through the questions (new conversations)")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds after each reply (prefill finishes)")
    parser.add_argument("--gap", type=float, default=0.3, help="seconds from the partial prefill's end to the question")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    config = LlamaServerConfig(exe=resolve_llama_server(), model=resolve_llm(), parallel=4)
    settings = GenerationSettings(max_tokens=64, temperature=0.0)
    rows: list[dict[str, Any]] = []
    async with warmed_llama(config) as (provider, prefiller):
        recs = {name: Recording(provider) for name in ARMS}
        services = {name: LlamaService(provider=recs[name], info=Info, system_prompt=DEFAULT_SYSTEM_PROMPT,
                                       settings=settings, history=HistoryStore(), max_sentences=1,
                                       prefiller=prefiller) for name in ARMS}
        async with served(services) as servers:
            print(f"{time.strftime('%H:%M:%S', time.gmtime())} UTC load {os.getloadavg()}", flush=True)
            order = list(ARMS)
            for round_ in range(args.rounds):
                for i, question in enumerate(QUESTIONS):
                    order = order[1:] + order[:1]
                    for name in order:
                        conversation = f"probe-{name}-{round_}"
                        row: dict[str, Any] = {"round": round_, "i": i, "arm": name, "question": question,
                                               "load": os.getloadavg()[0]}
                        cut = ARMS[name]
                        if cut:
                            words = question.split()
                            row["prefill"] = await partial_prefill(provider, services[name], conversation,
                                                                   " ".join(words[:-cut]))
                            await asyncio.sleep(args.gap)
                        row["first_chunk_s"] = await first_chunk(servers[name], question, conversation, 120)
                        stats = recs[name].stats[-1]
                        row.update(prompt_tokens=stats.prompt_tokens, cached=stats.cached_tokens,
                                   prompt_ms=stats.prompt_ms, completion_tokens=stats.completion_tokens)
                        rows.append(row)
                        print(json.dumps(row), flush=True)
                        await prefiller.wait()
                        await asyncio.sleep(args.pause)
    print(f"{time.strftime('%H:%M:%S', time.gmtime())} UTC load {os.getloadavg()}")
    for name in ARMS:
        mine = [r for r in rows if r["arm"] == name and r["i"] > 0]  # the first: no reply stored before it
        uncached = [(r["prompt_tokens"] or 0) - (r["cached"] or 0) for r in mine]
        ms = [r["prompt_ms"] for r in mine if r["prompt_ms"] is not None]
        first = [r["first_chunk_s"] * 1000 for r in mine]
        pre = [r["prefill"]["prompt_ms"] for r in mine if "prefill" in r and r["prefill"]["prompt_ms"] is not None]
        print(f"{name:7s} n={len(mine)} uncached p50 {np.median(uncached):.0f}; prompt eval ms p50/p95 "
              f"{pct(ms, 50):.0f}/{pct(ms, 95):.0f}; first chunk ms p50/p95 {pct(first, 50):.0f}/{pct(first, 95):.0f}"
              + (f"; partial prefill eval ms p50/p95 {pct(pre, 50):.0f}/{pct(pre, 95):.0f}" if pre else ""))
    for name in ("minus1", "minus2"):
        diffs = []
        for r in rows:
            if r["arm"] != name or r["i"] == 0:
                continue
            base = next(b for b in rows if b["arm"] == "base" and b["round"] == r["round"] and b["i"] == r["i"])
            diffs.append((r["first_chunk_s"] - base["first_chunk_s"]) * 1000)
        print(f"{name} - base first chunk ms p50 {np.median(diffs):+.0f} (faster in {sum(d < 0 for d in diffs)}"
              f" of {len(diffs)})")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
