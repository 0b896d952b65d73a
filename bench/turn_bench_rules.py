"""Offline end-of-turn replay: cut-offs and end-of-turn time per rule set and decode pad, tune and
held apart, with no real time.

The end-of-turn corpus (``bench/turn_corpus.py``: 65 requests, 50 with a 0.3-0.9 s pause) goes
through Silero VAD as the whisper server runs it; at every point where the server starts a
speculative final decode (``pad`` of silence after the speech, once per pause) the region is
decoded once per pad (tiny.en int8, beam 5: the server's settings) and stored with its time, its
decode time and the silence that followed (until the speech resumed, or none after the last).
Rule sets are then replayed over the stored texts with no further decoding: each is
``wyoming_whisper/endpoint.py`` at a git revision (``REV``) or the working tree (``.``).

The server's end of turn, modelled as ``wyoming_whisper.stream`` does it with ``vad_sensitivity:
default`` (base 0.256 s, weak cap 1.216 s, cap 1.888 s of silence after the speech): a decode
starts when its point fires or when the model is free of the one before it, whichever is later;
a text read as finished ends the turn at max(base, its decode's end), a weak one at the weak cap,
another unfinished one at the cap (the cap ends it in any case) - unless speech resumes first.
A turn that ends at a pause is a cut-off (the orchestrator's continuation may merge the rest in
the room; here it counts as cut). Reported per split: cut-offs, requests heard whole at the end
(the turn bench's rule), end of turn after the last voiced sample (p50 / p95 / mean, requests
heard whole), turns that waited (an unfinished verdict at the end), decodes per request.

    .venv/bin/python bench/turn_bench_rules.py --pads 0.1,0.064 --rules ba550b2^,main,. [--decodes F]

``--decodes F`` reuses a stored JSON of the decodes (written to ``--out``/turn_rules_decodes.json).
Results: ``--out``/turn_rules.{json,md}.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.eot_decode_probe import points  # noqa: E402
from bench.turn_bench import is_whole, pct  # noqa: E402
from bench.turn_corpus import Request, build  # noqa: E402
from voice_runtime.models import resolve_whisper, silero_vad  # noqa: E402
from wyoming_whisper.engine import SAMPLE_RATE, EngineConfig, WhisperEngine  # noqa: E402
from wyoming_whisper.vad import WINDOW, SileroVad, VadPolicy, speech_region, speech_windows  # noqa: E402

W = WINDOW / SAMPLE_RATE  # seconds per Silero window
BASE, WEAK_CAP, CAP = 8 * W, 38 * W, 59 * W  # `default`: 0.25 s, 1.2 s, 1.5 s x 1.25 in windows


def decode_corpus(pads: list[float], limit: int) -> dict[str, Any]:
    """Every speculative final decode of the corpus, per pad (the only slow part)."""
    corpus = build()[: limit or None]
    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
    engine.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32))
    vad = SileroVad(silero_vad())
    rng = np.random.default_rng(1)
    load = [os.getloadavg()[0]]
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    requests: list[dict[str, Any]] = []
    for r in corpus:
        x = np.frombuffer(r.pcm, "<i2").astype(np.float32) / 32768
        tail = rng.standard_normal(int(2.5 * SAMPLE_RATE)).astype(np.float32)
        tail *= 10 ** ((r.noise_dbfs if r.noise_dbfs is not None else -70) / 20)
        audio = np.concatenate([x, tail])
        stream = vad.stream()
        stream.feed(audio)
        probs = stream.probs
        per_pad: dict[str, list[dict[str, Any]]] = {}
        for pad_s in pads:
            policy = VadPolicy(pad_windows=max(1, round(pad_s * SAMPLE_RATE / WINDOW)))
            found = []
            for n in points(probs, policy, policy.pad_windows):
                region = speech_region(probs[:n], n * WINDOW, policy)
                speech = speech_windows(probs[:n], policy)
                if region is None or speech is None:
                    continue
                resume = next((i for i in range(n, len(probs)) if probs[i] >= policy.threshold), None)
                t = time.perf_counter()
                decoded = engine.transcribe(audio[region[0] : region[1]], beam_size=5)
                text = decoded.text
                found.append(
                    {
                        "at": round(n * W, 3),
                        "speech_end": round((speech[1] + 1) * W, 3),
                        "gap": None if resume is None else round((resume - speech[1] - 1) * W, 3),
                        "decode_s": round(time.perf_counter() - t, 3),
                        "text": text,
                        **decoded.confidence(),
                    }
                )
            per_pad[f"{pad_s:g}"] = found
        load.append(os.getloadavg()[0])
        requests.append(
            {
                "id": r.id,
                "split": r.split,
                "text": r.text,
                "pause": r.pause,
                "pause_after": r.pause_after,
                "condition": r.condition,
                "voice_end": round(r.speech_end, 3),
                "points": per_pad,
            }
        )
        print(r.id, {p: [f["text"] for f in v] for p, v in per_pad.items()}, flush=True)
    return {
        "started": started,
        "ended": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "load": [round(min(load), 2), round(max(load), 2)],
        "model": "tiny.en int8 beam 5",
        "requests": requests,
    }


def load_rules(rev: str) -> ModuleType:
    """``wyoming_whisper/endpoint.py`` at git revision ``rev`` ('.': the working tree; a path
    ending in .py: that file)."""
    path = ROOT / "wyoming_whisper" / "endpoint.py"
    if rev.endswith(".py"):
        path = Path(rev)  # a variant kept in a file
    elif rev != ".":
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{rev}:wyoming_whisper/endpoint.py"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        path = Path(tempfile.mkdtemp()) / "endpoint.py"
        path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"endpoint_{abs(hash(rev))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up
    spec.loader.exec_module(module)
    return module


def replay(
    request: dict[str, Any], found: list[dict[str, Any]], rules: ModuleType, base: float = BASE, unsure: float = -99.0
) -> dict[str, Any]:
    """Where the modelled server ends the turn on these decodes under these rules (``base``: the
    silence that ends a finished request)."""
    free = 0.0  # when the model is free (the decodes run one at a time)
    for i, point in enumerate(found):
        start = max(point["at"], free)
        free = start + point["decode_s"]
        verdict = rules.judge(point["text"])
        if verdict.finished and point.get("avg_logprob", 0.0) < unsure:
            verdict = rules.Verdict(False, "heard unsure", weak=True)
        known = free - point["speech_end"]  # silence heard when the text is read
        if verdict.finished:
            after = min(CAP, max(base, known))
        elif verdict.weak:
            after = min(CAP, max(WEAK_CAP, known))
        else:
            after = CAP
        gap = point["gap"]
        if gap is None or after < gap:
            last = i == len(found) - 1
            whole = last and is_whole(_said(request), point["text"])
            return {
                "cut": not last,
                "whole": whole,
                "text": point["text"],
                "reason": verdict.reason,
                "waited": not verdict.finished,
                "eot": round(point["speech_end"] + after - request["voice_end"], 3),
            }
    raise AssertionError("the last point always ends the turn")


def _said(request: dict[str, Any]) -> Request:
    """The corpus request as ``is_whole`` reads it (text and pause; no audio)."""
    return Request(
        request["id"],
        request["split"],
        request["text"],
        "",
        request["pause_after"],
        "",
        request["pause"],
        request["condition"],
        0.0,
        None,
        "",
        b"",
        request["voice_end"],
    )


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    lat = [r["eot"] for r in results if r["whole"]]
    return {
        "n": len(results),
        "cut": sum(r["cut"] for r in results),
        "whole": sum(r["whole"] for r in results),
        "waited_at_end": sum(r["waited"] and not r["cut"] for r in results),
        "eot_p50": round(statistics.median(lat), 3) if lat else None,
        "eot_p95": round(pct(lat, 0.95) or 0.0, 3) if lat else None,
        "eot_mean": round(statistics.fmean(lat), 3) if lat else None,
        "decodes_per_request": round(statistics.fmean(r["decodes"] for r in results), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pads", default="0.1", help="comma-separated seconds of silence before the decode")
    parser.add_argument("--rules", default="main,.", help="comma-separated git revisions of endpoint.py ('.': here)")
    parser.add_argument("--decodes", type=Path, help="stored decodes (skip decoding)")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--base", type=float, default=BASE, help="seconds of silence that end a finished request")
    parser.add_argument(
        "--unsure-below",
        type=float,
        default=-99.0,
        help="a finished text decoded with a lower avg_logprob waits like a weak one (try -0.7)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    if args.decodes:
        data = json.loads(args.decodes.read_text())
    else:
        data = decode_corpus([float(p) for p in args.pads.split(",")], args.limit)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "turn_rules_decodes.json").write_text(json.dumps(data, indent=1) + "\n")
    pads = list(data["requests"][0]["points"])
    summary: dict[str, Any] = {}
    changed: dict[str, list[str]] = {}
    per: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for rev in args.rules.split(","):
        rules = load_rules(rev)
        for pad in pads:
            outcome = {}
            for request in data["requests"]:
                found = request["points"][pad]
                outcome[request["id"]] = {
                    **replay(request, found, rules, args.base, args.unsure_below),
                    "decodes": len(found),
                    "split": request["split"],
                }
            per[(rev, pad)] = outcome
            for split in ("tune", "held"):
                summary[f"{rev} pad {pad} {split}"] = summarise([o for o in outcome.values() if o["split"] == split])
    first = per[(args.rules.split(",")[0], pads[0])]
    for (rev, pad), outcome in per.items():
        changed[f"{rev} pad {pad}"] = [
            f"{i}: {first[i]['text']!r} ({first[i]['eot']} s{' CUT' if first[i]['cut'] else ''}) -> {o['text']!r} "
            f"({o['eot']} s{' CUT' if o['cut'] else ''}, {o['reason']})"
            for i, o in outcome.items()
            if (o["text"], o["cut"], o["eot"]) != (first[i]["text"], first[i]["cut"], first[i]["eot"])
            and (o["cut"] != first[i]["cut"] or o["waited"] != first[i]["waited"] or pad != pads[0])
        ]
    out = {
        "decoded": {k: data[k] for k in ("started", "ended", "load", "model")},
        "replayed": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "summary": summary,
        "changed": changed,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "turn_rules.json").write_text(json.dumps(out, indent=1) + "\n")
    lines = [
        "| rules, pad | split | cut | whole at the end | waited at the end | end of turn p50 / p95 / mean "
        "(s, whole) | decodes / request |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        rev_pad, split = name.rsplit(" ", 1)
        lines.append(
            f"| {rev_pad} | {split} | {s['cut']}/{s['n']} | {s['whole']}/{s['n']} | {s['waited_at_end']} | "
            f"{s['eot_p50']} / {s['eot_p95']} / {s['eot_mean']} | {s['decodes_per_request']} |"
        )
    print("\n".join(lines))
    for name, items in changed.items():
        print(f"\nagainst {args.rules.split(',')[0]} pad {pads[0]}: {name}")
        print("\n".join(f"  {item}" for item in items) or "  (no change)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
