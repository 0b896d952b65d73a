"""Where the time goes from the clip's last voiced sample to the first reply sound, step by step,
per turn kind (intents, LLM turns), over kept ``bench/room_turns_bench.py`` run folders.

``bench/room_latency.py`` places every step on the room's clock from the ROOM's speech end (its
level mark, which in a noisy clip falls inside the last word's soft end: s22_eot.md section 1).
This adds what that cannot show: each step's own share, from the clip's end (the corpus WAV's
last voiced sample), so that the steps add up to the first sound from the clip's end:

* ``clip->silero``: the clip's end to Silero's speech end (on the room's mic.wav);
* ``silero->decode``: Silero's end to the speculative final decode's start (the endpointing pad,
  3 windows = 96 ms, and the audio's way from the room to the whisper server);
* ``decode``: the speculative final decode, start to text;
* ``text->end``: its text to the end of the turn: whisper's own end of turn (its base silence,
  0.256 s, minus what already passed) or the orchestrator's command end (``end of turn from the
  words``: a whole command ends at once);
* ``end->answer``: the end of turn to the intent's answer / the LLM's first token (the
  satellite's and the orchestrator's hops, the recogniser, or the LLM);
* ``answer->tts``: to the first TTS audio; ``tts->sat``: to the satellite's "speaking";
* ``sat->speaker``: the satellite's first reply audio to the first sound at the room's speaker
  (its playback buffer and write-ahead: ``satellite/write_ahead.py``).

With ``--turns`` (the run's ``bench/results/room_turns/*.json``, one per folder, same order) each
turn is marked whole and scored (not excluded) as the room run scored it, and the totals are given
over all turns, scored turns and whole turns.

    python bench/room_latency_steps.py RUN1 RUN2 [--turns T1.json T2.json] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.room_latency import breakdown, json_log  # noqa: E402

# (name, from, to): a step's share is row[to] - row[from]; "clip_end" and "end" are derived
SEGMENTS = [
    ("clip->silero", "clip_end", "vad"),
    ("silero->decode", "vad", "start"),
    ("decode", "start", "spec"),
    ("text->end", "spec", "end"),
    ("end->answer", "end", "text"),
    ("answer->tts", "text", "tts"),
    ("tts->sat", "tts", "sat"),
    ("sat->speaker", "sat", "speaker"),
]
COMMAND_END = "end of turn from the words"


def command_ends(folder: Path) -> list[float]:
    """The orchestrator's command ends (scenario seconds, as room_latency's clocks)."""
    scenario_wall = (folder / "go").stat().st_mtime
    return [t - scenario_wall for t, msg in json_log(folder / "orchestrator.log") if msg.startswith(COMMAND_END)]


def decodes(folder: Path) -> tuple[list[float], list[float]]:
    """Whisper's speculative final decodes' starts and ends (scenario seconds, as room_latency's)."""
    result = json.loads((folder / "result.json").read_text())
    scenario_mono = result["t0_monotonic"] + result["wav_offset_s"]
    path = folder / "whisper.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    starts = [
        float(m.group(1)) - scenario_mono for m in re.finditer(r"speculative final decode starts mono=([\d.]+)", text)
    ]
    ends = [float(m.group(1)) - scenario_mono for m in re.finditer(r"speculative final decoded mono=([\d.]+)", text)]
    return starts, ends


def with_end(row: dict[str, Any], commands: list[float], starts: list[float], ends: list[float]) -> dict[str, Any]:
    """``row`` plus ``end`` (the turn's end: the orchestrator's command end when it came first,
    else whisper's end of turn, else its transcript) and ``ended_by``; a turn the command end
    ended has no whisper end of turn, so its decode is looked up here (the last before the end)."""
    lo, hi = row["onset"] if "onset" in row else row["offset"] - 3.0, row["speaker"]
    cmd = [t for t in commands if lo <= t <= hi]
    found = cmd[-1] if cmd else None
    eot = row.get("eot")
    row = dict(row)
    end: float | None
    if found is not None and (eot is None or found <= eot):
        # the command end is on the orchestrator's wall clock (ms, mapped through the start file):
        # its audio-stop's transcript (whisper's monotonic clock) stands for it, as the decodes do
        end, by = row.get("asr") or found, "command"
        spec = [t for t in ends if lo <= t <= end]
        row["spec"] = spec[-1] if spec else None
        start = [t for t in starts if row["spec"] is not None and lo <= t <= row["spec"]]
        row["start"] = start[-1] if start else None
    elif eot is not None:
        end, by = eot, "whisper"
    else:
        end, by = row.get("asr"), "transcript"
    return {**row, "end": end, "ended_by": by}


def kind(row: dict[str, Any]) -> str:
    """intents, llm, other, or cut: a reply the room heard begin before its speech end mark (over the
    user's speech: cut, or whole only by the continuation's merge; ``room_latency.first_reply``), in
    none of the latency figures."""
    if row.get("before_mark"):
        return "cut"
    return "llm" if row["intent"] == "-" else "intents" if row["intent"] is not None else "other"


def shares(row: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, a, b in SEGMENTS:
        x, y = row.get(a), row.get(b)
        out[name] = None if x is None or y is None else round(float(y) - float(x), 3)
    return out


def stat(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{np.percentile(values, 50):.3f} / {np.percentile(values, 95):.3f} (n={len(values)})"


def step_table(rows: list[dict[str, Any]]) -> str:
    kinds = ("intents", "llm")
    lines = ["| step (s) | intents p50 / p95 | LLM turns p50 / p95 |", "|---|---|---|"]
    for name, _, _ in SEGMENTS:
        cells = [stat([v for r in rows if kind(r) == k and (v := shares(r)[name]) is not None]) for k in kinds]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    for label, key in (("first sound from the clip's end", "speaker_clip_s"), ("from the room's mark", "speaker_s")):
        cells = [stat([r[key] for r in rows if kind(r) == k and r.get(key) is not None]) for k in kinds]
        lines.append(f"| **{label}** | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def end_waits(rows: list[dict[str, Any]]) -> str:
    """``text->end`` by what ended the turn: whisper's own end waits its base silence after the text
    (0.256 s from the speech end with ``default``), the orchestrator's command end does not (session 28:
    with 0.07-0.11 s decodes the text is in before the base silence has passed)."""
    lines = ["| text->end, ended by | intents p50 / p95 | LLM turns p50 / p95 |", "|---|---|---|"]
    for by in sorted({r["ended_by"] for r in rows}):
        cells = [stat([v for r in rows if kind(r) == k and r["ended_by"] == by
                       and (v := shares(r)["text->end"]) is not None]) for k in ("intents", "llm")]
        lines.append(f"| {by} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def totals(rows: list[dict[str, Any]]) -> str:
    lines = ["| turns | kind | from the room's mark p50 / p95 | from the clip's end p50 / p95 |", "|---|---|---|---|"]
    subsets = [("all", rows)]
    if any("whole" in r for r in rows):
        subsets += [("scored", [r for r in rows if not r.get("excluded")])]
        subsets += [("whole", [r for r in rows if r.get("whole") and not r.get("excluded")])]
    for label, items in subsets:
        for k in ("intents", "llm"):
            mine = [r for r in items if kind(r) == k]
            mark = stat([r["speaker_s"] for r in mine if r.get("speaker_s") is not None])
            clip = stat([r["speaker_clip_s"] for r in mine if r.get("speaker_clip_s") is not None])
            lines.append(f"| {label} | {k} | {mark} | {clip} |")
    return "\n".join(lines) + "\n"


def scored(rows: list[dict[str, Any]], turns: Path) -> None:
    """Mark each row whole/excluded from the room run's per-turn JSON (by the clip's id)."""
    by_id = {t["id"]: t for t in json.loads(turns.read_text())["rows"]}
    for r in rows:
        t = by_id.get(str(r["wav"]).removesuffix(".wav"))
        if t is not None:
            r["whole"], r["excluded"] = bool(t.get("whole")), bool(t.get("excluded"))


def load(folders: list[Path], turns: list[Path] | None) -> list[dict[str, Any]]:
    every: list[dict[str, Any]] = []
    for i, folder in enumerate(folders):
        commands, (starts, ends) = command_ends(folder), decodes(folder)
        onsets = [u["onset"] for u in json.loads((folder / "result.json").read_text())["utterances"]]
        rows = [
            with_end(r | {"onset": onsets[r["utterance"]]}, commands, starts, ends) | {"folder": str(folder)}
            for r in breakdown(folder)
        ]
        if turns:
            scored(rows, turns[i])
        every += rows
    return every


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--turns", nargs="*", type=Path, help="the runs' room_turns JSON, one per folder")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.turns and len(args.turns) != len(args.folders):
        parser.error("--turns takes one JSON per folder")
    rows = load(args.folders, args.turns)
    print(step_table(rows))
    print(end_waits(rows))
    print(totals(rows))
    for r in rows:
        if kind(r) == "cut":
            began = -r["speaker_s"]
            print(f"{r['wav']} {r['intent']}: the reply began {began:.3f} s before the room's mark (over the user)")
        if kind(r) == "intents":
            steps = " ".join(f"{k}={v}" for k, v in shares(r).items())
            print(f"{r['wav']} {r['intent']} ended_by={r['ended_by']} {steps} clip={r['speaker_clip_s']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
