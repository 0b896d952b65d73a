"""Our verifier in the satellite's cascade, against the shipped models, on voices it never heard.

Splits (all through :class:`satellite.wake.WakeGate`, 30 ms frames, waiting for the verifier
thread after every frame: audio time, load does not change the counts):

- ``tune`` (216) and ``held-out`` (48): ``bench/wake_bench.py``'s corpus (seed 7). The tune voices
  are also training voices of the verifier, so ``tune`` is not a test of it; since session 8
  (``bench/wake_verifier_more.py``) the ``held-out`` voices are training voices too;
- ``new-held-out`` (120): ``bench/wake_cascade.py``'s five voices (seed 11), seen by session 6's
  cascade; training voices of the verifier since session 8;
- ``fresh-held-out`` (120): ``bench/wake_verifier_data.FRESH_HELD_OUT``, five voices no wake
  bench or training has used (seed 13), the same design.

Variants: microWakeWord alone; the cascade with openWakeWord's model as verifier (``open``), ours
(``ours``) or either; first-stage cutoffs ``--first``. The corpora are cached in ``--cache``.

    python bench/wake_verifier_eval.py [--first 0.2,0.1] [--who open,either,ours] [--out FILE]
"""

from __future__ import annotations

import argparse
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

from bench.wake_bench import RATE, Voices, negatives, positives, score  # noqa: E402
from bench.wake_cascade import gate_run, new_held_out  # noqa: E402
from bench.wake_verifier_data import FRESH_HELD_OUT  # noqa: E402

SPLITS = ("tune", "held-out", "new-held-out", "fresh-held-out", "held-out-3", "held-out-4")


def corpora(cache: Path, negative_minutes: float) -> tuple[dict[str, tuple[np.ndarray, list[dict[str, Any]]]],
                                                           dict[str, np.ndarray]]:
    """{split group: (audio, items)} and {kind: negative audio}, synthesised once into ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    index = cache / f"index-{negative_minutes:g}.json"
    if not index.exists():
        voices = Voices()
        rng = np.random.default_rng(7)  # the same corpus as wake_bench and wake_cascade
        parts = {"bench": positives(voices, rng)}
        neg = negatives(voices, negative_minutes, rng) if negative_minutes > 0 else {}
        parts["new"] = new_held_out(voices, np.random.default_rng(11))
        parts["fresh"] = new_held_out(voices, np.random.default_rng(13), FRESH_HELD_OUT, "fresh-held-out")
        for name, (audio, _items) in parts.items():
            np.save(cache / f"{name}.npy", np.clip(np.round(audio), -32768, 32767).astype(np.int16))
        for kind, audio in neg.items():
            np.save(cache / f"neg-{kind}-{negative_minutes:g}.npy", np.clip(np.round(audio), -32768, 32767)
                    .astype(np.int16))
        index.write_text(json.dumps({"items": {k: v[1] for k, v in parts.items()}, "negatives": list(neg)}))
    meta = json.loads(index.read_text())
    pos = {k: (np.load(cache / f"{k}.npy").astype(np.float64), items) for k, items in meta["items"].items()}
    neg = {k: np.load(cache / f"neg-{k}-{negative_minutes:g}.npy").astype(np.float64) for k in meta["negatives"]}
    return pos, neg


def factory(first: float, who: str, cutoff: float | None = None, *, trust_micro: bool = True
            ) -> Callable[[Any], Any]:
    from satellite.wake import MicroDetector
    from satellite.wake_cascade import CascadeDetector

    def make(config: Any) -> Any:
        micro = MicroDetector(config.names, (), None)
        if who == "micro":
            return micro
        cascade = CascadeDetector(micro, list(config.names), first_stage=first, who=who, trust_micro=trust_micro)
        verifier = cascade._worker.verifier  # a bench: another cutoff of ours
        if cutoff is not None and verifier is not None:
            for ours in verifier.ours.values():
                ours.cutoff = cutoff
        return cascade

    return make


def evaluate(pos: dict[str, tuple[np.ndarray, list[dict[str, Any]]]], neg: dict[str, np.ndarray],
             first: float, who: str, cutoff: float | None = None, *, trust_micro: bool = True) -> dict[str, Any]:
    make = factory(first, who, cutoff, trust_micro=trust_micro)
    row: dict[str, Any] = {"first_stage": first, "verifier": who, "our_cutoff": cutoff, "trust_micro": trust_micro}
    for group, (audio, items) in pos.items():
        run = gate_run(audio, True, make)
        for split in SPLITS:
            part = [i for i in items if i["split"] == split]
            if part:
                got = score(run["found"], part)
                row[split] = {k: v for k, v in got.items() if k in ("true_accepts", "true_accept_rate",
                                                                   "detection_after_wake_end_s",
                                                                   "true_accepts_by_voice")}
        row[f"candidates_{group}"] = run["candidates"]
    hours = sum(len(a) for a in neg.values()) / RATE / 3600
    if hours:
        runs = {kind: gate_run(audio, True, make) for kind, audio in neg.items()}
        row["false_accepts"] = {k: len(r["found"]) for k, r in runs.items()}
        row["false_accepts_per_hour"] = round(sum(row["false_accepts"].values()) / hours, 2)
        row["candidates_per_hour_of_negatives"] = round(sum(r["candidates"] for r in runs.values()) / hours, 1)
        row["detector_cpu_percent_on_negatives"] = round(100 * sum(r["cpu_s"] for r in runs.values()) / hours / 3600,
                                                         2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first", default="0.2,0.1")
    parser.add_argument("--who", default="open,either,ours")
    parser.add_argument("--micro", action="store_true", help="also microWakeWord alone")
    parser.add_argument("--verify-all", action="store_true", help="microWakeWord over its cutoff is verified too")
    parser.add_argument("--cutoff", type=float, help="our verifier's cutoff (default: the one in its weights file)")
    parser.add_argument("--negative-minutes", type=float, default=60.0)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/wake-eval"))
    parser.add_argument("--groups", default="bench,new,fresh", help="which wake corpora (held3, held4: held-out tests)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    pos, neg = corpora(args.cache, args.negative_minutes)
    pos = {k: v for k, v in pos.items() if k in args.groups.split(",")}
    if "held3" in args.groups.split(","):  # session 10's held-out split (bench/wake_held_out_3.py)
        from bench.wake_held_out_3 import load

        pos["held3"] = load(args.cache)
    if "held4" in args.groups.split(","):  # session 11's held-out split (bench/wake_held_out_4.py)
        from bench.wake_held_out_4 import load as load4

        pos["held4"] = load4(args.cache)
    print("corpora ready", {k: len(v[1]) for k, v in pos.items()}, flush=True)
    rows = [evaluate(pos, neg, 0.0, "micro")] if args.micro else []
    if rows:
        print(json.dumps({k: v for k, v in rows[0].items() if not isinstance(v, dict)}), flush=True)
    for first in (float(f) for f in args.first.split(",")):
        for who in args.who.split(","):
            rows.append(evaluate(pos, neg, first, who, args.cutoff, trust_micro=not args.verify_all))
            brief = {k: (v["true_accepts"] if isinstance(v, dict) and "true_accepts" in v else v)
                     for k, v in rows[-1].items()}
            print(json.dumps(brief), flush=True)
    result = {"rows": rows, "load_avg_1m": round(os.getloadavg()[0], 2),
              "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
