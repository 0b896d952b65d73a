"""Offline, no decoding: the end-of-turn rules of today over the decodes stored by
``bench/eot_pad_probe.py`` (``bench/results/eot_pad.json``: tiny.en's speculative final text at
every pause and at the end of each corpus request).

Per split: finished requests read as unfinished at their end (each waits: the cap, or the weak
wait when only the final period is missing), and paused requests read as finished at a pause (a
cut unless the continuation merges it), with the weak verdicts at pauses and their pause lengths
(a weak verdict ends a pause only if it lasts longer than the weak wait).

    python bench/eot_rejudge.py [--file bench/results/eot_pad.json] [--pad 0.1] [--beam 5]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wyoming_whisper.endpoint import judge  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", type=Path, default=ROOT / "bench" / "results" / "eot_pad.json")
    parser.add_argument("--pad", type=float, default=0.1)
    parser.add_argument("--beam", type=int, default=5)
    args = parser.parse_args()
    rows = [r for r in json.loads(args.file.read_text())["rows"] if (r["pad"], r["beam"]) == (args.pad, args.beam)]
    for split in ("tune", "held"):
        mine = [r for r in rows if r["split"] == split]
        ends = [(r["id"], r["text"], judge(r["text"])) for r in mine]
        waiting = [(i, t, v) for i, t, v in ends if not v.finished]
        paused = [r for r in mine if r["pause"] > 0]
        cut = [r["id"] for r in paused if any(judge(p["text"]).finished for p in r["points"][:-1])]
        weak_pauses = [(r["id"], r["pause"], p["text"]) for r in paused for p in r["points"][:-1]
                       if judge(p["text"]).weak]
        print(f"{split}: {len(mine)} requests; unfinished at the end {len(waiting)} "
              f"(weak {sum(v.weak for _, _, v in waiting)}); paused read finished at a pause "
              f"{len(cut)}/{len(paused)}; weak verdicts at pauses {len(weak_pauses)}")
        for i, text, verdict in waiting:
            print(f"  end   {i}: {text!r} -> {verdict.reason}{' (weak)' if verdict.weak else ''}")
        for i, pause, text in weak_pauses:
            print(f"  pause {i} ({pause:.2f} s): {text!r} (weak)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
