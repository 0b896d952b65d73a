"""Two satellites at once: one user's request to whisper while llama-server writes another's reply,
with llama-server at nice 0, 5 or 10 (``wyoming_llama --nice``), and with no reply (idle): offline.

One real ``wyoming_whisper`` (as ``serve`` runs it: defaults) and one real ``wyoming_llama`` per
nice (defaults but ``--max-tokens 400 --max-sentences 0``, so the reply outlasts the request; its
own llama-server) on loopback, every server at nice 0 whatever this harness runs at (run the
harness itself under ``nice -n 10``). A trial in a cell ``nice N``: a question goes to that
``wyoming_llama`` in a new conversation; once its first ``handled-chunk`` is in and ``--lead`` s
more (the reply being written), a request (a Piper clip of a home command, ``bench.whisper_bench``) is streamed to
whisper in real time and ended with ``audio-stop``; the reply is dropped once the transcript is in.
Per trial: ``audio-stop`` -> ``transcript`` (s), from whisper's own log line (its CLOCK_MONOTONIC
``mono=``; a harness at nice 10 may read late) and as the harness read it; whether the reply was
still being written when the transcript came (else the trial did not overlap); the reply's chunks
per second while the request was streamed and decoded (what the LLM gives up) and before. The cells
rotate per round, so the box's own load falls on all alike.

    nice -n 10 .venv/bin/python bench/llama_nice_whisper_bench.py [--rounds 12] [--out F.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
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

from bench.whisper_bench import Clip, make_clips, word_edits  # noqa: E402
from orchestrator.services import Connection  # noqa: E402
from voice_runtime.procs import ServiceProcess, start_service  # noqa: E402
from voice_runtime.tasks import cancel_and_wait  # noqa: E402

NICES = (0, 5, 10)
LONG_QUESTIONS = [
    "Tell me a long story about a dragon who learns to cook.",
    "Explain in detail how a steam engine works.",
    "Describe the history of the Roman Empire.",
    "Tell me everything you know about the ocean.",
    "Write a long poem about the autumn forest.",
    "Explain how the internet works, step by step.",
]
_MONO = re.compile(r"transcript=.* mono=([0-9.]+)")
CHUNK_SAMPLES = 1024


def at_nice_zero(module: str) -> list[str]:
    """The command that runs ``python -m module`` at nice 0 from a harness at nice N (root only)."""
    return ["nice", "-n", str(-os.nice(0)), sys.executable, "-m", module]


class Reply:
    """A reply being written: the times its chunks came, read in the background."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.times: list[float] = []
        self.done_at: float | None = None
        self.first = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            event = await self.conn.recv(120)
            if HandledChunk.is_type(event.type):
                self.times.append(time.monotonic())
                self.first.set()
            elif Handled.is_type(event.type) or NotHandled.is_type(event.type):
                self.done_at = time.monotonic()
                self.first.set()
                return

    def pace(self, start: float, end: float) -> float:
        """Chunks per second between ``start`` and ``end``."""
        return sum(start <= t < end for t in self.times) / (end - start) if end > start else 0.0

    async def close(self) -> None:
        await cancel_and_wait(self.task)
        await self.conn.close()


async def request(whisper: ServiceProcess, clip: Clip) -> tuple[float, float, str]:
    """Stream ``clip`` in real time; audio-stop -> transcript by whisper's log and as read here."""
    conn = await Connection.open(whisper.uri)
    try:
        await conn.send(Transcribe(language="en").event())
        await conn.send(AudioStart(rate=16000, width=2, channels=1).event())
        begin, step = time.monotonic(), CHUNK_SAMPLES * 2
        for i in range(0, len(clip.pcm), step):
            await conn.send(AudioChunk(rate=16000, width=2, channels=1, audio=clip.pcm[i : i + step]).event())
            await asyncio.sleep(max(0.0, begin + (i + step) / 32000 - time.monotonic()))
        logged = sum("transcript=" in line for line in whisper.log)
        sent = time.monotonic()
        await conn.send(AudioStop().event())
        while not Transcript.is_type((event := await conn.recv(120)).type):
            pass
        read = time.monotonic() - sent
        text = Transcript.from_event(event).text
    finally:
        await conn.close()
    await whisper.wait_log("transcript=", logged + 1, timeout=30)
    mono = [float(m.group(1)) for line in whisper.log if (m := _MONO.search(line))]
    return mono[-1] - sent, read, text


async def trial(cell: str, llamas: dict[str, ServiceProcess], whisper: ServiceProcess, clip: Clip, *,
                question: str, cid: str, lead: float) -> dict[str, Any]:
    reply = None
    if cell != "idle":
        conn = await Connection.open(llamas[cell].uri)
        await conn.send(Transcript(text=question, context={"conversation_id": cid}).event())
        reply = Reply(conn)
        await asyncio.wait_for(reply.first.wait(), 120)
        await asyncio.sleep(lead)  # the reply written alone for a while: its pace before the request
    try:
        began = time.monotonic()
        server_s, read_s, text = await request(whisper, clip)
        ended = time.monotonic()
    finally:
        if reply is not None:
            await reply.close()
    row: dict[str, Any] = {"cell": cell, "stt_s": round(server_s, 3), "stt_read_s": round(read_s, 3),
                           "text": text, "edits": word_edits(clip.text, text), "load": os.getloadavg()[0]}
    if reply is not None:
        row["overlapped"] = reply.done_at is None or reply.done_at > ended
        row["llm_chunks_per_s_during"] = round(reply.pace(began, ended), 1)
        row["llm_chunks_per_s_before"] = round(reply.pace(reply.times[0], began), 1) if reply.times else 0.0
        row["llm_chunks"] = len(reply.times)
    return row


def summarise(rows: list[dict[str, Any]], cells: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cell in cells:
        mine = [r for r in rows if r["cell"] == cell]
        valid = [r for r in mine if r.get("overlapped", True)]
        stt = [r["stt_s"] for r in valid]
        out[cell] = {"n": len(valid), "trials": len(mine),
                     "stt_p50_s": round(float(np.median(stt)), 3) if stt else None,
                     "stt_p95_s": round(float(np.percentile(stt, 95)), 3) if stt else None,
                     "stt_max_s": max(stt, default=None),
                     "stt_read_p50_s": round(float(np.median([r["stt_read_s"] for r in valid])), 3) if valid else None,
                     "word_edits": sum(r["edits"] for r in valid),
                     "load_p50": round(float(np.median([r["load"] for r in mine])), 2)}
        if cell != "idle" and valid:
            out[cell]["llm_chunks_per_s_during_p50"] = float(np.median([r["llm_chunks_per_s_during"] for r in valid]))
            out[cell]["llm_chunks_per_s_before_p50"] = float(np.median([r["llm_chunks_per_s_before"] for r in valid]))
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    load = [os.getloadavg()[0]]
    clips = make_clips()
    nices = [int(n) for n in args.nices.split(",")]
    cells = ["idle", *(f"nice{n}" for n in nices)]
    whisper = await start_service("wyoming_whisper", command=at_nice_zero("wyoming_whisper"))
    llamas: dict[str, ServiceProcess] = {}
    rows: list[dict[str, Any]] = []
    try:
        for n in nices:
            llamas[f"nice{n}"] = await start_service(
                "wyoming_llama", "--nice", str(n), "--max-tokens", str(args.max_tokens), "--max-sentences", "0",
                command=at_nice_zero("wyoming_llama"))
        for name, llama in llamas.items():  # warm: the system prompt evaluated, the first ask's costs paid
            conn = await Connection.open(llama.uri)
            warm = Reply(conn)
            await conn.send(Transcript(text="Hello.", context={"conversation_id": f"warm-{name}"}).event())
            await asyncio.wait_for(warm.task, 120)
            await warm.close()
        await request(whisper, clips[0])  # whisper warm
        for r in range(args.rounds):
            shift = r % len(cells)
            for k, cell in enumerate(cells[shift:] + cells[:shift]):
                clip = clips[(r + k) % len(clips)]
                question = LONG_QUESTIONS[(r + k) % len(LONG_QUESTIONS)]
                row = await trial(cell, llamas, whisper, clip, question=question, cid=f"r{r}{cell}",
                                  lead=args.lead)
                rows.append({"round": r, **row})
                await asyncio.sleep(args.settle)  # llama-server's slot released; the box back to its own load
            load.append(os.getloadavg()[0])
            print(r, [(x["cell"], x["stt_s"], x.get("overlapped")) for x in rows[-len(cells):]], flush=True)
    finally:
        for llama in llamas.values():
            await llama.stop()
        await whisper.stop()
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "harness_nice": os.nice(0),
            "load": [round(min(load), 2), round(max(load), 2)], "max_tokens": args.max_tokens,
            "summary": summarise(rows, cells), "rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=12, help="trials per cell")
    parser.add_argument("--nices", default=",".join(map(str, NICES)), help="llama-server nice levels, comma-separated")
    parser.add_argument("--lead", type=float, default=1.0,
                        help="seconds the reply is written alone before the request starts")
    parser.add_argument("--max-tokens", type=int, default=400,
                        help="the reply's length in tokens (long: it outlasts the request)")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds between trials")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps({"load": result["load"], "summary": result["summary"]}))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
