"""After a wake detection, how soon does the command follow? Sure and unsure detections, real and false.

The satellite ends a turn quietly when no command follows an UNSURE detection (``satellite.wake_turn``
``UNSURE_COMMAND_SECONDS``); this measures the bound. Corpus (synthesised here, nothing downloaded):

- real: ``bench/wake_bench.WAKE_TEXTS`` with a command ("Okay Nabu, what time is it?", "Ok Nabu, turn on
  the lights.") and alone ("Okay Nabu.") by Kokoro voices (the wake bench's tune and held-out voices) at
  its three speeds, and by Piper;
- false: ``bench/wake_false_accepts.EVAL_NEAR_MISSES`` ("Okay, Mabel." ...) by the same voices, and
  Piper's "What time is it?" 25 dB over a TV (``tests/test_satellite_talker_between``'s false accept).

Each clip: 1 s of room (-60 dBFS noise), the clip, 3 s of room, through the satellite's own
:class:`satellite.wake.WakeGate` (the default cascade) in 30 ms frames, waiting for the verifier after
every frame (audio time), and its :class:`satellite.vad.SpeechDetector` and
:class:`satellite.talker_gate.TalkerGate` (the wake word's level at the detection, as the satellite).
Per detection: time, sure or not (``WakeGate.trusted``), and the time from it to the command the
satellite would take as following (``COMMAND_VOICED_SECONDS`` of voiced frames within the gate's
``open_db`` of the wake word's level), or none.

    nice -n 10 python bench/wake_unsure.py [--voices af_heart,...] [--out bench/results/wake_unsure.json]
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
sys.path.insert(0, str(ROOT / "tests"))

from bench.wake_bench import HELD_OUT_VOICES, KOKORO_SPEEDS, TUNE_VOICES, WAKE_TEXTS, Voices, pcm  # noqa: E402
from bench.wake_false_accepts import EVAL_NEAR_MISSES  # noqa: E402
from satellite.talker_gate import TalkerGate, TalkerGateConfig, frame_db  # noqa: E402
from satellite.vad import SpeechDetector, VadConfig  # noqa: E402
from satellite.wake import WakeConfig, WakeGate  # noqa: E402
from satellite.wake_cascade import CascadeDetector  # noqa: E402
from satellite.wake_turn import COMMAND_VOICED_SECONDS  # noqa: E402

VAD = VadConfig()
WAKE = WakeConfig(names=("okay_nabu",))


def run_clip(x: np.ndarray) -> list[dict[str, Any]]:
    """Detections in 1 s of room + ``x`` + 3 s of room: time, sure, seconds to a following command."""
    rng = np.random.default_rng(0)
    n = len(x) + 4 * 16000
    audio = rng.standard_normal(n) * 32768 * 10 ** (-60 / 20)  # (int16 scale, as bench/wake_bench)
    audio[16000 : 16000 + len(x)] += x
    data = pcm(audio)
    gate = WakeGate(WAKE, VAD.frame_seconds)
    assert isinstance(gate.detector, CascadeDetector)
    vad = SpeechDetector(VAD)
    talker = TalkerGate(TalkerGateConfig(), VAD.frame_seconds)
    size = VAD.frame_bytes
    need = round(COMMAND_VOICED_SECONDS / VAD.frame_seconds)
    found: list[dict[str, Any]] = []
    ref: float | None = None
    voiced = 0
    first_voiced: float | None = None
    try:
        for i in range(0, len(data) - size + 1, size):
            frame = data[i : i + size]
            t = (i + size) / 32000
            vad.process(frame)
            if first_voiced is None and vad.voiced:
                first_voiced = t
            name = gate.process(frame)
            gate.detector.drain()
            if name is not None:
                ref = talker.arm()
                gate.request_opinion()
                found.append({"at": round(t - 1.0, 3), "sure": gate.trusted, "opinion": None,
                              "peak": round(gate.detector._peak, 3), "ref_db": ref, "command_after": None,
                              "voice_before": None if first_voiced is None else round(t - first_voiced, 3),
                              "after": ""})
                voiced = 0
                continue
            talker.listen(frame)
            if found and found[-1]["opinion"] is None and gate.agreed is not None:
                found[-1]["opinion"] = round(float(gate.detector.opinion or 0.0), 3)
            if found and ref is not None and len(found[-1]["after"]) < 50:  # the 1.5 s after it
                loud = frame_db(frame) >= ref - TalkerGateConfig().open_db
                found[-1]["after"] += ("V" if loud else "v") if vad.voiced else ("L" if loud else ".")
            if found and found[-1]["command_after"] is None and ref is not None:
                voiced += vad.voiced and frame_db(frame) >= ref - TalkerGateConfig().open_db
                if voiced >= need:
                    found[-1]["command_after"] = round(t - 1.0 - found[-1]["at"], 3)
    finally:
        gate.detector.close()
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voices", default=",".join(TUNE_VOICES + HELD_OUT_VOICES))
    parser.add_argument("--speeds", default=",".join(str(s) for s in KOKORO_SPEEDS))
    parser.add_argument("--near-misses", type=int, default=len(EVAL_NEAR_MISSES))
    parser.add_argument("--near-miss-from", type=int, default=0, help="start at this one of EVAL_NEAR_MISSES")
    parser.add_argument("--no-real", action="store_true", help="false-accept material only")
    parser.add_argument("--gains", default="0,-20", help="dB, each clip at each (the wake corpora's near and far)")
    parser.add_argument("--out", default=str(ROOT / "bench/results/wake_unsure.json"))
    args = parser.parse_args(argv)
    voices = Voices()
    rows: list[dict[str, Any]] = []
    started = time.time()
    jobs: list[tuple[str, str, float, str]] = []  # kind, voice, speed, text
    for voice in ["piper", *args.voices.split(",")]:
        speeds = [1.0] if voice == "piper" else [float(s) for s in args.speeds.split(",")]
        for speed in speeds:
            jobs += [] if args.no_real else [("real", voice, speed, t) for t in WAKE_TEXTS if t != "Okay, Nabu."]
            jobs += [("false", voice, speed, t) for t in EVAL_NEAR_MISSES[args.near_miss_from : args.near_misses]]
    from test_satellite_talker_gate import tv  # the TV of the satellite's tests (Piper, 25 dB under)

    w = voices.piper_say("What time is it?")
    for lead in (0.5, 1.0, 1.5, 2.0, 2.5):  # test_satellite_talker_between's false accept, at several alignments
        x = tv(lead + len(w) / 16000 + 1.0, -25.0).astype(np.float64) * 32768
        x[int(lead * 16000) : int(lead * 16000) + len(w)] += w
        dets = run_clip(x)
        rows.append({"kind": "false", "voice": "piper+tv", "speed": 1.0, "gain_db": 0.0, "lead": lead,
                     "text": "What time is it?", "seconds": round(len(x) / 16000, 2), "detections": dets})
        print("false piper+tv", lead, dets, flush=True)
    for kind, voice, speed, text in jobs:
        x = voices.piper_say(text) if voice == "piper" else voices.kokoro_say(text, voice, speed)
        for gain in (float(g) for g in args.gains.split(",")):
            dets = run_clip(x * 10 ** (gain / 20))
            rows.append({"kind": kind, "voice": voice, "speed": speed, "gain_db": gain, "text": text,
                         "seconds": round(len(x) / 16000, 2), "detections": dets})
            print(kind, voice, speed, gain, repr(text), dets, flush=True)
        Path(args.out).write_text(json.dumps({"partial": True, "rows": rows}) + "\n")  # (a run cut short keeps these)
    summary = summarise(rows)
    print(json.dumps(summary, indent=1))
    Path(args.out).write_text(json.dumps({"summary": summary, "rows": rows,
                                          "seconds": round(time.time() - started, 1)}, indent=1) + "\n")


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def gaps(kind: str, sure: bool, command: bool) -> list[float]:
        out = []
        for r in rows:
            has_command = "," in r["text"] and r["kind"] == "real"
            if r["kind"] != kind or has_command != command:
                continue
            out += [d["command_after"] for d in r["detections"][:1] if d["sure"] == sure]
        return out

    summary: dict[str, Any] = {}
    for kind in ("real", "false"):
        for command in ((True, False) if kind == "real" else (False,)):
            for sure in (True, False):
                g = gaps(kind, sure, command)
                known = sorted(v for v in g if v is not None)
                summary[f"{kind}{'+command' if command else ''} {'sure' if sure else 'unsure'}"] = {
                    "n": len(g), "no_command": sum(v is None for v in g),
                    "command_after_p50": float(np.median(known)) if known else None,
                    "command_after_max": max(known) if known else None}
    for kind in ("real", "false"):
        ops = [d["opinion"] for r in rows if r["kind"] == kind for d in r["detections"]]
        known = [o for o in ops if o is not None]
        summary[f"{kind} second opinion"] = {"n": len(ops), "over_0.5": sum(o > 0.5 for o in known),
                                             "min": min(known) if known else None, "max": max(known) if known else None}
    summary["clips_without_detection"] = {k: sum(1 for r in rows if r["kind"] == k and not r["detections"])
                                          for k in ("real", "false")}
    return summary


if __name__ == "__main__":
    main()
