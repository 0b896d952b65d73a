"""Offline: the speculative final decode started when Silero's score falls (1 window of silence),
its text reused once the pad (3 windows) has arrived and added no word: how much sooner a whole
command's end of turn comes, and at what price (texts changed, pauses cut), on the whole
end-of-turn corpus, room-like (tune chooses, held only reports).

Each corpus request is streamed as ``bench/eot_sure_probe.py`` does (five start phases, room noise
around the clip). At every point where the server starts its speculative final (3 windows of
silence after the speech, the normal pad; a weak end's longer pad is left as it is) three decodes
are made (tiny.en int8 beam 5, as the server):

* ``regular``: the speech plus the 3-window pad (the server today);
* ``early``: the speech plus the 1 window heard when the decode would start (``HEARD`` = 1);
* ``early-t``: the same, the 2 windows not heard yet filled with the last one repeated (its noise).

and at every 1-window dip inside the speech whose quiet window passes the gate (a decode the early
start would begin and then throw away: the model is busy with it) the early decode too.
Per point: Silero's scores of the pad's windows (both grids) and their level over the noise
floor, so that the reuse condition ("the pad adds no word") is chosen from data:
``--gate G``: the early decode starts only when the first quiet window scores under G (both grids);
``--reuse R``: its text is reused only when every pad window scores under R (both grids).

Then the end of turn is replayed as ``eot_sure_probe`` replays it (the server's verdict rules, the
orchestrator's command end for weak AND sure whole commands, decodes at 0.09 s or as measured),
once with the regular texts and once with the early ones where reused (their text known at
max(early start + decode, the pad's end)).

    nice -n 10 .venv/bin/python bench/eot_reuse_probe.py [--decodes F] [--save F] [--out F]
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

from bench.eot_lead_probe import PAD, W, scores, streamed  # noqa: E402
from bench.eot_sure_probe import (  # noqa: E402
    command_judge,
    decodes_record,
    is_whole_text,
    make_rule,
    server_verdict,
    stream_record,
    summarise,
)
from bench.turn_bench_rules import CAP  # noqa: E402
from bench.turn_corpus import RATE, build  # noqa: E402
from wyoming_whisper.vad import WINDOW, VadPolicy, end_pad, speech_region, speech_windows  # noqa: E402

POLICY = VadPolicy(pad_windows=PAD)
EARLY = 1  # windows of silence heard when the early decode starts


def decode_all(prerolls: list[float], limit: int, fill: bool = True) -> dict[str, Any]:
    from voice_runtime.models import resolve_whisper, silero_vad
    from wyoming_whisper.engine import EngineConfig, WhisperEngine
    from wyoming_whisper.vad import SileroVad

    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
    engine.transcribe(np.zeros(RATE, dtype=np.float32))
    vad = SileroVad(silero_vad())
    corpus = build()[: limit or None]
    started, load = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), [os.getloadavg()[0]]

    def decode(x: np.ndarray[Any, Any]) -> dict[str, Any]:
        t = time.perf_counter()
        d = engine.transcribe(x, beam_size=5, word_end=True)
        return {
            "text": d.text,
            "decode_s": round(time.perf_counter() - t, 3),
            "avg_logprob": d.avg_logprob,
            "last_word_end": d.last_word_end,
            "end_mark_prob": d.end_mark_prob,
        }

    streams: list[dict[str, Any]] = []
    for preroll in prerolls:
        for i, r in enumerate(corpus):
            x = streamed(r, preroll, None, i, True)
            probs, half, levels = scores(vad, x)
            found, dips, seen = [], [], set()
            pending: dict[str, Any] | None = None
            for n in range(1, len(probs) + 1):
                speech = speech_windows(probs[:n], POLICY, half[: n - 1], levels[:n])
                if speech is None or speech[1] in seen:
                    continue
                last = speech[1]
                trailing = n - 1 - last
                if trailing < EARLY:
                    continue
                pad = max(PAD, end_pad(probs[:n], last, POLICY))
                quiet = [probs[k] for k in range(last + 1, min(len(probs), last + 1 + PAD))]
                quiet_half = [half[k] for k in range(last + 1, min(len(half), n - 1))]  # what the server has by now
                first = probs[last + 1]
                if trailing == EARLY and n - 1 + PAD - EARLY >= len(probs):
                    continue
                if trailing == EARLY:
                    # where the stream goes on from here: a regular point (3 quiet windows) or a dip
                    resumed = next(
                        (k for k in range(n, min(len(probs), last + 1 + PAD)) if probs[k] >= POLICY.threshold), None
                    )
                    region = speech_region(probs[:n], n * WINDOW, POLICY, half[: n - 1], levels[:n])
                    assert region is not None
                    early = decode(x[region[0] : region[1]])
                    filled = np.concatenate(
                        [x[region[0] : region[1]], np.resize(x[(n - 1) * WINDOW : n * WINDOW], (PAD - EARLY) * WINDOW)]
                    )
                    early_t = decode(filled) if fill else early  # --no-fill: the filled variant not decoded
                    item = {
                        "early_at": round(n * W, 3),
                        "first": round(first, 3),
                        "early": early,
                        "early_t": early_t,
                        "early_region_start": round(region[0] / RATE, 3),
                    }
                    if resumed is not None or pad > PAD:
                        dips.append(item | {"weak_pad": pad > PAD})
                        continue
                    pending = item
                    continue
                if trailing >= pad:
                    seen.add(last)
                    region = speech_region(probs[:n], n * WINDOW, POLICY, half[: n - 1], levels[:n])
                    assert region is not None
                    resume = next((k for k in range(n, len(probs)) if probs[k] >= POLICY.threshold), None)
                    regular = decode(x[region[0] : region[1]])
                    floor = float(np.percentile(levels[:n], 10))
                    found.append(
                        {
                            "at": round(n * W, 3),
                            "speech_end": round((last + 1) * W, 3),
                            "gap": None if resume is None else round((resume - last - 1) * W, 3),
                            "region_start": round(region[0] / RATE, 3),
                            "pad_probs": [round(v, 3) for v in quiet],
                            "pad_half": [round(v, 3) for v in quiet_half],
                            "pad_rise_db": round(max(levels[last + 1 : last + 1 + PAD]) - floor, 1),
                            **regular,
                            **(pending if pad == PAD and pending is not None else {}),
                        }
                    )
                    pending = None
            streams.append(stream_record(r, preroll, found, dips=dips))
        load.append(os.getloadavg()[0])
        print(f"pre-roll {preroll}: {len(streams)} streams, load {os.getloadavg()[0]:.2f}", flush=True)
    return decodes_record(started, load, streams)


def timeline(
    stream: dict[str, Any], variant: str | None, gate: float, reuse: float, decode_s: float | None,
    *, mark: float | None = None,
) -> list[dict[str, Any]]:
    """The stream's judged points in time order, each with the text the end of turn reads and
    ``known`` (when that text is in, stream seconds); the early decodes (and the dips' wasted
    ones) occupy the model before the points that follow them."""
    events: list[tuple[float, str, dict[str, Any]]] = []
    for d in stream["dips"] if variant else []:
        if d["first"] < gate and not d.get("weak_pad"):
            events.append((d["early_at"], "dip", d))
    for p in stream["points"]:
        events.append((p.get("early_at", p["at"]) if variant else p["at"], "point", p))
    events.sort(key=lambda e: e[0])
    name = variant or "early"
    free, out = 0.0, []
    for at, kind, item in events:
        if kind == "dip":
            start = max(at, free)
            free = start + (item[name]["decode_s"] if decode_s is None else decode_s)
            continue
        p = item
        use_early = (
            variant is not None
            and "early_at" in p
            and p["first"] < gate
            and max(p["pad_probs"] + p["pad_half"]) < reuse
            and (mark is None or (p[variant].get("end_mark_prob") or 0.0) >= mark)  # --marks: the early text's end
        )
        if use_early:
            start = max(p["early_at"], free)
            src = p[name]
            free = start + (src["decode_s"] if decode_s is None else decode_s)
            known = max(free, p["at"])
            text = {**p, **src, "region_start": p["early_region_start"]}
        else:
            if variant is not None and "early_at" in p and p["first"] < gate:  # started early, not reused
                free = max(p["early_at"], free) + (p[name]["decode_s"] if decode_s is None else decode_s)
            start = max(p["at"], free)
            free = start + (p["decode_s"] if decode_s is None else decode_s)
            known, text = free, dict(p)
        out.append(text | {"known_at": known, "reused": use_early})
    return out


def replay(stream: dict[str, Any], rule: Any, points: list[dict[str, Any]]) -> dict[str, Any]:
    for i, point in enumerate(points):
        verdict = server_verdict(point)
        after = min(CAP, rule(point, verdict, point["known_at"] - point["speech_end"]))
        gap = point["gap"]
        if gap is None or after < gap:
            last = i == len(points) - 1
            return {
                "cut": not last,
                "whole": last and is_whole_text(stream, point["text"]),
                "text": point["text"],
                "after": round(after, 3),
                "gap": gap,
                "reused": point["reused"],
                "eot": round(point["speech_end"] + after - stream["voice_end"], 3),
            }
    raise AssertionError("the last point always ends the turn")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decodes", type=Path)
    parser.add_argument("--save", type=Path, default=Path("/tmp/eot_reuse_decodes.json"))
    parser.add_argument("--prerolls", default="0.3,0.4,0.5,0.6,0.7")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--decode-s", type=float, default=0.09)
    parser.add_argument("--gates", default="1.0,0.2,0.1")
    parser.add_argument("--reuses", default="0.45,0.3,0.2,0.1")
    parser.add_argument("--marks", default="", help="also reuse only when the early decode's end mark scored "
                        "at least this (comma-separated; 'none': no such condition); default: none")
    parser.add_argument("--variants", default="early,early_t")
    parser.add_argument("--early", type=int, default=1, help="windows of silence heard when the early decode "
                        "starts (2 with --gates 1.0 --reuses 1.01: a 2-window pad instead of 3, never decoded again)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--no-fill", action="store_true", help="skip the filled (early_t) decodes: early_t = early")
    args = parser.parse_args()
    global EARLY
    EARLY = args.early
    if args.decodes:
        data = json.loads(args.decodes.read_text())
    else:
        data = decode_all([float(p) for p in args.prerolls.split(",")], args.limit, not args.no_fill)
        args.save.write_text(json.dumps(data) + "\n")
    command = command_judge()
    rule = make_rule("command-sure", command)
    decode_s = None if args.decode_s <= 0 else args.decode_s
    streams = [s for s in data["streams"] if s["points"]]
    print(
        f"decoded {data['started']} - {data['ended']}, load {data['load_1min']}; decodes at {decode_s or 'measured'} s"
    )
    print(
        "| variant | gate | reuse | split | cut | whole | eot p50/p95 | commands: cut, whole, eot p50/p95 "
        "| reused | dip decodes |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    out: dict[str, Any] = {k: data[k] for k in ("started", "ended", "load_1min")} | {"rows": {}, "changes": {}}
    base: dict[tuple[str, float], dict[str, Any]] = {}
    marks = [None if m in ("", "none") else float(m) for m in (args.marks or "none").split(",")]
    configs: list[tuple[str | None, float, float, float | None]] = [(None, 1.0, 0.0, None)] + [
        (v, float(g), float(r), m)
        for v in args.variants.split(",")
        for g in args.gates.split(",")
        for r in args.reuses.split(",")
        for m in marks
    ]
    for variant, gate, reuse, mark in configs:
        results = {
            (s["id"], s["preroll"]): replay(s, rule, timeline(s, variant, gate, reuse, decode_s, mark=mark))
            | {"stream": s}
            for s in streams
        }
        if variant is None:
            base = results
        for split in ("tune", "held"):
            mine = [r for r in results.values() if r["stream"]["split"] == split]
            s, c = summarise(mine), summarise([r for r in mine if command(r["text"])])
            dips = sum(1 for r in mine for d in r["stream"]["dips"] if variant and d["first"] < gate)
            reused = sum(r["reused"] for r in mine)
            row = (
                f"| {variant or 'regular'} | {gate} | {reuse}{'' if mark is None else f' mark {mark}'} | {split} "
                f"| {s['cut']}/{s['n']} | {s['whole']} | "
                f"{s['eot_p50']}/{s['eot_p95']} | {c['cut']}, {c['whole']}/{c['n']}, {c['eot_p50']}/{c['eot_p95']} | "
                f"{reused} | {dips} |"
            )
            print(row)
            row_key = f"{variant} {gate} {reuse} {mark} {split}"
            out["rows"][row_key] = {"all": s, "commands": c, "reused": reused, "dips": dips}
        changed = [
            f"{k} {base[k]['text']!r}{' CUT' if base[k]['cut'] else ''} -> {r['text']!r}{' CUT' if r['cut'] else ''}"
            for k, r in results.items()
            if (r["cut"], r["whole"], r["text"]) != (base[k]["cut"], base[k]["whole"], base[k]["text"])
        ]
        out["changes"][f"{variant} {gate} {reuse} {mark}"] = changed
        for line in changed:
            print("   ", line)
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
