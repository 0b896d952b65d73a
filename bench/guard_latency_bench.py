"""LLM turns: the LLM's first token -> first text-to-speech audio, with the honesty guard letting
the first clause's safe words through early (``ClaimGuard(early=True)``, the default) or holding
the whole first clause (``early=False``, the guard before session 8).

Our real ``wyoming_llama`` (default model and settings, as ``serve`` uses it) and
``wyoming_kokoro`` (default voice choice) on loopback; each question is asked once per mode, the
modes alternating which goes first, each ask in a new conversation (temperature 0: the same reply
both times). The reply's ``handled-chunk``s go through the guard into a streaming synthesis
(``synthesize-start``/``-chunk``/``-stop``) as the orchestrator's ``TtsForwarder`` sends them.
A real-time figure: run it under ``flock /tmp/hearth-rt.lock`` and note the load it prints.

    flock /tmp/hearth-rt.lock .venv/bin/python bench/guard_latency_bench.py [--rounds 2]

``--chunks``: no text-to-speech and no clock, so no lock needed and the load does not matter:
each reply's ``handled-chunk``s are recorded and fed through the guard and the TTS server's own
:class:`~wyoming_kokoro.text.SentenceSplitter`, counting the LLM chunks it takes until the first
piece can be synthesised, early vs held (temperature 0: the same reply both ways). Multiply by
the LLM's time per chunk to get the time it saves.
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

from orchestrator.honesty import ClaimGuard  # noqa: E402
from orchestrator.intents import NO_HOME_REPLY  # noqa: E402
from orchestrator.services import Connection  # noqa: E402
from voice_runtime.procs import start_service  # noqa: E402
from wyoming_kokoro.text import SentenceSplitter  # noqa: E402

QUESTIONS = [
    "What is the largest planet in our solar system?", "Who painted the Mona Lisa?",
    "What is the tallest mountain in the world?", "How many legs does a spider have?",
    "What is the capital of Australia?", "Why is the sky blue?", "Who wrote Pride and Prejudice?",
    "What is the boiling point of water?", "Tell me something about penguins.", "How far away is the moon?",
    "What do bees make?", "What is the longest river in Africa?",
]


async def one(llama: str, tts: str, question: str, early: bool, cid: str) -> dict[str, Any]:
    guard = ClaimGuard(NO_HOME_REPLY, early=early)
    llm, synth = await Connection.open(llama), await Connection.open(tts)
    first_token: float | None = None
    first_audio: list[float] = []
    try:
        await synth.send(SynthesizeStart())

        async def audio() -> None:
            while True:
                event = await synth.recv(60)
                if AudioChunk.is_type(event.type) and not first_audio:
                    first_audio.append(time.monotonic())
                if SynthesizeStopped.is_type(event.type):
                    return

        reader = asyncio.create_task(audio())
        await llm.send(Transcript(text=question, context={"conversation_id": cid}).event())
        while True:
            event = await llm.recv(60)
            if HandledChunk.is_type(event.type):
                text = HandledChunk.from_event(event).text or ""
                first_token = first_token or time.monotonic()
                if out := guard.feed(text):
                    await synth.send(SynthesizeChunk(text=out))
            elif Handled.is_type(event.type) or NotHandled.is_type(event.type):
                first_token = first_token or time.monotonic()
                if out := guard.flush():
                    await synth.send(SynthesizeChunk(text=out))
                await synth.send(SynthesizeStop())
                break
        await asyncio.wait_for(reader, 60)
    finally:
        await llm.close()
        await synth.close()
    assert first_token is not None and first_audio
    return {"question": question, "early": early, "reply": guard.text,
            "first_token_to_audio_s": round(first_audio[0] - first_token, 3)}


def first_piece_chunk(chunks: list[str], early: bool) -> int:
    """How many LLM chunks the TTS splitter needs, behind the guard, before its first piece."""
    guard, splitter = ClaimGuard(NO_HOME_REPLY, early=early), SentenceSplitter()
    for n, chunk in enumerate(chunks, 1):
        if splitter.feed(guard.feed(chunk)):
            return n
    return len(chunks) + 1  # only at the end of the reply


async def chunks_only(args: argparse.Namespace) -> int:
    llama = await start_service("wyoming_llama")
    rows: list[dict[str, Any]] = []
    try:
        for i, question in enumerate(QUESTIONS[: args.questions]):
            conn = await Connection.open(llama.uri)
            chunks: list[str] = []
            try:
                await conn.send(Transcript(text=question, context={"conversation_id": f"q{i}"}).event())
                while True:
                    event = await conn.recv(120)
                    if HandledChunk.is_type(event.type):
                        chunks.append(HandledChunk.from_event(event).text or "")
                    elif Handled.is_type(event.type) or NotHandled.is_type(event.type):
                        break
            finally:
                await conn.close()
            row: dict[str, Any] = {"question": question, "reply": "".join(chunks), "chunks": len(chunks),
                   "early": first_piece_chunk(chunks, True), "held": first_piece_chunk(chunks, False)}
            rows.append(row)
            print(f"early {row['early']:2d} held {row['held']:2d} of {row['chunks']:2d}  {row['reply'][:80]!r}",
                  flush=True)
    finally:
        await llama.stop()
    saved = [row["held"] - row["early"] for row in rows]
    summary = {"n": len(rows), "chunks_saved_p50": float(np.percentile(saved, 50)),
               "chunks_saved_min": min(saved), "chunks_saved_max": max(saved),
               "early_p50": float(np.percentile([r["early"] for r in rows], 50)),
               "held_p50": float(np.percentile([r["held"] for r in rows], 50))}
    print(json.dumps(summary))
    if args.out:
        args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                        "summary": summary, "rows": rows}, indent=1) + "\n")
    return 0


async def run(args: argparse.Namespace) -> int:
    llama = await start_service("wyoming_llama")
    tts = await start_service("wyoming_kokoro", *args.tts_args.split())
    rows: list[dict[str, Any]] = []
    load = [os.getloadavg()[0]]
    try:
        await one(llama.uri, tts.uri, "Hello.", True, "warm-up")  # model and voice warm
        for r in range(args.rounds):
            for i, question in enumerate(QUESTIONS[: args.questions]):
                order = [True, False] if (i + r) % 2 == 0 else [False, True]
                for early in order:
                    row = await one(llama.uri, tts.uri, question, early, f"r{r}-q{i}-{early}")
                    rows.append(row)
                    print(f"{'early' if early else 'held '} {row['first_token_to_audio_s']:.3f} s  "
                          f"{row['reply'][:70]!r}", flush=True)
                load.append(os.getloadavg()[0])
    finally:
        await llama.stop()
        await tts.stop()
    summary = {}
    for early in (True, False):
        vals = [row["first_token_to_audio_s"] for row in rows if row["early"] is early]
        summary["early" if early else "held"] = {"n": len(vals), "p50_s": round(float(np.percentile(vals, 50)), 3),
                                                 "p95_s": round(float(np.percentile(vals, 95)), 3)}
    out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load": [min(load), max(load)],
           "summary": summary, "rows": rows}
    print(json.dumps(summary), "load", min(load), max(load))
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument("--tts-args", default="", help="extra wyoming_kokoro flags, e.g. '--provider piper'")
    parser.add_argument("--chunks", action="store_true", help="count LLM chunks to the first piece (no clock)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    return asyncio.run(chunks_only(args) if args.chunks else run(args))


if __name__ == "__main__":
    sys.exit(main())
