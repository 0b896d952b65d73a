"""Replay many kept room runs through the echo chain and compare two codes' decisions (offline, deterministic).

Per kept run (a folder with ``tap/``, ``run.log`` and ``result.json``: ``room_bench.py``, ``room_cont_bench.py``,
``room_turns_bench.py`` with ``--tap``) it runs :func:`bench.echo_replay_cont.analyse` (the going-on window opened
as live) and keeps, besides its summary: every hold (room s), the holds with nobody speaking, each utterance's first
hold (s after its onset; None: never held) and the ERLE of each reply.

    python -m bench.echo_replay_all KEEP [KEEP ...] --json OUT.json
    python -m bench.echo_replay_all --compare BEFORE.json AFTER.json

``--compare`` prints what moved: holds with nobody gained or lost, utterances held later / earlier / no longer, tails
that no longer reach a continuation, and the per-reply ERLE (min, median) of each run.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from bench.echo_replay import room_times
from bench.echo_replay_cont import analyse


def one(keep: Path) -> dict[str, Any]:
    r = analyse(keep)
    room = room_times(keep / "tap")
    assert room is not None
    _, utterances, _ = room
    held = sorted(r["hold_t"])
    firsts = {}
    for u in utterances:
        lo, hi = u["onset"] - 0.1, u["offset"] + 0.3
        first = next((h for h in held if lo <= h <= hi), None)
        firsts[f"{u['wav']}@{u['onset']:.2f}"] = None if first is None else round(first - u["onset"], 3)
    r["firsts"] = firsts
    return r


def compare(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
    by_tap = {r["tap"]: r for r in before}
    for a in after:
        b = by_tap.get(a["tap"])
        if b is None:
            continue
        gained = sorted(set(a["holds_nobody"]) - set(b["holds_nobody"]))
        lost = sorted(set(b["holds_nobody"]) - set(a["holds_nobody"]))
        moved = []
        for k, t0 in b["firsts"].items():
            t1 = a["firsts"].get(k)
            if t0 != t1:
                moved.append(f"{k}: {t0} -> {t1}")
        tails = [x["wav"] for x, y in zip(b["tails"], a["tails"], strict=True)
                 if x["confirmed"] and not y["confirmed"]]
        eb, ea = b["erle_db"], a["erle_db"]
        erle = (f"ERLE min/median {min(eb, default=None)}/{statistics.median(eb) if eb else None} -> "
                f"{min(ea, default=None)}/{statistics.median(ea) if ea else None} (n={len(ea)})")
        print(f"{a['tap']}: holds {b['holds']} -> {a['holds']}, nobody {len(b['holds_nobody'])} -> "
              f"{len(a['holds_nobody'])} (+{gained} -{lost}); {erle}")
        for m in moved:
            print(f"  first hold moved {m}")
        for t in tails:
            print(f"  tail no longer reaches a continuation: {t}")
        for x, y in zip(b["tails"], a["tails"], strict=True):
            if y["confirmed"] and not x["confirmed"]:
                print(f"  tail now reaches a continuation: {y['wav']} (voiced {x['voiced']} -> {y['voiced']})")
        before_conts = {c["wav"] + str(c["onset"]): c for c in b.get("conts", [])}
        for c in a.get("conts", []):
            o = before_conts.get(c["wav"] + str(c["onset"]))
            if o is None or (o["confirmed"], o["voiced"]) != (c["confirmed"], c["voiced"]):
                print(f"  held in the going-on window: {c['wav']} {o and (o['voiced'], o['confirmed'])} -> "
                      f"{(c['voiced'], c['confirmed'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("keep", type=Path, nargs="*", help="kept room run folders")
    parser.add_argument("--json", type=Path, help="write every result here")
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        compare(*(json.loads(p.read_text()) for p in args.compare))
        return
    out = []
    for keep in args.keep:
        r = one(keep)
        out.append(r)
        print(f"{keep}: holds {r['holds']}, nobody {r['holds_nobody']}, tails confirmed {r['tails_confirmed']}"
              f"/{len(r['tails'])}, ERLE n={len(r['erle_db'])} min {min(r['erle_db'], default=None)}", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
