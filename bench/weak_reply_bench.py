"""Paired: a weak whole question answered from a reply prepared during the weak wait, or asked
only when the wait ends (the old behaviour for weak texts), on the real engines.

Piper says "Who painted the Mona Lisa" with no falling voice; tiny.en writes it without its "?"
(``'who painted the Mona Lisa'``), so our whisper waits its weak cap (1.2 s) and sends it as a
weak speculative transcript. Two pipelines hear the same audio at the same time (as two
satellites would; whisper, llama-server and the TTS serve both), one with preemptive replies (what
``serve`` runs: the weak text is prepared, :func:`orchestrator.asr_session.offered_for_reply`),
one without (nothing prepared: what a weak text got before). Reported: the transcript (the end
of turn) -> the first reply audio sent, per round and p50 / p95, with the load.

    nice -n 10 .venv/bin/python bench/weak_reply_bench.py --rounds 8 [--out F.json]

Engines as the test stack runs them (``--max-tokens 120 --temperature 0``, Piper); llama-server
at ``--llama-nice`` (its default, 10, unless given).
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import run_until_signalled  # noqa: E402
from bench.paced import Events, chunks  # noqa: E402
from bench.turn_bench import pct  # noqa: E402
from bench.turn_corpus import piper_speech  # noqa: E402
from orchestrator.intents import IntentRecognizer  # noqa: E402
from orchestrator.pipeline import Pipeline, PipelineConfig, TurnResult  # noqa: E402
from orchestrator.services import ServicePool  # noqa: E402
from voice_runtime.models import resolve_piper  # noqa: E402
from voice_runtime.procs import start_service  # noqa: E402

QUESTION = "Who painted the Mona Lisa"


def speech() -> bytes:
    from piper import PiperVoice

    x = piper_speech(PiperVoice.load(str(resolve_piper())), QUESTION)
    pcm = (x.clip(-1, 1) * 32767).astype("<i2").tobytes()
    return bytes(2 * 4800) + pcm + bytes(2 * 16000 * 3)  # 0.3 s before, 3 s of silence after


async def run(args: argparse.Namespace) -> int:
    audio = await asyncio.to_thread(speech)
    whisper = await start_service("wyoming_whisper", "--model", "tiny.en")
    llama = await start_service(
        "wyoming_llama", "--max-tokens", "120", "--temperature", "0", "--nice", str(args.llama_nice)
    )
    tts = await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper")
    intents = IntentRecognizer()
    rows: list[dict[str, Any]] = []
    try:
        for n in range(args.rounds):
            pipelines = {
                pre: Pipeline(
                    ServicePool("asr", [whisper.uri]),
                    ServicePool("handle", [llama.uri]),
                    ServicePool("tts", [tts.uri]),
                    intents=intents,
                    config=PipelineConfig(vad_sensitivity="default", preemptive=pre),
                )
                for pre in (True, False)
            }

            async def turn(pre: bool, n: int = n, pipelines: dict[bool, Pipeline] = pipelines) -> TurnResult:
                result = TurnResult()
                await pipelines[pre].run_turn(chunks(audio), Events(), conversation_id=f"weak-{pre}-{n}", result=result)
                return result

            load = os.getloadavg()[0]
            try:
                results = await asyncio.gather(turn(True), turn(False))
            finally:
                for pipeline in pipelines.values():
                    await pipeline.close()
            row: dict[str, Any] = {"round": n, "load": round(load, 2)}
            for pre, result in zip(("prepared", "asked_after"), results, strict=True):
                marks = result.marks
                sent = marks.get("first_audio_sent")
                row[pre] = {
                    "transcript": result.transcript,
                    "used_prepared": "preemptive" in marks,
                    "first_audio_after_transcript": None if sent is None else round(sent - marks["transcript"], 3),
                }
            rows.append(row)
            print(json.dumps(row), flush=True)
            await asyncio.sleep(1.0)  # let the last reply's audio drain before the next round
    finally:
        for service in (whisper, llama, tts):
            await service.stop()
    summary: dict[str, Any] = {}
    for key in ("prepared", "asked_after"):
        values = [
            r[key]["first_audio_after_transcript"] for r in rows if r[key]["first_audio_after_transcript"] is not None
        ]
        summary[key] = {
            "n": len(values),
            "p50": round(statistics.median(values), 3) if values else None,
            "p95": round(pct(values, 0.95) or 0.0, 3) if values else None,
            "used_prepared": sum(r[key]["used_prepared"] for r in rows),
        }
    out = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "question": QUESTION,
        "llama_nice": args.llama_nice,
        "load_end": os.getloadavg(),
        "summary": summary,
        "rows": rows,
    }
    print(json.dumps(summary))
    if args.out:
        await asyncio.to_thread(Path(args.out).write_text, json.dumps(out, indent=1) + "\n")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--llama-nice", type=int, default=10)
    parser.add_argument("--out")
    return run_until_signalled(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
