"""Offline, paired: recorded LLM replies through two code trees' honesty guard and first-piece splitter.

Reads the replies ``bench/llm_first_piece_probe.py --replies FILE`` recorded (each reply's raw
``handled-chunk``s with their times) and, for each arm (a code tree and splitter keyword arguments as
JSON), replays every reply through that tree's :class:`~orchestrator.honesty.ClaimGuard` and
:class:`~wyoming_kokoro.text.SentenceSplitter` in a subprocess: the chunks and seconds until the first
piece is whole, and the piece. One real ``wyoming_kokoro --provider piper`` (this tree's, no audio cache)
then times each distinct piece from ``synthesize`` to its first audio chunk (median of 3). Per arm:
tokens, text ready, synthesis and their sum (first token -> first TTS audio) p50 / p95; per reply the
difference to the first arm.

    .venv/bin/python bench/llm_first_piece_trees.py REPLIES.json main=/tmp/main new=. \
        'subj3=.:{"first_subject_words": 3}'
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.llm_first_piece_probe import pct, synth_first_audio  # noqa: E402
from voice_runtime.procs import start_service  # noqa: E402

REPLAY = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from orchestrator.honesty import ClaimGuard
from orchestrator.intents import NO_HOME_REPLY
from wyoming_kokoro.text import SentenceSplitter
kwargs = json.loads(sys.argv[3])
out = []
for reply in json.load(open(sys.argv[2])):
    chunks = reply["chunks"]
    guard, splitter = ClaimGuard(NO_HOME_REPLY), SentenceSplitter(**kwargs)
    found = None
    for i, (at, text) in enumerate(chunks):
        if pieces := splitter.feed(guard.feed(text)):
            found = (i, at - chunks[0][0], pieces[0])
            break
    if found is None:
        pieces = splitter.feed(guard.flush()) + splitter.finish()
        found = (len(chunks) - 1, chunks[-1][0] - chunks[0][0], pieces[0] if pieces else "")
    out.append(found)
print(json.dumps(out))
"""


def replay(tree: str, replies: Path, kwargs: str) -> list[tuple[int, float, str]]:
    done = subprocess.run([sys.executable, "-c", REPLAY, os.path.abspath(tree), str(replies.resolve()), kwargs],
                          capture_output=True, text=True, cwd="/", check=True)
    return [(int(i), float(at), str(piece)) for i, at, piece in json.loads(done.stdout)]


async def synthesize(pieces: set[str]) -> dict[str, float]:
    tts = await start_service("wyoming_kokoro", "--provider", "piper", "--cache-mb", "0")
    times: dict[str, list[float]] = {}
    try:
        await synth_first_audio(tts.uri, "Hello there.")  # warm
        for _ in range(3):
            for piece in sorted(pieces):
                times.setdefault(piece, []).append(await synth_first_audio(tts.uri, piece))
    finally:
        await tts.stop()
    return {piece: statistics.median(values) for piece, values in times.items()}


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    replies = Path(sys.argv[1])
    arms: dict[str, list[tuple[int, float, str]]] = {}
    for spec in sys.argv[2:]:
        name, _, where = spec.partition("=")
        tree, _, kwargs = where.partition(":")
        arms[name] = replay(tree, replies, kwargs or "{}")
    load = os.getloadavg()[0]
    synth = asyncio.run(synthesize({piece for rows in arms.values() for _, _, piece in rows}))
    print(f"{time.strftime('%H:%M:%S', time.gmtime())} UTC, load {load:.2f} -> {os.getloadavg()[0]:.2f}")
    totals = {name: [ready + synth[piece] for _, ready, piece in rows] for name, rows in arms.items()}
    first = next(iter(arms))
    for name, rows in arms.items():
        cells = {"tokens": [float(i) for i, _, _ in rows], "ready": [r for _, r, _ in rows],
                 "synth": [synth[p] for _, _, p in rows], "total": totals[name]}
        line = "  ".join(f"{key} {statistics.median(v):.3f}/{pct(v, 0.95):.3f}" for key, v in cells.items())
        diffs = [b - a for a, b in zip(totals[first], totals[name], strict=True)]
        print(f"{name:12} n={len(rows)}  {line}  vs {first}: p50 {statistics.median(diffs):+.3f}, "
              f"faster in {sum(d < -0.005 for d in diffs)}, slower in {sum(d > 0.005 for d in diffs)}")
    for k in range(len(totals[first])):
        print(k, " | ".join(f"{name}: {rows[k][0]} {rows[k][1]:.3f} {synth[rows[k][2]]:.3f} {rows[k][2]!r}"
                            for name, rows in arms.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
