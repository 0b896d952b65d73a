"""The LLM's first chunk and its pace with llama-server at nice 10 (``wyoming_llama``'s default until session 19) or
nice 0, while whisper decodes in parallel or not: paired, offline.

Two real ``wyoming_llama`` services (default model and settings, ``--nice 10`` and ``--nice 0``,
each its own llama-server) and one real ``wyoming_whisper`` (default model) on loopback. Each
question is asked in a new conversation of each service, in both conditions: ``idle`` (nothing
else of ours runs) and ``whisper`` (a client sends whisper a 5.5 s Piper clip again and again as
fast as it decodes it: another satellite's turn, or the streaming decodes of a user still
talking). The four orders rotate per question, so the box's own load (here: other people's work,
mostly at nice 10) falls on all alike. Per ask: transcript -> first ``handled-chunk`` (s), the
chunks after it per second, and the longest wait between two chunks (a stall).

Run it at nice 0 (whisper inherits it, as ``serve`` runs it) under the real-time lock:

    flock /tmp/hearth-rt.lock .venv/bin/python bench/llama_nice_bench.py [--rounds 2] [--out F.json]
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
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.handle import Handled, HandledChunk, NotHandled

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.llama_prefill_bench import QUESTIONS  # noqa: E402
from bench.whisper_bench import make_clips  # noqa: E402
from orchestrator.services import Connection  # noqa: E402
from voice_runtime.procs import start_service  # noqa: E402
from voice_runtime.tasks import cancel_and_wait  # noqa: E402

NICES = (10, 0)
CONDITIONS = ("idle", "whisper")


async def ask(uri: str, question: str, cid: str) -> dict[str, float]:
    """First chunk (s from the transcript sent), chunks per second after it, the longest gap (s)."""
    conn = await Connection.open(uri)
    times: list[float] = []
    try:
        t0 = time.monotonic()
        await conn.send(Transcript(text=question, context={"conversation_id": cid}).event())
        while True:
            event = await conn.recv(120)
            if HandledChunk.is_type(event.type):
                times.append(time.monotonic() - t0)
            elif Handled.is_type(event.type) or NotHandled.is_type(event.type):
                break
    finally:
        await conn.close()
    gaps = np.diff(times) if len(times) > 1 else np.zeros(1)
    pace = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
    return {"first_s": round(times[0], 3) if times else float("nan"), "chunks": len(times),
            "chunks_per_s": round(pace, 1), "max_gap_s": round(float(gaps.max()), 3)}


async def whisper_loop(uri: str, pcm: bytes, decodes: list[float]) -> None:
    """Decode ``pcm`` again and again (sent at once, as a finished turn's audio is) until cancelled."""
    while True:
        conn = await Connection.open(uri)
        try:
            began = time.monotonic()
            await conn.send(Transcribe(language="en").event())
            await conn.send(AudioStart(rate=16000, width=2, channels=1).event())
            for i in range(0, len(pcm), 2048):
                await conn.send(AudioChunk(rate=16000, width=2, channels=1, audio=pcm[i : i + 2048]).event())
            await conn.send(AudioStop().event())
            while not Transcript.is_type((await conn.recv(120)).type):
                pass
            decodes.append(time.monotonic() - began)
        finally:
            await conn.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    load = [os.getloadavg()[0]]
    pcm = b"".join(clip.pcm for clip in make_clips()[:3])
    whisper = await start_service("wyoming_whisper")
    llamas = {nice: await start_service("wyoming_llama", "--nice", str(nice)) for nice in NICES}
    decodes: list[float] = []
    rows: list[dict[str, Any]] = []
    try:
        for nice, llama in llamas.items():  # warm: the system prompt cached, the first ask's costs paid
            await ask(llama.uri, "Hello.", f"warm{nice}")
        orders = [(n, c) for c in CONDITIONS for n in NICES]
        for r in range(args.rounds):
            for q, question in enumerate(QUESTIONS[: args.questions]):
                shift = (q + r) % len(orders)
                for nice, condition in orders[shift:] + orders[:shift]:
                    loop = None
                    if condition == "whisper":
                        loop = asyncio.create_task(whisper_loop(whisper.uri, pcm, decodes))
                        await asyncio.sleep(0.3)  # the decode under way
                    try:
                        row = await ask(llamas[nice].uri, question, f"r{r}q{q}n{nice}{condition}")
                    finally:
                        await cancel_and_wait(loop)
                    rows.append({"round": r, "question": question, "nice": nice, "condition": condition, **row})
                load.append(os.getloadavg()[0])
                print(rows[-4:], flush=True)
    finally:
        for llama in llamas.values():
            await llama.stop()
        await whisper.stop()
    summary: dict[str, Any] = {"n_per_cell": len(rows) // 4, "load": [round(min(load), 2), round(max(load), 2)],
                               "whisper_decode_s_p50": round(float(np.median(decodes)), 3) if decodes else None,
                               "clip_s": round(len(pcm) / 32000, 2)}
    for condition in CONDITIONS:
        for nice in NICES:
            cell = [r for r in rows if r["nice"] == nice and r["condition"] == condition]
            first = [r["first_s"] for r in cell]
            summary[f"{condition}_nice{nice}"] = {
                "first_p50_s": round(float(np.percentile(first, 50)), 3),
                "first_p95_s": round(float(np.percentile(first, 95)), 3),
                "chunks_per_s_p50": round(float(np.median([r["chunks_per_s"] for r in cell])), 1),
                "max_gap_p50_s": round(float(np.median([r["max_gap_s"] for r in cell])), 3),
                "max_gap_max_s": max(r["max_gap_s"] for r in cell),
            }
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "summary": summary, "rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result["summary"]))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
