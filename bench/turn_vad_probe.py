"""Offline: where does Silero (the whisper server's VAD) end a corpus request late, miss its last
words, or miss it whole? With the audio level of what it missed.

Each request of the end-of-turn corpus (``bench/turn_corpus.py``; the tune split and the
held-out split's part 1/2 by default: part 2/2 is held out) is scored the way the room feeds it
to the whisper server: the clip, then 2 s of the room's -60 dBFS noise, -60 dBFS noise under it
all. Per request: the words' own extent (10 ms frames of the clean, gained clip above -55 dBFS or
30 dB under its loudest frame), Silero's speech windows under a policy, and

* ``late``: Silero's speech end more than 0.2 s after the last voiced sample;
* ``early``: it ends more than 0.15 s before it (a quiet last word never speech);
* ``after pause``: no speech window in the part after the pause (a paused request's second half);
* ``none``: no speech found at all.

    nice -n 10 .venv/bin/python bench/turn_vad_probe.py [--split tune,held] [--policy base,...]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.turn_corpus as corpus_module  # noqa: E402
from bench.turn_corpus import RATE, Request  # noqa: E402
from voice_runtime.models import silero_vad  # noqa: E402
from wyoming_whisper.vad import WINDOW, SileroVad, VadPolicy, speech_region, speech_windows  # noqa: E402

ROOM_NOISE_DBFS = -60.0
TAIL = 2.0
FRAME = RATE // 100


def corpus_with_clean() -> tuple[list[Request], dict[str, np.ndarray[Any, np.dtype[np.float32]]]]:
    """The corpus and each request's clean clip (before gain and noise), kept by wrapping
    turn_corpus._condition."""
    clean: dict[str, np.ndarray[Any, np.dtype[np.float32]]] = {}
    original = corpus_module._condition

    def keep(split: str, rid: str, *args: Any, **kwargs: Any) -> Request:
        clean[rid] = kwargs["clean"]
        return original(split, rid, *args, **kwargs)

    corpus_module._condition = keep
    try:
        return corpus_module.build(), clean
    finally:
        corpus_module._condition = original


def frame_db(x: np.ndarray[Any, np.dtype[np.float32]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    n = len(x) // FRAME
    power = np.mean(x[: n * FRAME].reshape(n, FRAME).astype(np.float64) ** 2, axis=1)
    out: np.ndarray[Any, np.dtype[np.float64]] = 10 * np.log10(power + 1e-12)
    return out


def room_audio(r: Request, seed: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    x = np.frombuffer(r.pcm, "<i2").astype(np.float32) / 32768
    x = np.concatenate([x, np.zeros(int(TAIL * RATE), dtype=np.float32)])
    rng = np.random.default_rng(seed)
    return (x + rng.standard_normal(len(x)).astype(np.float32) * 10 ** (ROOM_NOISE_DBFS / 20)).astype(np.float32)


def analyse(
    r: Request, clean: np.ndarray[Any, np.dtype[np.float32]], probs: list[float], policy: VadPolicy
) -> dict[str, Any]:
    lead = int(corpus_module.LEAD * RATE)
    gained = clean * 10 ** (r.gain_db / 20)
    db = frame_db(gained)
    loud = float(db.max())
    voiced = np.flatnonzero(db > max(-55.0, loud - 30.0))
    # the pause: the longest run of exact zeros in the clean clip (inserted silence)
    gap: tuple[int, int] | None = None
    if r.pause_after:
        zero = np.concatenate([[False], clean == 0, [False]])
        edges = np.flatnonzero(np.diff(zero.astype(np.int8)))
        runs = list(zip(edges[::2], edges[1::2], strict=True))
        if runs:
            a, b = max(runs, key=lambda ab: ab[1] - ab[0])
            if b - a > 0.2 * RATE:
                gap = (int(a), int(b))
    words_end = (lead + (voiced[-1] + 1) * FRAME) / RATE
    found = speech_windows(probs, policy)
    row: dict[str, Any] = {
        "id": r.id,
        "text": r.text,
        "voice": r.voice,
        "condition": r.condition,
        "gain_db": r.gain_db,
        "noise_dbfs": r.noise_dbfs,
        "pause": r.pause,
        "method": r.method,
        "level_dbfs": round(float(10 * np.log10(np.mean(10 ** (db[voiced] / 10)))), 1),
        "peak_frame_dbfs": round(loud, 1),
        "words_end": round(words_end, 3),
    }
    tail_from = gap[1] if gap else max(0, (voiced[-1] - 30)) * FRAME
    tail_db = frame_db(gained[tail_from:])
    row["tail_level_dbfs"] = (
        round(float(10 * np.log10(np.mean(10 ** (tail_db[tail_db > loud - 30] / 10)) + 1e-12)), 1)
        if np.any(tail_db > loud - 30)
        else None
    )
    tail_w0 = (lead + tail_from) // WINDOW
    tail_w1 = int(words_end * RATE) // WINDOW + 1
    row["tail_peak_prob"] = round(max(probs[tail_w0 : tail_w1 + 1], default=0.0), 3)
    if found is None:
        row.update(kind="none", silero_end=None, late=None)
        return row
    first, last = found
    end = (last + 1) * WINDOW / RATE
    row["silero_end"] = round(end, 3)
    row["late"] = round(end - words_end, 3)
    kinds = []
    if end - words_end > 0.2:
        kinds.append("late")
    if end - words_end < -0.15:
        kinds.append("early")
    if gap is not None and last * WINDOW < lead + gap[1]:
        kinds.append("after-pause")
    region = speech_region(probs, len(probs) * WINDOW, policy)
    row["region_end"] = None if region is None else round(region[1] / RATE, 3)
    row["kind"] = ",".join(kinds) or "ok"
    return row


def hysteresis_end(probs: list[float], policy: VadPolicy, low: float) -> tuple[int, int] | None:
    """Variant (not the product's): the speech goes on after its last window >= threshold while
    the score stays >= ``low`` (Silero's own neg_threshold idea)."""
    found = speech_windows(probs, policy)
    if found is None:
        return None
    last = found[1]
    while last + 1 < len(probs) and probs[last + 1] >= low:
        last += 1
    return found[0], last


def trailing_quiet_end(
    probs: list[float], policy: VadPolicy, low: float, min_windows: int = 3
) -> tuple[int, int] | None:
    """Variant (not the product's): a run of >= ``min_windows`` windows >= ``low`` with none
    >= threshold after the speech (a quiet word said apart) extends it."""
    found = speech_windows(probs, policy)
    if found is None:
        return None
    last, i = found[1], found[1] + 1
    while i < len(probs):
        if probs[i] >= low:
            j = i
            while j + 1 < len(probs) and probs[j + 1] >= low:
                j += 1
            if j - i + 1 >= min_windows and max(probs[i : j + 1]) < policy.threshold:
                last = j
            i = j + 1
        else:
            i += 1
    return found[0], last


def compare(chosen: list[Request], clean: dict[str, Any], tail: str, low: float) -> None:
    """Decode each variant's region with the server's final settings; whole/changed/decision delay."""
    from bench.turn_bench import is_whole
    from voice_runtime.models import resolve_whisper
    from wyoming_whisper.engine import EngineConfig, WhisperEngine
    from wyoming_whisper.vad import end_pad

    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
    vad = SileroVad(silero_vad())
    policy = replace(VadPolicy(), pad_windows=3)  # serve's endpoint pad (0.1 s)
    variants = ["base", "hysteresis", "trailing"]
    stats: dict[str, dict[str, list[Any]]] = {v: {"whole": [], "delay": []} for v in variants}
    for i, r in enumerate(chosen):
        x = room_audio(r, i) if tail == "room" else noise_after(r, i)
        stream = vad.stream()
        stream.feed(x)
        probs = stream.probs
        words_end = analyse(r, clean[r.id], probs, policy)["words_end"]
        texts = {}
        for v in variants:
            found = {
                "base": speech_windows(probs, policy),
                "hysteresis": hysteresis_end(probs, policy, low),
                "trailing": trailing_quiet_end(probs, policy, low),
            }[v]
            if found is None:
                texts[v] = ""
                continue
            pad = end_pad(probs, found[1], policy)
            start = max(0, (found[0] - policy.lead_windows) * WINDOW)
            end = min(len(x), (found[1] + 1 + pad) * WINDOW)
            texts[v] = engine.transcribe(x[start:end], "en").text.strip()
            stats[v]["whole"].append(is_whole(r, texts[v]))
            stats[v]["delay"].append((found[1] + 1 + max(8, pad)) * WINDOW / RATE - words_end)
        if len(set(texts.values())) > 1:
            print(f"  {r.id} {r.condition}: " + " | ".join(f"{v}={texts[v]!r}" for v in variants))
    for v in variants:
        d = sorted(stats[v]["delay"])
        print(
            f"{tail} low={low} {v}: whole {sum(stats[v]['whole'])}/{len(chosen)}, decision delay "
            f"p50 {np.percentile(d, 50):.3f} / p95 {np.percentile(d, 95):.3f} s (n={len(d)})"
        )


def noise_after(r: Request, seed: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The clip with its own noise going on for 2 s after it (bench/turn_bench.py's model)."""
    return corpus_module.with_noise_after(r, np.random.default_rng(seed), TAIL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="tune,held")
    parser.add_argument("--held-part", default="1/2", help="the part of the held split (2/2 is held out)")
    parser.add_argument("--threshold", type=float, default=VadPolicy().threshold)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--all", action="store_true", help="print every request, not only the misses")
    parser.add_argument("--compare", choices=["room", "noise"], help="decode the end variants (tail model)")
    parser.add_argument("--low", type=float, default=0.3, help="the variants' lower threshold")
    args = parser.parse_args()
    requests, clean = corpus_with_clean()
    chosen: list[Request] = []
    for split in args.split.split(","):
        rows = [r for r in requests if r.split == split]
        if split == "held":
            part, parts = (int(x) for x in args.held_part.split("/"))
            rows = rows[(part - 1) * len(rows) // parts : part * len(rows) // parts]
        chosen += rows
    if args.compare:
        compare(chosen, clean, args.compare, args.low)
        return 0
    vad = SileroVad(silero_vad())
    policy = replace(VadPolicy(), threshold=args.threshold)
    out = []
    for i, r in enumerate(chosen):
        stream = vad.stream()
        stream.feed(room_audio(r, i))
        row = analyse(r, clean[r.id], stream.probs, policy)
        row["probs"] = [round(p, 3) for p in stream.probs]
        out.append(row)
        if args.all or row["kind"] != "ok":
            print(
                f"{row['id']} {row['kind']:<12} late={row['late']} level={row['level_dbfs']} "
                f"tail={row['tail_level_dbfs']} tailpeak={row['tail_peak_prob']} {row['condition']} "
                f"{row['gain_db']} {row['noise_dbfs']} {row['voice']} p={row['pause']} {row['text']!r}"
            )
    lates = sorted(r["late"] for r in out if r["late"] is not None)
    if lates:
        print(
            f"n={len(out)} late p50={lates[len(lates) // 2]:.3f} max={lates[-1]:.3f}; "
            f"kinds: "
            + ", ".join(f"{k}={sum(1 for r in out if r['kind'] == k)}" for k in sorted({r["kind"] for r in out}))
        )
    if args.json:
        args.json.write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
