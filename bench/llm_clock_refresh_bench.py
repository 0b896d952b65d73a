"""A question a minute or more after the last reply, with and without the prefill's minute refresh
(``wyoming_llama/prefill.py``), paired on one llama-server started as ``wyoming_llama`` starts it
(its default flags: ``make_config(parse_args([]))``), slots warmed with the service's system prompt.

Two conversations get the room corpus's LLM questions in turn (the order alternates), each through a
real ``LlamaService`` + ``LlamaHandler`` on loopback with the default settings (temperature 0, 3
sentences): ``refresh`` (this branch: the prefill is evaluated again at each new minute) and ``main``
(the prefill once after each reply, as main does: ``Prefiller(now=None)``). Both are told the same
clock, which moves ``--gap`` seconds after each question pair (60: every question comes in a new
minute, as questions a minute or more apart do); ``refresh``'s waiting refresh then runs and is
awaited (in a room it runs at the minute's start, while nobody speaks). Per question: llama-server's
uncached prompt tokens and prompt evaluation (its ``usage``/``timings``), the client's transcript ->
first ``handled-chunk``, and the reply's text (the two arms must say the same).

    .venv/bin/python bench/llm_clock_refresh_bench.py [--rounds 2] [--gap 60] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
from pathlib import Path

import numpy as np
from wyoming.info import Info

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.llama_common import Recording, first_chunk, served, warmed_llama
from wyoming_llama.__main__ import make_config, parse_args
from wyoming_llama.config import DEFAULT_SYSTEM_PROMPT
from wyoming_llama.handler import LlamaService, needs_clock
from wyoming_llama.history import HistoryStore
from wyoming_llama.prefill import Prefiller

# The room corpus's LLM questions (bench/llama_threads_bench.py's list).
QUESTIONS = [
    "How far away is Mars?", "What time does the store close?", "What is the tallest mountain in the world?",
    "How long does it take to boil an egg?", "Who wrote the novel Pride and Prejudice?", "Good morning.",
    "Where is the nearest pharmacy?", "Tell me a joke about penguins.", "How old is the universe?",
    "Read me the news headlines from today.", "What is the capital of Australia?",
    "How many days are there in a leap year?", "How far away is the moon from the earth?",
    "Can you play some music by the Beatles?", "What's the weather going to be like tomorrow?", "Thank you.",
]


class Clock:
    """The time both arms tell the model; a refresh waits on ``gate`` for its minute."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 5, 9, 14, 20)
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.waiting.set()
        await self.gate.wait()
        self.gate.clear()

    async def minute_passes(self, gap: float) -> None:
        self.now += dt.timedelta(seconds=gap)
        if self.waiting.is_set():
            self.waiting.clear()
            self.gate.set()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1,
                        help="times through the questions (a new pair of conversations each)")
    parser.add_argument("--gap", type=float, default=60.0, help="clock seconds between two questions")
    parser.add_argument("--control", action="store_true",
                        help="both arms main's (no refresh): how often two conversations' replies differ anyway")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    config = make_config(parse_args([]))
    assert config.llama is not None
    clock = Clock()
    rows: list[dict[str, object]] = []
    print(f"load before {os.getloadavg()}", flush=True)
    async with warmed_llama(config.llama) as (provider, _):
        recs = {"refresh": Recording(provider), "main": Recording(provider)}
        told = None if args.control else (lambda: clock.now)  # --control: no refresh in either arm
        prefillers = {"refresh": Prefiller(provider, now=told, sleep=clock.sleep),
                      "main": Prefiller(provider, now=None)}
        services = {
            name: LlamaService(
                provider=recs[name], info=Info, system_prompt=DEFAULT_SYSTEM_PROMPT, settings=config.settings,
                context_size=config.context_size, history=HistoryStore(max_turns=config.max_history_turns),
                max_sentences=config.max_sentences, now=lambda: clock.now, prefiller=prefillers[name],
            )
            for name in recs
        }
        try:
            async with served(services) as servers:
                for rnd in range(args.rounds):
                    for i, question in enumerate(QUESTIONS):
                        order = ("refresh", "main") if (i + rnd) % 2 == 0 else ("main", "refresh")
                        for name in order:
                            first = await first_chunk(servers[name], question, f"{name}-{rnd}", 120)
                            stats = recs[name].stats[-1]
                            rows.append({
                                "round": rnd, "i": i, "arm": name, "question": question, "clock": needs_clock(question),
                                "uncached": (stats.prompt_tokens or 0) - (stats.cached_tokens or 0),
                                "prompt_ms": stats.prompt_ms, "first_chunk_s": round(first, 4),
                                "reply": services[name].history.turns(f"{name}-{rnd}")[-1].assistant,
                                "load": os.getloadavg()[0],
                            })
                            await prefillers[name].wait()
                        await clock.minute_passes(args.gap)
                        await asyncio.sleep(0)  # the released refresh starts its evaluation
                        await prefillers["refresh"].wait()
        finally:
            for prefiller in prefillers.values():
                await prefiller.aclose()
    print(f"load after {os.getloadavg()}")
    later = [r for r in rows if int(r["i"]) > 0]  # type: ignore[call-overload]  # the first: no reply before it
    for subset, label in ((lambda r: r["clock"], "clock questions"), (lambda r: not r["clock"], "other questions")):
        for name in ("refresh", "main"):
            sel = [r for r in later if r["arm"] == name and subset(r)]
            if not sel:
                continue
            unc = [int(r["uncached"]) for r in sel]  # type: ignore[call-overload]
            pms = [float(r["prompt_ms"]) for r in sel if r["prompt_ms"] is not None]  # type: ignore[arg-type]
            fc = [float(r["first_chunk_s"]) * 1000 for r in sel]  # type: ignore[arg-type]
            print(f"{label:16s} {name:8s} n={len(sel):2d} uncached p50 {np.median(unc):.0f} (max {max(unc)}) "
                  f"prompt eval ms p50 {np.median(pms):.0f} / p95 {np.percentile(pms, 95):.0f}  "
                  f"first chunk ms p50 {np.median(fc):.0f} / p95 {np.percentile(fc, 95):.0f}")
        pairs = [(a, b) for a in later for b in later if a["arm"] == "refresh" and b["arm"] == "main"
                 and a["round"] == b["round"] and a["i"] == b["i"] and subset(a)]
        if pairs:
            diff = [float(a["first_chunk_s"]) - float(b["first_chunk_s"]) for a, b in pairs]  # type: ignore[arg-type]
            print(f"{label:16s} paired first chunk refresh - main: p50 {np.median(diff) * 1000:+.0f} ms, "
                  f"refresh faster in {sum(d < 0 for d in diff)}/{len(diff)}")
    same = sum(a["reply"] == b["reply"] for a in rows for b in rows if a["arm"] == "refresh" and b["arm"] == "main"
               and a["round"] == b["round"] and a["i"] == b["i"])
    print(f"same replies: {same}/{len(rows) // 2}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"gap": args.gap, "control": args.control, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
