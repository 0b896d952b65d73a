"""How long are the end-of-turn corpus's pauses really? The silence measured around each pause.

A paused request of the corpus (``bench/turn_corpus.py``) is the voice's speech with a run of
exact zeros inserted at a word boundary (or between two halves spoken apart). The silence a
listener (or a VAD) hears there is longer than the zeros by the voice's own quiet tail before
them and quiet lead after them, and by any natural gap at the boundary. Measured here on the
clean source (before the far-field gain and the noise of the variants): 10 ms windows on a grid
from the clip's start, a window is speech when its RMS is above ``THRESHOLD_DBFS`` (-40 dBFS,
as the Home Assistant bench measured Piper's pauses; the clean source's floor in the inserted
gap is digital silence, and the voices' quiet tails fall under -40 dBFS within tens of ms); the
pause is the time from the end of the last speech window before the inserted zeros to the start
of the first speech window after them.

``fit_pause`` resizes the inserted zeros so that this measured pause equals the nominal one:
the corpus's generation 2 (``turn_corpus.build``).

    .venv/bin/python bench/turn_pauses.py [--generations 1,2]   # bench/results/turn_pauses.{md,json}
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RATE = 16000
WINDOW = RATE // 100  # 10 ms
THRESHOLD_DBFS = -40.0

Audio = np.ndarray[Any, np.dtype[np.float32]]


def speech_windows(x: Audio, threshold_dbfs: float = THRESHOLD_DBFS) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """One flag per whole 10 ms window from the clip's start: its RMS is above the threshold."""
    count = len(x) // WINDOW
    frames = np.asarray(x[: count * WINDOW], dtype=np.float64).reshape(count, WINDOW)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    flags: np.ndarray[Any, np.dtype[np.bool_]] = rms > 10 ** (threshold_dbfs / 20)
    return flags


def inserted_zeros(x: Audio) -> tuple[int, int]:
    """(start, stop) samples of the longest run of exact zeros between the clip's first and last
    non-zero samples: the inserted pause."""
    zero = np.concatenate([[0], (x == 0).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(zero))
    starts, stops = edges[::2], edges[1::2]
    inside = (starts > 0) & (stops < len(x))
    starts, stops = starts[inside], stops[inside]
    if not len(starts):
        return 0, 0
    i = int(np.argmax(stops - starts))
    return int(starts[i]), int(stops[i])


def silence_around(x: Audio, at: int, threshold_dbfs: float = THRESHOLD_DBFS) -> tuple[int, int]:
    """(end of the last speech window before sample ``at``, start of the first speech window at or
    after it), in samples; the clip's start / end when there is none."""
    loud = np.flatnonzero(speech_windows(x, threshold_dbfs))
    before = loud[loud * WINDOW + WINDOW <= at]
    after = loud[loud * WINDOW >= at]
    start = int(before[-1]) * WINDOW + WINDOW if len(before) else 0
    stop = int(after[0]) * WINDOW if len(after) else len(x)
    return start, stop


def measured_pause(x: Audio, threshold_dbfs: float = THRESHOLD_DBFS) -> float:
    """Seconds of silence (below the threshold) around the clip's inserted zeros."""
    z0, z1 = inserted_zeros(x)
    start, _ = silence_around(x, z0, threshold_dbfs)
    _, stop = silence_around(x, z1, threshold_dbfs)
    return (stop - start) / RATE


def fit_pause(x: Audio, pause: float, threshold_dbfs: float = THRESHOLD_DBFS) -> Audio:
    """``x`` with its inserted zeros resized so that ``measured_pause`` is ``pause`` (to the 10 ms
    grid). Only the zeros change while that is enough; when the silence around them alone is
    longer than ``pause``, its quiet (sub-threshold) samples next to the zeros are cut too."""
    want = round(pause * RATE)
    for _ in range(4):
        z0, z1 = inserted_zeros(x)
        start, _ = silence_around(x, z0, threshold_dbfs)
        _, stop = silence_around(x, z1, threshold_dbfs)
        delta = want - (stop - start)
        if delta == 0:
            break
        if delta > 0:
            x = np.concatenate([x[:z1], np.zeros(delta, dtype=np.float32), x[z1:]])
            continue
        cut = -delta
        # the zeros first, then the quiet samples on either side, the tail before first
        from_zeros = min(cut, z1 - z0)
        from_tail = min(cut - from_zeros, z0 - start)
        from_lead = min(cut - from_zeros - from_tail, stop - z1)
        x = np.concatenate([x[: z0 - from_tail], np.zeros(z1 - z0 - from_zeros, dtype=np.float32), x[z1 + from_lead :]])
    return x


def table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """min/median/max of the measured pause per (nominal pause, method)."""
    out = []
    for nominal in sorted({r["nominal"] for r in rows}):
        for method in ("aligned", "split", "all"):
            got = [r["measured"] for r in rows if r["nominal"] == nominal and method in (r["method"], "all")]
            if got:
                out.append(
                    {
                        "nominal": nominal,
                        "method": method,
                        "n": len(got),
                        "min": min(got),
                        "median": round(statistics.median(got), 3),
                        "max": max(got),
                    }
                )
    return out


def measure(generation: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from bench.turn_corpus import build, clean_source

    rows = []
    for r in build(generation=generation):
        if not r.pause_after:
            continue
        clean = clean_source(r)
        z0, z1 = inserted_zeros(clean)
        rows.append(
            {
                "id": r.id,
                "split": r.split,
                "voice": r.voice,
                "condition": r.condition,
                "method": r.method,
                "text": r.text,
                "pause_after": r.pause_after,
                "kind": r.pause_kind,
                "nominal": r.pause,
                "zeros": round((z1 - z0) / RATE, 3),
                "measured": round(measured_pause(clean), 3),
                "measured_-50dBFS": round(measured_pause(clean, -50.0), 3),
            }
        )
    return {"generation": generation, "threshold_dbfs": THRESHOLD_DBFS, "rows": rows, "table": table(rows)}


def write(runs: list[dict[str, Any]], stem: str = "turn_pauses") -> None:
    """bench/results/<stem>.{md,json}: one section per corpus generation."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=False
    ).stdout.strip()
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    data = {"date": date, "commit": commit, "loadavg": os.getloadavg(), "runs": runs}
    results = ROOT / "bench" / "results"
    (results / f"{stem}.json").write_text(json.dumps(data, indent=1) + "\n")
    lines = [
        "# The end-of-turn corpus's pauses, measured",
        "",
        f"{date}, code {commit}, load average {data['loadavg'][0]:.2f} (offline, numpy only; bench/turn_pauses.py).",
        f"The pause is the silence below {THRESHOLD_DBFS:.0f} dBFS (10 ms windows) on each request's clean source, "
        "from the last speech window before the inserted zeros to the first speech window after them; the "
        "far-field and noisy variants are measured on their clean source. At -50 dBFS instead a pause is "
        "shorter by {:.2f} s (median), {:.2f} s at most: the voices' word ends fall off steeply.".format(
            *threshold_effect(runs)
        ),
    ]
    for run in runs:
        rows = run["rows"]
        excess = [r["measured"] - r["nominal"] for r in rows]
        lines += [
            "",
            f"## Generation {run['generation']}" + (" (sessions 6-17's corpus)" if run["generation"] == 1 else ""),
            "",
            f"{len(rows)} paused requests (tune and held-out); measured minus nominal: min {min(excess):+.2f} s, "
            f"median {statistics.median(excess):+.2f} s, max {max(excess):+.2f} s.",
            "",
            "| nominal (s) | method | n | min | median | max |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {t['nominal']} | {t['method']} | {t['n']} | {t['min']:.2f} | {t['median']:.2f} | {t['max']:.2f} |"
            for t in run["table"]
        ]
        lines += [
            "",
            "| request | voice | condition | method | nominal | zeros | measured | at -50 dBFS | text (pause after) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['id']} | {r['voice']} | {r['condition']} | {r['method']} | {r['nominal']} | {r['zeros']:.2f} | "
            f"{r['measured']:.2f} | {r['measured_-50dBFS']:.2f} | {r['text']} ({r['pause_after']}, {r['kind']}) |"
            for r in rows
        ]
    (results / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(line for line in lines if not line.startswith("| tune") and not line.startswith("| held")))


def threshold_effect(runs: list[dict[str, Any]]) -> tuple[float, float]:
    """Median and largest difference between the pause at -40 and at -50 dBFS."""
    diffs = [r["measured"] - r["measured_-50dBFS"] for run in runs for r in run["rows"]]
    return statistics.median(diffs), max(diffs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generations", default="1,2", help="corpus generations to measure")
    args = parser.parse_args()
    write([measure(int(g)) for g in args.generations.split(",")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
