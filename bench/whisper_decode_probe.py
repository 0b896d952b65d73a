"""Offline: what one speculative final decode costs and what each piece buys, on the end-of-turn corpus.

Every corpus request is streamed room-like as ``bench/eot_sure_probe.py`` streams it (room noise
around the clip, ``--prerolls`` start phases) and at every point where the whisper server starts a
speculative final decode (0.1 s of silence after the speech) the region is decoded several ways,
interleaved point by point so the box's load falls on all alike:

* ``main``: :meth:`WhisperEngine.transcribe` with ``beam_size=5, word_end=True`` (the server's
  final decode), timed whole;
* ``direct``: the same search through the engine's own encode + search path (``_decode_together``,
  as a batch of one) instead of faster-whisper's ``transcribe``;
* ``cascade``/``cascade6``/``cascade4``: greedy first (``EngineConfig.greedy_sure`` -0.3/-0.6/-0.4);
* ``threads1``: ``main`` with one CPU thread; ``ctx8``/``ctx7``: the shortest encoder window 8/7 s;
* with ``--pieces``, the pieces of one decode on ``main``'s engine: features, encoder, greedy
  search, beam-5 search, the last word's alignment, each timed apart, with each search's text and
  scores (what a greedy-first rule would keep, without decoding again).

Each way's decodes are saved in ``bench/eot_sure_probe.py``'s ``--decodes`` format
(``--save-dir``/``<way>.json``) and replayed there with the server's end-of-turn rules (``now``):
pauses cut, requests heard whole, end of turn after the clip's last voiced sample p50 / p95.

    nice -n 10 .venv/bin/python bench/whisper_decode_probe.py [--prerolls 0.3,0.5] [--limit N]
        [--save-dir /tmp/whisper_decode] [--out bench/results/s25_decode.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.eot_lead_probe import W, streamed  # noqa: E402
from bench.eot_sure_probe import (  # noqa: E402
    command_judge,
    decodes_record,
    end_points,
    make_rule,
    replay,
    stream_record,
    summarise,
)
from bench.turn_bench import pct  # noqa: E402
from bench.turn_corpus import RATE, build  # noqa: E402

# name -> the engine's settings (tiny.en int8; main: the server before session 25)
WAYS: dict[str, dict[str, Any]] = {
    "main": {"cpu_threads": 2, "greedy_sure": None},
    "direct": {"cpu_threads": 2, "greedy_sure": None},  # main's search through our own encode + search path
    "cascade": {"cpu_threads": 2, "greedy_sure": -0.3},  # runs 1-3: without the final . ? ! rule
    "cascade6": {"cpu_threads": 2, "greedy_sure": -0.6},
    "cascade4": {"cpu_threads": 2, "greedy_sure": -0.4},
    "threads1": {"cpu_threads": 1, "greedy_sure": None},
    "ctx8": {"cpu_threads": 2, "greedy_sure": None, "audio_context": 8.0},
    "ctx7": {"cpu_threads": 2, "greedy_sure": None, "audio_context": 7.0},
}


def pieces(engine: Any, audio: np.ndarray[Any, Any]) -> dict[str, Any]:
    """One decode taken apart (the engine's own steps), each piece timed; both searches' texts."""
    from faster_whisper.transcribe import get_ctranslate2_storage

    model = engine._model
    out: dict[str, Any] = {}
    t = time.perf_counter()
    features = engine._features([audio])
    out["features_s"] = time.perf_counter() - t
    t = time.perf_counter()
    encoded = model.model.encode(get_ctranslate2_storage(features), to_cpu=False)
    out["encoder_s"] = time.perf_counter() - t
    for beam in (1, 5):
        t = time.perf_counter()
        decoded, tokens = engine._search(encoded, [audio], "en", beam, None)
        out[f"beam{beam}_s"] = time.perf_counter() - t
        out[f"beam{beam}"] = {"text": decoded[0].text, "avg_logprob": decoded[0].avg_logprob,
                              "no_speech_prob": decoded[0].no_speech_prob}
        if beam == 5:
            t = time.perf_counter()
            engine._word_ends(tokens, encoded, [audio], "en")
            out["align_s"] = time.perf_counter() - t
    return out


def main() -> int:
    from voice_runtime.models import resolve_whisper, silero_vad
    from wyoming_whisper.engine import EngineConfig, WhisperEngine
    from wyoming_whisper.vad import SileroVad

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prerolls", default="0.3,0.5")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--split", choices=("tune", "held", "all"), default="all")
    parser.add_argument("--ways", default="main,direct,cascade6,cascade4",
                        help=f"comma-separated, main first, of {', '.join(WAYS)}")
    parser.add_argument("--pieces", action="store_true", help="also time each piece of a decode")
    parser.add_argument("--save-dir", type=Path, default=Path("/tmp/whisper_decode"))
    parser.add_argument("--decodes", action="store_true", help="replay the saved decodes of --save-dir only")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    ways = args.ways.split(",")
    args.save_dir.mkdir(parents=True, exist_ok=True)
    pieces_rows: list[dict[str, Any]] = []
    if not args.decodes:
        model = resolve_whisper("tiny.en")
        engines = {way: WhisperEngine(EngineConfig(model_dir=model, **WAYS[way])) for way in ways}
        for engine in engines.values():
            engine.transcribe(np.zeros(RATE, dtype=np.float32))
        vad = SileroVad(silero_vad())
        corpus = build()
        if args.split != "all":
            corpus = [r for r in corpus if r.split == args.split]
        corpus = corpus[: args.limit or None]
        started, load = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), [os.getloadavg()[0]]
        streams: dict[str, list[dict[str, Any]]] = {way: [] for way in ways}
        k = 0
        for preroll in [float(p) for p in args.prerolls.split(",")]:
            for i, r in enumerate(corpus):
                x = streamed(r, preroll, None, i, True)
                found: dict[str, list[dict[str, Any]]] = {way: [] for way in ways}
                for n, region, speech, resume in end_points(vad, x):
                    audio = x[region[0] : region[1]]
                    order = ways[k % len(ways) :] + ways[: k % len(ways)]  # who goes first rotates
                    k += 1
                    for way in order:
                        t = time.perf_counter()
                        if way == "direct":
                            d = engines[way]._decode_together([audio], "en", 5, None, True)[0]
                        else:
                            d = engines[way].transcribe(audio, beam_size=5, word_end=True)
                        found[way].append({
                            "at": round(n * W, 3),
                            "speech_end": round((speech[1] + 1) * W, 3),
                            "gap": None if resume is None else round((resume - speech[1] - 1) * W, 3),
                            "region_start": round(region[0] / RATE, 3),
                            "text": d.text,
                            "decode_s": round(time.perf_counter() - t, 4),
                            "avg_logprob": d.avg_logprob,
                            "last_word_end": d.last_word_end,
                        })
                    if args.pieces:
                        row = pieces(engines["main"], audio)
                        pieces_rows.append({"id": r.id, "preroll": preroll, "seconds": len(audio) / RATE, **row})
                for way in ways:
                    streams[way].append(stream_record(r, preroll, found[way]))
                load.append(os.getloadavg()[0])
                print(r.id, preroll, " | ".join(f"{w}: {found[w][-1]['text']!r} {found[w][-1]['decode_s']}"
                                                for w in ways if found[w]), flush=True)
        for way in ways:
            record = decodes_record(started, load, streams[way])
            (args.save_dir / f"{way}.json").write_text(json.dumps(record) + "\n")
        if pieces_rows:
            (args.save_dir / "pieces.json").write_text(json.dumps(pieces_rows) + "\n")
    report(args, ways)
    return 0


def report(args: argparse.Namespace, ways: list[str]) -> None:
    command = command_judge()
    rule = make_rule("now", command)
    data = {way: json.loads((args.save_dir / f"{way}.json").read_text()) for way in ways
            if (args.save_dir / f"{way}.json").exists()}
    first = next(iter(data.values()))
    print(f"decoded {first['started']} - {first['ended']}, load {first['load_1min']}")
    out: dict[str, Any] = {"started": first["started"], "ended": first["ended"], "load_1min": first["load_1min"],
                           "summary": {}}
    print("| way | split | decodes | decode p50 / p95 s | pauses cut | whole | eot p50 / p95 s | texts != main |")
    print("|---|---|---|---|---|---|---|---|")
    base = {(s["id"], s["preroll"]): s for s in data["main"]["streams"]}
    for way, record in data.items():
        for split in ("tune", "held"):
            streams = [s for s in record["streams"] if s["points"] and s["split"] == split]
            results = [replay(s, rule) for s in streams]
            summ = summarise(results)
            times = [p["decode_s"] for s in streams for p in s["points"]]
            differ = sum(p["text"] != q["text"] for s in streams
                         for p, q in zip(s["points"], base[(s["id"], s["preroll"])]["points"], strict=True))
            summ.update(decodes=len(times), decode_p50=round(statistics.median(times), 3),
                        decode_p95=round(pct(times, 0.95) or 0.0, 3), texts_differ=differ)
            out["summary"][f"{way} | {split}"] = summ
            print(f"| {way} | {split} | {len(times)} | {summ['decode_p50']} / {summ['decode_p95']} | "
                  f"{summ['cut']}/{summ['n']} | {summ['whole']}/{summ['n']} | {summ['eot_p50']} / {summ['eot_p95']} |"
                  f" {differ} |")
    out["paired_vs_main"] = {}
    for way, record in data.items():
        if way == "main":
            continue
        mine = {(t["id"], t["preroll"]): t for t in record["streams"]}
        paired = [(p["decode_s"], q["decode_s"]) for s in data["main"]["streams"]
                  for p, q in zip(s["points"], mine[(s["id"], s["preroll"])]["points"], strict=True)]
        if not paired:
            continue
        ratio = statistics.median(b / a for a, b in paired)
        saved = statistics.median(a - b for a, b in paired)
        out["paired_vs_main"][way] = {"n": len(paired), "ratio_p50": round(ratio, 3), "saved_p50_s": round(saved, 4)}
        print(f"paired {way} / main per decode: ratio p50 {ratio:.3f}, saved p50 {saved:.4f} s (n={len(paired)})")
    pieces_file = args.save_dir / "pieces.json"
    if pieces_file.exists():
        rows = json.loads(pieces_file.read_text())
        keys = ("features_s", "encoder_s", "beam1_s", "beam5_s", "align_s")
        out["pieces_p50_s"] = {key: round(statistics.median(r[key] for r in rows), 4) for key in keys}
        print("pieces p50:", out["pieces_p50_s"], f"n={len(rows)}")
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
