"""Why a voice is or is not woken: pronunciation, level, noise, phrasing, engine — per voice.

For each voice of the wake corpus (``bench/wake_bench.py``: six Kokoro tuning voices, Piper)
and each phrasing, this prints and saves:

- the phonemes Kokoro speaks for the text (espeak via kokoro-onnx: is "Nabu" said nˈɑːbuː?),
- what Whisper base hears in the clip (does the clip say "Okay Nabu"?),
- microWakeWord okay_nabu's highest probability (mean over its sliding window) in the clip:
  as synthesised, normalised to −1 dBFS peak, at −10/−20/−30 dB, and at −20 dB with noise,
- openWakeWord okay_nabu's highest score in the same clip (as synthesised).

    python bench/wake_diagnose.py [--out bench/results/wake_diagnose.json]
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

from bench.wake_bench import RATE, WAKE_TEXTS, Voices, noise, pcm  # noqa: E402


def micro_max(x: np.ndarray) -> float:
    from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures
    from pymicro_wakeword import Model as MicroModel

    model, features = MicroWakeWord.from_builtin(MicroModel("okay_nabu")), MicroWakeWordFeatures()
    data = pcm(np.concatenate([np.zeros(RATE // 2), x, np.zeros(RATE)]))
    probs = [model.process_streaming_prob(f) for f in features.process_streaming(data)]
    return round(max(p for p in probs if p is not None), 3)


def open_max(x: np.ndarray) -> float:
    from pyopen_wakeword import Model as OpenModel
    from pyopen_wakeword import OpenWakeWord, OpenWakeWordFeatures

    model, features = OpenWakeWord.from_builtin(OpenModel("okay_nabu")), OpenWakeWordFeatures.from_builtin()
    data = pcm(np.concatenate([np.zeros(RATE // 2), x, np.zeros(RATE)]))
    best = 0.0
    for pos in range(0, len(data), 960):
        for embedding in features.process_streaming(data[pos:pos + 960]):
            best = max([best, *model.process_streaming(embedding)])
    return round(float(best), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from faster_whisper import WhisperModel
    from kokoro_onnx.tokenizer import Tokenizer

    from voice_runtime.models import resolve_whisper

    whisper = WhisperModel(str(resolve_whisper("base")), device="cpu", compute_type="int8")
    tokenizer, voices, rng = Tokenizer(), Voices(), np.random.default_rng(1)
    rows: list[dict[str, Any]] = []
    for voice in [*voices.kokoro_voices, "piper"]:
        for text in WAKE_TEXTS:
            x = voices.piper_say(text) if voice == "piper" else voices.kokoro_say(text, voice)
            segments, _ = whisper.transcribe((x / 32768).astype(np.float32), language="en", beam_size=1)
            lang = "en-gb" if voice.startswith("b") else "en-us"
            peak = float(np.max(np.abs(x)))
            row = {"voice": voice, "text": text, "heard": " ".join(s.text.strip() for s in segments),
                   "phonemes": None if voice == "piper" else tokenizer.phonemize(text, lang),
                   "peak_dbfs": round(20 * np.log10(peak / 32768), 1),
                   "micro": {"as is": micro_max(x), "-1 dBFS peak": micro_max(x / peak * 32768 * 10 ** (-1 / 20)),
                             **{f"{g} dB": micro_max(x * 10 ** (g / 20)) for g in (-10, -20, -30)},
                             "-20 dB noisy": micro_max(x * 0.1 + noise(len(x), -60, rng))},
                   "open": open_max(x)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": rows},
                                       indent=1) + "\n")


if __name__ == "__main__":
    main()
