"""Gaps of digital silence inside the replies a room run played (a kept room folder).

The room's sound card plays exact zeros when it runs dry (an underrun: the satellite fell
behind by more than what the card held); a reply's own pauses are quiet but seldom exact zeros
for a whole 10 ms block. The satellite also writes zeros when its reply buffer is empty in the
middle of a reply (the TTS behind real time), so this counts both: compare runs of the same
scenario, before and after a change of the speaker's buffering.

    python bench/room_gaps.py /tmp/room-turns-held-on-p1of2 [...]
"""

from __future__ import annotations

import argparse
import json
import wave
from pathlib import Path

import numpy as np


def gaps(folder: Path, min_ms: int = 10) -> tuple[int, list[float]]:
    """(replies, lengths in seconds of the runs of all-zero 10 ms blocks inside them)."""
    result = json.loads((folder / "result.json").read_text())
    with wave.open(str(folder / "played.wav"), "rb") as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    edges = np.round(np.arange(len(x) * 100 // rate + 1) * rate / 100).astype(int)  # 10 ms blocks (220.5 samples)
    nonzero = np.add.reduceat(x != 0, edges[:-1]) if len(edges) > 1 else np.zeros(0, int)
    zero = nonzero == 0
    offset = float(result.get("wav_offset_s", 0.0))
    found: list[float] = []
    for reply in result["replies"]:
        a = round((reply["start"] + offset) * 100) + 1
        b = round((reply["end"] + offset) * 100) - 1
        run = 0
        for i in range(max(0, a), min(b, len(zero))):
            if zero[i]:
                run += 1
            else:
                if run * 10 >= min_ms:
                    found.append(run / 100)
                run = 0
    return len(result["replies"]), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--min-ms", type=int, default=10)
    args = parser.parse_args()
    for folder in args.folders:
        replies, found = gaps(folder, args.min_ms)
        lengths = ", ".join(f"{g * 1000:.0f}" for g in sorted(found, reverse=True)[:12])
        print(
            f"{folder}: {replies} replies, {len(found)} zero gaps >= {args.min_ms} ms inside them, "
            f"{sum(found):.2f} s in all; longest (ms): {lengths}"
        )


if __name__ == "__main__":
    main()
