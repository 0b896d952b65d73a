"""The satellite's wake word cascade (microWakeWord + openWakeWord verifier) through its own ``WakeGate``.

Corpus: ``bench/wake_bench.py``'s (same seed: tune and held-out splits, 1 h of non-wake audio) plus
a NEW held-out split (``NEW_HELD_OUT_VOICES``: five Kokoro voices never used by any wake bench
before, all four phrasings, the same 6 conditions), generated with its own seed. Each split and
each kind of negative audio is fed through :class:`satellite.wake.WakeGate` in 30 ms frames with
the cascade on (the default) and off (``--no-wake-cascade``), waiting for the verifier thread after
every frame, so every figure is in audio time (load does not change it; CPU aside). Reported:
true accepts per split, false accepts per hour, candidates (openWakeWord runs) per hour of
negatives, the detector's CPU % of one core on the negatives, and with ``--cpu-seconds`` the
whole satellite process (AEC + NS 2 + wake word) listening to a quiet room in real time.

    python bench/wake_cascade.py [--negative-minutes 60] [--cpu-seconds 30] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wake_bench import RATE, WAKE_TEXTS, Voices, negatives, pcm, positives, satellite_cpu, score  # noqa: E402
from bench.wake_splits import lay_out  # noqa: E402

# Never used by wake_bench (tune: af_heart am_michael bf_emma bm_george af_sky am_adam; held-out:
# af_nicole am_eric bf_isabella bm_lewis) nor by its negatives (the tune voices).
NEW_HELD_OUT_VOICES = ("af_sarah", "af_bella", "am_liam", "bf_alice", "bm_daniel")


def new_held_out(voices: Voices, rng: np.random.Generator, names: tuple[str, ...] = NEW_HELD_OUT_VOICES,
                 split: str = "new-held-out") -> tuple[np.ndarray, list[dict[str, Any]]]:
    clips = ((voices.kokoro_say(text, voice), f"{voice}@1.0", text) for voice in names for text in WAKE_TEXTS)
    return lay_out(clips, rng, split)


def gate_run(audio: np.ndarray, cascade: bool, make: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """``audio`` through the satellite's WakeGate in 30 ms frames (audio time); ``make``: another
    detector factory (bench/wake_verifier_eval.py's verifier variants)."""
    from satellite.wake import WakeConfig, WakeGate, make_detector

    gate = WakeGate(WakeConfig(names=("okay_nabu",), cascade=cascade), 0.03,
                    detector_factory=make or make_detector)
    data, found = pcm(audio), []
    drain = getattr(gate.detector, "drain", None)
    start = time.process_time()
    for pos in range(0, len(data) - 959, 960):
        if gate.process(data[pos:pos + 960]) is not None:
            found.append((pos + 960) / 2 / RATE)
        if drain is not None:
            drain()
    cpu = time.process_time() - start
    asyncio.run(gate.stop())
    return {"found": found, "cpu_s": cpu, "candidates": getattr(gate.detector, "candidates", 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--negative-minutes", type=float, default=60.0)
    parser.add_argument("--cpu-seconds", type=float, default=0.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rng = np.random.default_rng(7)  # the same corpus as wake_bench
    voices = Voices()
    stream, items = positives(voices, rng)
    neg = negatives(voices, args.negative_minutes, rng) if args.negative_minutes > 0 else {}
    new_stream, new_items = new_held_out(voices, np.random.default_rng(11))
    print(f"corpus ready: {len(items)} + {len(new_items)} new held-out utterances", flush=True)
    hours = sum(len(a) for a in neg.values()) / RATE / 3600
    results: dict[str, Any] = {"new_held_out_voices": list(NEW_HELD_OUT_VOICES), "negative_hours": round(hours, 3),
                               "cascade": {}}
    for cascade in (True, False):
        row: dict[str, Any] = {}
        old, new = gate_run(stream, cascade), gate_run(new_stream, cascade)
        for split, found, part in (("tune", old, items), ("held-out", old, items), ("new-held-out", new, new_items)):
            got = score(found["found"], [i for i in part if i["split"] == split])
            row[split] = {k: v for k, v in got.items() if k in ("true_accepts", "true_accept_rate",
                                                              "detection_after_wake_end_s", "true_accepts_by_voice")}
        runs = {kind: gate_run(audio, cascade) for kind, audio in neg.items()}
        false = sum(len(r["found"]) for r in runs.values())
        row["false_accepts"] = {k: len(r["found"]) for k, r in runs.items()}
        row["false_accepts_per_hour"] = round(false / hours, 2) if hours else None
        candidates = sum(r["candidates"] for r in runs.values())
        row["candidates_per_hour_of_negatives"] = round(candidates / hours, 2) if hours else None
        row["detector_cpu_percent_of_one_core_on_negatives"] = (
            round(100 * sum(r["cpu_s"] for r in runs.values()) / (hours * 3600), 2) if hours else None)
        results["cascade"]["on" if cascade else "off"] = row
        print("cascade" if cascade else "micro alone", json.dumps(row), flush=True)
    if args.cpu_seconds > 0:
        results["satellite_cpu"] = [asyncio.run(satellite_cpu(args.cpu_seconds, ["--noise-suppression", "2"])),
                                    asyncio.run(satellite_cpu(args.cpu_seconds, ["--noise-suppression", "2",
                                                                                 "--no-wake-cascade"]))]
        print(json.dumps(results["satellite_cpu"]), flush=True)
    results["load_avg_1m"] = round(os.getloadavg()[0], 2)
    results["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
