"""Offline: how much silence after the speech must the speculative final decode include?

The whisper server's end of turn waits for the speculative final decode of the speech plus
``pad`` of the silence after it (``wyoming_whisper.policy.ENDPOINT_PAD_SECONDS``); the decode can
only start once that much silence has arrived, so a shorter pad answers sooner. This replays the
end-of-turn corpus (``bench/turn_corpus.py``) through Silero VAD as the server does, and at every
point where the server would start a speculative final (each pause and the end) decodes the region
with each pad. Per configuration: requests heard whole at the end, finished-request verdicts at
the end (an unfinished verdict makes a finished request wait for the cap), verdicts at the pause
(finished = a cut the continuation must repair), the decode time (median; the box's load is
printed), and the end-of-turn time (pad + decode, or the base silence if longer).

    python bench/eot_pad_probe.py [--pads 0.1,0.2] [--beams 5] [--limit N]
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

from bench.turn_bench import is_whole  # noqa: E402
from bench.turn_corpus import build, with_noise_after  # noqa: E402
from voice_runtime.models import resolve_whisper, silero_vad  # noqa: E402
from wyoming_whisper.endpoint import judge  # noqa: E402
from wyoming_whisper.engine import SAMPLE_RATE, EngineConfig, WhisperEngine  # noqa: E402
from wyoming_whisper.vad import WINDOW, SileroVad, VadPolicy, speech_region  # noqa: E402


def points(probs: list[float], threshold: float, settle: int) -> list[int]:
    """Window counts at which the server starts a speculative final: ``settle`` non-speech windows
    after speech (once per pause)."""
    out, last_speech, fired = [], None, True
    for i, p in enumerate(probs):
        if p >= threshold:
            last_speech, fired = i, False
        elif last_speech is not None and not fired and i - last_speech >= settle:
            out.append(i + 1)
            fired = True
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pads", default="0.1,0.2")
    parser.add_argument("--beams", default="5")
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    corpus = build()
    if args.limit:
        corpus = corpus[: args.limit]
    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper(args.model)))
    vad = SileroVad(silero_vad())
    engine.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32))
    rng = np.random.default_rng(1)
    configs = [(float(p), int(b)) for p in args.pads.split(",") for b in args.beams.split(",")]
    rows: list[dict[str, Any]] = []
    load = [os.getloadavg()[0]]
    for r in corpus:
        audio = with_noise_after(r, rng)
        stream = vad.stream()
        stream.feed(audio)
        probs = stream.probs
        for pad_s, beam in configs:
            pad = max(1, round(pad_s * SAMPLE_RATE / WINDOW))
            policy = VadPolicy(pad_windows=pad)
            found = []
            for n in points(probs, policy.threshold, pad):
                region = speech_region(probs[:n], n * WINDOW, policy)
                if region is None:
                    continue
                t = time.perf_counter()
                text = engine.transcribe(audio[region[0]:region[1]], beam_size=beam).text
                found.append({"at": round(n * WINDOW / SAMPLE_RATE, 3), "text": text,
                              "decode_s": round(time.perf_counter() - t, 3), "finished": judge(text).finished,
                              "reason": judge(text).reason})
            if not found:
                continue
            end = found[-1]
            rows.append({"id": r.id, "split": r.split, "pause": r.pause, "pause_kind": r.pause_kind,
                         "condition": r.condition, "pad": pad_s, "beam": beam, "text": end["text"],
                         "whole": is_whole(r, str(end["text"])), "finished_at_end": end["finished"],
                         "reason_at_end": end["reason"], "decode_s": end["decode_s"],
                         "pause_finished": [f["finished"] for f in found[:-1]], "points": found})
        load.append(os.getloadavg()[0])
        print(r.id, " | ".join(f"{row['pad']}/{row['beam']}: {row['text']!r} {row['finished_at_end']}"
                               for row in rows[-len(configs):]), flush=True)
    summary = {}
    for pad_s, beam in configs:
        mine = [row for row in rows if (row["pad"], row["beam"]) == (pad_s, beam)]
        paused = [row for row in mine if row["pause"] > 0]
        summary[f"pad {pad_s} s beam {beam}"] = {
            "requests": len(mine),
            "whole_at_end": sum(row["whole"] for row in mine),
            "finished_verdict_at_end": sum(row["finished_at_end"] for row in mine),
            "paused_with_a_finished_verdict_at_a_pause": sum(any(row["pause_finished"]) for row in paused),
            "paused": len(paused),
            "decode_p50_s": float(np.median([row["decode_s"] for row in mine])),
        }
    out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "model": args.model,
           "load": [min(load), max(load)], "summary": summary, "rows": rows}
    print(json.dumps(summary, indent=1), "load", min(load), max(load))
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
