"""Which first stage and verifier rule: every verifier score the cascade sees, recorded once, then rules compared.

``record`` runs a corpus through the satellite's :class:`satellite.wake.WakeGate` with the cascade
at a low first stage (``--first``, default 0.05) and every detection verified, exactly as the
satellite does, except that a verification never stops early and never fires: every score of
every candidate is kept with its audio time, with microWakeWord's highest probability over the
candidate (so a higher first stage is "the candidates whose peak passes it"; its pre-roll starts
a little earlier than the real one's, so the scores are close, not identical).

``rules`` then counts, for each first stage and verifier rule, true accepts (positive corpora)
and false accepts (negative ones), from the records alone. Rules: a score over ``c`` (what the
satellite does), ``k`` scores in a row over ``c``, and a two-level cutoff (a stricter ``c`` for
candidates microWakeWord scored low). The rule is chosen on the tuning corpora (the wake bench's
tune split, session 6's voices, the 1 h of negatives and near-miss speech); the fresh held-out
split is measured once, afterwards, with the real code (``bench/wake_verifier_eval.py``).

    python bench/wake_policy.py record --group bench --out /tmp/rec-bench.json
    python bench/wake_policy.py record --group near-misses --out /tmp/rec-nm.json
    python bench/wake_policy.py rules /tmp/rec-*.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wake_bench import RATE, pcm, score  # noqa: E402

CACHE = Path("/tmp/wake-eval")
MATERIAL = Path("/tmp/wake-fa-material.npz")
PERTURB = ((0.0, 1.0, False), (-10.0, 0.92, True), (-20.0, 1.08, True))  # (gain dB, speed, noisy)


def near_miss_audio(material: Path, seed: int = 5) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """``bench/wake_false_accepts.py``'s material (its near misses and sentences), each clip three
    times (0/−10/−20 dB, 0.92–1.08× speed, noise), 1 s apart: the tuning side of the near misses."""
    rng = np.random.default_rng(seed)
    with np.load(material) as data:
        clips = [(str(data[f"t{i}"]), data[f"a{i}"].astype(np.float64)) for i in range(len(data.files) // 2)]
    parts, items, pos = [], [], 0
    for text, audio in clips:
        for gain, speed, noisy in PERTURB:
            x = np.interp(np.arange(0, len(audio), speed), np.arange(len(audio)), audio) * 10 ** (gain / 20)
            if noisy:
                x = x + rng.normal(0, 60, len(x))
            gap = np.zeros(RATE)
            parts += [x, gap]
            items.append({"text": text, "start": pos / RATE, "end": (pos + len(x)) / RATE})
            pos += len(x) + len(gap)
    return np.concatenate(parts), items


def record(audio: np.ndarray, first: float) -> dict[str, Any]:
    """Every candidate of the cascade on ``audio``: start time, microWakeWord's peak, all scores."""
    from satellite import wake_cascade
    from satellite.wake import MicroDetector, WakeConfig, WakeGate

    now = [0.0]
    candidates: list[dict[str, Any]] = []

    def scoring(self: Any, chunk: bytes, strict: bool = False) -> bool:
        """Replaces Verifier._score: keeps every score, never fires."""
        ours = self.ours.get(self.word)
        for embedding in self.features.process_streaming(chunk):
            candidates[-1]["emb"].append((now[0], np.asarray(embedding, np.float32).reshape(96)))
            value = ours.push(embedding) if ours is not None else None
            if value is not None:
                candidates[-1]["scores"].append((round(now[0], 3), round(float(value), 4)))
        return False

    start = wake_cascade.Verifier.start

    def starting(self: Any, word: str, history: bytes, strict: bool = False) -> bool:
        candidates.append({"start": round(now[0], 3), "micro_peak": 0.0, "scores": [], "emb": []})
        return start(self, word, history, strict)

    wake_cascade.Verifier._score = scoring  # type: ignore[method-assign,assignment]
    wake_cascade.Verifier.start = starting  # type: ignore[method-assign,assignment]

    def make(config: Any) -> Any:
        micro = MicroDetector(config.names, (), None)
        return wake_cascade.CascadeDetector(micro, list(config.names), first_stage=first, who="ours",
                                            trust_micro=False)

    gate = WakeGate(WakeConfig(names=("okay_nabu",), cascade=True), 0.03, detector_factory=make)
    detector: Any = gate.detector
    data = pcm(audio)
    cpu = time.process_time()
    for pos in range(0, len(data) - 959, 960):
        now[0] = (pos + 960) / 2 / RATE
        gate.process(data[pos:pos + 960])
        detector.drain()
        peak = detector.micro.peak.get("okay_nabu", 0.0)
        if candidates and detector._worker.busy.is_set():
            candidates[-1]["micro_peak"] = max(candidates[-1]["micro_peak"], round(float(peak), 4))
    import asyncio

    asyncio.run(gate.stop())
    return {"first": first, "candidates": candidates, "seconds": len(audio) / RATE,
            "cpu_s": round(time.process_time() - cpu, 1)}


def load_group(group: str, cache: Path = CACHE, material: Path = MATERIAL
               ) -> tuple[np.ndarray, list[dict[str, Any]], bool]:
    """(audio, items, positive?) for a corpus: bench | new | fresh (wake phrases), speech | music | tv
    (the 1 h of negatives), near-misses."""
    if group == "near-misses":
        audio, items = near_miss_audio(material)
        return audio, items, False
    if group == "held3":  # session 10's held-out split: measured once, at the end
        from bench.wake_held_out_3 import load

        audio, items = load(cache)
        return audio, items, True
    if group == "held4":  # session 11's held-out split: measured once, at the end
        from bench.wake_held_out_4 import load as load4

        audio, items = load4(cache)
        return audio, items, True
    if group in ("speech", "music", "tv"):
        return np.load(cache / f"neg-{group}-60.npy").astype(np.float64), [], False
    meta = json.loads((cache / "index-60.json").read_text())
    return np.load(cache / f"{group}.npy").astype(np.float64), meta["items"][group], True


def save_embeddings(result: dict[str, Any], path: Path) -> None:
    """Each candidate's embeddings (n × 96) and their audio times, in the order the verifier saw them,
    into ``path`` (.npz), taken out of ``result``: any verifier can then be scored without the audio."""
    arrays: dict[str, Any] = {}
    for n, candidate in enumerate(result["candidates"]):
        emb = candidate.pop("emb")
        arrays[f"e{n}"] = np.array([e for _, e in emb], np.float32).reshape(-1, 96)
        arrays[f"t{n}"] = np.array([round(t, 3) for t, _ in emb])
    np.savez_compressed(path, **arrays)


def rescore(rec: dict[str, Any], embeddings: Path, weights: Path) -> dict[str, Any]:
    """``rec`` with every candidate's scores recomputed by the verifier in ``weights`` (a fresh
    state per candidate, one score per embedding once a window is full, as the satellite does)."""
    from satellite.wake_verifier import EmbeddingVerifier

    verifier = EmbeddingVerifier(weights)
    out = dict(rec, candidates=[])
    with np.load(embeddings) as data:
        for n, candidate in enumerate(rec["candidates"]):
            emb, times = data[f"e{n}"], data[f"t{n}"]
            window = verifier.window
            scores = []
            if len(emb) >= window:
                x = np.stack([emb[i - window + 1:i + 1].reshape(-1) for i in range(window - 1, len(emb))])
                values = verifier.scores(x)
                scores = [(float(t), round(float(v), 4)) for t, v in zip(times[window - 1:], values, strict=True)]
            out["candidates"].append(dict(candidate, scores=scores))
    return out


def decide(candidate: dict[str, Any], first: float, rule: tuple[str, float, float]) -> float | None:
    """The time the rule accepts this candidate, or None. ``rule``: (kind, c, extra)."""
    if candidate["micro_peak"] <= first:
        return None
    kind, cutoff, extra = rule
    if kind == "two-level" and candidate["micro_peak"] <= extra:
        cutoff = max(cutoff, 0.99)
    run = 0
    need = int(extra) if kind == "row" else 1
    for t, value in candidate["scores"]:
        run = run + 1 if value > cutoff else 0
        if run >= need:
            return float(t)
    return None


RULES: list[tuple[str, float, float]] = (
    [("any", c, 0.0) for c in (0.9, 0.93, 0.95, 0.97, 0.98, 0.99)]
    + [("row", c, 2.0) for c in (0.8, 0.9, 0.93, 0.95)]
    + [("two-level", c, m) for c in (0.93, 0.95) for m in (0.2, 0.5)]
)
FIRSTS = (0.05, 0.1, 0.15, 0.2)


def rules(paths: list[Path], weights: Path | None = None) -> list[dict[str, Any]]:
    recs = [json.loads(p.read_text()) for p in paths]
    if weights is not None:  # another verifier: its scores from the recorded embeddings
        recs = [rescore(r, p.with_suffix(".emb.npz"), weights) for r, p in zip(recs, paths, strict=True)]
    out = []
    for first in FIRSTS:
        for rule in RULES:
            row: dict[str, Any] = {"first": first, "rule": f"{rule[0]} {rule[1]:g}" + (
                f" {rule[2]:g}" if rule[0] != "any" else "")}
            fa, hours = 0, 0.0
            for rec in recs:
                found = [t for c in rec["candidates"] if (t := decide(c, first, rule)) is not None]
                if rec["positive"]:
                    for split in sorted({i["split"] for i in rec["items"]}):
                        if split in ("fresh-held-out", "held-out-3") and not rec.get("final"):
                            continue
                        got = score(found, [i for i in rec["items"] if i["split"] == split])
                        row[split] = got["true_accepts"]
                        if split == "tune" and got["detection_after_wake_end_s"]:
                            row["tune_detection_p50_s"] = got["detection_after_wake_end_s"]["p50"]
                else:
                    fa += len(found)
                    hours += rec["seconds"] / 3600
                    if rec["group"] == "near-misses":
                        row["near_miss_hits"] = sorted({i["text"] for i in rec["items"] for t in found
                                                        if i["start"] <= t <= i["end"] + 1.0})
            row["false_accepts"] = fa
            row["negative_hours"] = round(hours, 2)
            out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("--group", required=True)
    rec.add_argument("--first", type=float, default=0.05)
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument("--cache", type=Path, default=CACHE, help="bench/wake_verifier_eval.py's corpus cache")
    rec.add_argument("--material", type=Path, default=MATERIAL, help="bench/wake_false_accepts.py's --material cache")
    rul = sub.add_parser("rules")
    rul.add_argument("records", type=Path, nargs="+")
    rul.add_argument("--out", type=Path)
    rul.add_argument("--weights", type=Path, help="score with this verifier (.npz) from the records' embeddings")
    args = parser.parse_args()
    if args.cmd == "record":
        audio, items, positive = load_group(args.group, args.cache, args.material)
        result = record(audio, args.first)
        result.update(group=args.group, items=items, positive=positive, final=args.group in ("fresh", "held3"))
        save_embeddings(result, args.out.with_suffix(".emb.npz"))
        args.out.write_text(json.dumps(result) + "\n")
        print(f"{args.group}: {len(result['candidates'])} candidates in {result['seconds'] / 60:.1f} min, "
              f"cpu {result['cpu_s']} s", flush=True)
    else:
        rows = rules(args.records, args.weights)
        for row in rows:
            print(json.dumps(row))
        if args.out:
            args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
