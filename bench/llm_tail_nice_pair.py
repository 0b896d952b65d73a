"""Paired, offline: LLM reply -> honesty guard -> streamed TTS, first token -> first audio, per arm.

Each arm is a real ``wyoming_llama`` (``--max-sentences 1`` as in the room, plus the arm's flags, from the
arm's code tree) with a conversation per question; one real ``wyoming_kokoro`` (``--provider piper`` as
``auto`` chooses on this box, no audio cache) serves both. Per question (the held split's LLM transcripts
as the session-25 room runs heard them, ``QUESTIONS``), each arm in turn (which goes first alternates):
the transcript to the arm's LLM; its ``handled-chunk``s through the orchestrator's
:class:`~orchestrator.honesty.ClaimGuard` into one ``synthesize-start`` / ``synthesize-chunk`` ... /
``synthesize-stop`` stream, as the orchestrator's TTS stage sends them; the times of the first chunk and
the first audio chunk from the transcript sent; then the whole audio and ``--pause`` s (the reply is
spoken; the prefill runs). Per arm p50 / p95 and, over the questions whose reply text is the same in both
arms, the paired difference.

    .venv/bin/python bench/llm_tail_nice_pair.py --a '--tail-nice 0' --b '' --rounds 2 --out /tmp/pair.json
    .venv/bin/python bench/llm_tail_nice_pair.py --a-tree /tmp/main --a '' --b '' --out /tmp/pair.json

Session 26 (llm): llama-server's tail priority (wyoming_llama/priority.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from wyoming.asr import Transcript
from wyoming.audio import AudioChunk
from wyoming.handle import Handled, HandledChunk, NotHandled
from wyoming.tts import SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.llm_first_piece_probe import pct  # noqa: E402
from orchestrator.honesty import ClaimGuard  # noqa: E402
from orchestrator.intents import NO_HOME_REPLY  # noqa: E402
from orchestrator.services import Connection  # noqa: E402
from voice_runtime.procs import start_service  # noqa: E402

# The LLM turns of /tmp/p25/lead-turns-1 and -2 (session 25's quiet room runs), as whisper heard them.
QUESTIONS = [
    "What is the tallest mountain in the world?", "Play the next song of my playlist.",
    "How long does it take to boil an egg?", "Step with thermostat 2. 20 degrees.", "Where is the nearest pharmacy?",
    "How far away is Mars?", "Walk the front door, please.", "What time does the store close?",
    "What kind of this thought was?", "Read with the news headlines from today.", "Good morning.",
    "Why is the sky blue?", "Who wrote Romeo and Juliet?", "What is the capital of France?",
]


async def turn(llama_uri: str, tts_uri: str, question: str, conversation: str) -> dict[str, Any]:
    """One LLM turn into a streamed synthesis: seconds from the transcript sent."""
    llm, tts = await Connection.open(llama_uri), await Connection.open(tts_uri)
    marks: dict[str, float] = {}
    guard = ClaimGuard(NO_HOME_REPLY)
    text: list[str] = []
    sent = time.monotonic()

    async def read_audio() -> None:
        while True:
            event = await tts.recv(120)
            if AudioChunk.is_type(event.type):
                marks.setdefault("first_audio", time.monotonic() - sent)
            elif SynthesizeStopped.is_type(event.type):
                marks["audio_done"] = time.monotonic() - sent
                return

    try:
        await tts.send(SynthesizeStart().event())
        audio = asyncio.create_task(read_audio())
        await llm.send(Transcript(text=question, context={"conversation_id": conversation}).event())
        while True:
            event = await llm.recv(120)
            if HandledChunk.is_type(event.type):
                chunk = HandledChunk.from_event(event).text or ""
                marks.setdefault("first_token", time.monotonic() - sent)
                text.append(chunk)
                if checked := guard.feed(chunk):
                    await tts.send(SynthesizeChunk(text=checked).event())
            elif Handled.is_type(event.type) or NotHandled.is_type(event.type):
                marks["reply_done"] = time.monotonic() - sent
                if rest := guard.flush():
                    await tts.send(SynthesizeChunk(text=rest).event())
                break
        await tts.send(SynthesizeStop().event())
        await asyncio.wait_for(audio, 120)
    finally:
        await llm.close()
        await tts.close()
    row: dict[str, Any] = {k: round(v, 4) for k, v in marks.items()}
    row["reply"] = "".join(text)
    if "first_audio" in marks and "first_token" in marks:
        row["token_to_audio"] = round(marks["first_audio"] - marks["first_token"], 4)
    return row


async def run(args: argparse.Namespace) -> dict[str, Any]:
    arms = {"a": (args.a_tree, args.a), "b": (args.b_tree, args.b)}
    services = {}
    tts = await start_service("wyoming_kokoro", "--provider", "piper", "--cache-mb", "0")
    try:
        for name, (tree, flags) in arms.items():
            env = {**os.environ, "PYTHONPATH": tree}
            services[name] = await start_service("wyoming_llama", "--max-sentences", "1", *shlex.split(flags),
                                                 env=env)
        rows: list[dict[str, Any]] = []
        for rnd in range(args.rounds):
            for k, question in enumerate(QUESTIONS):
                order = ["a", "b"] if (rnd + k) % 2 == 0 else ["b", "a"]
                row: dict[str, Any] = {"round": rnd, "question": question, "first": order[0],
                                       "load": round(os.getloadavg()[0], 2), "time": time.strftime("%H:%M:%S")}
                for name in order:
                    # a conversation per question: a reply then depends on its question only (one
                    # conversation per arm diverged after 2 questions: the prompt cache's state moves a
                    # 135M model's greedy choice)
                    row[name] = await turn(services[name].uri, tts.uri, question, f"{name}{rnd}-{k}")
                    await asyncio.sleep(args.pause)
                rows.append(row)
                print(rnd, " ".join(f"{n} {row[n].get('token_to_audio', -1):.3f}" for n in "ab"),
                      repr(row["a"]["reply"][:50]), "same" if row["a"]["reply"] == row["b"]["reply"] else "DIFF",
                      row["load"], flush=True)
    finally:
        for service in (*services.values(), tts):
            await service.stop()
    summary: dict[str, Any] = {"n": len(rows), "load": [min(r["load"] for r in rows), max(r["load"] for r in rows)]}
    for name in "ab":
        summary[name] = {key: {"p50": pct([r[name][key] for r in rows if key in r[name]], 0.5),
                               "p95": pct([r[name][key] for r in rows if key in r[name]], 0.95)}
                         for key in ("first_token", "token_to_audio", "first_audio", "reply_done")}
    same = [r for r in rows if r["a"]["reply"] == r["b"]["reply"] and "token_to_audio" in r["a"]
            and "token_to_audio" in r["b"]]
    diffs = [r["b"]["token_to_audio"] - r["a"]["token_to_audio"] for r in same]
    first = [r["b"]["first_audio"] - r["a"]["first_audio"] for r in same]
    summary["paired_same_reply"] = {"n": len(same), "token_to_audio_b_minus_a_p50": pct(diffs, 0.5),
                                    "b_faster_in": sum(d < 0 for d in diffs),
                                    "first_audio_b_minus_a_p50": pct(first, 0.5)}
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "arms": arms, "summary": summary,
            "rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--a-tree", default=str(ROOT))
    parser.add_argument("--b-tree", default=str(ROOT))
    parser.add_argument("--a", default="--tail-nice 0", help="arm a's extra wyoming_llama flags")
    parser.add_argument("--b", default="", help="arm b's extra wyoming_llama flags")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--pause", type=float, default=2.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    args.a_tree, args.b_tree = str(Path(args.a_tree).resolve()), str(Path(args.b_tree).resolve())
    result = asyncio.run(run(args))
    print(json.dumps(result["summary"], indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
