"""Experiment (not in the satellite): microWakeWord as a first stage, openWakeWord as a verifier.

The wake corpus of ``bench/wake_bench.py`` (same seed; tune and held-out splits; 1 h of non-wake
audio). A detection is either microWakeWord okay_nabu over the satellite's cutoff (0.65), or a
*candidate*, microWakeWord over a low first-stage cutoff (``--first``; at most one per 1.5 s),
that openWakeWord okay_nabu confirms (score > 0.5) on the audio from 2.5 s before to 0.3 s after
it. openWakeWord then runs only on candidates, so its cost is paid per candidate, not per second
of audio. Offline (probability traces, not the satellite's ``WakeGate``).

    python bench/wake_cascade.py [--first 0.3,0.2,0.1] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wake_bench import RATE, Voices, detect, negatives, pcm, positives, prob_trace  # noqa: E402

CUTOFF = 0.65  # the satellite's okay_nabu cutoff (satellite.wake.MICRO_CUTOFFS)


class Verifier:
    """openWakeWord okay_nabu over a window of audio, fresh state each time; results cached."""

    def __init__(self) -> None:
        from pyopen_wakeword import Model as OpenModel
        from pyopen_wakeword import OpenWakeWord

        self.model = OpenWakeWord.from_builtin(OpenModel("okay_nabu"))
        self.cache: dict[tuple[str, float], tuple[float, float]] = {}  # (audio, t) -> (score, cpu s)

    def score(self, name: str, audio: np.ndarray, t: float) -> float:
        from pyopen_wakeword import OpenWakeWordFeatures

        key = (name, round(t, 2))
        if key not in self.cache:
            start = time.process_time()
            self.model.reset()
            features = OpenWakeWordFeatures.from_builtin()
            data = pcm(audio[max(0, int((t - 2.5) * RATE)):int((t + 0.3) * RATE)])
            best = 0.0
            for pos in range(0, len(data), 960):
                for embedding in features.process_streaming(data[pos:pos + 960]):
                    best = max([best, *map(float, self.model.process_streaming(embedding))])
            self.cache[key] = (best, time.process_time() - start)
        return self.cache[key][0]


def candidates(trace: np.ndarray, first: float, hold: float = 1.5) -> list[float]:
    out: list[float] = []
    for i, p in enumerate(trace):
        t = (i + 1) * 0.03
        if p > first and (not out or t - out[-1] > hold):
            out.append(t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first", default="0.3,0.2,0.1")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rng = np.random.default_rng(7)  # the same corpus as wake_bench
    voices = Voices()
    stream, items = positives(voices, rng)
    neg = negatives(voices, 60.0, rng)
    trace, neg_traces = prob_trace(stream), {k: prob_trace(a) for k, a in neg.items()}
    verifier, neg_seconds = Verifier(), sum(len(a) for a in neg.values()) / RATE
    results: dict[str, Any] = {"cutoff": CUTOFF, "negative_hours": round(neg_seconds / 3600, 2), "first_stage": {}}
    for first in (float(x) for x in args.first.split(",")):
        pos_cands = candidates(trace, first)
        found = sorted(detect(trace, CUTOFF) + [t for t in pos_cands if verifier.score("pos", stream, t) > 0.5])
        row: dict[str, Any] = {}
        for split in ("tune", "held-out"):
            part = [i for i in items if i["split"] == split]
            hits = sum(any(i["start"] <= t <= i["end"] + 1.5 for t in found) for i in part)
            row[split] = f"{hits}/{len(part)}"
        false, neg_cands, neg_cpu = 0, 0, 0.0
        for kind, audio in neg.items():
            cands = candidates(neg_traces[kind], first)
            neg_cands += len(cands)
            false += len(detect(neg_traces[kind], CUTOFF)) + sum(verifier.score(kind, audio, t) > 0.5 for t in cands)
            neg_cpu += sum(verifier.cache[(kind, round(t, 2))][1] for t in cands)
        cpu = [verifier.cache[("pos", round(t, 2))][1] for t in pos_cands]
        row.update({"false_accepts": false, "candidates_in_negatives": neg_cands,
                    "verifier_cpu_percent_on_negatives": round(100 * neg_cpu / neg_seconds, 3),
                    "verifier_cpu_s_per_candidate_p50": round(float(np.median(cpu)), 3) if cpu else None})
        results["first_stage"][f"{first:.2f}"] = row
        print(first, json.dumps(row), flush=True)
    results["load_avg_1m"] = round(os.getloadavg()[0], 2)
    results["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
