"""What the room's card really played against what the satellite wrote: did it run dry, and when?

A kept, tapped room run (``room_bench.py --keep DIR --tap``) holds both streams at the speaker's rate: the
room's ``played.wav`` (what its card played, silence where it ran dry) and the tap's ``ref.raw`` (every
frame the satellite handed its speaker). Between two audible stretches the written stream plays at a fixed
offset; silence the card played in between (it ran dry) moves the offset by as much (negative: the card
played samples nobody wrote), as do idle silence the write-ahead left out (``trims``, positive), frames the
sink dropped because it was behind (``dropped``, positive) and a kill (what was written ahead never plays).
``silence_ms``: the move less trims and drops, as silence the card played (a kill in between: not counted).
So for each underrun the satellite counted (the tap's last column,
and its "speaker ran dry (or nearly): X ms past its estimated end" log line) this finds the offset in the
nearest audible 0.1 s window before and after (normalised correlation over ``MATCH``: the same samples)
and reports how far it moved: whether the card ran dry at all, and by how much.

Session 27 (bench/results/s27_stall.md): of the underruns measurable on their own, the six logged -2.4 .. +4.4 ms
had the card play no silence (each one still re-measured the delay and suspended the canceller's trust), every
one logged at +5.3 ms or more played 10-110 ms of it.

    python -m bench.stall_played DIR/barge+0dB [DIR/echo+0dB ...] [--scan FROM TO]

``--scan FROM TO`` (scenario seconds): the offset of every audible window in between instead (a card that played
exactly what was written, with no gap: one offset throughout, correlation 1.000).

Reads the run's files by name only (its folder holds the room's FIFOs).
"""

from __future__ import annotations

import argparse
import json
import re
import wave
from pathlib import Path
from typing import Any

import numpy as np

Floats = np.ndarray[Any, np.dtype[np.float64]]
WINDOW_S = 0.1  # the played stretch matched against the written stream
STEP_S = 0.02  # how far apart the windows looked at are
MATCH = 0.98  # normalised correlation: the same samples (a card that played what was written: 1.000)
_AUDIBLE = 100.0  # RMS (of 32768) a window needs to be matched (silence matches anything)
_DRY = re.compile(r"speaker ran dry \(or nearly\): (-?[\d.]+) ms past")


def offset_at(played: Floats, written: Floats, i: int, n: int, *, guess: int, span: int) -> tuple[int, float] | None:
    """(written index - played index, correlation) of ``played[i:i+n]`` in ``written`` within ``span`` of
    ``guess``; None for a silent or cut window."""
    x = played[i : i + n]
    if len(x) < n or float(np.sqrt(np.mean(x * x))) < _AUDIBLE:
        return None
    lo = max(0, i + guess - span)
    seg = written[lo : i + guess + span + n]
    if len(seg) < n:
        return None
    corr = np.correlate(seg, x, "valid")
    energy = np.sqrt(np.convolve(seg * seg, np.ones(n), "valid") * float(np.dot(x, x))) + 1e-9
    norm = corr / energy
    k = int(np.argmax(norm))
    return lo + k - i, float(norm[k])


def anchor(played: Floats, written: Floats, rate: int, at: float, direction: int, *, guess: int | None = None,
           limit_s: float = 6.0) -> tuple[float, int] | None:
    """The first window from ``at`` (s into played, stepping ``direction``) whose samples are in the written
    stream: (its time, its offset)."""
    n = round(WINDOW_S * rate)
    span = round((2.0 if guess is None else 0.2) * rate)
    for k in range(1, int(limit_s / STEP_S)):
        t = at + direction * k * STEP_S
        if t < 0:
            return None
        found = offset_at(played, written, round(t * rate), n, guess=0 if guess is None else guess, span=span)
        if found is not None and found[1] > MATCH:
            return t, found[0]
    return None


def counted(meta: str, t0: float, scenario0: float) -> list[dict[str, Any]]:
    """The tap's ticks where the satellite's underrun count rose: scenario time, count, trims so far, kills so far."""
    out: list[dict[str, Any]] = []
    last = 0
    for line in meta.splitlines():
        f = line.split("\t")
        if len(f) < 8:
            continue
        if int(f[7]) > last:
            last = int(f[7])
            out.append({"at": float(f[0]) - t0 - scenario0, "underrun": last, "trimmed": int(f[6]), "kills": int(f[4])})
    return out


def check(played: Floats, written: Floats, rate: int, *, offset_s: float, events: list[dict[str, Any]],
          meta: str = "", t0: float = 0.0) -> list[dict[str, Any]]:
    """Each underrun event (scenario seconds ``at``; played.wav starts ``offset_s`` before the scenario): the
    offsets before and after it, the move, and the trims and kills between the two windows."""
    rows = []
    ticks = [(float(f[0]) - t0 - offset_s, int(f[6]), int(f[4]), int(f[2]), int(f[1]) // 2)
             for f in (x.split("\t") for x in meta.splitlines()) if len(f) >= 8]
    for e in events:
        before = anchor(played, written, rate, e["at"] + offset_s - 0.05, -1)
        after = anchor(played, written, rate, e["at"] + offset_s + 0.05, +1, guess=before[1] if before else None)
        row = dict(e) | {"before": before, "after": after, "moved": None, "moved_ms": None, "silence_ms": None}
        if before is not None and after is not None:
            row["moved"] = after[1] - before[1]
            row["moved_ms"] = round(1000 * row["moved"] / rate, 1)
            inside = [k for k, tick in enumerate(ticks) if before[0] - offset_s <= tick[0] <= after[0] - offset_s]
            first, last = (ticks[inside[0]], ticks[inside[-1]]) if inside else (None, None)
            row["trims_between"] = last[1] - first[1] if first and last else 0
            row["kills_between"] = last[2] - first[2] if first and last else 0
            # frames the sink dropped (it was behind) are in the written stream but never played
            row["dropped_between"] = sum(ticks[k][4] for k in inside[1:] if ticks[k][3] > ticks[k - 1][3])
            row["silence_ms"] = round(-1000 * (row["moved"] - row["trims_between"] - row["dropped_between"]) / rate, 1)
        rows.append(row)
    return rows


def scan(played: Floats, written: Floats, rate: int, start: float, end: float) -> list[tuple[float, int, float]]:
    """(time in played, offset, correlation) of each audible window from ``start`` to ``end`` (s into played),
    each looked for near the offset before it."""
    n, out, guess = round(WINDOW_S * rate), [], None
    for t in np.arange(start, end, STEP_S):
        span = round((2.0 if guess is None else 0.2) * rate)
        found = offset_at(played, written, round(t * rate), n, guess=guess or 0, span=span)
        if found is not None:
            out.append((float(t), found[0], found[1]))
            guess = found[0] if found[1] > MATCH else guess
    return out


def _load(folder: Path) -> tuple[dict[str, Any], Floats, Floats, int]:
    result = json.loads((folder / "result.json").read_text())
    with wave.open(str(folder / "played.wav"), "rb") as w:
        rate = w.getframerate()
        played = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)
    written = np.frombuffer((folder / "tap" / "ref.raw").read_bytes(), "<i2").astype(np.float64)
    return result, played, written, rate


def check_dir(folder: Path) -> list[dict[str, Any]]:
    result, played, written, rate = _load(folder)
    meta = (folder / "tap" / "meta.tsv").read_text()
    t0, s0 = float(result["t0_monotonic"]), float(result["wav_offset_s"])
    events = counted(meta, t0, s0)
    logged = [float(x) for x in _DRY.findall((folder / "run.log").read_text(errors="replace"))]
    for e, ms in zip(events, logged, strict=False):
        e["logged_ms_past"] = ms
    return check(played, written, rate, offset_s=s0, events=events, meta=meta, t0=t0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench stall_played", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", type=Path, nargs="+", help="kept, tapped room runs (room_bench --keep X --tap)")
    parser.add_argument("--scan", type=float, nargs=2, metavar=("FROM", "TO"), help="scenario seconds")
    args = parser.parse_args(argv)
    for folder in args.dirs:
        print(f"== {folder}")
        if args.scan:
            result, played, written, rate = _load(folder)
            s0 = float(result["wav_offset_s"])
            for t, off, corr in scan(played, written, rate, args.scan[0] + s0, args.scan[1] + s0):
                print(f"  {t - s0:8.3f} s  offset {off:7d} samples  correlation {corr:.3f}")
            continue
        for r in check_dir(folder):
            moved = ("not measurable" if r["moved"] is None
                     else f"moved {r['moved']:+d} samples ({r['moved_ms']:+.1f} ms)")
            extra = ("" if r["moved"] is None else f", trims +{r['trims_between']}, dropped +{r['dropped_between']}"
                     f", kills +{r['kills_between']}: the card played {r['silence_ms']:.1f} ms of silence")
            print(f"  underrun {r['underrun']} at {r['at']:.3f} s, logged {r.get('logged_ms_past', '?')} ms past: "
                  f"{moved}{extra}")


if __name__ == "__main__":
    main()
