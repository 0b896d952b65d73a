"""How often tiny.en loops on what the talker gate streams (issue 17; a measurement only).

Session 17 saw tiny.en repeat a phrase ~40 times on 2 of 111 gated "request + TV" sessions
(``bench/turn_talker.py`` ``under``: a tune request with a TV, a far talker or babble 15/25/35 dB
under it), 0 ungated. This runs those sessions again, through the gate as the satellite now runs it
(every frame once at its place, the held frames flushed at the end), ungated beside it, to the
same real ``wyoming_whisper`` (tiny.en int8, ``turn_bench.TINY_WHISPER_ARGS``), and counts the
transcripts that loop: an n-gram (1-4 words) said ``REPEATS`` or more times in a row, or a zlib
compression ratio over 2.4 (faster-whisper's own threshold, which our decode at temperature 0
does not act on).

    nice -n 10 .venv/bin/python bench/talker_loops.py [--kinds under]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import turn_bench  # noqa: E402
from bench.turn_talker import gated, sessions, transcribe, words  # noqa: E402
from satellite.talker_gate import TalkerGateConfig  # noqa: E402

REPEATS = 5  # an n-gram this many times in a row is a loop (a request never says one 5 times)
RATIO = 2.4  # faster-whisper's compression_ratio_threshold


def longest_run(tokens: list[str]) -> int:
    """The most times any 1-4 word n-gram is said in a row."""
    best = 1 if tokens else 0
    for n in range(1, 5):
        for start in range(len(tokens) - n):
            run, at = 1, start + n
            while tokens[at : at + n] == tokens[start : start + n]:
                run, at = run + 1, at + n
            best = max(best, run)
    return best


def compression_ratio(text: str) -> float:
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0


def loop_of(text: str) -> dict[str, Any]:
    run, ratio = longest_run(words(text)), compression_ratio(text)
    return {"text": text, "run": run, "ratio": round(ratio, 2), "loop": run >= REPEATS or ratio > RATIO}


async def run(args: argparse.Namespace) -> None:
    from voice_runtime.procs import start_service

    todo = await asyncio.to_thread(sessions, args.kinds.split(","))
    configs: dict[str, TalkerGateConfig | None] = {"off": None, "gate": TalkerGateConfig()}
    server = await start_service(
        "wyoming_whisper", *turn_bench.TINY_WHISPER_ARGS, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    load0, began = os.getloadavg(), time.strftime("%H:%M:%S", time.gmtime())
    rows: list[dict[str, Any]] = []
    try:
        for s in todo:
            row: dict[str, Any] = {"id": s.label, "kind": s.kind}
            for name, config in configs.items():
                row[name] = loop_of(await transcribe(server.port, gated(s, config)))
            rows.append(row)
            print(s.label, " | ".join(f"{n}: {row[n]['run']} {row[n]['ratio']} {row[n]['text']!r}" for n in configs))
    finally:
        await server.stop()
    summary = {
        "began": began,
        "ended": time.strftime("%H:%M:%S", time.gmtime()),
        "load": [load0, os.getloadavg()],
        "n": len(rows),
        "loops": {n: [r["id"] for r in rows if r[n]["loop"]] for n in configs},
    }
    print(json.dumps(summary, indent=1))
    out = ROOT / "bench" / "results" / "turn_background" / f"talker-loops-{args.kinds.replace(',', '_')}{args.tag}.json"
    out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kinds", default="under")
    parser.add_argument("--tag", default="-s18")
    asyncio.run(run(parser.parse_args()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
