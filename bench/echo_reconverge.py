"""How the canceller takes each move of the echo path in a tapped room run, frame by frame (offline).

Replays a tap (``bench/echo_replay.py``: the satellite's chain on the live run's frames, kills and
write-ahead counters) and lists, per reply, its ERLE as the satellite logs it (energy over the judge's
echo frames) and the events inside it: a stall / underrun (the delay measured again), the delay found
(``moved``), an unseen slip, a kept path adopted. For every reply with such an event, the canceller's
ERLE in windows of ``--window`` echo frames from the event on (mic energy over output energy on frames
whose reference is audible, whether or not the judge counted them), and how many frames it did not
cancel at all (waiting for the delay: the raw mic was the output).

    python -m bench.echo_reconverge TAP [TAP ...] [--window 10] [--json OUT]

``--jump S MS`` moves the echo path unseen at mic second S by MS (bench.echo_replay.jumped): a
synthetic move on a real tap; with ``--signal`` the satellite is made to see it there: an underrun of the
write-ahead (MS > 0) or a frame the speaker dropped (MS < 0), its counter one more from that frame on.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from bench import echo_replay
from bench.echo_replay import FRAME, RATE, ReplayChain, Tick, replay
from satellite.echo import EchoConfig

AUDIBLE_DB = -45.0  # a reference frame this loud (dBFS) counts as playing
EVENTS = ("moved", "unseen", "kept echo path", "measured again", "reference delayed by", "no clear echo delay")


class _Events(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.frame = 0
        self.events: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if any(e in msg for e in EVENTS) and "plays" not in msg:  # (not the write-ahead's idle trims)
            self.events.append((self.frame, msg))


def _db(a: float, b: float) -> float | None:
    return round(10 * math.log10(a / b), 1) if a > 0 and b > 0 else None


def _signalled(at: int, later: bool) -> Any:
    """``echo_replay.ticks`` with the write-ahead's underrun counter (``later``; else the speaker's dropped
    frames: sooner) one more from frame ``at`` on."""
    plain = echo_replay.ticks

    def ticks(folder: Path) -> Any:
        for i, t in enumerate(plain(folder)):
            if i >= at and later:
                t.underruns += 1
            elif i >= at:
                t.dropped += 1
            yield t

    return ticks


def analyse(tap: Path, window: int, jump: tuple[float, float] | None = None, signal: bool = False) -> dict[str, Any]:
    handler = _Events()
    for name in ("satellite.aec", "satellite.speaker_path", "satellite.core"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.DEBUG)
    rows: list[tuple[float, float, float, bool]] = []  # mic energy, out energy, ref dBFS, cancelling

    def after(i: int, t: Tick, chain: ReplayChain, cleaned: bytes) -> None:
        x = np.frombuffer(t.mic, dtype="<i2").astype(np.float64)
        y = np.frombuffer(cleaned, dtype="<i2").astype(np.float64)
        r = np.frombuffer(t.ref, dtype="<i2").astype(np.float64)
        ref_db = 20 * math.log10(max(float(np.sqrt(np.mean(r * r))) if len(r) else 0.0, 1e-3) / 32768)
        assert chain.frontend is not None
        rows.append((float(np.dot(x, x)), float(np.dot(y, y)), ref_db, chain.frontend.cancelling))
        handler.frame = i + 1

    erle: list[tuple[float, float, int]] = []
    plain = echo_replay.ticks
    if signal and jump is not None:
        echo_replay.ticks = _signalled(int(jump[0] * RATE / FRAME), jump[1] > 0)
    try:
        holds = replay(tap, EchoConfig(), quiet=True, erle=erle, after_frame=after, jump=jump)
    finally:
        echo_replay.ticks = plain
        for name in ("satellite.aec", "satellite.speaker_path", "satellite.core"):
            logging.getLogger(name).removeHandler(handler)
    ends = [round(t * RATE / FRAME) for t, _, _ in erle]
    replies: list[dict[str, Any]] = []
    start = 0
    for (t, db, n), end in zip(erle, ends, strict=True):
        ev = [(f, m) for f, m in handler.events if start <= f < end]
        reply: dict[str, Any] = {"end_s": round(t, 2), "erle_db": round(db, 1), "frames": n}
        if ev:
            reply["events"] = [{"mic_s": round(f * FRAME / RATE, 2), "msg": m} for f, m in ev]
            first = ev[0][0]
            wins: list[float | str | None] = []
            audible = [k for k in range(first, end) if rows[k][2] > AUDIBLE_DB]
            for w in range(0, len(audible), window):
                ks = [k for k in audible[w : w + window] if rows[k][3]]
                waited = len(audible[w : w + window]) - len(ks)
                got = _db(sum(rows[k][0] for k in ks), sum(rows[k][1] for k in ks)) if ks else None
                wins.append(f"{got}/w{waited}" if waited else got)
            reply["after_event_erle_db"] = wins
            reply["uncancelled_frames"] = sum(1 for k in audible if not rows[k][3])
        replies.append(reply)
        start = end
    later = [r["erle_db"] for r in replies[1:] if r["frames"] >= 30]
    return {
        "tap": str(tap),
        "holds": len(holds),
        "hold_s": [h["mic_s"] for h in holds],
        "replies": replies,
        "later_p50_db": round(float(np.median(later)), 1) if later else None,
        "later_min_db": round(min(later), 1) if later else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("taps", nargs="+", type=Path)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--jump", type=float, nargs=2, metavar=("SECONDS", "MS"))
    parser.add_argument("--signal", action="store_true", help="--jump seen by the write-ahead (an underrun)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = []
    for tap in args.taps:
        r = analyse(tap, args.window, tuple(args.jump) if args.jump else None, args.signal)
        out.append(r)
        print(f"== {tap}: holds {r['holds']} {r['hold_s']}; ERLE later p50 {r['later_p50_db']} min {r['later_min_db']}")
        for rep in r["replies"]:
            line = f"  reply to {rep['end_s']:7.2f} s: {rep['erle_db']:5.1f} dB over {rep['frames']} frames"
            if "events" in rep:
                line += f"; uncancelled {rep['uncancelled_frames']}; after: {rep['after_event_erle_db']}"
                for e in rep["events"]:
                    line += f"\n      {e['mic_s']:7.2f} s {e['msg']}"
            print(line)
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
