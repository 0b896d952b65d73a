"""False accepts of the satellite's wake word over many hours of non-wake audio (default 10 h).

Material (synthesised here, none of it in the verifier's training corpus):

- speech: ``EVAL_SENTENCES`` and this repo's doc sentences (the 1 h negatives of
  ``bench/wake_bench.py``) by Piper joe at several length/noise scales, and ``EVAL_SENTENCES`` +
  ``EVAL_NEAR_MISSES`` ("Okay, Mabel.", "Okay, Nairobi.", "Okay, noodle." …) by Kokoro voices:
  the held-out voices of every wake bench and the training voices;
- music-like: ``wake_bench.music`` (chords) with a melody line and noise-burst percussion;
- TV-like: speech under music and noise.

Hours are built from that material block by block (5 min of audio each, never all in memory):
clips in random order, each replayed 0.85–1.15× (pitch and tempo), at −25…0 dB, sometimes with
reverb or a second talker underneath, over a noise floor. So the sentences repeat (some 20 min of
distinct speech fills the hours): the variety is in speed, level, overlap and background.
Everything goes through one :class:`satellite.wake.WakeGate` with the default cascade, in audio
time (waiting for the verifier after every frame), at whatever priority the caller gives it
(``nice -n 19``). Progress is printed per block; each false accept's time, kind and the text
around it are saved.

    python bench/wake_false_accepts.py [--hours 10] [--out bench/results/wake_false_accepts.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wake_bench import HELD_OUT_VOICES, RATE, doc_sentences, music, noise, pcm, resample  # noqa: E402
from bench.wake_cascade import NEW_HELD_OUT_VOICES  # noqa: E402
from bench.wake_verifier_data import FRESH_HELD_OUT, TRAIN_VOICES, Speaker, Synth  # noqa: E402
from bench.wake_verifier_train import reverb  # noqa: E402

EVAL_SENTENCES = ("The score is two nil at half time.", "Remember to buy batteries for the smoke alarm.",
                  "The museum is closed on Tuesdays.", "I'd like a table for four at seven, please.",
                  "Their flight lands at half past nine tonight.", "This recipe needs more garlic.",
                  "The dog barked at the postman again.", "Can we talk about it after lunch?",
                  "The new phone has a much better camera.", "Our neighbours are painting their fence blue.",
                  "Traffic on the motorway is moving slowly.", "The library books are due back on Thursday.",
                  "He plays the guitar in a small band.", "Which platform does the next train leave from?",
                  "I'm going to take a short nap.", "Let's order noodles for dinner.",
                  "The children built a sandcastle on the beach.", "Please close the window, it's cold.",
                  "Our team won the quiz last night.", "The baker sells fresh bread every morning.",
                  "Okay, I'll call you when I get home.", "Okay, put it on the table.",
                  "Now be careful with that box.", "Nobody wants to miss the final episode.")
EVAL_NEAR_MISSES = ("Okay, Mabel.", "Okay, Nairobi.", "Okay, noodle.", "Okay, Napoli.", "Okay, Navajo.",
                    "Okay, new books.", "Okay, no booze.", "Okay, tofu.", "Okay, nobody knows.", "A kangaroo.",
                    "Oh, okay, not you.", "Okay, Barbara.", "Okay, now then.", "Nah, but okay.")
BLOCK_SECONDS = 300


def material(seed: int, cache: Path | None = None) -> list[tuple[str, np.ndarray]]:
    """(text, 16 kHz audio) clips: Piper at three length/noise scales, Kokoro voices (held-out and training)."""
    if cache is not None and cache.exists():
        with np.load(cache) as data:
            return [(str(data[f"t{i}"]), data[f"a{i}"].astype(np.float64)) for i in range(len(data.files) // 2)]
    clips = _material(seed)
    if cache is not None:
        arrays: dict[str, Any] = {f"t{i}": t for i, (t, _) in enumerate(clips)}
        arrays.update({f"a{i}": a.astype(np.float32) for i, (_, a) in enumerate(clips)})
        np.savez(cache, **arrays)
    return clips


def _material(seed: int) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    synth = Synth()
    texts = [*EVAL_SENTENCES, *doc_sentences(400)]
    clips = [(t, synth.say(Speaker(f"piper:{k}", "", length), t, seed + n))
             for n, t in enumerate(texts) for k, length in enumerate((0.9, 1.0, 1.12))]
    voices = [*HELD_OUT_VOICES, *NEW_HELD_OUT_VOICES, *FRESH_HELD_OUT, *TRAIN_VOICES[::3]]
    for n, voice in enumerate(voices):  # Kokoro is slow on a shared 2-core box: a few clips per voice
        lang = "en-gb" if voice.startswith("b") else "en-us"
        speaker = Speaker(voice, lang, float(rng.uniform(0.9, 1.15)), voice)
        for text in [EVAL_SENTENCES[n % len(EVAL_SENTENCES)]] + \
                [EVAL_NEAR_MISSES[(2 * n + k) % len(EVAL_NEAR_MISSES)] for k in range(2)]:
            clips.append((text, synth.say(speaker, text, n)))
        print(f"material: {voice} done ({len(clips)} clips)", flush=True)
    return clips


def speech_block(clips: list[tuple[str, np.ndarray]], seconds: float, rng: np.random.Generator
                 ) -> tuple[np.ndarray, list[tuple[float, str]]]:
    out, marks, pos = np.zeros(int(seconds * RATE)), [], 0
    while pos < len(out):
        text, clip = clips[rng.integers(len(clips))]
        x = resample(clip, rng.uniform(0.85, 1.15)) * 10 ** (rng.uniform(-25, 0) / 20)
        if rng.random() < 0.2:
            x = reverb(x, rng)
        if rng.random() < 0.15:  # a second talker underneath
            other = clips[rng.integers(len(clips))][1]
            x = x + np.resize(other, len(x)) * 10 ** (rng.uniform(-20, -8) / 20)
        end = min(len(out), pos + len(x))
        out[pos:end] += x[: end - pos]
        marks.append((pos / RATE, text))
        pos = end + int(rng.uniform(0.1, 1.5) * RATE)
    return out + noise(len(out), rng.uniform(-70, -50), rng), marks


def music_block(seconds: float, rng: np.random.Generator) -> np.ndarray:
    out = music(seconds, rng)
    n = len(out)
    t = np.arange(n) / RATE
    notes = 220 * 2 ** (rng.integers(0, 15, size=int(seconds * 3) + 1) / 12)
    melody = np.sin(2 * np.pi * np.cumsum(np.repeat(notes, RATE // 3)[:n]) / RATE) * 2000
    beat = (np.modf(t * rng.uniform(1.5, 2.5))[0] < 0.03) * rng.standard_normal(n) * 4000
    block: np.ndarray = (out + melody + beat) * 10 ** (rng.uniform(-15, 0) / 20)
    return block


def block(kind: str, clips: list[tuple[str, np.ndarray]], rng: np.random.Generator
          ) -> tuple[np.ndarray, list[tuple[float, str]]]:
    if kind == "speech":
        return speech_block(clips, BLOCK_SECONDS, rng)
    if kind == "music":
        return music_block(BLOCK_SECONDS, rng), []
    speech, marks = speech_block(clips, BLOCK_SECONDS, rng)
    return speech * 0.6 + music_block(BLOCK_SECONDS, rng) * 0.3 + noise(len(speech), -40, rng), marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--no-cascade", action="store_true")
    parser.add_argument("--verifier", default="either", choices=("either", "open", "ours"))
    parser.add_argument("--first-stage", type=float, default=0.2)
    parser.add_argument("--verify-all", action="store_true", help="microWakeWord over its cutoff is verified too")
    parser.add_argument("--no-near-misses", action="store_true", help="leave the near-miss phrases out")
    parser.add_argument("--material", type=Path, help="cache the synthesised clips here (.npz)")
    parser.add_argument("--material-only", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from satellite.wake import WakeConfig, WakeGate

    rng = np.random.default_rng(args.seed)
    t0 = time.monotonic()
    clips = material(args.seed, args.material)
    if args.material_only:
        return
    if args.no_near_misses:  # ordinary speech, music, TV only
        clips = [(t, a) for t, a in clips if t not in EVAL_NEAR_MISSES]
    print(f"material: {len(clips)} clips, {sum(len(c) for _, c in clips) / RATE / 60:.1f} min "
          f"({time.monotonic() - t0:.0f} s)", flush=True)
    from bench.wake_verifier_eval import factory

    who = "micro" if args.no_cascade else args.verifier
    make = factory(args.first_stage, who, None, trust_micro=not args.verify_all)
    gate = WakeGate(WakeConfig(names=("okay_nabu",)), 0.03, detector_factory=make)
    drain = getattr(gate.detector, "drain", None)
    kinds = ["speech"] * 6 + ["music"] * 2 + ["tv"] * 2  # 60 % speech, 20 % music-like, 20 % TV-like
    blocks = int(args.hours * 3600 / BLOCK_SECONDS)
    found: list[dict[str, Any]] = []
    hours = {"speech": 0.0, "music": 0.0, "tv": 0.0}
    cpu = 0.0
    for b in range(blocks):
        kind = kinds[b % len(kinds)]
        audio, marks = block(kind, clips, rng)
        data = pcm(audio)
        start = time.process_time()
        for pos in range(0, len(data) - 959, 960):
            before = getattr(gate.detector, "by_verifier", 0)
            if gate.process(data[pos:pos + 960]) is not None:
                at = (pos + 960) / 2 / RATE
                said = [t for s, t in marks if at - 4 <= s <= at]
                found.append({"block": b, "kind": kind, "at_s": round(at, 2), "text": said[-2:],
                              "by": "verifier" if getattr(gate.detector, "by_verifier", 0) > before else "micro"})
            if drain is not None:
                drain()
        cpu += time.process_time() - start
        hours[kind] += BLOCK_SECONDS / 3600
        done = sum(hours.values())
        print(f"block {b + 1}/{blocks} {kind}: {done:.2f} h, false accepts {len(found)} "
              f"({sum(f['by'] == 'verifier' for f in found)} by the verifier), candidates "
              f"{getattr(gate.detector, 'candidates', 0)}, {time.monotonic() - t0:.0f} s", flush=True)
        if args.out:  # after every block: a run stopped early still leaves its figures
            partial = summary(found, hours, clips=clips, cpu=cpu, gate=gate, args=args, t0=t0)
            args.out.write_text(json.dumps(partial, indent=1) + "\n")
    result = summary(found, hours, clips=clips, cpu=cpu, gate=gate, args=args, t0=t0)
    print(json.dumps(result, indent=1))


def summary(found: list[dict[str, Any]], hours: dict[str, float], *, clips: list[tuple[str, np.ndarray]],
            cpu: float, gate: Any, args: argparse.Namespace, t0: float) -> dict[str, Any]:
    total = sum(hours.values())
    return {"hours": round(total, 2), "config": {k: v for k, v in vars(args).items() if k not in ("out", "material")},
            "hours_by_kind": {k: round(v, 2) for k, v in hours.items()}, "false_accepts": len(found),
              "false_accepts_per_hour": round(len(found) / total, 3),
              "by_kind": {k: sum(f["kind"] == k for f in found) for k in hours},
              "by_path": {p: sum(f["by"] == p for f in found) for p in ("micro", "verifier")},
              "by_text": dict(collections.Counter(f["text"][-1] if f["text"] else "" for f in found).most_common(20)),
              "found": found[:300],
              "candidates": getattr(gate.detector, "candidates", 0),
              "distinct_material_minutes": round(sum(len(c) for _, c in clips) / RATE / 60, 1),
              "detector_cpu_percent_of_one_core": round(100 * cpu / (total * 3600), 2),
              "wall_s": round(time.monotonic() - t0), "load_avg_1m": round(os.getloadavg()[0], 2),
              "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


if __name__ == "__main__":
    main()
