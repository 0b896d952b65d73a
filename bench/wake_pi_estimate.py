"""A Raspberry Pi estimate of the listening satellite's CPU, derived from measurements here and published figures.

Measured here (this script):

1. the satellite process listening to a quiet room in real time with its defaults (microWakeWord,
   our verifier on every candidate, speex AEC) plus ``--noise-suppression 2``: % of one core
   (``bench/wake_bench.satellite_cpu``; run it under ``flock /tmp/hearth-rt.lock``);
2. openWakeWord's front end (its mel-spectrogram and embedding TFLite models, the same files
   pyopen-wakeword ships) plus 20 word models, on 60 s of audio: CPU seconds per second of audio.

Published (cited, not measured here):

- openWakeWord's README (dscripka/openWakeWord, "Project Goals"): "a single core of a Raspberry
  Pi 3 can run 15-20 openWakeWord models simultaneously in real-time". So on a Pi 3 core that
  work costs at most 100 % of the core, and a Pi 3 core is at most ``1 / (2.)`` times slower
  than a core here on this TFLite workload (an upper bound: "in real time" may be well under 100 %).
- nyumaya_audio_recognition's README (one wake word library, the same build on both boards):
  "Pi 3: CPU one core: 12 %", "Pi 4: CPU one core: 4 %": a Pi 4 core ~3x a Pi 3 core on this
  kind of work. The Pi 5 is not covered by either source.

Estimate: satellite % here x (Pi 3 bound) -> at most that % of a Pi 3 core; divided by 3 for a
Pi 4. Speex and WebRTC NS are C DSP, not TFLite: the ratio is assumed to carry over (not checked).

    flock /tmp/hearth-rt.lock python bench/wake_pi_estimate.py [--seconds 30] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wake_bench import satellite_cpu  # noqa: E402

PI3_MODELS_REAL_TIME = 20  # openWakeWord README: 15-20 models on one Pi 3 core in real time (the top of the range)
PI4_OVER_PI3 = 12.0 / 4.0  # nyumaya README: one core, Pi 3 12 %, Pi 4 4 %


def open_wake_word_cost(models: int, seconds: float = 60.0) -> float:
    """CPU seconds per second of audio: openWakeWord's front end and ``models`` word models (80 ms steps)."""
    from pyopen_wakeword import Model, OpenWakeWord, OpenWakeWordFeatures

    words = list(Model)
    heads = [OpenWakeWord.from_builtin(words[i % len(words)]) for i in range(models)]
    features = OpenWakeWordFeatures.from_builtin()
    features.reset()
    features.new_audio_samples = 0
    audio = (np.random.default_rng(0).normal(0, 1000, int(16000 * seconds))).astype("<i2").tobytes()
    start = time.process_time()
    for pos in range(0, len(audio), 2560):
        for embedding in features.process_streaming(audio[pos:pos + 2560]):
            for head in heads:
                head.process_streaming(embedding)
    return (time.process_time() - start) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="real-time listening measured")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    load = [round(x, 2) for x in os.getloadavg()]
    sat = asyncio.run(satellite_cpu(args.seconds, ["--noise-suppression", "2"]))
    cost = open_wake_word_cost(PI3_MODELS_REAL_TIME)
    pi3_slower_at_most = 1.0 / cost
    here = sat["cpu_percent_of_one_core"]
    result: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_before": load,
        "load_after": [round(x, 2) for x in os.getloadavg()], "satellite": sat,
        "openwakeword_front_end_plus_20_models_cpu_percent": round(100 * cost, 2),
        "pi3_core_slower_than_here_at_most": round(pi3_slower_at_most, 2),
        "pi4_core_slower_than_here_at_most": round(pi3_slower_at_most / PI4_OVER_PI3, 2),
        "satellite_on_pi3_core_percent_at_most": round(here * pi3_slower_at_most, 1),
        "satellite_on_pi4_core_percent_at_most": round(here * pi3_slower_at_most / PI4_OVER_PI3, 1),
    }
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
