"""Does the voice's pitch at a pause tell a pause from the end? An offline probe (no timing).

For every request of the end-of-turn corpus (``bench/turn_corpus.py``) the speech before its
pause (paused requests) and the whole request are cut where the speech stops; there:

* the text verdict the whisper server's endpointing would reach (tiny.en on the speech plus
  0.2 s, as its speculative decode; :func:`wyoming_whisper.endpoint.judge`);
* the pitch slope over the last ~300 ms of voiced audio (semitones per second; F0 by
  normalised autocorrelation, 40 ms frames every 10 ms, 70-400 Hz), falling = final.

The cue can only help where the words say "finished": a pause there is a cut today, an end
there ends at the base silence. So the probe counts, per threshold T ("level or rising":
slope > T waits for the cap): paused requests whose pause the cue would rescue, and ends it
would slow (from the base silence to the cap), aligned pauses (the voice keeps its
mid-sentence intonation) and split ones (the first half synthesised alone: final intonation)
apart, tune and held-out apart.

    .venv/bin/python bench/prosody_probe.py        # prints a table; bench/results/prosody.json
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.turn_corpus import HELD, LEAD, PAUSES, RATE, TUNE, build  # noqa: E402
from voice_runtime.models import cache_dir  # noqa: E402
from wyoming_whisper.endpoint import judge  # noqa: E402

FRAME, HOP = int(0.04 * RATE), int(0.01 * RATE)
THRESHOLDS = [-12.0, -8.0, -5.0, -3.0, 0.0]


def pitch_slope(x: np.ndarray[Any, np.dtype[np.float32]], span: float = 0.3) -> float | None:
    """Semitones per second over the last ``span`` s of voiced frames of ``x`` (None: too few)."""
    times, pitches = [], []
    lo, hi = RATE // 400, RATE // 70
    peak = float(np.max(np.abs(x))) or 1.0
    for start in range(0, len(x) - FRAME, HOP):
        frame = x[start : start + FRAME] - np.mean(x[start : start + FRAME])
        if np.sqrt(np.mean(frame**2)) < peak * 10 ** (-30 / 20):
            continue
        ac = np.correlate(frame, frame, "full")[FRAME - 1 :]
        if ac[0] <= 0:
            continue
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] / ac[0] < 0.45:
            continue
        times.append(start / RATE)
        pitches.append(12 * np.log2(RATE / lag / 100.0))
    if len(times) < 6:
        return None
    t, p = np.array(times), np.array(pitches)
    keep = t >= t[-1] - span
    if keep.sum() < 4:
        return None
    return float(np.polyfit(t[keep], p[keep], 1)[0])


def clean_audio() -> dict[str, np.ndarray[Any, np.dtype[np.float32]]]:
    """Each request's clean rendering (the cached synthesis: the pause is exact zeros)."""
    folder, n = cache_dir() / "turn_corpus", 0
    out: dict[str, np.ndarray[Any, np.dtype[np.float32]]] = {}
    for split, table in (("tune", TUNE), ("held", HELD)):
        for text, k, _ in table:
            for r in range(2 if k else 1):
                name_index = (n * 2 + r) % 6
                pause = PAUSES[(n + r * 2) % len(PAUSES)] if k else 0.0
                n += 1
                key = hashlib.sha1(f"{text}|{name_index}|{k}|{pause}".encode()).hexdigest()[:16]
                raw = np.frombuffer((folder / f"{key}.raw").read_bytes(), "<i2")
                out[f"{split}-{n:02d}"] = (raw / 32768).astype(np.float32)
    return out


def pause_at(clean: np.ndarray[Any, np.dtype[np.float32]], pause: float) -> int:
    """Sample where the inserted pause starts: the longest run of exact zeros."""
    zero = np.concatenate([[0], (clean == 0).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(zero))
    starts, stops = edges[::2], edges[1::2]
    return int(starts[np.argmax(stops - starts)])


def main() -> int:
    from faster_whisper import WhisperModel

    from voice_runtime.models import resolve_whisper

    whisper = WhisperModel(str(resolve_whisper("tiny.en")), device="cpu", compute_type="int8")
    skipped = set(json.loads((ROOT / "bench/results/turn.json").read_text()).get("skipped", {}))
    cleans = clean_audio()
    points: list[dict[str, Any]] = []
    for req in build():
        if req.id in skipped:
            continue
        x = (np.frombuffer(req.pcm, "<i2") / 32768).astype(np.float32)
        ends = [("end", len(x))]
        if req.pause_after:
            ends.insert(0, ("pause", int(LEAD * RATE) + pause_at(cleans[req.id], req.pause)))
        for kind, stop in ends:
            speech = x[:stop]
            heard = np.concatenate(
                [speech, x[stop : stop + RATE // 5] if kind == "pause" else np.zeros(RATE // 5, np.float32)]
            )
            segments, _ = whisper.transcribe(
                heard, language="en", beam_size=5, without_timestamps=True, condition_on_previous_text=False
            )
            text = "".join(s.text for s in segments).strip()
            points.append(
                {
                    "id": req.id,
                    "split": req.split,
                    "kind": kind,
                    "method": req.method,
                    "pause_kind": req.pause_kind,
                    "text": text,
                    "finished": judge(text).finished,
                    "slope": pitch_slope(speech[int(LEAD * RATE) // 2 :]),
                }
            )
            print(json.dumps(points[-1]), flush=True)
    table = []
    for t in THRESHOLDS:
        row: dict[str, Any] = {"threshold_st_per_s": t}
        for split in ("tune", "held"):
            mine = [p for p in points if p["split"] == split and p["finished"] and p["slope"] is not None]
            for method in ("aligned", "split"):
                cut = [p for p in mine if p["kind"] == "pause" and p["method"] == method]
                row[f"{split}_{method}_rescued"] = f"{sum(p['slope'] > t for p in cut)}/{len(cut)}"
            end = [p for p in mine if p["kind"] == "end"]
            row[f"{split}_ends_slowed"] = f"{sum(p['slope'] > t for p in end)}/{len(end)}"
        table.append(row)
        print(json.dumps(row), flush=True)
    (ROOT / "bench/results/prosody.json").write_text(json.dumps({"table": table, "points": points}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
