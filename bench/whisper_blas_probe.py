"""Paired: the whisper engine's decode with numpy's OpenBLAS on its default threads against one thread.

numpy's matrix products (faster-whisper's log-mel features: the mel filter bank times the power spectrum)
run on OpenBLAS, which starts one thread per core and wakes them for each product; on the shared 2-core box
their wake-up (and their spinning afterwards, next to CTranslate2's own threads) costs far more than the
product. This decodes each clip of the end-of-turn corpus as the server decodes a speculative final (tiny.en
int8, beam 5 with greedy first, the last word's end and end mark), once with OpenBLAS's default thread count
and once with one thread (:func:`voice_runtime.blas.blas_threads`, switched between decodes; which way
goes first alternates from clip to clip), and reports per way: decode p50 / p95, the paired ratio, the
features alone, and whether every text and score is the same.

    PYTHONPATH=$PWD .venv/bin/python bench/whisper_blas_probe.py [--limit N] [--out F]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.turn_corpus import build  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from voice_runtime.blas import blas_threads
    from voice_runtime.models import resolve_whisper
    from wyoming_whisper.engine import EngineConfig, WhisperEngine, pcm16_to_float

    default = blas_threads()
    if default is None:
        raise SystemExit("numpy's OpenBLAS not found")
    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
    engine.transcribe(np.zeros(16000, dtype=np.float32))
    clips = [pcm16_to_float(r.pcm) for r in build()][: args.limit or None]
    ways = {"default": default, "one": 1}
    times: dict[str, list[float]] = {w: [] for w in ways}
    feats: dict[str, list[float]] = {w: [] for w in ways}
    same, loads = 0, [os.getloadavg()[0]]
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    for i, clip in enumerate(clips):
        order = list(ways) if i % 2 == 0 else list(reversed(ways))
        got = {}
        for way in order:
            blas_threads(ways[way])
            t = time.perf_counter()
            engine._features([clip])
            feats[way].append(time.perf_counter() - t)
            t = time.perf_counter()
            d = engine.transcribe(clip, beam_size=5, word_end=True)
            times[way].append(time.perf_counter() - t)
            got[way] = (d.text, d.avg_logprob, d.last_word_end, d.end_mark_prob)
        same += got["default"] == got["one"]
        if i % 10 == 9:
            loads.append(os.getloadavg()[0])
    blas_threads(default)
    loads.append(os.getloadavg()[0])

    def pct(xs: list[float], q: float) -> float:
        return round(sorted(xs)[min(len(xs) - 1, int(q * len(xs)))], 4)

    ratio = statistics.median(o / d for o, d in zip(times["one"], times["default"], strict=True))
    out = {
        "started": started, "ended": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "load_1min": [round(v, 2) for v in (min(loads), max(loads))], "n": len(clips),
        "openblas_default_threads": default,
        "decode": {w: {"p50": pct(times[w], 0.5), "p95": pct(times[w], 0.95)} for w in ways},
        "features": {w: {"p50": pct(feats[w], 0.5), "p95": pct(feats[w], 0.95)} for w in ways},
        "paired_ratio_one_over_default_p50": round(ratio, 3), "same_text_and_scores": f"{same}/{len(clips)}",
    }
    print(json.dumps(out, indent=1))
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
