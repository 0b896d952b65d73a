"""Offline, on a kept room run: where the speech ends and what the speculative final reads, with and
without a longer pad after a weak end (``wyoming_whisper.vad.VadPolicy.weak_peak``). (Session 13
also tried a weak-tail floor here: rejected, removed in session 14; bench/results/room_latency.md.)

In the room a quiet last word can score 0.1-0.45 in Silero (held-48's "pharmacy": session 12's
note in bench/results/room_latency.md), so the speech end lands inside the word and the
speculative final decodes audio that stops there ("where is the newest ..."). For every request of
a kept ``bench/room_turns_bench.py`` folder this runs Silero over the room's ``mic.wav`` from 0.5 s
before the request's onset to 2 s after its offset, as the server would (window by window: the
first point with ``pad`` windows below the speech after it), and decodes the region (tiny.en,
beam 5, the server's 10 s window) with each configuration (``WEAK``: the weak end's peak; 0 = off):
when the decode starts after the room's offset (the cost: the turn ends that much later) and the text.

    python bench/room_tail_probe.py /tmp/room-turns-held-on-p1of2 [--configs 0,0.6]
"""

from __future__ import annotations

import argparse
import json
import sys
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voice_runtime.models import resolve_whisper, silero_vad  # noqa: E402
from wyoming_whisper.endpoint import judge  # noqa: E402
from wyoming_whisper.engine import SAMPLE_RATE, EngineConfig, WhisperEngine  # noqa: E402
from wyoming_whisper.vad import WINDOW, SileroVad, VadPolicy, end_pad, speech_region, speech_windows  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--configs", default="0,0.6", help="comma-separated weak-end peaks (0: off)")
    parser.add_argument("--pad", type=int, default=3, help="windows of silence before the decode (0.1 s)")
    args = parser.parse_args()
    result = json.loads((args.folder / "result.json").read_text())
    with wave.open(str(args.folder / "mic.wav")) as w:
        mic = (np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768).astype(np.float32)
    shift = result["wav_offset_s"]
    vad = SileroVad(silero_vad())
    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
    configs = [float(c) for c in args.configs.split(",")]
    shifts: dict[float, list[float]] = {c: [] for c in configs}
    for u in result["utterances"]:
        begin = u["onset"] - 0.5
        audio = mic[int((begin + shift) * SAMPLE_RATE) : int((u["offset"] + 2.0 + shift) * SAMPLE_RATE)]
        stream = vad.stream()
        stream.feed(audio)
        probs = stream.probs
        line = [f"{Path(u.get('wav', '?')).name}"]
        for weak in configs:
            name = f"{weak:g}"
            policy = VadPolicy(pad_windows=args.pad, weak_peak=weak or None)
            region = None
            for n in range(1, len(probs) + 1):
                found = speech_windows(probs[:n], policy)
                # the final point: the speech (as it stands) followed by ``pad`` quiet windows, past the offset
                settle = end_pad(probs[:n], found[1], policy) if found is not None else 0
                if found is not None and n - 1 - found[1] >= settle and begin + n * WINDOW / SAMPLE_RATE > u["offset"]:
                    region = speech_region(probs[:n], n * WINDOW, policy)
                    start = begin + n * WINDOW / SAMPLE_RATE
                    break
            if region is None:
                line.append(f"{name}: no end")
                continue
            text = engine.transcribe(audio[region[0] : region[1]]).text
            shifts[weak].append(start - u["offset"])
            line.append(f"{name}: decode at {start - u['offset']:+.3f} s {text!r} finished={judge(text).finished}")
        print(" | ".join(line), flush=True)
    for weak, values in shifts.items():
        if values:
            print(
                f"{weak:g}: decode start after the room's offset p50 {np.median(values):.3f} "
                f"p95 {np.percentile(values, 95):.3f} s (n={len(values)})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
