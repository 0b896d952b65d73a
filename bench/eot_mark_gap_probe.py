"""Offline: what lies between the room's end-of-speech mark and Silero's speech end, and could a level cue
end the speech sooner (session 26)?

The room simulator marks the end of a user's speech at the last 10 ms frame over max(10th-percentile frame
level + 10 dB, loudest - 35 dB) of the clip it plays (``/work/shared/room/room.py`` ``speech_span``). Per
corpus clip (``bench/turn_corpus.py``; ``--split``): that mark, the clip's end (its clean voice's last
sample), Silero's speech end as the whisper server finds it (both grids, levels), the noise floor (10th
percentile of 32 ms window levels), the voiced level (90th percentile of the speech's windows) and the
windows between the mark and Silero's end over the floor.

``--rules``: speech windows (Silero >= 0.45) also end when their level is more than X dB under the
utterance's own voiced level so far and Silero scores them under P: per rule, the speech's end before the
clip's end (p50 / p95) and the end points (3 quiet windows after a speech window) over the corpus.

    PYTHONPATH=$PWD .venv/bin/python bench/eot_mark_gap_probe.py [--split held] [--rules]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.turn_corpus import build  # noqa: E402
from voice_runtime.models import silero_vad  # noqa: E402
from wyoming_whisper.engine import pcm16_to_float  # noqa: E402
from wyoming_whisper.vad import WINDOW, SileroVad, VadPolicy, speech_windows  # noqa: E402

RATE = 16000
W = WINDOW / RATE
POLICY = VadPolicy(pad_windows=3)


def room_mark(x: np.ndarray, frame: int = 160) -> float:
    """The room's end-of-speech mark (seconds): room.py's ``speech_span`` offset, re-stated."""
    n = len(x) // frame
    e = 10 * np.log10(np.mean(np.square(x[: n * frame].reshape(n, frame).astype(np.float64)), axis=1) + 1e-12)
    idx = np.nonzero(e > max(np.percentile(e, 10) + 10, e.max() - 35))[0]
    return float((idx[-1] + 1) * frame / RATE) if len(idx) else 0.0


def level_end(probs: list[float], levels: list[float], under_db: float | None, below: float) -> list[bool]:
    """Speech windows with the level rule applied (None: Silero's threshold alone)."""
    voiced: list[float] = []
    speech = []
    for p, level in zip(probs, levels, strict=False):
        sp = p >= POLICY.threshold
        quiet = under_db is not None and len(voiced) >= 5 and level < np.percentile(voiced, 90) - under_db
        if sp and quiet and p < below:
            sp = False
        if p >= POLICY.threshold and level > -100:
            voiced.append(level)
        speech.append(sp)
    return speech


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="held")
    parser.add_argument("--rules", action="store_true")
    args = parser.parse_args()
    vad = SileroVad(silero_vad())
    corpus = build()
    for r in [r for r in corpus if r.split == args.split]:
        x = pcm16_to_float(r.pcm)
        s = vad.stream()
        s.feed(np.concatenate([x, np.zeros(RATE // 2, dtype=np.float32)]))
        found = speech_windows(s.probs, POLICY, s.half_probs, s.levels)
        if found is None:
            continue
        mark, end = room_mark(x), (found[1] + 1) * W
        lv = np.array(s.levels[: len(x) // WINDOW])
        floor = float(np.percentile(lv[lv > -100], 10))
        voiced = float(np.percentile(lv[found[0] : found[1] + 1], 90))
        gap = lv[int(mark / W) : found[1] + 1] - floor
        over = f"{np.median(gap):.1f} / {gap.max():.1f}" if len(gap) else "-"
        print(f"{r.id} {r.condition:9s} mark {mark:.2f} clip end {r.speech_end:.2f} Silero end {end:.2f} "
              f"(mark -> Silero {end - mark:+.2f} s) floor {floor:.0f} voiced {voiced:.0f} dBFS, "
              f"mark..Silero over the floor p50 / max {over} dB | {r.text}")
    if not args.rules:
        return 0
    rules: list[tuple[float | None, float]] = [(None, 1.0)] + [(x, p) for x in (6.0, 8.0, 10.0) for p in (0.9, 0.99)]
    gains: dict[tuple[float | None, float], list[float]] = {rule: [] for rule in rules}
    ends = dict.fromkeys(rules, 0)
    for r in corpus:
        s = vad.stream()
        s.feed(np.concatenate([pcm16_to_float(r.pcm), np.zeros(RATE, dtype=np.float32)]))
        for rule in rules:
            speech = level_end(s.probs, s.levels, *rule)
            hits = [i for i, v in enumerate(speech) if v]
            if len(hits) < POLICY.min_speech_windows:
                continue
            ends[rule] += sum(1 for i in range(len(speech) - 3) if speech[i] and not any(speech[i + 1 : i + 4]))
            gains[rule].append(r.speech_end - (hits[-1] + 1) * W)
    for rule in rules:
        g = sorted(gains[rule])
        print(f"level rule {rule}: n {len(g)}, speech end before the clip's end p50 / p95 "
              f"{statistics.median(g):.3f} / {g[int(0.95 * len(g))]:.3f} s, end points {ends[rule]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
