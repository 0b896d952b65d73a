"""Where a room barge-in's time went: the satellite deciding, or the silence reaching the room's speaker.

The room (``../shared/room``) measures a barge-in as one number: the user's speech onset -> the
speaker silent (``reaction_s``). This splits it on the room's timeline, from a kept room run
(``room_bench.py --keep DIR [--tap]``: ``result.json``, ``run.log`` with ``--debug``, the tap):

* ``detect_s``: onset -> the end of the mic frame the satellite held (or stopped) the reply on (the
  ``barge-in trace`` debug line's ``mic_ms``). The satellite's mic timeline starts at the first block
  the room wrote to a reader: ``stats.mic_unread_blocks`` blocks after the room's launch, which is
  ``wav_offset_s`` before the scenario's start (checked on session 26's every-question tap: the tap's mic
  is ``mic.wav`` from exactly 0.44 s, 44 unread blocks). A block the room dropped because nobody read it
  in time (``mic_overrun_blocks``) puts the satellite's timeline that much behind: flagged, not corrected.
* ``deliver_s`` (with the tap only): the frame's end -> the satellite's read of it returning (the tap's
  monotonic ``read`` against the room's ``t0_monotonic``: the same clock). A satellite that fell behind
  its mic (a stall of ours) shows here.
* ``stop_s``: the satellite's read of the frame (the frame's end without the tap) -> the room's speaker
  silent. The satellite silences its sink within ``judged_to_silent_ms`` of the judge (the trace line);
  the rest is the sound path: the room sees the player's EOF and drops what it held. ``late_stop``: over
  ``LATE_STOP_S`` although the satellite's sink was silent within a few ms of its decision: the room's
  own lateness (its tick loop not polling the FIFO), not audio we had written ahead (a killed player's
  queue, FIFO and pipe are dropped, never played).

Also what the judge knew at the hold (``trusted``, ``erle_db``, ``suspended``, the trigger: a VAD
``speech-start`` or an ``onset``): an untrusted canceller leaves the raw gate alone to decide, and a user
at the echo's level waits for the VAD.

    python -m bench.stall_split DIR/barge+0dB [DIR/barge-6dB ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

LATE_STOP_S = 0.03  # hold frame read -> silent at the room's speaker beyond this: not the satellite's kill
_BEFORE_S = 0.3  # a hold up to this long before a barge-in's onset is its own (the room's onset is a 10 ms energy mark)
_TRIGGER = re.compile(r"state (?:speaking|announcing) -> (?:announce-)?barge-in on ([\w-]+)")
_TRACE = re.compile(r"barge-in trace action=(\w+) mic_ms=(\d+) .*?judged_to_silent_ms=([\d.]+)")
_JUDGE = re.compile(r"barge-in judge action=(\w+) trusted=(\w+) suspended=(\w+) erle_db=(\S+) .*?double_talk=(\w+)")


@dataclass
class Hold:
    """One silencing of the reply by the satellite, from its debug log."""

    action: str  # hold | stop
    mic_ms: int  # the end of the frame it was decided on (the satellite's mic timeline)
    judged_to_silent_ms: float
    trigger: str = ""  # speech-start | onset | ... ("" if the state line was not found)
    trusted: bool | None = None
    suspended: bool | None = None
    erle_db: float | None = None
    double_talk: bool | None = None


def parse_holds(log: str) -> list[Hold]:
    """The satellite's silencings in order: each ``barge-in trace`` line, with the state change before it
    and the ``barge-in judge`` line after it."""
    holds: list[Hold] = []
    trigger = ""
    for line in log.splitlines():
        if m := _TRIGGER.search(line):
            trigger = m.group(1)
        elif m := _TRACE.search(line):
            holds.append(Hold(m.group(1), int(m.group(2)), float(m.group(3)), trigger))
            trigger = ""
        elif (m := _JUDGE.search(line)) and holds and holds[-1].trusted is None:
            hold = holds[-1]
            hold.trusted, hold.suspended = m.group(2) == "True", m.group(3) == "True"
            hold.erle_db = None if m.group(4) == "n/a" else float(m.group(4))
            hold.double_talk = m.group(5) == "True"
    return holds


def mic_origin_s(result: dict[str, Any]) -> float:
    """The scenario time of the satellite's mic sample 0 (see the module's docstring)."""
    block_s = float(result["config"]["block_ms"]) / 1000
    return float(result["stats"]["mic_unread_blocks"]) * block_s - float(result["wav_offset_s"])


def read_times(meta: str) -> dict[int, float]:
    """The tap's ``meta.tsv``: mic_ms (end of frame) -> the monotonic time the satellite's read of it returned."""
    out: dict[int, float] = {}
    for line in meta.splitlines():
        fields = line.split("\t")
        if len(fields) >= 6:
            out[int(float(fields[5]))] = float(fields[0])
    return out


def split(result: dict[str, Any], log: str, reads: dict[int, float] | None = None) -> list[dict[str, Any]]:
    """One row per room barge-in (``result["barge_in"]``): its reaction split at the satellite's first hold
    (or stop) from ``_BEFORE_S`` before its onset to its silence."""
    origin = mic_origin_s(result)
    overruns = int(result["stats"].get("mic_overrun_blocks", 0))
    scenario0 = float(result["t0_monotonic"]) + float(result["wav_offset_s"])
    holds = parse_holds(log)
    rows = []
    for b in result["barge_in"]:
        onset, silent = float(b["onset"]), float(b["silent_at"])
        row: dict[str, Any] = {"utterance": b["utterance"], "wav": b["wav"], "reply": b["reply"], "onset": onset,
                               "reaction_s": b["reaction_s"], "cut": b["cut"], "mic_overrun_blocks": overruns}
        mine = [h for h in holds if onset - _BEFORE_S <= h.mic_ms / 1000 + origin <= silent + LATE_STOP_S]
        if not mine:
            rows.append(row | {"hold": None})
            continue
        hold = mine[0]
        at = hold.mic_ms / 1000 + origin
        read = reads.get(hold.mic_ms) if reads else None
        read_at = read - scenario0 if read is not None else None
        after = read_at if read_at is not None else at
        row |= {"hold": hold.action, "trigger": hold.trigger, "trusted": hold.trusted, "suspended": hold.suspended,
                "erle_db": hold.erle_db, "double_talk": hold.double_talk, "hold_at": round(at, 3),
                "detect_s": round(at - onset, 3),
                "deliver_s": None if read_at is None else round(read_at - at, 3),
                "stop_s": round(silent - after, 3), "sink_silent_ms": hold.judged_to_silent_ms}
        row["late_stop"] = row["stop_s"] > LATE_STOP_S and hold.judged_to_silent_ms < LATE_STOP_S * 1000
        rows.append(row)
    return rows


def _pcts(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"p50": None, "p95": None, "max": None, "n": 0}
    return {"p50": round(float(np.percentile(values, 50)), 3), "p95": round(float(np.percentile(values, 95)), 3),
            "max": round(max(values), 3), "n": len(values)}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The split's percentiles, the barge-ins whose silence came late after the satellite's sink was
    silent (the room's), and the holds over an untrusted canceller (the judge's raw gate deciding)."""
    held = [r for r in rows if r.get("hold")]
    delivered = [r["deliver_s"] for r in held if r.get("deliver_s") is not None]
    return {"barge_ins": len(rows), "held": len(held),
            "detect_s": _pcts([r["detect_s"] for r in held]),
            "deliver_s": _pcts(delivered) if delivered else None,
            "stop_s": _pcts([r["stop_s"] for r in held]),
            "late_stop": [r["utterance"] for r in held if r["late_stop"]],
            "untrusted_holds": [r["utterance"] for r in held if r["trusted"] is False],
            "mic_overrun_blocks": rows[0]["mic_overrun_blocks"] if rows else 0}


def split_dir(folder: Path) -> list[dict[str, Any]]:
    """A kept room run's folder (result.json, run.log, and tap/meta.tsv when tapped). Reads those
    files by name only (the folder also holds the room's FIFOs)."""
    result = json.loads((folder / "result.json").read_text())
    log = (folder / "run.log").read_text(errors="replace")
    meta = folder / "tap" / "meta.tsv"
    reads = read_times(meta.read_text()) if meta.is_file() else None
    return split(result, log, reads)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench stall_split", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", type=Path, nargs="+", help="kept room runs (room_bench --keep X: X/barge+0dB ...)")
    parser.add_argument("--json", type=Path, help="write every row and each run's summary here")
    args = parser.parse_args(argv)
    out: dict[str, Any] = {}
    for folder in args.dirs:
        rows = split_dir(folder)
        out[str(folder)] = {"rows": rows, "summary": summary(rows)}
        print(f"== {folder}")
        for r in rows:
            if not r.get("hold"):
                print(f"  u{r['utterance']:<3} {r['wav']:9s} reaction {r['reaction_s']:.3f}  no hold found")
                continue
            deliver = "  -   " if r["deliver_s"] is None else f"{r['deliver_s']:.3f}"
            print(f"  u{r['utterance']:<3} {r['wav']:9s} reaction {r['reaction_s']:.3f} = detect {r['detect_s']:.3f}"
                  f" + deliver {deliver} + stop {r['stop_s']:.3f}  on {r['trigger'] or '?'} trusted={r['trusted']}"
                  f" erle={r['erle_db']} suspended={r['suspended']}{'  LATE STOP (room)' if r['late_stop'] else ''}")
        print(f"  {json.dumps(summary(rows))}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
