"""How the echo chain takes each reply's onset (the playback rising after a quiet stretch), per tap.

Replays a tap (``bench/echo_replay.py``) and, at every reply onset (the speaker frame over ``-30``
dBFS after at least ``--quiet-s`` under it), prints the first frames of its echo at the mic:
the mic, the canceller's output, how much it took out, the judge's excess over the residual echo
(broadband / high band), the output's correlation with the canceller's estimate, and whether the
judge held there. Per onset the ERLE over the first ``--first-ms`` of echo (from the first mic frame
``--echo-db`` over the mic's level before the onset), and the reply's ERLE after that.

    python -m bench.echo_onset TAP [TAP ...] [--frames 8] [--json OUT]
    python -m bench.echo_onset --holds KEEP [KEEP ...] --json OUT   # each room run's holds, per utterance
    python -m bench.echo_onset --compare A.json B.json              # two codes' --holds on the same runs

``--holds`` replays each kept room run (its ``tap/``, ``run.log`` and ``result.json``) with the going-on
window opened as live (``bench/echo_replay_cont.py``) and lists every hold with who spoke then, each
utterance's first hold (seconds after its onset), the replies' ERLE and the canceller's unseen-slip
re-alignments (:mod:`satellite.aec_slip`); ``--compare`` prints what differs between two such files
(main's code and a branch's: run each with its own ``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.echo_replay import FRAME, RATE, ReplayChain, Tick, label, replay, room_times
from satellite.echo import EchoConfig, frame_rms, ratio_to_db

LOUD_DB = -30.0


@dataclass
class Onset:
    frame: int  # the first loud speaker frame
    before_db: float  # the mic's level over the quiet stretch (its median)
    rows: list[dict[str, Any]] = field(default_factory=list)
    echo_from: int | None = None  # the first frame of the echo at the mic
    mic_e: float = 0.0  # energy over the first echo frames (--first-ms), mic and output
    out_e: float = 0.0
    later_mic_e: float = 0.0  # ... and over the rest of the reply's first ~2 s of echo
    later_out_e: float = 0.0
    held: bool = False

    def summary(self) -> dict[str, Any]:
        def db(a: float, b: float) -> float | None:
            return round(10 * math.log10(a / b), 1) if a > 0 and b > 0 else None

        return {
            "frame": self.frame,
            "mic_s": round((self.frame + 1) * FRAME / RATE, 2),
            "held": self.held,
            "first_erle_db": db(self.mic_e, self.out_e),
            "later_erle_db": db(self.later_mic_e, self.later_out_e),
            "rows": self.rows,
        }


class Watch:
    """``after_frame`` of :func:`bench.echo_replay.replay`: collects the onsets' frames."""

    def __init__(self, quiet_s: float, frames: int, first_ms: float, echo_db: float) -> None:
        self.quiet_frames = round(quiet_s * RATE / FRAME)
        self.frames = frames
        self.first = max(1, round(first_ms / 1000 * RATE / FRAME))
        self.echo_db = echo_db
        self.quiet_run = 0
        self.mics: list[float] = []
        self.onsets: list[Onset] = []
        self.current: Onset | None = None

    def __call__(self, i: int, t: Tick, chain: ReplayChain, cleaned: bytes) -> None:
        ref_db = ratio_to_db(frame_rms(t.ref)) if t.ref else -120.0
        mic_db = ratio_to_db(frame_rms(t.mic))
        out_db = ratio_to_db(frame_rms(cleaned))
        self.mics = [*self.mics[-(self.quiet_frames - 1) :], mic_db]
        g = chain.guard
        if ref_db > LOUD_DB and self.quiet_run >= self.quiet_frames:
            self.current = Onset(i, float(np.median(self.mics)))
            self.onsets.append(self.current)
        self.quiet_run = self.quiet_run + 1 if ref_db <= LOUD_DB else 0
        o = self.current
        if o is None:
            return
        if o.echo_from is None and mic_db > o.before_db + self.echo_db:
            o.echo_from = i
        if o.echo_from is None:
            if i - o.frame > 20:
                self.current = None
            return
        k = i - o.echo_from
        mic_e, out_e = frame_rms(t.mic) ** 2, frame_rms(cleaned) ** 2
        if k < self.first:
            o.mic_e, o.out_e = o.mic_e + mic_e, o.out_e + out_e
        elif k < self.first + round(2.0 * RATE / FRAME):
            o.later_mic_e, o.later_out_e = o.later_mic_e + mic_e, o.later_out_e + out_e
        else:
            self.current = None
        o.held = o.held or (g.onset and k < self.frames)
        if k < self.frames:
            o.rows.append(
                {
                    "frame": i,
                    "mic": round(mic_db, 1),
                    "out": round(out_db, 1),
                    "took": round(mic_db - out_db, 1),
                    "ref": round(ref_db, 1),
                    "excess": round(g.residual.excess_db, 1),
                    "hi": round(g.residual_hi.excess_db, 1),
                    "est_corr": round(chain.frontend.estimate_corr, 2) if chain.frontend is not None else None,
                    "erle": None if g.erle_db is None else round(g.erle_db, 1),
                    "trusted": g.converged,
                    "onset": g.onset,
                }
            )


def onsets(tap: Path, echo: EchoConfig, *, quiet_s: float = 1.0, frames: int = 8, first_ms: float = 200.0,
           echo_db: float = 10.0) -> list[Onset]:
    watch = Watch(quiet_s, frames, first_ms, echo_db)
    replay(tap, echo, quiet=True, after_frame=watch)
    return watch.onsets


def holds_report(keep: Path) -> dict[str, Any]:
    """Every hold the chain makes over a kept room run, and each utterance's first (see the module's doc)."""
    from bench.echo_replay_cont import Window  # (imported here: only this mode needs the run's log)

    tap = keep / "tap"
    room = room_times(tap)
    assert room is not None, "the room's result.json beside the tap"
    t0, utterances, replies = room
    opener = Window((keep / "run.log").read_text(errors="replace"))
    erle: list[tuple[float, float, int]] = []
    slips: list[float] = []
    watch = Watch(1.0, 8, 200.0, 10.0)

    def after(i: int, t: Tick, chain: ReplayChain, cleaned: bytes) -> None:
        opener(i, t, chain, cleaned)
        watch(i, t, chain, cleaned)
        f = chain.frontend
        if f is not None and getattr(f, "slips", 0) > len(slips):
            slips.append(round((i + 1) * FRAME / RATE, 2))

    holds = replay(tap, EchoConfig(), quiet=True, after_frame=after, erle=erle)
    rows = [{"mic_s": h["mic_s"], "room_t": round(h["read"] - t0, 3), "who": label(h["read"] - t0, utterances, replies),
             "after_live_kill": "live_kill_ms" in h} for h in holds]
    firsts = []
    for u in utterances:
        first = next((r for r in rows if u["onset"] - 0.1 <= r["room_t"] <= u["offset"] + 0.3), None)
        firsts.append({"wav": u["wav"], "onset": round(u["onset"], 3),
                       "held_s": None if first is None else round(first["room_t"] - u["onset"], 3)})
    return {"keep": str(keep), "holds": len(rows), "rows": rows,
            "nobody": [r["mic_s"] for r in rows if "no user" in r["who"] and not r["after_live_kill"]],
            "utterances": firsts, "erle_db": [(round(t, 2), round(e, 1), n) for t, e, n in erle if n >= 30],
            "slips_at_s": slips,
            "onsets": [{k: v for k, v in o.summary().items() if k != "rows"} for o in watch.onsets]}


def compare(a: Path, b: Path) -> None:
    """What differs between two ``--holds`` files of the same runs (A: e.g. main's code, B: a branch's)."""
    runs_a = {r["keep"]: r for r in json.loads(a.read_text())}
    for rb in json.loads(b.read_text()):
        ra = runs_a.get(rb["keep"])
        if ra is None:
            continue
        held_a = [u["held_s"] for u in ra["utterances"]]
        held_b = [u["held_s"] for u in rb["utterances"]]
        print(f"{rb['keep']}: holds {ra['holds']} -> {rb['holds']}, with nobody {ra['nobody']} -> {rb['nobody']}, "
              f"utterances held {sum(h is not None for h in held_a)} -> {sum(h is not None for h in held_b)} "
              f"of {len(held_b)}, slips {len(ra.get('slips_at_s', []))} -> {len(rb.get('slips_at_s', []))} "
              f"{rb.get('slips_at_s', [])}")
        for u, x, y in zip(rb["utterances"], held_a, held_b, strict=False):
            if x != y:
                print(f"    {u['wav']} at {u['onset']:.2f}: held {x} -> {y}")
        fa = [o["first_erle_db"] for o in ra.get("onsets", []) if o["first_erle_db"] is not None]
        fb = [o["first_erle_db"] for o in rb.get("onsets", []) if o["first_erle_db"] is not None]
        if fa and fb:
            print(f"    reply onsets' first 200 ms ERLE p50 {np.median(fa):.1f} -> {np.median(fb):.1f}, "
                  f"min {min(fa):.1f} -> {min(fb):.1f} (n {len(fa)} / {len(fb)})")
        ea = [e for _, e, _ in ra["erle_db"]]
        eb = [e for _, e, _ in rb["erle_db"]]
        if ea and eb:
            print(f"    reply ERLE p50 {np.median(ea):.1f} -> {np.median(eb):.1f}, min {min(ea):.1f} -> {min(eb):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("taps", type=Path, nargs="+", help="taps (kept runs: --holds; files: --compare)")
    parser.add_argument("--holds", action="store_true", help="every hold over kept room runs (KEEP/tap, run.log)")
    parser.add_argument("--compare", action="store_true", help="two --holds files: what differs")
    parser.add_argument("--frames", type=int, default=8, help="frames of each onset's echo to print")
    parser.add_argument("--quiet-s", type=float, default=1.0, help="playback quiet this long before an onset")
    parser.add_argument("--first-ms", type=float, default=200.0, help="the onset's ERLE over this much echo")
    parser.add_argument("--rows", action="store_true", help="print each onset's frames")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.compare:
        compare(*args.taps[:2])
        return
    if args.holds:
        reports = []
        for keep in args.taps:
            reports.append(holds_report(keep))
            r = reports[-1]
            print(f"{keep}: holds {r['holds']}, nobody {r['nobody']}, slips {r['slips_at_s']}", flush=True)
        if args.json is not None:
            args.json.write_text(json.dumps(reports, indent=1))
        return
    out: dict[str, Any] = {}
    for tap in args.taps:
        found = onsets(tap, EchoConfig(), quiet_s=args.quiet_s, frames=args.frames, first_ms=args.first_ms)
        out[str(tap)] = [o.summary() for o in found]
        firsts = [s["first_erle_db"] for s in out[str(tap)] if s["first_erle_db"] is not None]
        print(f"{tap}: {len(found)} onsets, held on {sum(o.held for o in found)}; first-{args.first_ms:.0f} ms ERLE "
              f"p50 {np.median(firsts) if firsts else float('nan'):.1f} min {min(firsts, default=float('nan')):.1f} dB")
        for s in out[str(tap)]:
            print(f"  {s['mic_s']:8.2f} s first {s['first_erle_db']} later {s['later_erle_db']}"
                  f"{' HELD' if s['held'] else ''}")
            if args.rows:
                for r in s["rows"]:
                    print("     ", json.dumps(r))
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
