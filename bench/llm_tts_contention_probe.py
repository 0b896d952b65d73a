"""LLM turns offline: does the LLM's stream slow the TTS's first piece down on 2 cores?

In an LLM turn the TTS synthesises the reply's first piece while llama-server goes on streaming the rest
of the reply (one thread on this box): both want a core. Per round, for each first piece (``PIECES``, the
held split's replies as recorded in session 26) and each arm, in rotated order, the time from a
``synthesize`` to the first audio chunk of a real ``wyoming_kokoro`` (``--provider piper``, no audio
cache) server with ``--piper-threads`` 1 (or 2: ``--two-threads``), either alone (the LLM idle) or started
once a real ``wyoming_llama`` (``--max-sentences 1``, as in the room) has streamed ``--after`` chunks of a
reply to one of the room's questions (so it is still generating while Piper works, as in a room turn);
arm ``p1_llm_nice``: the same with llama-server's threads at ``--nice`` while Piper works (back to 0 after);
arm ``p1_llm_tail`` (``--tail-nice``): a second ``wyoming_llama`` with its own tail priority on (the
other arms' has ``--tail-nice 0``).

    .venv/bin/python bench/llm_tts_contention_probe.py --rounds 3 --out /tmp/contention.json

Session 26 (llm): where first token -> first TTS audio goes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from wyoming.asr import Transcript
from wyoming.handle import Handled, HandledChunk, NotHandled

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.llm_first_piece_probe import pct, synth_first_audio  # noqa: E402
from orchestrator.services import Connection  # noqa: E402
from voice_runtime.procs import start_service  # noqa: E402

# First pieces of the held split's LLM replies (bench/llm_first_piece_probe.py --ask, 16:23 UTC).
PIECES = [
    "The tallest mountain in the world,", "The next song of my playlist,", "To boil an egg,",
    "To step with a thermostat 2,", "The nearest pharmacy is in a hospital.", "Mars is,",
    "You can walk the front door,", "The store closes at 4:24 PM.", "This thought was not supported,",
]
QUESTIONS = [
    "What is the tallest mountain in the world?", "How long does it take to boil an egg?",
    "Where is the nearest pharmacy?", "How far away is Mars?", "Who wrote Romeo and Juliet?",
    "Why is the sky blue?", "What is photosynthesis?", "How do I make pancakes?", "What is the biggest ocean?",
]


async def stream_reply(uri: str, question: str, after: int, started: asyncio.Event) -> tuple[int, float]:
    """Ask ``question``; set ``started`` once ``after`` chunks came; returns (chunks, seconds)."""
    conn = await Connection.open(uri)
    count = 0
    sent = time.monotonic()
    try:
        await conn.send(Transcript(text=question, context={"conversation_id": f"c{time.monotonic()}"}).event())
        while True:
            event = await conn.recv(120)
            if HandledChunk.is_type(event.type):
                count += 1
                if count >= after:
                    started.set()
            elif Handled.is_type(event.type) or NotHandled.is_type(event.type):
                break
    finally:
        started.set()
        await conn.close()
    return count, time.monotonic() - sent


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def renice(pid: int, nice: int) -> None:
    """Every thread of ``pid`` to ``nice`` (Linux: a thread id is a PRIO_PROCESS target)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.setpriority(os.PRIO_PROCESS, int(task.name), nice)


async def one(tts_uri: str, llama_uri: str | None, piece: str, question: str, *, after: int,
              niced: tuple[int, int] | None = None) -> dict[str, Any]:
    if llama_uri is None:
        return {"synth_s": round(await synth_first_audio(tts_uri, piece), 4)}
    started = asyncio.Event()
    reply = asyncio.create_task(stream_reply(llama_uri, question, after, started))
    await started.wait()
    if niced is not None:
        renice(*niced)
    try:
        synth = await synth_first_audio(tts_uri, piece)
    finally:
        if niced is not None:
            renice(niced[0], 0)
    still = not reply.done()
    chunks, took = await reply
    return {"synth_s": round(synth, 4), "llm_chunks": chunks, "llm_s": round(took, 3), "llm_still_running": still}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    llama = await start_service("wyoming_llama", "--max-sentences", "1", "--tail-nice", "0")
    tailed = await start_service("wyoming_llama", "--max-sentences", "1") if args.tail_nice else None
    tts1 = await start_service("wyoming_kokoro", "--provider", "piper", "--cache-mb", "0", "--piper-threads", "1")
    tts2 = await start_service("wyoming_kokoro", "--provider", "piper", "--cache-mb", "0", "--piper-threads", "2")
    server = children(llama.pid)
    assert len(server) == 1, server
    arms: dict[str, tuple[str, str | None, tuple[int, int] | None]] = {
        "p1_alone": (tts1.uri, None, None), "p1_llm": (tts1.uri, llama.uri, None),
        "p1_llm_nice": (tts1.uri, llama.uri, (server[0], args.nice)),
    }
    if tailed is not None:  # the service's own tail priority (--tail-nice 10, priority.py)
        arms["p1_llm_tail"] = (tts1.uri, tailed.uri, None)
    if args.two_threads:
        arms.update({"p2_alone": (tts2.uri, None, None), "p2_llm": (tts2.uri, llama.uri, None)})
    rows: list[dict[str, Any]] = []
    load = [os.getloadavg()[0]]
    try:
        for uri in (tts1.uri, tts2.uri):
            await synth_first_audio(uri, "Hello there.")  # warm
        for rnd in range(args.rounds):
            for k, piece in enumerate(PIECES):
                names = list(arms)
                shift = (rnd + k) % len(names)
                row: dict[str, Any] = {"round": rnd, "piece": piece, "load": round(os.getloadavg()[0], 2)}
                for name in names[shift:] + names[:shift]:
                    tts_uri, llama_uri, niced = arms[name]
                    row[name] = await one(tts_uri, llama_uri, piece, QUESTIONS[k % len(QUESTIONS)], after=args.after,
                                          niced=niced)
                    await asyncio.sleep(args.pause)  # the LLM's prefill after a reply finishes
                rows.append(row)
                load.append(os.getloadavg()[0])
                cells = " ".join(f"{n} {row[n]['synth_s']:.3f}" for n in names)
                print(rnd, cells, repr(piece), row["load"], flush=True)
    finally:
        for service in (tts1, tts2, llama, *([tailed] if tailed else [])):
            await service.stop()
    summary: dict[str, Any] = {"n": len(rows), "load": [round(min(load), 2), round(max(load), 2)]}
    for name in arms:
        values = [r[name]["synth_s"] for r in rows]
        summary[name] = {"p50": pct(values, 0.5), "p95": pct(values, 0.95)}
        if name != "p1_alone":
            diffs = [r[name]["synth_s"] - r["p1_alone"]["synth_s"] for r in rows]
            summary[name]["vs_p1_alone_p50"] = pct(diffs, 0.5)
            summary[name]["slower_in"] = sum(d > 0 for d in diffs)
    running = [r["p1_llm"]["llm_still_running"] for r in rows]
    summary["llm_still_running_after_synth"] = f"{sum(running)} of {len(running)}"
    summary["p1_llm_chunks_p50"] = statistics.median(r["p1_llm"]["llm_chunks"] for r in rows)
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "after": args.after, "summary": summary,
            "rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--after", type=int, default=7, help="LLM chunks before the synthesis starts")
    parser.add_argument("--pause", type=float, default=0.6)
    parser.add_argument("--nice", type=int, default=10, help="llama-server's nice in arm p1_llm_nice while Piper works")
    parser.add_argument("--two-threads", action="store_true", help="also arms with --piper-threads 2")
    parser.add_argument("--tail-nice", action="store_true",
                        help="also arm p1_llm_tail: a second wyoming_llama, its default --tail-nice (others: 0)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result["summary"], indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
