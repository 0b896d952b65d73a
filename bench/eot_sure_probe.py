"""Offline: how soon a SURE complete request may end its turn, and which pause cuts a transcript
rule can tell, on the whole end-of-turn corpus (tune to tune, held only to report).

Each corpus request is streamed room-like as ``bench/eot_lead_probe.py --room`` does it (room
noise before and after the clip, the clip's own noise only under it, five start phases), Silero on
both grids with levels, the server's VAD policy. At every point where the server starts a
speculative final decode (0.1 s of silence after the speech) the region is decoded as the server
does (tiny.en int8 beam 5, with its last word's end) and stored with its time, the silence that
followed it and its scores (``--decodes``: reuse a stored run). Then the end of turn is replayed
per rule, as ``bench/eot_unsure_probe.replay`` does (``default`` timing: base 0.256 s, weak cap
1.216 s, cap 1.888 s; a decode starts when its point fires or the model is free), with the server's
verdict (:meth:`wyoming_whisper.stream.Utterance.judge`'s rules: unsure, looped, speech after the
last word) and the orchestrator's command end (a weak text that
:func:`orchestrator.command_end.complete_command` says is whole ends at once):

* ``now``: the code as it is;
* ``sure S``: a sure finished text ends after ``S`` s of silence, or once decoded if later;
* ``command-sure``: also a SURE finished text that is a whole command ends once decoded (the
  orchestrator's audio-stop, +``ORCH_S``), not at the base silence.

Reported per split: pauses cut, requests heard whole, end of turn after the clip's last voiced
sample (p50 / p95, whole requests), and every cut with its text, the word before the pause (the
corpus's ``open`` / ``can-end``) and the pause length.

    nice -n 10 .venv/bin/python bench/eot_sure_probe.py [--decodes F] [--out bench/results/eot_sure.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.eot_lead_probe as lead  # noqa: E402
from bench.eot_lead_probe import PAD, W, points, scores, streamed  # noqa: E402
from bench.turn_bench import is_whole, pct, word_error_rate  # noqa: E402
from bench.turn_bench_rules import BASE, CAP, WEAK_CAP  # noqa: E402
from bench.turn_corpus import RATE, build  # noqa: E402
from wyoming_whisper.endpoint import Verdict, judge, repeats, whole_value, words  # noqa: E402
from wyoming_whisper.stream import TAIL_SECONDS, UNSURE_LOGPROB  # noqa: E402
from wyoming_whisper.vad import VadPolicy, speech_region, speech_windows  # noqa: E402

ORCH_S = 0.01  # the orchestrator's check + audio-stop + the server's final transcript
POLICY = VadPolicy(pad_windows=PAD)


EndPoint = tuple[int, tuple[int, int], tuple[int, int], "int | None"]


def end_points(vad: Any, x: np.ndarray[Any, Any], policy: VadPolicy = POLICY) -> list[EndPoint]:
    """Where the whisper server would start a final decode of stream ``x``: (window count ``n``, the
    Silero region it decodes in samples, the speech's first and last window, the window where speech
    resumes or None). Shared with bench/whisper_start_probe.py."""
    probs, half, levels = scores(vad, x)
    found: list[EndPoint] = []
    for n in points(probs, half, levels, policy):
        region = speech_region(probs[:n], n * 512, policy, half[: n - 1], levels[:n])
        speech = speech_windows(probs[:n], policy, half[: n - 1], levels[:n])
        assert region is not None and speech is not None
        resume = next((k for k in range(n, len(probs)) if probs[k] >= policy.threshold), None)
        found.append((n, region, speech, resume))
    return found


def decode_all(prerolls: list[float], limit: int) -> dict[str, Any]:
    from voice_runtime.models import resolve_whisper, silero_vad
    from wyoming_whisper.engine import EngineConfig, WhisperEngine
    from wyoming_whisper.vad import SileroVad

    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
    engine.transcribe(np.zeros(RATE, dtype=np.float32))
    vad = SileroVad(silero_vad())
    corpus = build()[: limit or None]
    started, load = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), [os.getloadavg()[0]]
    streams: list[dict[str, Any]] = []
    for preroll in prerolls:
        for i, r in enumerate(corpus):
            x = streamed(r, preroll, None, i, True)
            found = []
            for point in end_points(vad, x):
                found.append(decode_point(engine, x, point, point[3]))
            streams.append(stream_record(r, preroll, found))
        load.append(os.getloadavg()[0])
        print(f"pre-roll {preroll}: {len(streams)} streams, load {os.getloadavg()[0]:.2f}", flush=True)
    return decodes_record(started, load, streams)


def decode_point(engine: Any, x: np.ndarray[Any, Any], point: EndPoint, resume: int | None) -> dict[str, Any]:
    """The stored decode of one speculative final of stream ``x`` (an ``end_points`` item: window
    ``n``, the decoded ``region`` in samples, the ``speech`` windows; speech ``resume``s at that window,
    usually the point's own), decoded as the server's final (beam 5, the last word's end and the end
    mark's score)."""
    n, region, speech, _ = point
    t = time.perf_counter()
    d = engine.transcribe(x[region[0] : region[1]], beam_size=5, word_end=True)
    return {
        "at": round(n * W, 3),
        "speech_end": round((speech[1] + 1) * W, 3),
        "gap": None if resume is None else round((resume - speech[1] - 1) * W, 3),
        "region_start": round(region[0] / RATE, 3),
        "text": d.text,
        "decode_s": round(time.perf_counter() - t, 3),
        "avg_logprob": d.avg_logprob,
        "last_word_end": d.last_word_end,
        "end_mark_prob": d.end_mark_prob,
    }


def stream_record(r: Any, preroll: float, found: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    """One stream's stored decodes: the corpus request ``r`` started after ``preroll`` s, its decode ``points``."""
    return {
        "id": r.id,
        "split": r.split,
        "preroll": preroll,
        "text": r.text,
        "pause": r.pause,
        "pause_after": r.pause_after,
        "pause_kind": r.pause_kind,
        "condition": r.condition,
        "voice_end": round(r.speech_end + preroll, 3),
        "points": found,
        **more,
    }


def decodes_record(started: str, load: list[float], streams: list[dict[str, Any]]) -> dict[str, Any]:
    """The stored decodes of a run (when, the 1-minute load's range, every stream)."""
    return {
        "started": started,
        "ended": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "load_1min": [round(min(load), 2), round(max(load), 2)],
        "streams": streams,
    }


def server_verdict(point: dict[str, Any]) -> Verdict:
    """:meth:`wyoming_whisper.stream.Utterance.judge` on a stored point."""
    text = point["text"]
    verdict = judge(text)
    if unsure(point):
        if verdict.finished:
            verdict = Verdict(False, "heard unsure", weak=True)
        elif not verdict.weak and words(text) and not repeats(words(text)):
            verdict = Verdict(False, f"{verdict.reason}, heard unsure", weak=True)
    elif verdict.finished and (gap := tail_gap(point)) is not None:
        verdict = Verdict(False, f"speech {gap:.2f}s after its last word", weak=True)
    if not verdict.finished and not verdict.weak and repeats(words(text)):
        verdict = Verdict(False, f"{verdict.reason}: looped", weak=True)
    return verdict


def unsure(point: dict[str, Any]) -> bool:
    logprob = point.get("avg_logprob")
    return logprob is not None and logprob < UNSURE_LOGPROB and not whole_value(point["text"])


def tail_gap(point: dict[str, Any]) -> float | None:
    end = point.get("last_word_end")
    if end is None:
        return None
    gap = float(point["speech_end"]) - (float(point["region_start"]) + float(end))
    return gap if gap > TAIL_SECONDS else None


Rule = Callable[[dict[str, Any], Verdict, float], float]  # point, verdict, known -> silence that ends it


def command_judge() -> Callable[[str], bool]:
    """:func:`orchestrator.command_end.complete_command` over the intent recogniser, remembered per text
    (the probes ask it of the same texts at every start phase)."""
    from orchestrator.command_end import complete_command
    from orchestrator.intents import IntentRecognizer

    intents = IntentRecognizer()
    memo: dict[str, bool] = {}

    def command(text: str) -> bool:
        if text not in memo:
            memo[text] = bool(complete_command(intents, text))
        return memo[text]

    return command


def make_rule(name: str, command: Callable[[str], bool]) -> Rule:
    def rule(point: dict[str, Any], verdict: Verdict, known: float) -> float:
        text, said = point["text"], judge(point["text"])
        # What the orchestrator sees (Utterance.speculative_text): a finished or weak text with no
        # speech after its last word; weak when so, or decoded unsure.
        sent = tail_gap(point) is None and bool(text.strip()) and (said.finished or said.weak)
        sent_weak = sent and (said.weak or unsure(point))
        if verdict.finished:
            base = float(name.split()[1]) if name.startswith("sure ") else BASE
            server = min(CAP, max(base, known))
        else:
            server = min(CAP, max(WEAK_CAP, known)) if verdict.weak else CAP
        if sent and command(text) and (sent_weak or name == "command-sure"):
            return min(server, known + ORCH_S)  # the orchestrator's command end, or the server's if sooner
        return server

    return rule


def replay(stream: dict[str, Any], rule: Rule, decode_s: float | None = None) -> dict[str, Any]:
    """The end of turn under ``rule``; ``decode_s``: every decode takes this long (None: as measured)."""
    free = 0.0
    found = stream["points"]
    for i, point in enumerate(found):
        start = max(point["at"], free)
        free = start + (point["decode_s"] if decode_s is None else decode_s)
        verdict = server_verdict(point)
        after = rule(point, verdict, free - point["speech_end"])
        gap = point["gap"]
        if gap is None or after < gap:
            last = i == len(found) - 1
            return {
                "cut": not last,
                "whole": last and is_whole_text(stream, point["text"]),
                "text": point["text"],
                "reason": verdict.reason,
                "after": round(after, 3),
                "gap": gap,
                "eot": round(point["speech_end"] + after - stream["voice_end"], 3),
            }
    raise AssertionError("the last point always ends the turn")


class _Said:
    def __init__(self, stream: dict[str, Any]) -> None:
        self.text, self.pause_after = stream["text"], stream["pause_after"]

    def words_after_pause(self) -> list[str]:
        from bench.turn_corpus import norm_words

        return norm_words(self.text)[self.pause_after :] if self.pause_after else []


def is_whole_text(stream: dict[str, Any], text: str) -> bool:
    return bool(is_whole(_Said(stream), text))  # type: ignore[arg-type]


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    lat = [r["eot"] for r in results if r["whole"]]
    return {
        "n": len(results),
        "cut": sum(r["cut"] for r in results),
        "whole": sum(r["whole"] for r in results),
        # heard whole (not cut) but with wrong words (word error rate vs the corpus text > 0)
        "whole_misheard": sum(r["whole"] and word_error_rate(r["stream"]["text"], r["text"]) > 0 for r in results),
        "eot_p50": round(statistics.median(lat), 3) if lat else None,
        "eot_p95": round(pct(lat, 0.95) or 0.0, 3) if lat else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decodes", type=Path, help="a stored decode JSON (this script's --save)")
    parser.add_argument("--save", type=Path, default=Path("/tmp/eot_sure_decodes.json"))
    parser.add_argument("--prerolls", default="0.3,0.4,0.5,0.6,0.7")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--pad", type=int, default=PAD, help="windows of silence before the speculative decode")
    parser.add_argument("--decode-s", type=float, help="replay every decode as this long (default: as measured)")
    parser.add_argument("--rules", default="now,command-sure,sure 0.2,sure 0.15")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "eot_sure.json")
    args = parser.parse_args()
    global POLICY
    POLICY = VadPolicy(pad_windows=args.pad)
    lead.PAD = args.pad
    if args.decodes:
        data = json.loads(args.decodes.read_text())
    else:
        data = decode_all([float(p) for p in args.prerolls.split(",")], args.limit)
        args.save.write_text(json.dumps(data) + "\n")
    command = command_judge()
    out: dict[str, Any] = {k: data[k] for k in ("started", "ended", "load_1min")}
    out["decode_s"] = args.decode_s
    out["no_speech"] = [(s["id"], s["preroll"]) for s in data["streams"] if not s["points"]]
    out["summary"], out["cuts"] = {}, {}
    base: dict[tuple[str, float], dict[str, Any]] = {}
    print(f"decoded {data['started']} - {data['ended']}, load {data['load_1min']}")
    print("| rule | split | pauses cut | whole | eot p50 / p95 (s, whole) |\n|---|---|---|---|---|")
    for name in args.rules.split(","):
        rule = make_rule(name, command)
        streams = [s for s in data["streams"] if s["points"]]
        results = {(s["id"], s["preroll"]): {**replay(s, rule, args.decode_s), "stream": s} for s in streams}
        if name == "now":
            base = results
        for split in ("tune", "held"):
            s = summarise([r for r in results.values() if r["stream"]["split"] == split])
            out["summary"][f"{name} | {split}"] = s
            heard = f"{s['whole']}/{s['n']} ({s['whole_misheard']} misheard)"
            print(f"| {name} | {split} | {s['cut']}/{s['n']} | {heard} | ", end="")
            print(f"{s['eot_p50']} / {s['eot_p95']} |")
            # the requests an intent answers: the stream's last text is a whole command
            c = summarise([r for r in results.values() if r["stream"]["split"] == split and command(r["text"])])
            out["summary"][f"{name} | {split} | commands"] = c
            print(f"| {name} | {split}, whole commands | {c['cut']}/{c['n']} | {c['whole']}/{c['n']} | ", end="")
            print(f"{c['eot_p50']} / {c['eot_p95']} |")
        out["cuts"][name] = [
            {
                "id": k[0],
                "preroll": k[1],
                "split": r["stream"]["split"],
                "text": r["text"],
                "reason": r["reason"],
                "gap": r["gap"],
                "pause": r["stream"]["pause"],
                "pause_kind": r["stream"]["pause_kind"],
                "word_before": r["stream"]["text"].split()[r["stream"]["pause_after"] - 1],
                "new": not base.get(k, {}).get("cut", False),
            }
            for k, r in results.items()
            if r["cut"]
        ]
        changed = [
            f"  {k}: {base[k]['text']!r} {base[k]['after']} -> {r['text']!r} {r['after']}{' CUT' if r['cut'] else ''}"
            for k, r in results.items()
            if base and (r["cut"], r["after"]) != (base[k]["cut"], base[k]["after"]) and r["cut"] != base[k]["cut"]
        ]
        if changed:
            print("\n".join(changed))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
