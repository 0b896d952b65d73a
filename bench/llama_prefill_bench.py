"""The LLM's first chunk with and without the post-reply prefill (``wyoming_llama/prefill.py``),
paired: one llama-server as ``wyoming_llama`` runs it (4 slots, default threads, nice 10, the
service's system prompt and clock line, temperature 0, one sentence a reply), two conversations
asked in turn (A with the prefill, B without), so the box's load falls on both alike. Per question:
the client's transcript -> first ``handled-chunk`` and llama-server's own prompt evaluation and
uncached prompt tokens (its ``timings``/``usage``). A ``--pause`` after every reply (the user's
silence) lets the prefill finish, as in a conversation.

    nice -n 10 .venv/bin/python bench/llama_prefill_bench.py [--questions 10] [--pause 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import numpy as np
from wyoming.info import Info

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.llama_common import Recording, first_chunk, served, warmed_llama
from voice_runtime.models import resolve_llama_server, resolve_llm
from wyoming_llama.config import DEFAULT_SYSTEM_PROMPT
from wyoming_llama.handler import LlamaService
from wyoming_llama.history import HistoryStore
from wyoming_llama.llm import GenerationSettings
from wyoming_llama.process import LlamaServerConfig

QUESTIONS = [
    "What is the capital of France?",
    "How far away is the moon?",
    "Who wrote Romeo and Juliet?",
    "What is the largest planet in our solar system?",
    "Where is the nearest pharmacy?",
    "How many legs does a spider have?",
    "What colour is the sky?",
    "Tell me a fun fact about cats.",
    "What is the boiling point of water?",
    "Why do leaves fall in autumn?",
    "What is two plus two?",
    "Who painted the Mona Lisa?",
]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--pause", type=float, default=2.0, help="seconds after each reply (the user's silence)")
    args = parser.parse_args()
    config = LlamaServerConfig(exe=resolve_llama_server(), model=resolve_llm(), parallel=4)
    settings = GenerationSettings(max_tokens=64, temperature=0.0)
    first: dict[str, list[float]] = {"A": [], "B": []}
    recs: dict[str, Recording] = {}
    async with warmed_llama(config) as (provider, prefiller):
        services: dict[str, LlamaService] = {}
        for name, pre in (("A", prefiller), ("B", None)):
            recs[name] = Recording(provider)
            services[name] = LlamaService(
                provider=recs[name],
                info=Info,
                system_prompt=DEFAULT_SYSTEM_PROMPT,
                settings=settings,
                history=HistoryStore(),
                max_sentences=1,
                prefiller=pre,
            )
        async with served(services) as servers:
            print(f"load before {os.getloadavg()}", flush=True)
            for i, question in enumerate(QUESTIONS[: args.questions]):
                for name in ("A", "B") if i % 2 == 0 else ("B", "A"):
                    first[name].append(await first_chunk(servers[name], question, f"bench-{name}", 120))
                    await prefiller.wait()
                    await asyncio.sleep(args.pause)
    print(f"load after {os.getloadavg()}")
    for name in ("A", "B"):
        stats = recs[name].stats[1:]  # the first question: no reply stored before it
        uncached = [(s.prompt_tokens or 0) - (s.cached_tokens or 0) for s in stats]
        prompt_ms = [s.prompt_ms for s in stats if s.prompt_ms is not None]
        firsts = first[name][1:]
        print(
            f"{name} ({'prefill' if name == 'A' else 'no prefill'}): first chunk p50 {np.median(firsts) * 1000:.0f} / "
            f"p95 {np.percentile(firsts, 95) * 1000:.0f} ms; n={len(stats)} uncached tokens p50 "
            f"{np.median(uncached):.0f} {uncached}; llama prompt eval ms p50 {np.median(prompt_ms):.0f} / "
            f"p95 {np.percentile(prompt_ms, 95):.0f} {[round(x) for x in prompt_ms]}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
