"""The speaker's write-ahead (``satellite/write_ahead.py``) at other leads, on a tapped room run's timing.

A tapped run (``room_bench.py --keep DIR --tap``, ``bench/sat_tap.py``) recorded when each mic read
returned and the speaker frame written right after it. Here a :class:`WriteAhead` at each lead is
fed those frames at those times (its clock injected), as the live sink would have been:

* ``underruns``: the card ran dry in its estimate (the satellite then measures the echo delay again;
  inside a sound it is an audible gap);
* ``late ticks``: the mic read returned later than the stream's earliest arrival by more than the
  lead (``satellite.lag.MicLag``, the stall measure; it includes the room's own lateness, which also
  delays the card, so it over-counts);
* ``start level``: what the card held when the first audible frame of a sound (after >= 0.5 s of
  silence) was written: that frame plays this much later (the room adds its 10 ms block).

    python -m bench.write_ahead_probe DIR/echo0dB/tap [--leads 40 30 20 15] [--rate 22050] [--fixed]

``--room RUN...``: kept room runs instead of taps: how long after the satellite wrote a reply's first
audible frame the room's speaker sounded (the card's level and the room's block), per reply.

``--fixed``: the lead is not raised to ``LEAD_AFTER_DRY_MS`` after the card ran dry (each lead as is).
``--raise-when-idle``: raised at the first underrun while idle too (before session 31); ``underruns_in_sounds``:
those in a sound or its 0.5 s after (an audible gap, or the echo moved under a reply).

The card's level is estimated from the satellite's clock alone: it does not see a room that was
late itself (both sides late: no real underrun). Compare leads on the same tap, not runs.
"""

from __future__ import annotations

import argparse
import json
import wave
from pathlib import Path
from typing import Any

import numpy as np

from bench.echo_replay import ticks
from satellite.lag import MicLag
from satellite.write_ahead import DRY_HOLD_S, LEAD_AFTER_DRY_MS, WriteAhead

FRAME_S = 0.03
_QUIET_BEFORE = 17  # silent frames before an audible one that make it a sound's start (~0.5 s)


class _TapClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:  # (unused: the Clock protocol)
        self.t += seconds


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 4) if values else None


def probe(folder: Path, leads: list[float], rate: int, raise_after_dry: bool = True,
          hold_s: float = DRY_HOLD_S, *, raise_when_idle: bool = False) -> dict[str, Any]:
    frames = list(ticks(folder))
    lag = MicLag(FRAME_S)
    lags = [lag.update(t.read) for t in frames]
    out: dict[str, Any] = {"tap": str(folder), "ticks": len(frames),
                           "lag_p50_p95_p99_max": [_pct(lags, 50), _pct(lags, 95), _pct(lags, 99),
                                                   round(max(lags), 4) if lags else None],
                           "leads": {}}
    for lead in leads:
        clock = _TapClock()
        after_dry = LEAD_AFTER_DRY_MS if raise_after_dry else lead  # (the lead kept after it ran dry)
        ahead = WriteAhead(rate, lead_ms=lead, clock=clock, dry_hold_s=hold_s, lead_after_dry_ms=after_dry,
                           raise_when_idle=raise_when_idle)
        quiet, starts, aborts, in_sound = 0, [], 0, 0
        for t in frames:
            clock.t = t.read
            if t.aborts_after != aborts:  # the live speaker was killed at this tick (a hold): afresh
                aborts = t.aborts_after
                ahead.dropped()
            audible = bool(t.ref.strip(b"\0"))
            if audible and quiet >= _QUIET_BEFORE:
                starts.append(ahead.level_s)
            quiet = 0 if audible else quiet + 1
            before = ahead.underruns
            ahead.plan(t.ref)
            if ahead.underruns != before and quiet < _QUIET_BEFORE:  # a sound or its last 0.5 s: a gap in it
                in_sound += 1
        out["leads"][str(lead)] = {
            "underruns": ahead.underruns,
            "underruns_in_sounds": in_sound,
            "late_ticks": sum(1 for x in lags if x > lead / 1000),
            "sound_starts": len(starts),
            "start_level_p50_p95_s": [_pct(starts, 50), _pct(starts, 95)],
        }
    return out


def written_to_sound(run: Path) -> dict[str, Any]:
    """In a kept room run with a tap (``run/result.json``, ``run/tap``): for each reply the room heard,
    how long after the satellite wrote its first audible frame (after >= 0.5 s of silence) the room's
    speaker sounded (its reply start): the card's level then plus the room's 10 ms block."""
    result = json.loads((run / "result.json").read_text())
    zero = float(result["t0_monotonic"]) + float(result["wav_offset_s"])
    with wave.open(str(run / "played.wav")) as w:
        rate = w.getframerate()
        played = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.int32)
    frames = list(ticks(run / "tap"))
    written: list[tuple[float, float | None]] = []  # (mic read, when its first audible sample played)
    quiet = 0
    for i, t in enumerate(frames):
        audible = bool(t.ref.strip(b"\0"))
        if audible and quiet >= _QUIET_BEFORE:
            sig = np.concatenate([np.frombuffer(f.ref, "<i2").astype(np.int32) for f in frames[i : i + 12]])
            written.append((t.read, _plays_at(sig, played, rate, t.read - float(result["t0_monotonic"]))))
        quiet = 0 if audible else quiet + 1
    waits, cards, quiets = [], [], []
    for reply in result["replies"]:
        sound = zero + float(reply["start"])
        before = [w for w in written if w[0] <= sound]
        if before and sound - before[-1][0] < 0.5:
            waits.append(sound - before[-1][0])
            if (at := before[-1][1]) is not None:
                cards.append(float(result["t0_monotonic"]) + at - before[-1][0])
                quiets.append(sound - float(result["t0_monotonic"]) - at)
    return {"run": str(run), "replies": len(result["replies"]), "n": len(waits),
            "written_to_sound_p50_p95_s": [_pct(waits, 50), _pct(waits, 95)],
            "all_s": [round(w, 4) for w in waits],
            # session 25: the same, split by matching the written samples in played.wav: the card's real
            # delay (its level and the room's tick) and the reply's own start under the room's -40 dBFS mark
            "card_p50_p95_s": [_pct(cards, 50), _pct(cards, 95)],
            "quiet_start_p50_p95_s": [_pct(quiets, 50), _pct(quiets, 95)]}


def _plays_at(sig: np.ndarray, played: np.ndarray, rate: int, near: float) -> float | None:
    """Seconds on the room's clock (from its t0) at which ``sig``'s first audible sample played: found
    sample for sample (+-2 for the float round trip) in ``played`` within 0.5 s after ``near``."""
    first = np.flatnonzero(sig)
    if not len(first):
        return None
    seg = sig[first[0] : first[0] + 2000]
    lo = max(0, int(near * rate) - rate // 10)
    hi = min(len(played) - len(seg), int(near * rate) + rate // 2)
    for off in np.flatnonzero(np.abs(played[lo:hi] - seg[0]) <= 2) + lo:
        if np.max(np.abs(played[off : off + len(seg)] - seg)) <= 2:
            return float(off / rate)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("taps", nargs="+", type=Path)
    parser.add_argument("--leads", nargs="+", type=float, default=[40.0, 30.0, 25.0, 20.0, 15.0, 10.0])
    parser.add_argument("--rate", type=int, default=22050, help="the speaker's rate (the satellite's --snd-rate)")
    parser.add_argument("--fixed", action="store_true", help="the lead is not raised after the card ran dry")
    parser.add_argument("--hold", type=float, default=DRY_HOLD_S, help="seconds the raised lead is kept")
    parser.add_argument("--raise-when-idle", action="store_true",
                        help="the first underrun while idle (0.5 s after the last sound) raises the lead too "
                             "(before session 31: only a second one within the hold does)")
    parser.add_argument("--room", action="store_true",
                        help="the folders are kept room runs (result.json + tap): measure written -> sound instead")
    args = parser.parse_args()
    if args.room:
        for run in args.taps:
            print(json.dumps(written_to_sound(run)))
        return
    for tap in args.taps:
        print(json.dumps(probe(tap, args.leads, args.rate, raise_after_dry=not args.fixed, hold_s=args.hold,
                               raise_when_idle=args.raise_when_idle)))


if __name__ == "__main__":
    main()
