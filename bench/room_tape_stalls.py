"""The room simulator's own stalls in a tapped run, and what they cost the speaker's start level.

``/work/shared/room/room.py`` records into growable arrays (``Tape``: 2**18 samples, doubled with a copy when
full): the played tape at the speaker's 22050 Hz doubles at 11.9, 23.8, 47.6, 95.1, 190.2 s, the two 16 kHz
tapes at 16.4, 32.8, 65.5, 131.1 s. From ~47 s on a doubling copies 8-34 MB inside the room's tick loop
(this box, load 10: 30-112 ms CPU, 56-212 ms wall), so the room's mic and its card are late together; the
satellite cannot tell that from its own stall: it counts an underrun and raises its speaker lead to 40 ms for
30 s (``satellite/write_ahead.py``). Per tap: the mic-read gaps > 45 ms, the offset (tap start - room t0,
fitted) that puts them on the doublings, and the start level of each sound (what the card holds when a
reply's first frame is written) replayed as live and with the underruns at the doublings not raising the lead.

    python -m bench.room_tape_stalls TAP_DIR...
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from bench.echo_replay import Tick, ticks
from bench.write_ahead_probe import _QUIET_BEFORE, _TapClock
from satellite.write_ahead import WriteAhead

DOUBLINGS = sorted({round((1 << 18) * 2**k / sr, 2) for sr in (22050, 16000) for k in range(6)})
GAP_S = 0.045  # a mic-read gap longer than this is a stall
NEAR_S = 0.3  # a stall this close to a doubling (after the offset) is the room's


def _miss(gaps: list[float], offset: float) -> float:
    return float(sum(min(abs(g + offset - d) for d in DOUBLINGS) for g in gaps if g > 10))


def start_levels(frames: list[Tick], room: list[float], ignore_room: bool) -> tuple[list[float], int]:
    """Each sound's start level (s) through a live-default WriteAhead, and the underruns counted;
    ``ignore_room``: an underrun at one of ``room``'s stalls (tap seconds) does not raise the lead."""
    t0 = frames[0].read
    clock = _TapClock()
    ahead = WriteAhead(22050, clock=clock)
    quiet, aborts, starts, dry = 0, 0, [], 0
    for t in frames:
        clock.t = t.read
        if t.aborts_after != aborts:
            aborts = t.aborts_after
            ahead.dropped()
        audible = bool(t.ref.strip(b"\0"))
        if audible and quiet >= _QUIET_BEFORE:
            starts.append(ahead.level_s)
        quiet = 0 if audible else quiet + 1
        before = ahead.underruns
        ahead.plan(t.ref)
        if ahead.underruns != before:
            if ignore_room and any(abs(t.read - t0 - g) < 0.2 for g in room):
                ahead._dry_at = float("-inf")  # the room stalled (its Tape grew), not the card: no raise
            else:
                dry += 1
    return starts, dry


def report(tap: Path) -> None:
    frames = list(ticks(tap))
    t0 = frames[0].read
    gaps = [b.read - t0 for a, b in zip(frames, frames[1:], strict=False) if b.read - a.read > GAP_S]
    offset = min(np.arange(0.0, 2.0, 0.05), key=lambda o: _miss(gaps, float(o))) if gaps else 0.0
    room = [g for g in gaps if min(abs(g + offset - d) for d in DOUBLINGS) < NEAR_S]
    out = {}
    for ignore in (False, True):
        starts, dry = start_levels(frames, room, ignore)
        out["room stalls ignored" if ignore else "as live"] = {
            "start_level_p50_p95_ms": [round(float(np.percentile(starts, q)) * 1000, 1) for q in (50, 95)],
            "underruns": dry, "sounds": len(starts)}
    stalls = [round(g, 1) for g in gaps]
    print(tap, f"offset {offset:.2f} s; stalls {stalls}, at doublings {[round(g, 1) for g in room]}", out)


def main() -> None:
    for run in sys.argv[1:]:
        report(Path(run))


if __name__ == "__main__":
    main()
