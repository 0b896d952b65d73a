"""Paired differences of two arms of a ``bench/llm_turn_pair_bench.py`` result, clip by clip.

For each step (end of turn, first token, first TTS audio, first audio sent, from the clip's last voiced
sample): the other arm minus the base arm, p50 and how many clips were faster, over the clips both heard
alike (``--same-reply``: also with the same reply text, which the pair bench does not keep: the same
completion token count and first-chunk stats stand in for it).

    .venv/bin/python bench/llm_pair_diff.py pair.json a b
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

STEPS = ("eot", "prep", "first_token", "first_tts_audio", "first_audio_sent")


def same(x: dict[str, Any], y: dict[str, Any]) -> bool:
    tokens = [[r.get("tokens") for r in row["llama"]] for row in (x, y)]
    return bool(x["heard"] == y["heard"] and tokens[0] == tokens[1])


def main() -> int:
    path, base, other = sys.argv[1:4]
    data = json.loads(Path(path).read_text())
    rows = data["rows"]
    pairs = [(x, y) for x, y in zip(rows[base], rows[other], strict=True) if same(x, y)]
    print(f"{path}: {data['started']} - {data['ended']}, load {data['load_start'][0]:.1f} -> {data['load_end'][0]:.1f};"
          f" {other} - {base} over {len(pairs)} of {len(rows[base])} clips heard alike (same tokens)")
    for step in STEPS:
        diffs = [y[step] - x[step] for x, y in pairs if x.get(step) is not None and y.get(step) is not None]
        if diffs:
            base_p50 = statistics.median([x[step] for x, _ in pairs if x.get(step) is not None])
            print(f"  {step:17s} p50 {statistics.median(diffs):+.3f} s  faster in {sum(d < 0 for d in diffs)}"
                  f" of {len(diffs)}  (base p50 {base_p50:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
