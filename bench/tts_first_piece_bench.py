"""LLM turns: the LLM's first chunk -> the first TTS audio, and the gaps after it, with the TTS
server's first piece cut before an approximate figure (``--first-figure-words 2``, the default since
session 18: "Mars is, | approximately 141,872,000 miles") or not (``0``), and the piece after it
ending after the figure and its unit (``--figure-tail-words 2``, the default since session 19:
"approximately 141.2 million miles, | (238.6 million kilometers) away ...") or not (``0``), paired
on the same replies (``--settings``: figure-unit, figure-cut, off).

Our real ``wyoming_llama`` (default model and settings, as ``serve`` runs it) answers each
question once, in a new conversation; its ``handled-chunk``s, through the orchestrator's honesty
guard (:class:`ClaimGuard`), are recorded with the time each came (``--replies FILE``: recorded into
FILE once, then read from it, so every run replays the same text). Each reply is replayed into one
``wyoming_kokoro --provider P`` server per setting (``--provider``: piper, kokoro or auto, or several
comma-separated, one after the other), the order rotating per reply (``--repeat N``: each reply N
times; ``--only-changed``: only the replies the settings cut differently). Per reply and setting:
the first audio-chunk's time from the first chunk sent; the first piece (the server's own
:class:`SentenceSplitter` on the same text), its words and the seconds of audio the server makes
for it; whether the pieces say exactly the reply's words (a cut inside a number would not); and the
gaps a player starting at the first audio-chunk would hear later (the next piece late): in all,
and the longest one.

``--pace-ms N``: the LLM's chunks are replayed one every N ms instead of at the recorded pace. On a
busy box llama-server's threads stall for seconds between tokens (2026-12-03, load 4-5: 2.8 s to
the second word), which hides the TTS's own time; in the lead's quiet room runs a reply streamed
at 6-18 ms a chunk (80 chunks in 488 ms, 21 in 369 ms).

Real time: run it under ``flock /tmp/hearth-rt.lock`` and note the load it prints.

    flock /tmp/hearth-rt.lock .venv/bin/python bench/tts_first_piece_bench.py --pace-ms 10 \
        --replies bench/results/tts_first_piece_s18/replies.json [--provider piper] [--out FILE.json]
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
from wyoming.audio import AudioChunk, AudioStop
from wyoming.handle import Handled, HandledChunk, NotHandled
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

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
NUMBER_QUESTIONS = [  # session 18: numbers, dates, units, lists, "approximately"
    "How far is Mars from the Sun?", "How far away is Mars?", "How far is the Sun from Earth?",
    "How tall is Mount Everest?", "How deep is the Mariana Trench?", "What is the population of Tokyo?",
    "What is the population of the world?", "How old is the universe?", "How many people live in China?",
    "How long is the Great Wall of China?", "How big is the Pacific Ocean?", "How fast does sound travel?",
    "How many bones are in the human body?", "When did World War Two end?",
    "When was the Declaration of Independence signed?", "What year did the Titanic sink?",
    "How many seconds are in a day?", "How many feet are in a mile?", "How much does an elephant weigh?",
    "What is the diameter of the Earth?", "How hot is the surface of the Sun?", "What is absolute zero?",
    "How many calories are in a banana?", "How long is a marathon?", "What is the circumference of the Earth?",
    "How many kilometers are in a mile?", "What is the value of pi?", "How many stars are in the Milky Way?",
    "How long does light take to reach Earth from the Sun?", "What are the planets in the solar system?",
    "List the three primary colors.", "What are the days of the week?", "Name some fruits.",
    "How many countries are in Africa?", "How heavy is the moon?", "At what temperature does water freeze?",
    "How long is the Amazon River?", "How tall is the Eiffel Tower?", "How many miles is it to the moon?",
    "How far is New York from London?", "When was the first iPhone released?",
    "What is the speed of sound in miles per hour?", "How many people visit Paris each year?",
    "How old is the Earth?", "How much does a gallon of milk cost?",
]
ALL_QUESTIONS = QUESTIONS + NUMBER_QUESTIONS
SETTINGS = {"figure-unit": (2, 2), "figure-cut": (2, 0), "off": (0, 0)}  # --first-figure-words, --figure-tail-words
# Session 28 (llm): Piper's arena, the default (its first 96 MB kept) against main's (all given back).
SETTINGS.update({"kept-arena": (2, 2), "main-arena": (2, 2)})
EXTRA = {"main-arena": ("--piper-kept-arena-mb", "0")}  # more wyoming_kokoro flags per setting


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


async def replay(tts: str, chunks: list[tuple[float, str]]) -> tuple[float, float, float]:
    """Seconds from the first chunk sent to the first audio-chunk back, and the seconds a player
    that starts at the first audio-chunk would wait for audio after it (gaps: the next piece late),
    in all and the longest gap."""
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
        played_until = gaps = longest = 0.0
        try:
            while True:
                event = await conn.recv(120)
                if AudioChunk.is_type(event.type):
                    now, chunk = time.monotonic() - t0, AudioChunk.from_event(event)
                    if first is None:
                        first = played_until = now
                    gaps += max(0.0, now - played_until)
                    longest = max(longest, now - played_until)
                    seconds = len(chunk.audio) / (chunk.rate * chunk.width * chunk.channels)
                    played_until = max(played_until, now) + seconds
                if SynthesizeStopped.is_type(event.type):
                    break
        finally:
            await sender
        assert first is not None, "no audio"
        return first, gaps, longest
    finally:
        await conn.close()


def split(text: str, setting: tuple[int, int]) -> list[str]:
    splitter = SentenceSplitter(first_figure_words=setting[0], figure_tail_words=setting[1])
    return splitter.feed(text) + splitter.finish()


def same_words(text: str, pieces: list[str]) -> bool:
    """The pieces say the reply's words (the commas added at cuts between words aside; a number cut
    inside, "141, 872,000", would change them)."""
    return [w.rstrip(",") for w in " ".join(pieces).split()] == [w.rstrip(",") for w in text.split()]


async def audio_seconds(tts: str, text: str) -> float:
    """Seconds of audio the server makes for ``text`` alone."""
    conn = await Connection.open(tts)
    try:
        await conn.send(Synthesize(text=text).event())
        samples = 0
        while True:
            event = await conn.recv(120)
            if AudioChunk.is_type(event.type):
                chunk = AudioChunk.from_event(event)
                samples += len(chunk.audio) // (chunk.width * chunk.channels)
                rate = chunk.rate
            if AudioStop.is_type(event.type):
                return samples / rate if samples else 0.0
    finally:
        await conn.close()


async def record_all(questions: list[str]) -> list[dict[str, Any]]:
    llama = await start_service("wyoming_llama")
    try:
        return [{"question": q, "chunks": await record(llama.uri, q, f"q{i}")} for i, q in enumerate(questions)]
    finally:
        await llama.stop()


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3)


async def run_provider(provider: str, recorded: list[dict[str, Any]], args: argparse.Namespace,
                       settings: dict[str, tuple[int, int]]) -> dict[str, Any]:
    load = [os.getloadavg()[0]]
    engines = () if provider == "auto" else ("--engines", provider)
    servers = {}
    chose = provider
    try:
        for name, (words, tail) in settings.items():
            servers[name] = await start_service(  # no audio cache: a reply replayed again would hit it
                "wyoming_kokoro", "--provider", provider, *engines, "--cache-mb", "0",
                "--first-figure-words", str(words), "--figure-tail-words", str(tail), *EXTRA.get(name, ()))
            chose = next((line.split("chose ")[1].split(":")[0] for line in servers[name].log
                          if "provider=auto chose" in line), chose)
        for server in servers.values():  # the voice warm
            await replay(server.uri, [(0.0, "Hello there.")])
        rows: list[dict[str, Any]] = []
        seconds: dict[str, float] = {}  # the audio of a first piece, per piece
        for i, reply in enumerate(recorded * args.repeat):
            chunks = paced([(at, text) for at, text in reply["chunks"]], args.pace_ms)
            text = "".join(t for _, t in chunks)
            row: dict[str, Any] = {"question": reply["question"], "reply": text}
            order = list(settings)
            for name in order[i % len(order) :] + order[: i % len(order)]:
                first, gaps_s, max_gap_s = await replay(servers[name].uri, chunks)
                row[name] = round(first, 3)
                row[f"{name}_gaps_s"], row[f"{name}_max_gap_s"] = round(gaps_s, 3), round(max_gap_s, 3)
            for name, setting in settings.items():
                pieces = split(text, setting)
                first_piece = (pieces + [""])[0]
                row[f"{name}_pieces"] = pieces
                row[f"{name}_words"] = len(first_piece.split())
                if first_piece not in seconds:
                    seconds[first_piece] = round(await audio_seconds(servers[name].uri, first_piece), 3)
                row[f"{name}_audio_s"] = seconds[first_piece]
                row[f"{name}_same_words"] = same_words(text, pieces)
            rows.append(row)
            load.append(os.getloadavg()[0])
            print(provider, "  ".join(f"{name} {row[name]:.3f}/{row[f'{name}_max_gap_s']:.3f}" for name in settings),
                  repr(text[:60]), flush=True)
    finally:
        for server in servers.values():
            await server.stop()
    summary: dict[str, Any] = {"n": len(rows), "load": [round(min(load), 2), round(max(load), 2)],
                               "pace_ms": args.pace_ms, "provider": provider, "chose": chose}
    for name in settings:
        vals = [r[name] for r in rows]
        audio = [r[f"{name}_audio_s"] for r in rows]
        gaps = [r[f"{name}_gaps_s"] for r in rows]
        longest = [r[f"{name}_max_gap_s"] for r in rows]
        summary[name] = {"p50_s": percentile(vals, 50), "p95_s": percentile(vals, 95),
                         "mean_s": round(float(np.mean(vals)), 3), "max_s": max(vals),
                         "piece_audio_p50_s": percentile(audio, 50), "piece_audio_max_s": max(audio),
                         "words_changed": sum(not r[f"{name}_same_words"] for r in rows),
                         "gaps_total_s": round(sum(gaps), 3), "gaps_p50_s": percentile(gaps, 50),
                         "gaps_p95_s": percentile(gaps, 95), "max_gap_p50_s": percentile(longest, 50),
                         "max_gap_p95_s": percentile(longest, 95), "max_gap_max_s": max(longest),
                         "replies_with_gap_over_50ms": sum(g > 0.05 for g in gaps)}
    if len(settings) >= 2:  # the first setting against the second, paired per reply
        a, b = list(settings)[:2]
        summary[f"{a}_vs_{b}"] = {
            "first_audio_diff_p50_s": percentile([r[a] - r[b] for r in rows], 50),
            "gaps_diff_p50_s": percentile([r[f"{a}_gaps_s"] - r[f"{b}_gaps_s"] for r in rows], 50),
            "max_gap_diff_p50_s": percentile([r[f"{a}_max_gap_s"] - r[f"{b}_max_gap_s"] for r in rows], 50),
            "max_gap_lower_in": sum(r[f"{a}_max_gap_s"] < r[f"{b}_max_gap_s"] for r in rows),
        }
    return {"summary": summary, "rows": rows}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = {name: SETTINGS[name] for name in args.settings.split(",")}
    if args.replies and args.replies.exists():
        recorded = json.loads(args.replies.read_text())[args.start : args.questions]
    else:
        recorded = await record_all(ALL_QUESTIONS[: args.questions])
        if args.replies:
            args.replies.write_text(json.dumps(recorded, indent=1) + "\n")
    if args.only_changed:
        recorded = [r for r in recorded
                    if len({tuple(split("".join(t for _, t in r["chunks"]), s)) for s in settings.values()}) > 1]
    results = {p: await run_provider(p, recorded, args, settings) for p in args.provider.split(",")}
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "settings": settings,
            "summary": {p: r["summary"] for p, r in results.items()},
            "rows": {p: r["rows"] for p, r in results.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=len(ALL_QUESTIONS))
    parser.add_argument("--start", type=int, default=0, help="with --replies: replay from this reply on")
    parser.add_argument("--pace-ms", type=float, help="replay the chunks one every N ms (default: as recorded)")
    parser.add_argument("--provider", default="piper",
                        help="the TTS servers' --provider: piper, kokoro or auto (the default voice path), or "
                        "several comma-separated, one after the other (default piper)")
    parser.add_argument("--settings", default="figure-unit,figure-cut,off",
                        help=f"settings to compare, comma-separated, the first against the second "
                        f"({', '.join(SETTINGS)})")
    parser.add_argument("--repeat", type=int, default=1, help="replay each reply this many times")
    parser.add_argument("--only-changed", action="store_true", help="only the replies the settings cut differently")
    parser.add_argument("--replies", type=Path,
                        help="recorded replies (JSON): read if it exists, else the replies are recorded into it")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result["summary"]))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
