"""bench/results/room_turns.{md,json} from the runs of bench/room_turns_bench.py
(bench/results/room_turns/SPLIT-LABEL.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def pcts(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{np.percentile(values, 50):.2f} / {np.percentile(values, 95):.2f} s (n={len(values)})"


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    # no turn of it logged (only the loaded first run: its build did not log cancelled turns)
    scored = [r for r in rows if not r["excluded"] and not r["over_a_reply"] and r["turns_answered"]]
    paused = [r for r in scored if r["pause"] > 0]

    def cut(items: list[dict[str, Any]]) -> str:
        return f"{sum(not r['whole'] for r in items)}/{len(items)}"

    whole = [r for r in scored if r["whole"] and r["first_audio_s"] is not None]
    intents = [r["first_audio_s"] for r in whole if r["intent"] not in (None, "-")]
    llm = [r["first_audio_s"] for r in whole if r["intent"] == "-"]
    heard = [h for r in rows for h in r["reply_heard_log_s"]]
    return {
        "requests": len(rows),
        "scored": len(scored),
        "excluded": sum(r["excluded"] for r in rows),
        "over_a_reply": sum(r["over_a_reply"] for r in rows),
        "no_turn_logged": sum(not r["turns_answered"] and not r["excluded"] for r in rows),
        "cut_paused": cut(paused),
        "cut_open": cut([r for r in paused if r["pause_kind"] == "open"]),
        "cut_can_end": cut([r for r in paused if r["pause_kind"] == "can-end"]),
        "cut_aligned": cut([r for r in paused if r["method"] == "aligned"]),
        "cut_split": cut([r for r in paused if r["method"] == "split"]),
        "cut_no_pause": cut([r for r in scored if r["pause"] == 0]),
        "first_audio_intents": pcts(intents),
        "first_audio_llm": pcts(llm),
        "first_audio_all": pcts(intents + llm),
        "merged_requests": sum(r["merges"] > 0 for r in rows),
        "ended_mid_speech": f"{sum(r['whole'] for r in paused if r.get('ended_mid_speech'))}/"
        f"{sum(bool(r.get('ended_mid_speech')) for r in paused)}",
        "merges": sum(r["merges"] for r in rows),
        "merges_no_pause": sum(r["merges"] > 0 for r in rows if r["pause"] == 0),
        "reply_heard_before_merge_ms": [round(h * 1000) for h in heard],
        "reply_played_during_question_ms": [round(h * 1000) for r in rows for h in r["reply_heard_room_s"]],
        "no_first_audio": sum(r["first_audio_s"] is None for r in scored),
        "miss_cut": f"{sum(r.get('miss') == 'cut' for r in scored)}/{len(scored)}",
        "miss_misheard": f"{sum(r.get('miss') in ('misheard', 'lost') for r in scored)}/{len(scored)}",
        "whole_misheard": f"{sum(r['whole'] and r['wer'] > 0 for r in scored if r['wer'] is not None)}/"
        f"{sum(r['whole'] for r in scored)}",
        "wer": wer_line([r["wer"] for r in scored if r["wer"] is not None]),
    }


def wer_line(values: list[float]) -> str:
    """p50 / max of the turns' word error rates (and how many had a transcript)."""
    if not values:
        return "-"
    return f"{np.percentile(values, 50):.3f} / {max(values):.3f} (n={len(values)})"


def fill_wer(rows: list[dict[str, Any]]) -> None:
    """Runs judged before ``wer`` existed: the words answered vs the corpus text (both in the rows)."""
    from bench.turn_bench import word_error_rate

    for row in rows:
        if "wer" not in row:
            text = row.get("answered") or ""
            row["wer"] = round(word_error_rate(row["text"], text), 3) if text else None
            row["misheard"] = bool(row["whole"]) and row["wer"] is not None and row["wer"] > 0


def outcome(row: dict[str, Any]) -> str:
    """whole / cut / misheard / lost (nothing answered for it) / excluded (left out of the scores)."""
    if row["excluded"] or row["over_a_reply"]:
        return "excluded"
    if not row["turns_answered"]:
        return "lost"
    return "whole" if row["whole"] else str(row.get("miss") or "misheard")


def by_pause(runs: list[dict[str, Any]]) -> list[str]:
    """Per run of generation-2 corpus (each pause measured = nominal): the paused requests by
    their pause and by the kind of word before it, as whole / cut / misheard / lost of n."""
    lines = [
        "",
        "## Paused requests by their real pause (corpus generation 2) and the word before it",
        "",
        "Each cell: cut / misheard / lost of n (requests spoken over a reply or left out by the oracle not "
        "counted). The pauses are the silence measured below -40 dBFS (bench/results/turn_pauses.md).",
        "",
        "| run | 0.3 s | 0.45 s | 0.6 s | 0.75 s | 0.9 s | after a word that cannot end it | that can | all |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(rows: list[dict[str, Any]]) -> str:
        got = [outcome(r) for r in rows if outcome(r) != "excluded"]
        return f"{got.count('cut')} / {got.count('misheard')} / {got.count('lost')} of {len(got)}"

    for run in runs:
        if run.get("corpus_generation", 1) < 2:
            continue
        paused = [r for r in run["rows"] if r["pause"] > 0]
        cells = [cell([r for r in paused if r["pause"] == p]) for p in (0.3, 0.45, 0.6, 0.75, 0.9)]
        cells += [cell([r for r in paused if r["pause_kind"] == k]) for k in ("open", "can-end")] + [cell(paused)]
        lines.append(f"| {run['split']}/{run['label']} | " + " | ".join(cells) + " |")
    return lines


def fill_miss(rows: list[dict[str, Any]]) -> None:
    """Runs judged before ``miss`` existed: judge it from their rows (the corpus is cached)."""
    if all("miss" in r for r in rows):
        return
    from bench.turn_bench import miss_kind
    from bench.turn_corpus import build

    requests = {r.id: r for r in build()}
    for row in rows:
        if "miss" not in row and row["id"] in requests:
            row["miss"] = miss_kind(requests[row["id"]], row["answered"], row.get("ended_mid_speech", 0))


COLUMNS = [
    ("cut_paused", "paused cut"),
    ("cut_open", "after a word that cannot end it"),
    ("cut_can_end", "after a word that can end it"),
    ("cut_aligned", "aligned (continuing prosody)"),
    ("cut_split", "split (final prosody)"),
    ("cut_no_pause", "no pause cut"),
    ("ended_mid_speech", "paused requests the end of turn cut mid-speech: answered whole / all"),
    ("first_audio_intents", "end of speech → first reply audio, intents p50 / p95"),
    ("first_audio_llm", "… LLM turns p50 / p95"),
    ("merged_requests", "requests merged"),
    ("reply_heard_before_merge_ms", "reply heard before a merge (ms, orchestrator's estimate)"),
    ("reply_played_during_question_ms", "reply audio played between speech onset and offset (ms, room)"),
    ("over_a_reply", "spoken over the previous reply (not scored)"),
    ("no_turn_logged", "no turn logged (not scored)"),
    ("miss_cut", "not whole: cut (ended mid-speech, or the part after the pause missing) / scored"),
    ("miss_misheard", "not whole: misheard (the whole utterance decoded, wrong words) / scored"),
    ("whole_misheard", "whole but misheard (not cut, word error rate > 0) / whole"),
    ("wer", "word error rate vs the corpus text p50 / max"),
]


def report(results: Path) -> None:
    parts = [
        json.loads(p.read_text()) for p in sorted((results / "room_turns").glob("*.json")) if "smoke" not in p.name
    ]
    runs: list[dict[str, Any]] = []
    for part in parts:  # the parts of one split and label make one run
        same = [r for r in runs if (r["split"], r["label"]) == (part["split"], part["label"])]
        if same:
            same[0]["rows"] += part["rows"]
            same[0]["parts"].append({k: v for k, v in part.items() if k != "rows"})
        else:
            runs.append({**part, "parts": [{k: v for k, v in part.items() if k != "rows"}]})
    out: dict[str, Any] = {"runs": []}
    lines = [
        "# Paused questions through the whole stack, in real time (`bench/room_turns_bench.py`)",
        "",
        "Satellite + `voice-orchestrator serve` + the three engines in the room simulator (echo −6 dB, "
        "40 ms, 0.2 s reverb). Cut-off judged from the transcript the orchestrator finally answered.",
        "",
        "Corpus generation (in the conditions per run): runs before session 17 used generation 1, whose "
        "pauses are longer than named (silence measured below -40 dBFS: a '0.3 s' pause is 0.30-0.39 s, a "
        "'0.9 s' one 0.91-1.38 s; bench/results/turn_pauses.md); generation 2's measured pauses are the "
        "nominal ones.",
        "",
        "| split | run | " + " | ".join(title for _, title in COLUMNS) + " |",
        "|---|---|" + "---|" * len(COLUMNS),
    ]
    for run in runs:
        fill_miss(run["rows"])
        fill_wer(run["rows"])
        s = summary(run["rows"])
        out["runs"].append({k: v for k, v in run.items() if k != "rows"} | {"summary": s})
        cells = [
            str(s[key]) if not isinstance(s[key], list) else (", ".join(map(str, s[key])) or "-") for key, _ in COLUMNS
        ]
        lines.append(f"| {run['split']} | {run['label']} | " + " | ".join(cells) + " |")
    lines += by_pause(runs)
    lines += ["", "Conditions per run:", ""]
    for run in runs:
        for part in run["parts"]:
            lines.append(
                f"- {run['split']}/{run['label']} part {part['part']}: {part['date']}, load average "
                f"{part['loadavg_start'][0]:.2f} at the start, {part['loadavg_end'][0]:.2f} at the end; "
                f"continuation window {'serve default' if part['window'] is None else part['window']}; "
                f"{part['gap']} s between requests; corpus generation {part.get('corpus_generation', 1)}; "
                f"room: {'; '.join(part['room'])}"
            )
    lines += [
        "",
        "## Requests not heard whole",
        "",
        "| run | request | text | answered | miss |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        for r in run["rows"]:
            if not r["whole"] and not r["excluded"] and not r["over_a_reply"] and r["turns_answered"]:
                lines.append(
                    f"| {run['split']}/{run['label']} | {r['id']} ({r['voice']}, {r['condition']}, "
                    f"pause {r['pause']} s {r['pause_kind']}, {r['method']}) | {r['text']} | "
                    f"{r['answered'] or '(nothing answered)'} | {r.get('miss') or '-'} |"
                )
    lines += [
        "",
        "## Requests heard whole (not cut) but misheard",
        "",
        "| run | request | text | answered | intent | word error rate |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        for r in run["rows"]:
            if r.get("misheard") and not r["excluded"] and not r["over_a_reply"] and r["turns_answered"]:
                lines.append(
                    f"| {run['split']}/{run['label']} | {r['id']} ({r['voice']}, {r['condition']}) | {r['text']} | "
                    f"{r['answered']} | {r['intent'] or '-'} | {r['wer']:.3f} |"
                )
    (results / "room_turns.md").write_text("\n".join(lines) + "\n")
    (results / "room_turns.json").write_text(json.dumps(out, indent=1) + "\n")
    print("\n".join(lines))
