"""Offline: what the second opinion (:mod:`wyoming_whisper.second`) does to the end of turn, on the
whole end-of-turn corpus streamed room-like (``bench/eot_sure_probe.py``'s streams, start phases
and replay): pauses cut, requests heard whole, end of turn after the clip (p50 / p95, whole
requests), per split, with tiny.en alone and with the second model asked on every speculative
final tiny.en was unsure of (its text, scores and last word's end then stand; its decode time is
added to that point's; ``VARIANTS``: also with tiny.en's scores and word end kept for the end of
turn's rules, and as if the second decode took no time). Every speculative final point is
decoded by tiny.en; the second model only where :func:`wyoming_whisper.second.asks_second` says so.

    nice -n 10 .venv/bin/python bench/whisper_second_eot.py [--decodes F] [--second base]
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

from bench.eot_lead_probe import points, scores, streamed  # noqa: E402
from bench.eot_sure_probe import (  # noqa: E402
    POLICY,
    command_judge,
    decodes_record,
    make_rule,
    replay,
    stream_record,
    summarise,
)
from bench.turn_corpus import RATE, build  # noqa: E402
from wyoming_whisper.second import asks_second, prefer  # noqa: E402
from wyoming_whisper.vad import speech_region, speech_windows  # noqa: E402


def _point(d: Any, seconds: float) -> dict[str, Any]:
    return {"text": d.text, "decode_s": round(seconds, 3), "avg_logprob": d.avg_logprob,
            "last_word_end": d.last_word_end}


def decode_all(prerolls: list[float], second_name: str, limit: int) -> dict[str, Any]:
    from voice_runtime.models import resolve_whisper, silero_vad
    from wyoming_whisper.engine import EngineConfig, WhisperEngine
    from wyoming_whisper.vad import SileroVad

    tiny = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
    second = WhisperEngine(EngineConfig(model_dir=resolve_whisper(second_name), language="en"))
    for engine in (tiny, second):
        engine.transcribe(np.zeros(RATE, dtype=np.float32), "en")
    vad = SileroVad(silero_vad())
    corpus = build()[: limit or None]
    started, load = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), [os.getloadavg()[0]]
    streams: list[dict[str, Any]] = []
    for preroll in prerolls:
        for i, r in enumerate(corpus):
            x = streamed(r, preroll, None, i, True)
            probs, half, levels = scores(vad, x)
            found = []
            for n in points(probs, half, levels, POLICY):
                region = speech_region(probs[:n], n * 512, POLICY, half[: n - 1], levels[:n])
                speech = speech_windows(probs[:n], POLICY, half[: n - 1], levels[:n])
                assert region is not None and speech is not None
                resume = next((k for k in range(n, len(probs)) if probs[k] >= POLICY.threshold), None)
                audio = x[region[0]: region[1]]
                t = time.perf_counter()
                first = tiny.transcribe(audio, "en", beam_size=5, word_end=True)
                first_s = time.perf_counter() - t
                point: dict[str, Any] = {
                    "at": round(n * 512 / RATE, 3),
                    "speech_end": round((speech[1] + 1) * 512 / RATE, 3),
                    "gap": None if resume is None else round((resume - speech[1] - 1) * 512 / RATE, 3),
                    "region_start": round(region[0] / RATE, 3),
                    "first": _point(first, first_s),
                    "second": None,
                }
                if asks_second(first):
                    t = time.perf_counter()
                    other = second.transcribe(audio, "en", beam_size=5, word_end=True)
                    point["second"] = {**_point(other, time.perf_counter() - t),
                                       "chosen": prefer(first, other).text}
                found.append(point)
            streams.append(stream_record(r, preroll, found))
        load.append(os.getloadavg()[0])
        print(f"pre-roll {preroll}: {len(streams)} streams, load {os.getloadavg()[0]:.2f}", flush=True)
    return decodes_record(started, load, streams)


VARIANTS = {
    # name: (second opinion on, its decode time added, the second's scores and word end read by the end of turn)
    "tiny.en (main)": (False, True, True),
    "tiny.en + second": (True, True, True),
    "+ second, tiny.en's scores": (True, True, False),
    "+ second, no decode time": (True, False, True),
}


def variant(stream: dict[str, Any], name: str) -> dict[str, Any]:
    """The stream's points as the server would have decoded them under ``VARIANTS[name]``."""
    with_second, timed, scored = VARIANTS[name]
    out = []
    for p in stream["points"]:
        point = {k: v for k, v in p.items() if k not in ("first", "second")}
        point.update(p["first"])
        s = p["second"]
        if with_second and s is not None:
            point["decode_s"] = round(p["first"]["decode_s"] + (s["decode_s"] if timed else 0.0), 3)
            if s["chosen"] != p["first"]["text"]:
                point["text"] = s["chosen"]
                if scored:
                    point.update(avg_logprob=s["avg_logprob"], last_word_end=s["last_word_end"])
        out.append(point)
    return {**stream, "points": out}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decodes", type=Path, help="a stored decode JSON (this script's --save)")
    parser.add_argument("--save", type=Path, default=Path("/tmp/whisper_second_eot.json"))
    parser.add_argument("--second", default="base")
    parser.add_argument("--prerolls", default="0.3,0.4,0.5,0.6,0.7")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "s24_second_eot.json")
    args = parser.parse_args()
    if args.decodes:
        data = json.loads(args.decodes.read_text())
    else:
        data = decode_all([float(p) for p in args.prerolls.split(",")], args.second, args.limit)
        args.save.write_text(json.dumps(data) + "\n")
    command = command_judge()
    rule = make_rule("now", command)
    streams = [s for s in data["streams"] if s["points"]]
    asked = [p for s in streams for p in s["points"] if p["second"] is not None]
    out: dict[str, Any] = {k: data[k] for k in ("started", "ended", "load_1min")}
    out["points"] = sum(len(s["points"]) for s in streams)
    out["asked"] = len(asked)
    out["second_decode_s"] = sorted(p["second"]["decode_s"] for p in asked)
    out["first_decode_s"] = sorted(p["first"]["decode_s"] for s in streams for p in s["points"])
    out["summary"], out["changed"] = {}, []
    print(f"decoded {data['started']} - {data['ended']}, load {data['load_1min']}; "
          f"{out['asked']} of {out['points']} speculative finals asked the second model")
    print("| variant | split | pauses cut | whole | eot p50 / p95 (s, whole) |\n|---|---|---|---|---|")
    results: dict[str, dict[tuple[str, float], dict[str, Any]]] = {}
    for name in VARIANTS:
        results[name] = {(s["id"], s["preroll"]): {**replay(variant(s, name), rule), "stream": s} for s in streams}
        for split in ("tune", "held"):
            for only in (False, True):
                chosen = [r for r in results[name].values() if r["stream"]["split"] == split
                          and (not only or command(r["stream"]["text"]))]
                summary = summarise(chosen)
                label = f"{split}{', commands' if only else ''}"
                out["summary"][f"{name} | {label}"] = summary
                print(f"| {name} | {label} | {summary['cut']}/{summary['n']} | {summary['whole']}/{summary['n']} | "
                      f"{summary['eot_p50']} / {summary['eot_p95']} |")
    for key, before in results["tiny.en (main)"].items():
        after = results["tiny.en + second"][key]
        if (before["text"], before["cut"], before["eot"]) != (after["text"], after["cut"], after["eot"]):
            line = (f"{key[0]}@{key[1]}: {before['text']!r} cut={before['cut']} whole={before['whole']} "
                    f"eot={before['eot']} -> {after['text']!r} cut={after['cut']} whole={after['whole']} "
                    f"eot={after['eot']}")
            out["changed"].append(line)
            print("  ", line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
