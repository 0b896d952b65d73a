"""Misheard device requests: does the home path ever do the WRONG thing? Right actions, wrong
actions, questions back and refusals, on real decodes of spoken requests.

    python bench/home_misheard_bench.py decode                 # render + tiny.en, minutes (offline)
    python bench/home_misheard_bench.py decode-held47          # adds the room's held-47, rendered
    python bench/home_misheard_bench.py judge [--code DIR] [--label after]   # seconds
    python bench/home_misheard_bench.py report                 # bench/results/home_misheard.md

``decode``: the 42 requests of bench/home_misheard_corpus.py (lights, locks, covers, the
thermostat, switches, the TV; a tuning part and a held-out part), each spoken by two of eight
voices (seven Kokoro voices and Piper joe, in turn) in five conditions: clean; noisy (-6 dB,
white noise at -34 dBFS); far (a room's reverberation, RT60 0.6 s, at -20 dB); far+noise (the
same at -14 dB with noise at -40 dBFS: held-47's condition in the room bench); far+noise-hard
(-16 dB, -34 dBFS). Each clip is decoded by wyoming_whisper's own engine (tiny.en, beam 5) and
scored as the server scores a transcript (lowest avg_logprob, highest no_speech_prob). The
decodes are stored (``bench/results/home_misheard.decodes.json``); audio is cached in
``~/.cache/hearth/home_misheard``. Not real time, so the box's load changes no figure.

``judge``: each decode's transcript and scores go through ``IntentRecognizer.answer`` with the
bench home (bench/home_corpus.py), as the pipeline hands them over. The home records what it is
asked to do instead of doing it (a recording stand-in for Home Assistant: recognition and the
policy are the parts measured). Outcomes:

- right / WRONG action: commands done, the same as (or not) what the sentence as written does;
- asked: a question back ("Did you mean ...?"); what a "yes" would then do is judged too;
- refused: a reply that does nothing ("There is no thermostat in your home.");
- HA's agent: a wildcard request handed to Home Assistant's own conversation agent (what that
  agent does is not measured here);
- LLM: not a device request (the LLM cannot act).

``--code DIR`` judges with another checkout's orchestrator (the "before": ``git archive main``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DECODES = RESULTS / "home_misheard.decodes.json"
RATE = 16000
VOICES = ["af_heart", "am_michael", "bf_emma", "bm_george", "af_nicole", "am_adam", "bf_isabella", "piper:joe"]
# (name, gain dB, noise dBFS or None, reverberant)
CONDITIONS = [
    ("clean", 0.0, None, False),
    ("noisy", -6.0, -34.0, False),
    ("far", -20.0, -60.0, True),
    ("far+noise", -14.0, -40.0, True),
    ("far+noise-hard", -16.0, -34.0, True),
]


def _seed(*parts: str) -> int:
    return int(hashlib.sha1("|".join(parts).encode()).hexdigest()[:8], 16)


def reverb(
    x: np.ndarray[Any, np.dtype[np.float32]], seed: int, rt60: float = 0.6, reverb_db: float = -3.0
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """A room as ../shared/room models it: the direct path and an exponentially decaying noise
    tail (its first rt60/2 s), the tail ``reverb_db`` below the direct path in energy."""
    n = int(rt60 / 2 * RATE)
    tail = np.random.default_rng(seed).standard_normal(n - 1) * np.exp(-6.91 * np.arange(1, n) / (rt60 * RATE))
    h = np.zeros(n, np.float32)
    h[0] = 1.0
    h[1:] = tail * np.sqrt(10 ** (reverb_db / 10) / np.sum(tail**2))
    return np.convolve(x, h)[: len(x) + n // 2].astype(np.float32)


def condition(
    clean: np.ndarray[Any, np.dtype[np.float32]], *, gain: float, noise: float | None, room: bool, seed: int
) -> np.ndarray[Any, np.dtype[np.float32]]:
    pad = np.zeros(int(0.3 * RATE), np.float32)
    x = np.concatenate([pad, reverb(clean, seed) if room else clean, pad]) * np.float32(10 ** (gain / 20))
    if noise is not None:
        x = x + np.random.default_rng(seed + 1).standard_normal(len(x)).astype(np.float32) * np.float32(
            10 ** (noise / 20)
        )
    return np.clip(x, -1, 1).astype(np.float32)


def clips() -> list[dict[str, Any]]:
    """Every (split, sentence, voice, condition) with its 16 kHz audio (rendered once, cached)."""
    from bench.home_misheard_corpus import HELD_OUT, TUNE
    from bench.turn_corpus import Voices
    from voice_runtime.models import cache_dir

    folder = cache_dir() / "home_misheard"
    folder.mkdir(parents=True, exist_ok=True)
    voices: Voices | None = None
    out = []
    n = 0
    for split, sentences in (("tune", TUNE), ("held", HELD_OUT)):
        for text in sentences:
            for k in range(2):
                voice = VOICES[(2 * n + k) % len(VOICES)]
                cached = folder / f"{hashlib.sha1(f'{text}|{voice}'.encode()).hexdigest()[:16]}.raw"
                if not cached.exists():
                    voices = voices or Voices()
                    cached.write_bytes(np.asarray(voices.speak(text, voice), np.float32).tobytes())
                clean = np.frombuffer(cached.read_bytes(), np.float32)
                for name, gain, noise, room in CONDITIONS:
                    audio = condition(clean, gain=gain, noise=noise, room=room, seed=_seed(text, voice, name))
                    out.append({"split": split, "said": text, "voice": voice, "condition": name, "audio": audio})
            n += 1
    return out


def held47_clips() -> list[dict[str, Any]]:
    """The room bench's held-47 as nearly as it can be made offline: bm_george says "Set the
    thermostat to twenty degrees." whole and with 0.75 s of silence after "to" (split synthesis,
    as the room corpus made it), far+noise (-14 dB, -40 dBFS) without and with reverberation,
    three noise seeds each (the room's echo and real-time decoding are not reproduced)."""
    from bench.turn_corpus import Voices

    voices = Voices()
    said = "Set the thermostat to twenty degrees."
    whole = voices.speak(said, "bm_george")
    pause = np.zeros(int(0.75 * RATE), np.float32)
    split = np.concatenate(
        [voices.speak("Set the thermostat to", "bm_george"), pause, voices.speak("twenty degrees.", "bm_george")]
    )
    out = []
    for label, clean in (("whole", whole), ("split 0.75 s", split)):
        for room in (False, True):
            for seed in (1, 2, 3):
                audio = condition(clean, gain=-14.0, noise=-40.0, room=room, seed=seed)
                out.append(
                    {
                        "split": "held47",
                        "said": said,
                        "voice": "bm_george",
                        "audio": audio,
                        "condition": f"far+noise {label}{' reverb' if room else ''} seed {seed}",
                    }
                )
    return out


def decode(held47: bool = False) -> None:
    from voice_runtime.models import resolve_whisper
    from wyoming_whisper.engine import EngineConfig, WhisperEngine

    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
    rows = json.loads(DECODES.read_text())["decodes"] if held47 else []
    rows = [r for r in rows if r["split"] != "held47"]
    for clip in held47_clips() if held47 else clips():
        decoded = engine.transcribe(clip.pop("audio"), "en")
        rows.append({**clip, "heard": decoded.text, **decoded.confidence()})
        print(
            f"{clip['split']} {clip['voice']:12} {clip['condition']:15} {clip['said']!r} -> {decoded.text!r}",
            flush=True,
        )
    DECODES.write_text(json.dumps({"decodes": rows}, indent=0), encoding="utf-8")
    print(f"{len(rows)} decodes -> {DECODES}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["decode", "decode-held47", "judge", "report"])
    parser.add_argument("--code", type=Path, help="judge with this checkout's orchestrator (e.g. main's)")
    parser.add_argument("--label", default="after")
    parser.add_argument("--out", type=Path, default=RESULTS / "home_misheard")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.code is not None:  # that checkout's orchestrator (kept in sys.modules), this one's bench
        sys.path.insert(0, str(args.code.resolve()))
        import orchestrator.intents

        sys.path.remove(str(args.code.resolve()))
    if args.step in ("decode", "decode-held47"):
        decode(held47=args.step == "decode-held47")
        return 0
    path = args.out.with_suffix(".json")
    runs = json.loads(path.read_text()) if path.exists() else {}
    if args.step == "report":
        from bench.home_misheard_judge import markdown

        args.out.with_suffix(".md").write_text(markdown(runs), encoding="utf-8")
        print(markdown(runs))
        return 0
    import orchestrator  # the checkout judged (recorded with the report)
    from bench.home_misheard_judge import judge_all, written_all

    report = asyncio.run(judge_all(json.loads(DECODES.read_text())["decodes"]))
    report["code"] = str(Path(orchestrator.__file__).parent.parent)
    report["written"] = asyncio.run(written_all())
    runs[args.label] = report
    path.write_text(json.dumps(runs, indent=None) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k not in ("rows", "written")}, indent=1))
    print(Counter(r["outcome"] for r in report["rows"]), len(report["written"]), "written phrasings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
