"""Offline: does a weak end of turn read finished once more of the silence is decoded?

A weak verdict (words that read finished but no final . ? !, a text decoded unsure, a looped
phrase: ``wyoming_whisper.stream``) waits the weak cap (1.216 s with ``default``), longer than the
corpus's 0.3-0.9 s pauses. The candidate signal: decode the same region again with ``--extras``
seconds more of the audio that followed it (the silence so far); if that decode reads FINISHED
(``endpoint.judge``, sure: ``avg_logprob`` >= ``UNSURE_LOGPROB``) with the same words as the weak
text, the turn would end then (the extra silence plus the decode's time) instead of at the weak
cap. Its price: a weak text at a pause longer than that, re-decoded finished, is a cut.

The corpus (``bench/turn_corpus.py``) is decoded as ``bench/turn_bench_rules.decode_corpus`` does
(the same audio and regions, pad 0.1 s); every weak point is decoded again per extra (the audio
after the point, up to where speech resumes). Reported per split and extra: weak ends that would
end sooner (and the silence they would end at), weak pauses that would be cut.

    nice -n 10 .venv/bin/python bench/eot_redecode_probe.py [--extras 0.3,0.5] [--out F.json]
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

from bench.eot_decode_probe import points  # noqa: E402
from bench.eot_unsure_probe import verdict  # noqa: E402
from bench.turn_corpus import build  # noqa: E402
from voice_runtime.models import resolve_whisper, silero_vad  # noqa: E402
from wyoming_whisper.endpoint import judge, words  # noqa: E402
from wyoming_whisper.engine import SAMPLE_RATE, EngineConfig, WhisperEngine  # noqa: E402
from wyoming_whisper.stream import UNSURE_LOGPROB  # noqa: E402
from wyoming_whisper.vad import WINDOW, SileroVad, VadPolicy, speech_region, speech_windows  # noqa: E402

W = WINDOW / SAMPLE_RATE


def fall(levels: list[float], probs: list[float], last: int) -> dict[str, float]:
    """The level at the speech's end against its loudest window in the 0.5 s before (dB), and
    Silero's mean score over the last 3 speech windows: a voice trailing off vs cut short."""
    before = levels[max(0, last - 15) : last + 1]
    return {
        "fall_db": round(float(np.mean(levels[max(0, last - 2) : last + 1]) - max(before)), 1),
        "end_prob": round(float(np.mean(probs[max(0, last - 2) : last + 1])), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--extras", default="0.2,0.35,0.5")
    parser.add_argument("--out", type=Path, default=Path("/tmp/eot_redecode.json"))
    args = parser.parse_args()
    extras = [float(v) for v in args.extras.split(",") if v]
    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
    engine.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32))
    vad = SileroVad(silero_vad())
    rng = np.random.default_rng(1)  # as decode_corpus: the same tails
    load = [os.getloadavg()[0]]
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    policy = VadPolicy(pad_windows=3)
    rows: list[dict[str, Any]] = []
    for r in build():
        x = np.frombuffer(r.pcm, "<i2").astype(np.float32) / 32768
        tail = rng.standard_normal(int(2.5 * SAMPLE_RATE)).astype(np.float32)
        tail *= 10 ** ((r.noise_dbfs if r.noise_dbfs is not None else -70) / 20)
        audio = np.concatenate([x, tail])
        stream = vad.stream()
        stream.feed(audio)
        probs = stream.probs
        for n in points(probs, policy, policy.pad_windows):
            region = speech_region(probs[:n], n * WINDOW, policy)
            speech = speech_windows(probs[:n], policy)
            if region is None or speech is None:
                continue
            decoded = engine.transcribe(audio[region[0] : region[1]], beam_size=5)
            said, _ = verdict("loop-weak", decoded.text, decoded.avg_logprob)
            if not said.weak:
                continue
            resume = next((i for i in range(n, len(probs)) if probs[i] >= policy.threshold), None)
            gap = None if resume is None else (resume - speech[1] - 1) * W
            row: dict[str, Any] = {
                "id": r.id,
                "split": r.split,
                "text": decoded.text,
                "avg_logprob": decoded.avg_logprob,
                "reason": said.reason,
                "gap": None if gap is None else round(gap, 3),
                "silence_at_point": round((n - 1 - speech[1]) * W, 3),
                **fall(stream.levels, probs, speech[1]),
                "again": {},
            }
            for extra in extras:
                end = region[1] + int(extra * SAMPLE_RATE)
                if resume is not None:
                    end = min(end, resume * WINDOW)
                t = time.perf_counter()
                again = engine.transcribe(audio[region[0] : end], beam_size=5)
                took = time.perf_counter() - t
                sure = again.avg_logprob is not None and again.avg_logprob >= UNSURE_LOGPROB
                row["again"][f"{extra:g}"] = {
                    "text": again.text,
                    "avg_logprob": again.avg_logprob,
                    "finished": judge(again.text).finished and sure,
                    "same_words": words(again.text) == words(decoded.text),
                    "ends_at": round(row["silence_at_point"] + extra + took, 3),
                    "silence_there": end > region[1] + int(extra * SAMPLE_RATE) - WINDOW,
                }
            rows.append(row)
            print(json.dumps(row), flush=True)
        load.append(os.getloadavg()[0])
    out = {
        "started": started,
        "ended": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "load_1min": [round(min(load), 2), round(max(load), 2)],
        "rows": rows,
    }
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    for extra in extras:
        key = f"{extra:g}"
        for split in ("tune", "held"):
            mine = [row for row in rows if row["split"] == split]
            ends = [row for row in mine if row["gap"] is None]
            pauses = [row for row in mine if row["gap"] is not None]
            sooner = [row for row in ends if row["again"][key]["finished"] and row["again"][key]["same_words"]]
            cut = [
                row
                for row in pauses
                if row["again"][key]["finished"]
                and row["again"][key]["same_words"]
                and row["gap"] > row["again"][key]["ends_at"]
            ]
            print(
                f"extra {key} s, {split}: weak ends {len(ends)}, ending sooner {len(sooner)} "
                f"(at {[row['again'][key]['ends_at'] for row in sooner]} s of silence); weak pauses {len(pauses)}, "
                f"cut {len(cut)} {[row['text'] for row in cut]}"
            )
    print(f"{started} - {out['ended']}, load {out['load_1min']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
