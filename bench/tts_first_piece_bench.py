"""LLM turns: the LLM's first chunk -> the first TTS audio, with the TTS server's first piece cut
before its verb (``--first-subject-words 4``, the default) or not (``0``, the splitter before
session 17), paired on the same replies.

Our real ``wyoming_llama`` (default model and settings, as ``serve`` runs it) answers each
question once, in a new conversation; its ``handled-chunk``s are recorded with the time each came.
Each reply then goes through the orchestrator's honesty guard (:class:`ClaimGuard`) and is replayed
at the recorded pace into two ``wyoming_kokoro --provider piper`` servers (one per setting), the
order alternating per question: the first audio-chunk's time from the first chunk sent, and the
first piece's text (the server's own :class:`SentenceSplitter` on the same text).

``--pace-ms N``: the LLM's chunks are replayed one every N ms instead of at the recorded pace. On a
busy box llama-server's threads stall for seconds between tokens (2026-12-03, load 4-5: 2.8 s to
the second word), which hides the TTS's own time; in the lead's quiet room runs a reply streamed
at 6-18 ms a chunk (80 chunks in 488 ms, 21 in 369 ms).

Real time: run it under ``flock /tmp/hearth-rt.lock`` and note the load it prints.

    flock /tmp/hearth-rt.lock .venv/bin/python bench/tts_first_piece_bench.py [--out FILE.json]
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
from wyoming.asr import Transcript
from wyoming.audio import AudioChunk
from wyoming.handle import Handled, HandledChunk, NotHandled
from wyoming.tts import SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.guard_latency_bench import QUESTIONS as GUARD_QUESTIONS  # noqa: E402
from orchestrator.honesty import ClaimGuard  # noqa: E402
from orchestrator.intents import NO_HOME_REPLY  # noqa: E402
from orchestrator.services import Connection  # noqa: E402
from voice_runtime.procs import start_service  # noqa: E402
from wyoming_kokoro.text import SentenceSplitter  # noqa: E402

QUESTIONS = [  # the guard bench's twelve, then more
    *GUARD_QUESTIONS,
    "What time does the store close?",
    "What kind of historic clothes?", "Good morning.", "How long does it take to boil an egg?",
    "Where is the nearest pharmacy?", "Tell me a joke.", "What should I cook for dinner?",
    "How do I make pancakes?", "What is the weather like on Mars?", "Who was the first person on the moon?",
    "What is photosynthesis?", "How many days are in a leap year?", "What is the speed of light?",
    "Recommend a good book.", "What is the capital of France?", "What is the biggest ocean?",
]
SETTINGS = {"before-verb": 4, "off": 0}  # --first-subject-words


async def record(llama: str, question: str, cid: str) -> list[tuple[float, str]]:
    """The reply's chunks as the guard lets them through, each with its time from the first chunk."""
    guard, conn = ClaimGuard(NO_HOME_REPLY), await Connection.open(llama)
    out: list[tuple[float, str]] = []
    first: float | None = None
    try:
        await conn.send(Transcript(text=question, context={"conversation_id": cid}).event())
        while True:
            event = await conn.recv(120)
            now = time.monotonic()
            first = first if first is not None else now
            if HandledChunk.is_type(event.type):
                text = guard.feed(HandledChunk.from_event(event).text or "")
            elif Handled.is_type(event.type) or NotHandled.is_type(event.type):
                text = guard.flush()
            else:
                continue
            out.append((now - first, text))
            if not HandledChunk.is_type(event.type):
                return out
    finally:
        await conn.close()


def paced(chunks: list[tuple[float, str]], pace_ms: float | None) -> list[tuple[float, str]]:
    return chunks if pace_ms is None else [(i * pace_ms / 1000, text) for i, (_, text) in enumerate(chunks)]


async def replay(tts: str, chunks: list[tuple[float, str]]) -> float:
    """Seconds from the first chunk sent to the first audio-chunk back."""
    conn = await Connection.open(tts)
    try:
        await conn.send(SynthesizeStart().event())
        t0 = time.monotonic()

        async def send() -> None:
            for at, text in chunks:
                if (delay := t0 + at - time.monotonic()) > 0:
                    await asyncio.sleep(delay)
                if text:
                    await conn.send(SynthesizeChunk(text=text).event())
            await conn.send(SynthesizeStop().event())

        sender = asyncio.create_task(send())  # the audio is read while the text still goes out
        first: float | None = None
        try:
            while True:
                event = await conn.recv(120)
                if AudioChunk.is_type(event.type) and first is None:
                    first = time.monotonic() - t0
                if SynthesizeStopped.is_type(event.type):
                    break
        finally:
            await sender
        assert first is not None, "no audio"
        return first
    finally:
        await conn.close()


def first_piece(text: str, words: int) -> str:
    splitter = SentenceSplitter(first_subject_words=words)
    return (splitter.feed(text) + splitter.finish() + [""])[0]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    load = [os.getloadavg()[0]]
    llama = await start_service("wyoming_llama")
    servers = {}
    try:
        for name, words in SETTINGS.items():
            servers[name] = await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper",
                                                "--first-subject-words", str(words))
        replies = [paced(await record(llama.uri, q, f"q{i}"), args.pace_ms)
                   for i, q in enumerate(QUESTIONS[: args.questions])]
        await llama.stop()
        for server in servers.values():  # the voice warm
            await replay(server.uri, [(0.0, "Hello there.")])
        rows: list[dict[str, Any]] = []
        for i, (question, chunks) in enumerate(zip(QUESTIONS, replies, strict=False)):
            text = "".join(t for _, t in chunks)
            row: dict[str, Any] = {"question": question, "reply": text}
            for name in list(SETTINGS)[:: 1 if i % 2 == 0 else -1]:
                row[name] = round(await replay(servers[name].uri, chunks), 3)
                row[f"{name}_piece"] = first_piece(text, SETTINGS[name])
            rows.append(row)
            load.append(os.getloadavg()[0])
            print(f"{row['before-verb']:.3f} {row['off']:.3f}  {row['before-verb_piece']!r} / {row['off_piece']!r}",
                  flush=True)
    finally:
        await llama.stop()
        for server in servers.values():
            await server.stop()
    summary: dict[str, Any] = {"n": len(rows), "load": [min(load), max(load)], "pace_ms": args.pace_ms}
    for name in SETTINGS:
        vals = [r[name] for r in rows]
        summary[name] = {"p50_s": round(float(np.percentile(vals, 50)), 3),
                         "p95_s": round(float(np.percentile(vals, 95)), 3), "mean_s": round(float(np.mean(vals)), 3)}
    changed = [r for r in rows if r["before-verb_piece"] != r["off_piece"]]
    diffs = [r["off"] - r["before-verb"] for r in changed]
    saved = round(float(np.percentile(diffs, 50)), 3) if diffs else None
    summary["changed"] = {"n": len(changed), "saved_p50_s": saved,
                          "saved_min_s": min(diffs, default=None), "saved_max_s": max(diffs, default=None)}
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "summary": summary, "rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument("--pace-ms", type=float, help="replay the chunks one every N ms (default: as recorded)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result["summary"]))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
