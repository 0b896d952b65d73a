"""bench/results/fresh_room.md from the fresh corpus's room runs (bench/results/room_turns_fresh/*.json,
``bench/room_turns_bench.py --corpus fresh``): probe and sealed apart, per label (main / a change).

Per split: requests scored (not left out as unheard by tiny.en even whole, not spoken over a reply),
cut off (the turn bench's rule: ``miss == "cut"``), misheard (not cut, words wrong: word error rate
> 0, or not whole without a cut), the mean word error rate, and end of speech -> first reply audio
from the room's mark (10 dB over the noise) and from the clip's last voiced sample, intents and LLM
turns apart (p50 / p95, n).

    .venv/bin/python bench/fresh_room_report.py
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.room_turns_report import pcts  # noqa: E402
from bench.turn_bench import word_error_rate  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def skipped() -> set[str]:
    """The clips tiny.en misses even whole (bench/results/fresh_turn.json's oracle pass)."""
    path = RESULTS / "fresh_turn.json"
    return set(json.loads(path.read_text()).get("skipped", {})) if path.exists() else set()


def scored(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    left_out = skipped()
    return [r for r in rows if r["id"] not in left_out and not r["over_a_reply"] and r["turns_answered"]]


def rescore(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with ``wer`` / ``misheard`` / ``whole`` again from their texts (today's rules: fillers left out)."""
    out = []
    for row in rows:
        r = dict(row)
        if r["answered"]:
            r["wer"] = round(word_error_rate(r["text"], r["answered"]), 3)
            r["misheard"] = r["whole"] and r["wer"] > 0
        out.append(r)
    return out


def line(label: str, split: str, rows: list[dict[str, Any]], load: str) -> str:
    ok = scored(rows)
    cut = [r["id"] for r in ok if r.get("miss") == "cut"]
    misheard = [r["id"] for r in ok if r.get("miss") in ("misheard", "lost") or (r["whole"] and (r["wer"] or 0) > 0)]
    wers = [r["wer"] for r in ok if r["wer"] is not None]
    whole = [r for r in ok if r["whole"] and r["first_audio_s"] is not None]

    def kind(key: str, llm: bool) -> str:
        return pcts([r[key] for r in whole if (r["intent"] == "-") == llm and r["intent"] is not None])

    paused = [r for r in ok if r["pause"] > 0]
    return (
        f"| {label} | {split} | {len(ok)}/{len(rows)} | {sum(r.get('miss') == 'cut' for r in paused)}/{len(paused)} | "
        f"{len(cut)} {' '.join(cut)} | {len(misheard)} {' '.join(misheard)} | "
        f"{100 * sum(wers) / max(1, len(wers)):.1f} % | "
        f"{kind('first_audio_s', False)} | {kind('first_audio_s', True)} | "
        f"{kind('first_audio_clip_s', False)} | {kind('first_audio_clip_s', True)} | {load} |"
    )


def report(folder: Path = RESULTS / "room_turns_fresh") -> str:
    runs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    loads: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        runs[(data["label"], data["split"])] += rescore(data["rows"])
        loads[(data["label"], data["split"])].append(f"{data['loadavg_start'][0]:.1f}-{data['loadavg_end'][0]:.1f}")
    lines = [
        "# The fresh corpus through the room (`bench/room_turns_bench.py --corpus fresh`)",
        "",
        "Scored: not left out (tiny.en misses the whole clip offline) and not over a reply. Latency over the "
        "requests heard whole: from the room's mark (10 dB over the noise) and from the clip's last voiced sample.",
        "",
        "| label | split | scored | paused cut | cut | misheard | WER mean | mark→audio intents | mark→audio LLM "
        "| clip end→audio intents | clip end→audio LLM | load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (label, split), rows in sorted(runs.items(), key=lambda kv: (kv[0][1] != "probe", kv[0])):
        lines.append(line(label, split, rows, ", ".join(loads[(label, split)])))
    lines += ["", "| label | request | said | answered | intent | wer | miss |", "|---|---|---|---|---|---|---|"]
    for (label, _), rows in sorted(runs.items()):
        for r in rows:
            if r.get("miss") or (r["wer"] or 0) > 0:
                lines.append(f"| {label} | {r['id']} ({r['condition']}, pause {r['pause']}) | {r['text']} | "
                             f"{r['answered']} | {r['intent'] or '-'} | {r['wer']} | {r.get('miss') or '-'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    text = report()
    (RESULTS / "fresh_room.md").write_text(text)
    print(text)
