"""Looped decodes of device commands: are they wrong more often than the others? The evidence
behind orchestrator/home/confidence.py's policy for a transcript that repeats itself.

    python bench/home_loops.py decode [--out bench/results/home_loops]   # whisper, minutes
    python bench/home_loops.py judge  [--out bench/results/home_loops]   # offline, seconds

Under load our whisper server decodes a final that had to wait greedily (``--busy-beam-size 1``);
greedy tiny.en loops more ("open the garage door open the garage door"), and a loop's
``avg_logprob`` is high (a repetition is likely text), so a loop can hide an unsure hearing.

``decode``: the clips of bench/home_confidence.py (the end-of-turn corpus's device commands at
their own and three harsher conditions; Piper in white noise) plus four more Piper commands
(locks, the garage, a light) in the same noise grid, each decoded by wyoming_whisper's engine at
beam 5 and at beam 1 (greedy); every decode is stored (said, heard, scores), not only actions.
Not real time (no timing), so the box's load does not change the figures.

``judge``: re-reads the stored decodes and, with the current recogniser and the orchestrator's
own decision (``IntentRecognizer.ask_first``), counts for looped and other decodes heard as device actions:
right ones, wrong ones, and what the policy does with each (done, or asked about).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from bench.home_bench import SnapshotHome, corpus_home  # noqa: E402
from bench.home_confidence import _acts, _key, clips, piper_in_noise  # noqa: E402
from orchestrator.home.confidence import QUERIES, Hearing, doubt, home_names  # noqa: E402
from orchestrator.home.phrasing import looped, undouble  # noqa: E402
from orchestrator.intent_text import normalize  # noqa: E402
from orchestrator.intents import IntentRecognizer  # noqa: E402

GUARDED = re.compile(r"\b(?:lock|locks|unlock|door|doors|garage|gate|gates|alarm|arm|disarm)\b")
MORE_PIPER = ["Unlock the front door.", "Lock the back door.", "Close the garage door.", "Turn off the bedroom light."]


def more_clips() -> list[tuple[str, str, str, Any]]:
    return piper_in_noise(MORE_PIPER)


def decode(out: Path) -> None:
    from voice_runtime.models import resolve_whisper
    from wyoming_whisper.engine import EngineConfig, WhisperEngine

    engine = WhisperEngine(EngineConfig(model_dir=resolve_whisper("tiny.en")))
    rows = []
    for kind, condition, said, audio in clips() + more_clips():
        for beam in (5, 1):
            decoded = engine.transcribe(audio, "en", beam_size=beam)
            rows.append(
                {
                    "set": kind,
                    "condition": condition,
                    "said": said,
                    "beam": beam,
                    "heard": decoded.text,
                    **decoded.confidence(),
                }
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".decodes.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    print(f"{len(rows)} decodes -> {out.with_suffix('.decodes.json')}")


def judge(out: Path) -> dict[str, Any]:
    rows = json.loads(out.with_suffix(".decodes.json").read_text(encoding="utf-8"))
    recognizer = IntentRecognizer(home=SnapshotHome(corpus_home()))
    assert recognizer.home is not None
    lists, names = recognizer.home.slot_lists, home_names(recognizer.home.slot_lists())
    table: dict[str, dict[str, int]] = {}
    cases: list[dict[str, Any]] = []
    for row in rows:
        heard = row["heard"]
        found = recognizer.recognize(heard) if heard else []
        if not _acts(found):
            continue
        right = _key(found) == _key(recognizer.recognize(row["said"]))
        said = normalize(heard)
        loop = "not looped" if not looped(said) else "looped once said again" if undouble(said) != said else "looped"
        hearing = Hearing(row.get("avg_logprob"), row.get("no_speech_prob"))
        asked = recognizer.ask_first(found, heard, hearing) is not None  # the orchestrator's decision
        # the same without the loop rule (its fit check and near names kept)
        asked_before = doubt(found, hearing, lambda: names, recognizer.recognize, lists) is not None
        # the alternative not taken: any loop asks before a lock, door, garage, gate or alarm is touched
        asked_guarded = asked_before or (
            loop != "not looped" and any(c.name not in QUERIES and GUARDED.search(c.text) for c in found)
        )
        group = f"beam {row['beam']}, {loop}"
        counts = table.setdefault(
            group,
            {
                "right": 0,
                "right_asked": 0,
                "wrong": 0,
                "wrong_stopped": 0,
                "right_asked_before": 0,
                "wrong_stopped_before": 0,
                "right_asked_guarded": 0,
                "wrong_stopped_guarded": 0,
            },
        )
        counts["right" if right else "wrong"] += 1
        counts["right_asked" if right else "wrong_stopped"] += asked
        counts["right_asked_before" if right else "wrong_stopped_before"] += asked_before
        counts["right_asked_guarded" if right else "wrong_stopped_guarded"] += asked_guarded
        if loop != "not looped" or not right:
            cases.append(
                {
                    **row,
                    "right": right,
                    "asked": asked,
                    "asked_before": asked_before,
                    "looped": loop != "not looped",
                    "got": [(c.name, c.source, c.slots) for c in found],
                }
            )
    report = {"decodes": len(rows), "groups": table, "cases": cases}
    lines = [
        "# Looped decodes of device commands (bench/home_loops.py)",
        "",
        f"{len(rows)} decodes (tiny.en, beam 5 and 1); rows heard as device actions only.",
        "",
        "Asked/stopped by: the shipped policy (a loop that is not one sentence said again is unsure); "
        "no loop rule (the rest of the shipped decision: an unsure avg_logprob / no_speech_prob, a near "
        "name, words that do not fit the device); the "
        "alternative not taken (any loop asks before a lock, door, garage, gate or alarm).",
        "",
        "| decodes | right | wrong | right asked: shipped / no loop rule / guarded "
        "| wrong stopped: shipped / no loop rule / guarded |",
        "|---|---|---|---|---|",
    ]
    for group, c in sorted(table.items()):
        lines.append(
            f"| {group} | {c['right']} | {c['wrong']} | {c['right_asked']} / {c['right_asked_before']} / "
            f"{c['right_asked_guarded']} | {c['wrong_stopped']} / {c['wrong_stopped_before']} / "
            f"{c['wrong_stopped_guarded']} |"
        )
    lines += [
        "",
        "Looped decodes and wrong ones (heard cut at 90 characters; got: what the recogniser made of it):",
        "",
        "| beam | condition | said | heard | got | looped | right | avg_logprob | asked |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in sorted(cases, key=lambda k: (not k["looped"], k.get("avg_logprob", 0.0))):
        heard = case["heard"] if len(case["heard"]) <= 90 else case["heard"][:90] + " ..."
        got = "; ".join(f"{n} {src} {slots}" for n, src, slots in case["got"])
        lines.append(
            f"| {case['beam']} | {case['set']} {case['condition']} | {case['said']} | {heard} | {got} | "
            f"{'yes' if case['looped'] else ''} | {'yes' if case['right'] else 'NO'} | "
            f"{case.get('avg_logprob')} | {'yes' if case['asked'] else ''} |"
        )
    out.with_suffix(".json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["decode", "judge"])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "home_loops")
    args = parser.parse_args()
    if args.step == "decode":
        decode(args.out)
    else:
        judge(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
