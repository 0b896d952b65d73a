"""A conversation's later turns: how much kept history (and the post-reply prefill) costs the first chunk.

One llama-server as ``wyoming_llama`` starts it (:class:`LlamaServerProcess`, the default model, 4 slots,
``--llama-args`` added), its slots warmed with the real system prompt; one real ``LlamaService`` and
``LlamaHandler`` (Wyoming, on loopback) per arm, each arm a conversation of its own (its own slot):
``keepN`` keeps N turns (``--max-history-turns N``: when full the older half is dropped), a ``+prefill``
arm evaluates the next prompt's start after each stored reply (``--prefill``). The room corpus's LLM
questions (``bench/llama_threads_bench.py``'s), ``--laps`` times over, asked of every arm in turn (the
order rotates); after each answer the prefills are awaited and ``--pause`` passes (the reply being
spoken). Per ask: transcript -> first ``handled-chunk`` (ms), llama-server's prompt evaluation (ms),
uncached and cached prompt tokens. The first question of each arm (nothing kept yet) is left out.

    nice -n 10 .venv/bin/python bench/llama_history_bench.py keep10 keep4 keep10+prefill \\
        [--llama-args "--threads 1"] [--laps 2] [--out F.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from wyoming.info import Info

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.llama_common import Recording, first_chunk, served, warmed_llama
from bench.llama_threads_bench import QUESTIONS, pct
from voice_runtime.models import resolve_llama_server, resolve_llm
from wyoming_llama.config import DEFAULT_SYSTEM_PROMPT
from wyoming_llama.handler import LlamaService
from wyoming_llama.history import HistoryStore
from wyoming_llama.llm import GenerationSettings
from wyoming_llama.process import LlamaServerConfig


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("arms", nargs="+", help="keepN or keepN+prefill")
    parser.add_argument("--llama-args", default="", help="more llama-server flags (e.g. --threads 1)")
    parser.add_argument("--laps", type=int, default=2, help="times over the questions")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds after each answer (it being spoken)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    config = LlamaServerConfig(exe=resolve_llama_server(), model=resolve_llm(),
                               extra_args=tuple(args.llama_args.split()))
    settings = GenerationSettings(max_tokens=80, temperature=0.0)  # wyoming_llama's defaults
    rows: list[dict[str, Any]] = []
    async with warmed_llama(config, read_timeout=300.0) as (provider, prefiller):
        services: dict[str, LlamaService] = {}
        recs: dict[str, Recording] = {}
        for arm in args.arms:
            keep, _, extra = arm.removeprefix("keep").partition("+")
            recs[arm] = Recording(provider)
            services[arm] = LlamaService(
                provider=recs[arm], info=Info, system_prompt=DEFAULT_SYSTEM_PROMPT, settings=settings,
                history=HistoryStore(max_turns=int(keep)), max_sentences=3,
                prefiller=prefiller if extra == "prefill" else None,
            )
        async with served(services) as servers:
            for i, question in enumerate(QUESTIONS * args.laps):
                arms = list(args.arms)
                for arm in arms[i % len(arms):] + arms[:i % len(arms)]:
                    load = os.getloadavg()[0]
                    first = await first_chunk(servers[arm], question, f"bench-{arm}", 300)
                    stats = recs[arm].stats[-1]
                    rows.append({"arm": arm, "i": i, "question": question, "load1": round(load, 2),
                                 "first_ms": round(first * 1000, 1), "prompt_ms": stats.prompt_ms,
                                 "uncached": (stats.prompt_tokens or 0) - (stats.cached_tokens or 0),
                                 "cached": stats.cached_tokens,
                                 "turns_kept": len(services[arm].history.turns(f"bench-{arm}"))})
                    print(json.dumps({k: v for k, v in rows[-1].items() if k != "question"}), flush=True)
                    await prefiller.wait()
                    await asyncio.sleep(args.pause)
    lines = ["| arm | n | load1 p50 | first chunk ms p50 / p95 | prompt ms p50 / p95 | uncached p50 | cached p50 |",
             "|---|---|---|---|---|---|---|"]
    for arm in args.arms:
        got = [r for r in rows if r["arm"] == arm and r["i"] > 0]
        first_ms = [r["first_ms"] for r in got]
        prompt = [r["prompt_ms"] for r in got if r["prompt_ms"] is not None]
        lines.append(f"| {arm} | {len(got)} | {statistics.median(r['load1'] for r in got):.2f} | "
                     f"{statistics.median(first_ms):.0f} / {pct(first_ms, 0.95):.0f} | "
                     f"{statistics.median(prompt):.0f} / {pct(prompt, 0.95):.0f} | "
                     f"{statistics.median(r['uncached'] for r in got):.0f} | "
                     f"{statistics.median(r['cached'] or 0 for r in got):.0f} |")
    print("\n".join(lines))
    if args.out:
        args.out.write_text(json.dumps({"arms": args.arms, "llama_args": args.llama_args, "rows": rows,
                                        "summary": lines}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
