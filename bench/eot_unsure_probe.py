"""Offline price of two end-of-turn waits on the whole end-of-turn corpus: an UNFINISHED-reading
text decoded unsure waits the weak cap (not the whole cap), and what a shorter wait for weak whole
questions would cut.

The corpus (``bench/turn_corpus.py``: 65 requests, 50 with a 0.3-0.9 s pause) is decoded as the
whisper server does it (``bench/turn_bench_rules.py``: Silero, every speculative final decode,
tiny.en int8 beam 5, with its ``avg_logprob`` and the silence that followed it), or a stored
decode JSON is read (``--decodes``). Then each rule is replayed on the stored texts with the
server's ``default`` timing, as ``turn_bench_rules.replay`` models it (base 0.256 s, weak cap
1.216 s, cap 1.888 s; a decode starts when its point fires or the model is free):

* ``main``: the rules as they were (a finished text decoded below ``UNSURE_LOGPROB`` is weak);
* ``unsure-open``: also an unfinished text with words decoded below it is weak (not a looped phrase);
* ``loop-weak`` (session 20): on top, a looped phrase is weak too (``wyoming_whisper.stream.LOOP_WAIT``);
* ``question-cap S`` (``--question-caps``): on top, a weak text that reads as a whole question
  (:func:`whole_question`) ends after S s of silence instead of the weak cap.

Reported per split (tune / held apart): pauses cut (the turn ends at a pause), requests heard
whole at the end, and the end of turn after the last voiced sample (p50 / p95 / max, whole
requests); and every decode whose wait the rule changed.

    nice -n 10 .venv/bin/python bench/eot_unsure_probe.py [--decodes F] [--question-caps 0.9,1.0]

Results: ``--out`` (bench/results/eot_unsure.{json,md}).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.turn_bench import is_whole, pct  # noqa: E402
from bench.turn_bench_rules import BASE, CAP, WEAK_CAP, _said, decode_corpus  # noqa: E402
from wyoming_whisper.endpoint import VERBS, WH_WORDS, Verdict, judge, repeats, words  # noqa: E402
from wyoming_whisper.stream import UNSURE_LOGPROB  # noqa: E402

QUESTION_STARTS = WH_WORDS | {"is", "are", "can", "could", "do", "does", "did", "will", "would", "should", "who's"}


def whole_question(text: str) -> bool:
    """Whether ``text`` reads as a whole question: a wh-word or an auxiliary first, a verb after
    it, three words or more."""
    found = words(text)
    return len(found) >= 3 and found[0] in QUESTION_STARTS and bool(VERBS & set(found[1:]))


def verdict(rule: str, text: str, logprob: float | None) -> tuple[Verdict, bool]:
    """The verdict under ``rule`` and whether the text reads as a whole question."""
    said = judge(text)
    unsure = logprob is not None and logprob < UNSURE_LOGPROB
    if unsure and said.finished:
        said = Verdict(False, "heard unsure", weak=True)
    elif unsure and rule != "main" and not said.finished and not said.weak and words(text) and not repeats(words(text)):
        said = Verdict(False, f"{said.reason}, heard unsure", weak=True)
    if rule == "loop-weak" and not said.finished and not said.weak and repeats(words(text)):
        said = Verdict(False, f"{said.reason}: looped, the weak wait", weak=True)  # session 20 (stream.LOOP_WAIT)
    return said, said.weak and whole_question(text)


def replay(
    request: dict[str, Any], found: list[dict[str, Any]], rule: str, question_cap: float | None
) -> dict[str, Any]:
    free = 0.0
    for i, point in enumerate(found):
        start = max(point["at"], free)
        free = start + point["decode_s"]
        said, question = verdict(rule, point["text"], point.get("avg_logprob"))
        known = free - point["speech_end"]
        if said.finished:
            after = min(CAP, max(BASE, known))
        elif said.weak:
            wait = question_cap if question and question_cap is not None else WEAK_CAP
            after = min(CAP, max(wait, known))
        else:
            after = CAP
        gap = point["gap"]
        if gap is None or after < gap:
            last = i == len(found) - 1
            return {
                "cut": not last,
                "whole": last and is_whole(_said(request), point["text"]),
                "text": point["text"],
                "reason": said.reason,
                "after": round(after, 3),
                "gap": gap,
                "eot": round(point["speech_end"] + after - request["voice_end"], 3),
            }
    raise AssertionError("the last point always ends the turn")


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    lat = [r["eot"] for r in results if r["whole"]]
    return {
        "n": len(results),
        "cut": sum(r["cut"] for r in results),
        "whole": sum(r["whole"] for r in results),
        "eot_p50": round(statistics.median(lat), 3) if lat else None,
        "eot_p95": round(pct(lat, 0.95) or 0.0, 3) if lat else None,
        "eot_max": max(lat) if lat else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decodes", type=Path, help="stored decodes (bench/turn_bench_rules.py's JSON)")
    parser.add_argument("--question-caps", default="", help="comma-separated seconds: a weak whole question's wait")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    if args.decodes:
        data = json.loads(args.decodes.read_text())
    else:
        data = decode_corpus([0.1], 0)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "eot_unsure_decodes.json").write_text(json.dumps(data, indent=1) + "\n")
    pad = next(iter(data["requests"][0]["points"]))
    rules: list[tuple[str, float | None]] = [("main", None), ("unsure-open", None), ("loop-weak", None)]
    rules += [("unsure-open", float(s)) for s in args.question_caps.split(",") if s]
    summary: dict[str, Any] = {}
    changed: dict[str, list[str]] = {}
    outcomes: dict[str, dict[str, dict[str, Any]]] = {}
    for rule, cap in rules:
        name = rule if cap is None else f"{rule} + question-cap {cap:g}"
        outcomes[name] = {
            r["id"]: {**replay(r, r["points"][pad], rule, cap), "split": r["split"]} for r in data["requests"]
        }
        for split in ("tune", "held"):
            summary[f"{name} | {split}"] = summarise([o for o in outcomes[name].values() if o["split"] == split])
    first = outcomes["main"]
    for name, outcome in outcomes.items():
        changed[name] = [
            f"{i}: {first[i]['text']!r} after {first[i]['after']} s{' CUT' if first[i]['cut'] else ''} -> "
            f"{o['text']!r} after {o['after']} s{' CUT' if o['cut'] else ''} (gap {o['gap']}, {o['reason']})"
            for i, o in outcome.items()
            if (o["text"], o["cut"], o["after"]) != (first[i]["text"], first[i]["cut"], first[i]["after"])
        ]
    # Every decode that reads unfinished but was decoded unsure, and every weak whole question.
    notable = [
        {
            "id": r["id"],
            "split": r["split"],
            "text": p["text"],
            "avg_logprob": p.get("avg_logprob"),
            "gap": p["gap"],
            "reason": verdict("unsure-open", p["text"], p.get("avg_logprob"))[0].reason,
            "question": verdict("unsure-open", p["text"], p.get("avg_logprob"))[1],
        }
        for r in data["requests"]
        for p in r["points"][pad]
        if verdict("unsure-open", p["text"], p.get("avg_logprob"))[0].weak
    ]
    out = {
        "decoded": {k: data[k] for k in ("started", "ended", "load", "model")},
        "replayed": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "summary": summary,
        "changed": changed,
        "weak_decodes": notable,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "eot_unsure.json").write_text(json.dumps(out, indent=1) + "\n")
    lines = [
        f"Decoded {data['started']} - {data['ended']}, load {data['load']}; replayed {out['replayed']}.",
        "",
        "| rule | split | pauses cut | whole at the end | end of turn p50 / p95 / max (s, whole) |",
        "|---|---|---|---|---|",
    ]
    for key, s in summary.items():
        lines.append(
            f"| {key} | {s['cut']}/{s['n']} | {s['whole']}/{s['n']} | "
            f"{s['eot_p50']} / {s['eot_p95']} / {s['eot_max']} |"
        )
    for name, items in changed.items():
        lines += ["", f"Changed against main: {name}", *(f"- {item}" for item in items or ["(none)"])]
    lines += [
        "",
        "Weak decodes (rule unsure-open): id, text, avg_logprob, silence after (None: the end), "
        "reads as a whole question",
        *(
            f"- {n['id']} {n['text']!r} {n['avg_logprob']} gap {n['gap']} "
            f"{'question' if n['question'] else ''} ({n['reason']})"
            for n in notable
        ),
    ]
    (args.out / "eot_unsure.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
