"""LLM turns offline: from the LLM's first token to the TTS's first piece, per first-piece rule.

Records, once, the real ``wyoming_llama`` (defaults, ``--max-sentences 1`` as in the room) answering
the room corpus's LLM questions in one conversation (each reply's ``handled-chunk``s with the time each
came from the transcript sent; the post-reply prefill waited for, as while a reply is spoken). Then,
for each first-piece setting (``SETTINGS``: keyword arguments of
:class:`~wyoming_kokoro.text.SentenceSplitter`), replays every reply's chunks through the orchestrator's
:class:`~orchestrator.honesty.ClaimGuard` and the splitter: how many chunks (tokens) and how much of the
recorded time pass from the first chunk until the first piece is whole, its words, and the time a real
``wyoming_kokoro`` server (``--provider``, no audio cache) takes from that piece's ``synthesize`` to its
first audio chunk (median of ``--synth-runs``). The sum estimates the room's "first token -> first TTS
audio" step per setting; the pieces are listed for a listen.

    .venv/bin/python bench/llm_first_piece_probe.py --replies /tmp/replies.json --out /tmp/probe.json

Session 24 (llm): the room's first token -> first TTS audio step (0.168 s p50 in session 21, 0.239 s in
session 23).
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
from wyoming.audio import AudioChunk
from wyoming.handle import Handled, HandledChunk, NotHandled
from wyoming.tts import Synthesize

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator.honesty import ClaimGuard  # noqa: E402
from orchestrator.intents import NO_HOME_REPLY  # noqa: E402
from orchestrator.services import Connection  # noqa: E402
from voice_runtime.procs import start_service  # noqa: E402
from wyoming_kokoro.text import SentenceSplitter  # noqa: E402

# The held and tune splits' LLM questions (bench/turn_corpus.py), in the corpus's order, then a few more
# of the kinds users ask.
QUESTIONS = [
    "What is the tallest mountain in the world?", "How long does it take to boil an egg?",
    "Where is the nearest pharmacy?", "How far away is Mars?", "What time does the store close?",
    "Read me the news headlines from today.", "Good morning.",
    "How far away is the moon from the earth?", "What is the capital of France?", "Tell me a joke.",
    "Who wrote Romeo and Juliet?", "What should I cook for dinner?", "How do I make pancakes?",
    "What is the speed of light?", "Why is the sky blue?", "How many legs does a spider have?",
    "What is photosynthesis?", "Recommend a good book.", "What is the biggest ocean?",
    "Who was the first person on the moon?",
]
SETTINGS: dict[str, dict[str, int]] = {
    "main": {},
    "max5": {"first_max_words": 5},
    "max4": {"first_max_words": 4},
    "conj3-subj3-max4": {"first_conjunction_words": 3, "first_subject_words": 3, "first_max_words": 4},
}


async def record(uri: str, questions: list[str], pause: float) -> list[dict[str, Any]]:
    """Each question's raw ``handled-chunk`` texts with their times (s) from the transcript sent."""
    out: list[dict[str, Any]] = []
    for question in questions:
        conn = await Connection.open(uri)
        chunks: list[tuple[float, str]] = []
        try:
            sent = time.monotonic()
            await conn.send(Transcript(text=question, context={"conversation_id": "probe"}).event())
            while True:
                event = await conn.recv(120)
                at = round(time.monotonic() - sent, 4)
                if HandledChunk.is_type(event.type):
                    chunks.append((at, HandledChunk.from_event(event).text or ""))
                elif Handled.is_type(event.type) or NotHandled.is_type(event.type):
                    break
        finally:
            await conn.close()
        out.append({"question": question, "chunks": chunks, "load": round(os.getloadavg()[0], 2)})
        print(f"{chunks[0][0] if chunks else -1:.3f}s", repr("".join(t for _, t in chunks)[:80]), flush=True)
        await asyncio.sleep(pause)  # the reply is spoken meanwhile: the prefill runs
    return out


def first_piece(chunks: list[tuple[float, str]], setting: dict[str, int]) -> tuple[int, float, str]:
    """Chunks after the first one, seconds from the first one, and the text of the first piece
    (through the honesty guard and the splitter as in the room)."""
    guard, splitter = ClaimGuard(NO_HOME_REPLY), SentenceSplitter(**setting)
    for i, (at, text) in enumerate(chunks):
        if pieces := splitter.feed(guard.feed(text)):
            return i, at - chunks[0][0], pieces[0]
    pieces = splitter.feed(guard.flush()) + splitter.finish()
    last = len(chunks) - 1
    return last, chunks[last][0] - chunks[0][0], pieces[0] if pieces else ""


async def synth_first_audio(uri: str, text: str) -> float:
    conn = await Connection.open(uri)
    try:
        started = time.monotonic()
        await conn.send(Synthesize(text=text).event())
        while True:
            event = await conn.recv(60)
            if AudioChunk.is_type(event.type):
                return time.monotonic() - started
    finally:
        await conn.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 3)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.replies and args.replies.exists():
        replies = json.loads(args.replies.read_text())
    else:
        llama = await start_service("wyoming_llama", "--max-sentences", "1")
        try:
            questions = json.loads(args.ask.read_text()) if args.ask else QUESTIONS[: args.questions]
            replies = await record(llama.uri, questions, args.pause)
        finally:
            await llama.stop()
        if args.replies:
            args.replies.write_text(json.dumps(replies, indent=1) + "\n")
    tts = await start_service("wyoming_kokoro", "--provider", args.provider, "--cache-mb", "0")
    load = [os.getloadavg()[0]]
    synth: dict[str, float] = {}
    try:
        await synth_first_audio(tts.uri, "Hello there.")  # warm
        rows = []
        for reply in replies:
            chunks = [(float(at), str(text)) for at, text in reply["chunks"]]
            if not chunks:
                continue
            row: dict[str, Any] = {"question": reply["question"], "reply": "".join(t for _, t in chunks),
                                   "first_token_s": chunks[0][0]}
            for name, setting in SETTINGS.items():
                index, ready, piece = first_piece(chunks, setting)
                if piece not in synth:
                    runs = [await synth_first_audio(tts.uri, piece) for _ in range(args.synth_runs)]
                    synth[piece] = statistics.median(runs)
                row[name] = {"tokens": index, "ready_s": round(ready, 3), "synth_s": round(synth[piece], 3),
                             "total_s": round(ready + synth[piece], 3), "piece": piece}
            rows.append(row)
            load.append(os.getloadavg()[0])
            print("  ".join(f"{n} {row[n]['total_s']:.3f}" for n in SETTINGS), repr(row["main"]["piece"]), flush=True)
    finally:
        await tts.stop()
    summary: dict[str, Any] = {"n": len(rows), "load": [round(min(load), 2), round(max(load), 2)],
                               "provider": args.provider}
    for name in SETTINGS:
        cells = [r[name] for r in rows]
        summary[name] = {key: {"p50": pct([c[key] for c in cells], 0.5), "p95": pct([c[key] for c in cells], 0.95)}
                         for key in ("tokens", "ready_s", "synth_s", "total_s")}
        summary[name]["words_p50"] = statistics.median(len(c["piece"].split()) for c in cells)
        diffs = [c["total_s"] - r["main"]["total_s"] for c, r in zip(cells, rows, strict=True)]
        summary[name]["vs_main_p50"] = pct(diffs, 0.5)
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "settings": SETTINGS,
            "summary": summary, "rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument("--ask", type=Path,
                        help="a JSON list of questions to ask instead (e.g. a pair run's transcripts)")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds after each reply (the prefill runs)")
    parser.add_argument("--provider", default="piper", help="wyoming_kokoro --provider (piper, kokoro)")
    parser.add_argument("--synth-runs", type=int, default=3)
    parser.add_argument("--replies", type=Path,
                        help="recorded replies (JSON): read if it exists, else recorded into it")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result["summary"], indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
