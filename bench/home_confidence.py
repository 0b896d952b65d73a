"""How sure speech-to-text is of misheard device commands: the data behind the thresholds of
orchestrator/home/confidence.py (a device action heard unsurely is asked about, not done).

    python bench/home_confidence.py [--out bench/results/home_confidence]          # whisper, minutes
    python bench/home_confidence.py --rejudge [--out bench/results/home_confidence] # offline, seconds

Not real time (no timing). Every clip is decoded by wyoming_whisper's own engine (tiny.en, beam
5, its 10 s encoder window) and scored as the server scores a transcript (``Decoded.confidence``:
lowest segment avg_logprob, highest no_speech_prob). Two sets:

- ``turn``: the end-of-turn corpus's device commands (bench/turn_corpus.py: Kokoro voices and
  Piper, clean/far/noisy/far+noise), each at its own condition and at three harsher far+noise
  levels;
- ``piper``: two commands spoken by the tests' Piper voice, at gains -12/-14/-16 dB under white
  noise at -36/-34/-32 dBFS, two noise seeds each.

A decode is "right" when its transcript is recognised (the bench home, bench/home_corpus.py) as
the same commands as what was said, "wrong" when it is recognised as a device action that is not.
For each ``avg_logprob`` threshold: right actions that would be asked about (a needless question)
and wrong ones that would be stopped, by the threshold alone and with the rest of the decision
the orchestrator takes whatever the scores (``IntentRecognizer.ask_first`` with no scores: a
wildcard name close to a device's, words that do not fit the device, a loop) as well.
``--rejudge`` re-reads the stored rows (said, heard, scores) and judges them with the current
recogniser and decision (rows not heard as device actions when decoded are not stored).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from bench.home_bench import SnapshotHome, corpus_home  # noqa: E402
from orchestrator.home.confidence import QUERIES, Hearing  # noqa: E402
from orchestrator.intents import HOME_INTENTS, IntentRecognizer, Recognized  # noqa: E402

HARSHER = [("far+noise-30", -14.0, -30.0), ("far+noise-25", -14.0, -25.0), ("far+noise-22", -18.0, -24.0)]
PIPER = ["Turn on the kitchen light.", "Open the garage door."]
THRESHOLDS = [-0.3, -0.4, -0.5, -0.6, -0.7, -0.8]


def _key(commands: list[Recognized]) -> list[tuple[str, list[tuple[str, str]]]]:
    def value(v: Any) -> str:
        return str(float(v)) if isinstance(v, int | float) else str(v).lower()

    return [(c.name, sorted((k, value(v)) for k, v in c.slots.items())) for c in commands]


def _acts(commands: list[Recognized]) -> bool:
    return any(c.name in HOME_INTENTS and c.name not in QUERIES for c in commands)


def clips() -> list[tuple[str, str, str, Any]]:
    """(set, condition, what was said, 16 kHz float audio)."""
    from bench.turn_corpus import build

    out = []
    recognizer = IntentRecognizer(home=SnapshotHome(corpus_home()))
    for request in build():
        if not _acts(recognizer.recognize(request.text)):
            continue
        audio = np.frombuffer(request.pcm, dtype="<i2").astype(np.float32) / 32768
        out.append(("turn", request.condition, request.text, audio))
        for name, gain, noise in HARSHER:
            rng = np.random.default_rng(int(hashlib.sha1((request.id + name).encode()).hexdigest()[:8], 16))
            noisy = audio * 10 ** ((gain - request.gain_db) / 20)
            out.append(
                (
                    "turn",
                    name,
                    request.text,
                    noisy + rng.standard_normal(len(audio)).astype(np.float32) * np.float32(10 ** (noise / 20)),
                )
            )
    return out + piper_in_noise(PIPER)


def piper_in_noise(sentences: list[str]) -> list[tuple[str, str, str, Any]]:
    """Each sentence spoken by the tests' Piper voice at gains -12/-14/-16 dB under white noise at
    -36/-34/-32 dBFS, two noise seeds each: ("piper", condition, sentence, 16 kHz float audio)."""
    from speech import speak

    out = []
    for sentence in sentences:
        clean = np.frombuffer(speak(sentence), dtype="<i2").astype(np.float32) / 32768
        for gain in (-12.0, -14.0, -16.0):
            for noise in (-36.0, -34.0, -32.0):
                for seed in (7, 8):
                    rng = np.random.default_rng(seed)
                    hiss = rng.standard_normal(len(clean)).astype(np.float32) * np.float32(10 ** (noise / 20))
                    out.append(
                        (
                            "piper",
                            f"{gain:g} dB / {noise:g} dBFS / seed {seed}",
                            sentence,
                            clean * np.float32(10 ** (gain / 20)) + hiss,
                        )
                    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "home_confidence")
    parser.add_argument("--rejudge", action="store_true", help="judge the stored decodes again (no whisper)")
    args = parser.parse_args()
    recognizer = IntentRecognizer(home=SnapshotHome(corpus_home()))
    if args.rejudge:
        stored = json.loads(args.out.with_suffix(".json").read_text(encoding="utf-8"))["rows"]
        decodes = [
            (
                r["set"],
                r["condition"],
                r["said"],
                r["heard"],
                {k: r[k] for k in ("avg_logprob", "no_speech_prob") if k in r},
            )
            for r in stored
        ]
    else:
        from voice_runtime.models import resolve_whisper
        from wyoming_whisper.engine import EngineConfig, WhisperEngine

        engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
        decodes = []
        for kind, condition, said, audio in clips():
            decoded = engine.transcribe(audio, "en")
            decodes.append((kind, condition, said, decoded.text, decoded.confidence()))
    rows: list[dict[str, Any]] = []
    for kind, condition, said, text, heard in decodes:
        found = recognizer.recognize(text) if text else []
        if not _acts(found):
            continue  # not heard as a device action: nothing could be done wrongly
        same = _key(found) == _key(recognizer.recognize(said))
        near = recognizer.ask_first(found, text, None) is not None  # the orchestrator's decision, no scores
        rows.append(
            {
                "set": kind,
                "condition": condition,
                "said": said,
                "heard": text,
                "right": same,
                "near_name": near,
                **heard,
            }
        )
    report: dict[str, Any] = {"decodes_heard_as_actions": len(rows), "rows": rows, "thresholds": []}
    lines = [
        "# Speech-to-text confidence of device commands (bench/home_confidence.py)",
        "",
        "tiny.en through wyoming_whisper's engine; a row per decode heard as a device action.",
        "",
        "| set | threshold | right asked (alone) | wrong stopped (alone) | right asked (+ near name, fit, loop) "
        "| wrong stopped (+ near name, fit, loop) |",
        "|---|---|---|---|---|---|",
    ]
    for kind in ("turn", "piper", "all"):
        subset = [r for r in rows if kind in ("all", r["set"])]
        right = [r for r in subset if r["right"]]
        wrong = [r for r in subset if not r["right"]]
        for threshold in THRESHOLDS:

            def unsure(r: dict[str, Any], t: float = threshold) -> bool:
                hearing = Hearing(r.get("avg_logprob"), r.get("no_speech_prob"))
                return (
                    hearing.avg_logprob is not None
                    and hearing.avg_logprob < t
                    or (hearing.no_speech_prob is not None and hearing.no_speech_prob > 0.6)
                )

            entry = {
                "set": kind,
                "threshold": threshold,
                "right": len(right),
                "wrong": len(wrong),
                "right_asked": sum(unsure(r) for r in right),
                "wrong_stopped": sum(unsure(r) for r in wrong),
                "right_asked_near": sum(unsure(r) or r["near_name"] for r in right),
                "wrong_stopped_near": sum(unsure(r) or r["near_name"] for r in wrong),
            }
            report["thresholds"].append(entry)
            lines.append(
                f"| {kind} | {threshold} | {entry['right_asked']}/{len(right)} | {entry['wrong_stopped']}/"
                f"{len(wrong)} | {entry['right_asked_near']}/{len(right)} | {entry['wrong_stopped_near']}/"
                f"{len(wrong)} |"
            )
    lines += [
        "",
        "| set | condition | said | heard | right | avg_logprob | no_speech_prob | asked, any scores |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: r.get("avg_logprob", 0.0)):
        lines.append(
            f"| {r['set']} | {r['condition']} | {r['said']} | {r['heard']} | {'yes' if r['right'] else 'NO'} "
            f"| {r.get('avg_logprob')} | {r.get('no_speech_prob')} | {'yes' if r['near_name'] else ''} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
