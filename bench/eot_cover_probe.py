"""Offline: a finished text whose final . ? ! tiny.en nearly did not write (it nearly went on: a word
lost at the end) should not end the turn at the base silence.

The room's held-43 ("Play the next song on ... my playlist.", 0.9 s pause after "on") decoded "Play the
next song." at its pause in 4 of the 5 kept room runs of session 24 (the corpus's room-like streams
hear "...song on." at every start phase): a sure whole command, so the orchestrator ended the turn at
once and the continuation was answered half. Its "on" is inside Silero's speech, but the alignment
stretches "song" over it (the last word ends 0.06 s before the speech does: the tail rule,
``wyoming_whisper.stream.TAIL_SECONDS`` 0.25 s, cannot see it). What does see it is the probability
the model gave the final "." after "song" (the alignment pass the server already runs for the last
word's end returns it: ``Decoded.end_mark_prob``): 0.22, where texts that end a request score it
0.6-0.97.

This decodes, as the server does (tiny.en int8 beam 5, with the last word's end and the final mark's
probability), every speculative final of

* the end-of-turn corpus streamed room-like (``bench/eot_sure_probe.py``'s streams, five start phases),
  tune and held apart;
* the kept room runs' mic recordings (``--room DIR``, repeatable: the room's mic.wav around each
  corpus clip; the pause lengths from the corpus clip itself, since after a cut the mic holds the
  reply's echo),

stores them (``--save``; ``--decodes`` replays a stored run) and replays the end of turn
(``bench/eot_sure_probe.replay``, measured decode times) per rule: ``now`` (the code before) and
``mark P``: a finished, sure text whose end mark scored under ``P`` waits the weak cap and is not
sent to the orchestrator (as the tail rule). Reported: pauses cut, requests heard whole, whole
requests' and whole commands' end of turn p50 / p95 after the clip's last voiced sample, and how
often a finished text's end mark scored under ``P`` at a pause and at the end.

    nice -n 10 .venv/bin/python bench/eot_cover_probe.py --room /tmp/p24/lead-turns-1 [--room ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.eot_lead_probe import scores, streamed  # noqa: E402
from bench.eot_sure_probe import (  # noqa: E402
    Rule,
    command_judge,
    decode_point,
    decodes_record,
    end_points,
    make_rule,
    replay,
    stream_record,
    summarise,
)
from bench.turn_bench_rules import CAP, WEAK_CAP  # noqa: E402
from bench.turn_corpus import RATE, Request, build  # noqa: E402
from wyoming_whisper.endpoint import Verdict, judge  # noqa: E402
from wyoming_whisper.vad import VadPolicy  # noqa: E402

THRESHOLD = VadPolicy().threshold


def decode_points(
    engine: Any, vad: Any, x: np.ndarray[Any, Any], resume_probs: list[float] | None = None
) -> list[dict[str, Any]]:
    """Every speculative final of stream ``x`` decoded as the server does. ``resume_probs``: Silero's
    scores of the clean source (where speech resumes after a pause; None: ``x``'s own)."""
    found = []
    for n, region, speech, resumed in end_points(vad, x):
        resume = resumed
        if resume_probs is not None:
            resume = next((k for k in range(n, len(resume_probs)) if resume_probs[k] >= THRESHOLD), None)
        found.append(decode_point(engine, x, (n, region, speech, resumed), resume))
    return found


def room_streams(
    engine: Any, vad: Any, folder: Path, corpus: dict[str, Request], preroll: float
) -> list[dict[str, Any]]:
    result = json.loads((folder / "result.json").read_text())
    with wave.open(str(folder / "mic.wav")) as w:
        mic = (np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768).astype(np.float32)
    out = []
    for u in result["utterances"]:
        r = corpus.get(Path(str(u.get("wav"))).stem)
        if r is None:
            continue
        at = u["at"] + result["wav_offset_s"]
        x = mic[int((at - preroll) * RATE) : int((at + r.speech_end + 2.5) * RATE)]
        clip = np.frombuffer(r.pcm, "<i2").astype(np.float32) / 32768
        source = np.concatenate(
            [np.zeros(int(preroll * RATE), np.float32), clip, np.zeros(int(2.5 * RATE), np.float32)]
        )
        out.append(stream_record(r, preroll, decode_points(engine, vad, x, scores(vad, source)[0]), run=folder.name))
    return out


def decode_all(prerolls: list[float], rooms: list[Path]) -> dict[str, Any]:
    from voice_runtime.models import resolve_whisper, silero_vad
    from wyoming_whisper.engine import EngineConfig, WhisperEngine
    from wyoming_whisper.vad import SileroVad

    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
    engine.transcribe(np.zeros(RATE, dtype=np.float32))
    vad = SileroVad(silero_vad())
    corpus = build()
    started, load = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), [os.getloadavg()[0]]
    streams: list[dict[str, Any]] = []
    for folder in rooms:
        streams += room_streams(engine, vad, folder, {r.id: r for r in corpus}, 0.5)
        load.append(os.getloadavg()[0])
        print(f"room {folder.name}: {len(streams)} streams, load {load[-1]:.2f}", flush=True)
    for preroll in prerolls:
        for i, r in enumerate(corpus):
            streams.append(stream_record(r, preroll, decode_points(engine, vad, streamed(r, preroll, None, i, True))))
        load.append(os.getloadavg()[0])
        print(f"pre-roll {preroll}: {len(streams)} streams, load {load[-1]:.2f}", flush=True)
    return decodes_record(started, load, streams)


def trimmed(stream: dict[str, Any]) -> dict[str, Any]:
    """A room stream up to its request's end: the first point whose speech ends within 0.15 s of the
    clip's last voiced sample is the last (after it the mic holds the reply's echo)."""
    if "run" not in stream:
        return stream
    found = stream["points"]
    last = next((i for i, p in enumerate(found) if p["speech_end"] >= stream["voice_end"] - 0.15), len(found) - 1)
    return {**stream, "points": [*found[:last], {**found[last], "gap": None}]}


def doubted(point: dict[str, Any], below: float, open_below: float = 0.0) -> bool:
    """A finished text whose final mark the model scored under ``below``, or a weak one (no final mark,
    words that read finished) whose ending there it scored under ``open_below``."""
    mark, said = point.get("end_mark_prob"), judge(point["text"])
    if mark is None:
        return False
    marked = point["text"].rstrip().endswith((".", "?", "!"))
    return (marked and said.finished and mark < below) or (not marked and said.weak and mark < open_below)


def _said(result: dict[str, Any]) -> str:
    return f"{result['text']!r} {result['after']}{' CUT' if result['cut'] else ''}"


def mark_rule(command: Callable[[str], bool], below: float | None, open_below: float = 0.0) -> Rule:
    """``now`` (``bench/eot_sure_probe``), and with ``below``: a doubted text (:func:`doubted`) waits
    the weak cap at the server and is never sent to the orchestrator (no command end)."""
    now = make_rule("now", command)

    def rule(point: dict[str, Any], verdict: Verdict, known: float) -> float:
        if below is not None and doubted(point, below, open_below):
            return min(CAP, max(WEAK_CAP, known))
        return now(point, verdict, known)

    return rule


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decodes", type=Path, help="a stored decode JSON (this script's --save)")
    parser.add_argument("--save", type=Path, default=Path("/tmp/eot_cover_decodes.json"))
    parser.add_argument("--prerolls", default="0.3,0.4,0.5,0.6,0.7")
    parser.add_argument("--room", type=Path, action="append", default=[], help="a kept room_turns folder")
    parser.add_argument("--marks", default="0.2,0.25,0.3,0.4,0.5")
    parser.add_argument("--opens", default="", help="with --marks' first: END_OPEN_BELOW values to try")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "s25_eot_cover.json")
    args = parser.parse_args()
    if args.decodes:
        data = json.loads(args.decodes.read_text())
    else:
        data = decode_all([float(p) for p in args.prerolls.split(",")], args.room)
        args.save.write_text(json.dumps(data) + "\n")
    command = command_judge()
    out: dict[str, Any] = {k: data[k] for k in ("started", "ended", "load_1min")}
    out["summary"], out["changed"], out["doubted"] = {}, {}, {}
    print(f"decoded {data['started']} - {data['ended']}, load {data['load_1min']}")
    streams = [trimmed(s) for s in data["streams"] if s["points"]]

    def part(s: dict[str, Any]) -> str:
        return f"room {s['split']}" if "run" in s else s["split"]

    parts = ("tune", "held", "room held", "room tune")
    for mark in [float(m) for m in args.marks.split(",")]:
        for p in parts:
            rows = [(pt, s) for s in streams if part(s) == p for pt in s["points"] if judge(pt["text"]).finished]
            at_pause = [pt for pt, s in rows if pt["gap"] is not None]
            at_end = [pt for pt, s in rows if pt["gap"] is None]
            if rows:
                out["doubted"][f"{mark} | {p}"] = {
                    "pause": [sum(doubted(pt, mark) for pt in at_pause), len(at_pause)],
                    "end": [sum(doubted(pt, mark) for pt in at_end), len(at_end)],
                }
    print("| rule | part | pauses cut | whole | eot p50 / p95 (s, whole) | whole commands: n, p50 / p95 |")
    print("|---|---|---|---|---|---|")
    base: dict[tuple[str, str, float], dict[str, Any]] = {}
    names = ["now"] + [f"mark {m}" for m in args.marks.split(",")]
    names += [f"mark {args.marks.split(',')[0]} open {o}" for o in args.opens.split(",") if o]
    for name in names:
        below = None if name == "now" else float(name.split()[1])
        rule = mark_rule(command, below, float(name.split()[3]) if " open " in name else 0.0)
        results = {(s.get("run", ""), s["id"], s["preroll"]): {**replay(s, rule), "stream": s} for s in streams}
        if name == "now":
            base = results
        for p in parts:
            chosen = [r for r in results.values() if part(r["stream"]) == p]
            if not chosen:
                continue
            s = summarise(chosen)
            c = summarise([r for r in chosen if command(r["text"])])
            out["summary"][f"{name} | {p}"] = s
            out["summary"][f"{name} | {p} | commands"] = c
            print(
                f"| {name} | {p} | {s['cut']}/{s['n']} | {s['whole']}/{s['n']} | {s['eot_p50']} / {s['eot_p95']} | ",
                end="",
            )
            print(f"{c['n']}, {c['eot_p50']} / {c['eot_p95']} |")
        changed = [
            f"{k[0] or 'corpus'} {k[1]} +{k[2]}: {_said(base[k])} -> {_said(r)}"
            for k, r in results.items()
            if (r["cut"], r["text"]) != (base[k]["cut"], base[k]["text"]) or abs(r["after"] - base[k]["after"]) > 0.2
        ]
        out["changed"][name] = changed
        for line in changed:
            print("  " + line)
    for p in parts:
        print(p, {k.split(" | ")[0]: v for k, v in out["doubted"].items() if k.endswith(f"| {p}")})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
