"""Is flash attention's change of the replies more than the replies' own noise? And what does it save?

Each arm is a fresh llama-server started as ``wyoming_llama`` starts it (its default flags,
``make_config(parse_args([]))``, only ``--flash-attn`` set or not: ``auto`` = llama-server's own choice, on
for this CPU, main's before session 30; ``off``, this tree's default on a CPU since; ``default``: this
tree's default, none given), its slots warmed with the system prompt. Two conversations
(``a``, ``b``: two slots) get the room corpus's LLM questions in turn, through real ``LlamaService`` +
``LlamaHandler`` on loopback with the default settings (temperature 0, 3 sentences, the post-reply
prefill and its refresh on), one clock for both (a fixed minute). Arms run in the order given
(``--arms auto off auto off``: each setting twice, each on a fresh server), so three
comparisons come from one run:

* the same setting on two fresh servers, same conversation (``a`` vs ``a``): is llama.cpp's greedy
  reply reproducible at all;
* the same server, two conversations (``a`` vs ``b``: another slot, another place in the KV cache), which
  is what happens in the room whenever a satellite's conversation takes another slot;
* ``auto`` vs ``off``, same conversation.

Per reply: llama-server's uncached prompt tokens and prompt evaluation, the client's transcript -> first
``handled-chunk``, the time of the first ``--piece-words`` words (the first TTS piece's text, about), and
the reply's tokens and writing time.

With ``--facts``: ``bench/answers_bench.py``'s 32 factual questions instead, each a new conversation,
right answers per arm (its ``correct``).

    .venv/bin/python bench/llm_fa_noise_bench.py [--arms auto off auto off] [--out FILE.json]
    .venv/bin/python bench/llm_fa_noise_bench.py --facts --arms auto off [--out FILE.json]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import time
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from wyoming.asr import Transcript
from wyoming.handle import HandledChunk
from wyoming.info import Info

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers import connected

from bench.answers_bench import FACTUAL, correct
from bench.llama_common import Recording, served, warmed_llama
from bench.llm_clock_refresh_bench import QUESTIONS
from voice_runtime.server import WyomingServer
from wyoming_llama.__main__ import make_config, parse_args
from wyoming_llama.config import DEFAULT_SYSTEM_PROMPT
from wyoming_llama.handler import LlamaService
from wyoming_llama.history import HistoryStore
from wyoming_llama.prefill import Prefiller

NOW = dt.datetime(2026, 12, 5, 9, 14, 20)
CONVERSATIONS = ("a", "b")


async def ask(server: WyomingServer, question: str, conversation: str, words: int) -> dict[str, float]:
    """Client seconds from the transcript to the first chunk, to ``words`` words, to the reply's end."""
    async with connected(server.port or 0) as client:
        started = time.monotonic()
        await client.send(Transcript(text=question, context={"conversation_id": conversation}))
        first = piece = None
        text = ""
        while (event := await client.recv(120)) is not None and event.type != "handled-stop":
            if event.type != "handled-chunk":
                continue
            now = time.monotonic() - started
            first = now if first is None else first
            text += HandledChunk.from_event(event).text
            if piece is None and len(text.split()) > words:  # the piece's last word is whole
                piece = now
        done = time.monotonic() - started
    assert first is not None
    return {"first_chunk_s": first, "piece_s": piece if piece is not None else done, "done_s": done}


async def run_arm(flash: str, rnd: int, words: int) -> list[dict[str, Any]]:
    config = make_config(parse_args([] if flash == "default" else ["--flash-attn", flash]))
    assert config.llama is not None
    rows: list[dict[str, Any]] = []
    async with warmed_llama(config.llama) as (provider, _):
        rec = Recording(provider)
        prefiller = Prefiller(provider, now=lambda: NOW)
        service = LlamaService(
            provider=rec, info=Info, system_prompt=DEFAULT_SYSTEM_PROMPT, settings=config.settings,
            context_size=config.context_size, history=HistoryStore(max_turns=config.max_history_turns),
            max_sentences=config.max_sentences, now=lambda: NOW, prefiller=prefiller,
        )
        try:
            async with served({"s": service}) as servers:
                for i, question in enumerate(QUESTIONS):
                    for conv in CONVERSATIONS:
                        times = await ask(servers["s"], question, conv, words)
                        stats = rec.stats[-1]
                        rows.append({
                            "flash": flash, "round": rnd, "i": i, "conv": conv, "question": question,
                            "context": stats.prompt_tokens,
                            "uncached": (stats.prompt_tokens or 0) - (stats.cached_tokens or 0),
                            "prompt_ms": stats.prompt_ms, "tokens": stats.completion_tokens,
                            **{k: round(v, 4) for k, v in times.items()},
                            "reply": service.history.turns(conv)[-1].assistant, "load": os.getloadavg()[0],
                        })
                        await prefiller.wait()
        finally:
            await prefiller.aclose()
    return rows


def p(values: list[float]) -> str:
    return f"{np.median(values):.0f} / {np.percentile(values, 95):.0f}" if values else "-"


def report(rows: list[dict[str, Any]]) -> None:
    runs = sorted({(r["flash"], r["round"]) for r in rows}, key=lambda k: k[1])
    for flash, rnd in runs:
        sel = [r for r in rows if r["flash"] == flash and r["round"] == rnd and r["i"] > 0]
        pms = [r["prompt_ms"] / r["uncached"] for r in sel if r["prompt_ms"] and r["uncached"]]
        gen = [(r["done_s"] - r["first_chunk_s"]) * 1000 / (r["tokens"] - 1) for r in sel if (r["tokens"] or 0) > 1]
        print(f"run {rnd} flash={flash:4s} n={len(sel)} first chunk ms {p([r['first_chunk_s'] * 1000 for r in sel])}"
              f"  first piece ms {p([r['piece_s'] * 1000 for r in sel])}  prompt ms/token {p(pms)}"
              f"  writing ms/token {p(gen)}  load {sel[0]['load']:.1f}-{sel[-1]['load']:.1f}")
    key = {(r["flash"], r["round"], r["conv"], r["i"]): r["reply"] for r in rows}
    for (f1, r1), (f2, r2) in combinations(runs, 2):
        for conv in CONVERSATIONS:
            same = [key[(f1, r1, conv, i)] == key[(f2, r2, conv, i)] for i in range(len(QUESTIONS))]
            print(f"same replies, conversation {conv}: run {r1} {f1} vs run {r2} {f2}: {sum(same)}/{len(same)}")
    for flash, rnd in runs:
        same = [key[(flash, rnd, "a", i)] == key[(flash, rnd, "b", i)] for i in range(len(QUESTIONS))]
        print(f"same replies, run {rnd} {flash}: conversation a vs b (two slots): {sum(same)}/{len(same)}")


async def run_facts(flash: str) -> list[dict[str, Any]]:
    """``bench/answers_bench.py``'s 32 factual questions, each a new conversation, through the service."""
    config = make_config(parse_args([] if flash == "default" else ["--flash-attn", flash]))
    assert config.llama is not None
    rows: list[dict[str, Any]] = []
    async with warmed_llama(config.llama) as (provider, _):
        service = LlamaService(
            provider=provider, info=Info, system_prompt=DEFAULT_SYSTEM_PROMPT, settings=config.settings,
            context_size=config.context_size, history=HistoryStore(max_turns=config.max_history_turns),
            max_sentences=config.max_sentences, now=lambda: NOW,
        )
        async with served({"s": service}) as servers:
            for i, (question, accepted) in enumerate(FACTUAL):
                await ask(servers["s"], question, f"fact-{i}", 1)
                reply = service.history.turns(f"fact-{i}")[-1].assistant
                rows.append({"flash": flash, "i": i, "question": question, "reply": reply,
                             "correct": correct(reply, accepted)})
    return rows


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arms", nargs="+", default=["auto", "off", "auto", "off"],
                        choices=("default", "auto", "on", "off"), help="default: no --flash-attn (this tree's)")
    parser.add_argument("--piece-words", type=int, default=4, help="words of the first piece timed (default 4)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--report", type=Path, help="only print the report of an earlier --out")
    parser.add_argument("--facts", action="store_true",
                        help="instead: bench/answers_bench.py's factual questions, right answers per arm")
    args = parser.parse_args()
    if args.facts:
        facts = [row for flash in args.arms for row in await run_facts(flash)]
        for flash in dict.fromkeys(args.arms):
            print(f"flash={flash}: right {sum(r['correct'] for r in facts if r['flash'] == flash)}/{len(FACTUAL)}")
        differ = [a for a in facts for b in facts if a["flash"] == args.arms[0] and b["flash"] == args.arms[1]
                  and a["i"] == b["i"] and a["reply"] != b["reply"]]
        print(f"replies that differ between {args.arms[0]} and {args.arms[1]}: {len(differ)}/{len(FACTUAL)}")
        if args.out:
            args.out.write_text(json.dumps({"arms": args.arms, "facts": facts}, indent=1))
        return 0
    if args.report:
        report(json.loads(args.report.read_text())["rows"])
        return 0
    rows: list[dict[str, Any]] = []
    print(f"load before {os.getloadavg()}", flush=True)
    for rnd, flash in enumerate(args.arms):
        rows += await run_arm(flash, rnd, args.piece_words)
        print(f"run {rnd} flash={flash} done, load {os.getloadavg()[0]:.1f}", flush=True)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"arms": args.arms, "rows": rows}, indent=1))
    report(rows)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
