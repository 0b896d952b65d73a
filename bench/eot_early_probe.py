"""Offline: could the speculative final decode start sooner, or run faster, without new cut-offs?

The whisper server starts the speculative final decode once the pad (``ENDPOINT_PAD_SECONDS``,
3 Silero windows) of silence after the speech has arrived, and the end of turn waits for it. Each
configuration ``PAD/BEAM/CONTEXT/HEARD[z|t]`` replays the end-of-turn corpus
(``bench/turn_corpus.py``) through Silero VAD as the server does and decodes, at every point where
the server would start a speculative final, the speech plus PAD windows:

* ``HEARD`` < PAD: the decode starts after HEARD windows of silence; the rest of the pad has not
  arrived yet and is filled with zeros (``z``, the default) or with the last window heard
  repeated (``t``: the room's own noise floor);
* ``BEAM``: beam size; ``CONTEXT``: the encoder window in seconds (``EngineConfig.audio_context``).

Per configuration: requests heard whole at the end (``bench.turn_bench.is_whole``), finished-request
verdicts at the end (else a finished request waits for the weak cap or the cap), paused requests
whose text read as finished at a pause long enough to end the turn there (>= 8 silent windows, the
``default`` base: a cut the continuation must repair), speculative finals per request, decode p50.
Rows that differ from the first configuration are listed by request. Decode times depend on the
box's load (printed); texts do not (deterministic decoding).

    python bench/eot_early_probe.py 3/5/10/3,3/5/10/1z,3/5/10/2t [--out bench/results/eot_early.json]
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

from bench.eot_pad_probe import points  # noqa: E402
from bench.turn_bench import is_whole  # noqa: E402
from bench.turn_corpus import build, with_noise_after  # noqa: E402
from voice_runtime.models import resolve_whisper, silero_vad  # noqa: E402
from wyoming_whisper.endpoint import judge  # noqa: E402
from wyoming_whisper.engine import SAMPLE_RATE, EngineConfig, WhisperEngine  # noqa: E402
from wyoming_whisper.vad import WINDOW, SileroVad, VadPolicy, speech_region  # noqa: E402

BASE_WINDOWS = 8  # the ``default`` base silence (0.25 s): a finished verdict this long into a pause ends the turn


def decode_points(engine: WhisperEngine, audio: np.ndarray, probs: list[float], config: str) -> list[dict[str, Any]]:
    pad, beam, _context, heard_s = config.split("/")
    fill = heard_s[-1] if heard_s[-1] in "zt" else "z"
    heard = int(heard_s.rstrip("zt"))
    policy = VadPolicy(pad_windows=int(pad))
    found = []
    for n in points(probs, policy.threshold, max(1, min(heard, int(pad)))):
        region = speech_region(probs[:n], (n + int(pad)) * WINDOW, policy)
        if region is None:
            continue
        clip = audio[region[0] : region[1]].copy()
        missing = region[1] - max(region[0], n * WINDOW)
        if missing > 0:
            clip[-missing:] = np.resize(audio[(n - 1) * WINDOW : n * WINDOW], missing) if fill == "t" else 0.0
        last = max(i for i in range(n) if probs[i] >= policy.threshold)
        silent = next((j for j in range(last + 1, len(probs)) if probs[j] >= policy.threshold), len(probs)) - last - 1
        began = time.perf_counter()
        text = engine.transcribe(clip, beam_size=int(beam)).text
        verdict = judge(text)
        found.append({"at": round(n * WINDOW / SAMPLE_RATE, 3), "text": text, "ends_turn": silent >= BASE_WINDOWS,
                      "finished": verdict.finished, "decode_s": round(time.perf_counter() - began, 3)})
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("configs", help="comma-separated PAD/BEAM/CONTEXT/HEARD[z|t]; the first is the reference")
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--limit", type=int, default=0, help="only the first N requests")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    configs = args.configs.split(",")
    engines: dict[str, WhisperEngine] = {}
    for config in configs:
        context = config.split("/")[2]
        if context not in engines:
            engines[context] = WhisperEngine(EngineConfig(model_dir=resolve_whisper(args.model), cpu_threads=2,
                                                          audio_context=float(context)))
            engines[context].transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32))
    vad = SileroVad(silero_vad())
    rng = np.random.default_rng(1)
    rows: list[dict[str, Any]] = []
    load = [os.getloadavg()[0]]
    corpus = build()
    for r in corpus[: args.limit or len(corpus)]:
        audio = with_noise_after(r, rng)
        stream = vad.stream()
        stream.feed(audio)
        for config in configs:
            found = decode_points(engines[config.split("/")[2]], audio, stream.probs, config)
            if not found:
                continue
            end = found[-1]
            rows.append({"id": r.id, "config": config, "pause": r.pause, "text": end["text"],
                         "whole": is_whole(r, str(end["text"])), "finished_at_end": end["finished"],
                         "cut_at_pause": any(f["finished"] and f["ends_turn"] for f in found[:-1]),
                         "decode_s": end["decode_s"], "points": found})
        load.append(os.getloadavg()[0])
    summary: dict[str, Any] = {}
    for config in configs:
        mine = [row for row in rows if row["config"] == config]
        summary[config] = {
            "requests": len(mine), "whole_at_end": sum(row["whole"] for row in mine),
            "finished_at_end": sum(row["finished_at_end"] for row in mine),
            "paused_cut_at_a_pause": sum(row["cut_at_pause"] for row in mine if row["pause"] > 0),
            "paused": sum(row["pause"] > 0 for row in mine),
            "finals_per_request": round(float(np.mean([len(row["points"]) for row in mine])), 2),
            "decode_p50_s": round(float(np.median([row["decode_s"] for row in mine])), 3),
        }
    reference = {row["id"]: row for row in rows if row["config"] == configs[0]}
    changes = []
    for row in rows:
        ref = reference.get(row["id"])
        if ref is not None and row is not ref and any(row[k] != ref[k] for k in ("whole", "finished_at_end",
                                                                                   "cut_at_pause")):
            changes.append({"id": row["id"], "config": row["config"], "text": [ref["text"], row["text"]],
                            **{k: [ref[k], row[k]] for k in ("whole", "finished_at_end", "cut_at_pause")}})
    out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "model": args.model,
           "load": [min(load), max(load)], "summary": summary, "changes": changes, "rows": rows}
    print(json.dumps({"summary": summary, "changes": changes, "load": out["load"]}, indent=1))
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
