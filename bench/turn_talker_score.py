"""Scoring of ``bench/turn_talker_live.py`` runs, per turn (session 20).

Session 19 attributed the orchestrator's turn lines to slots by the time they were LOGGED: a
request's turn cancelled by the next slot's wake word counted as a transcript in that (TV-only)
slot, and a cancelled turn counted as a request answered. Here each turn belongs to the slot in
which the satellite STARTED it (its ``run-pipeline``; the satellite's and the orchestrator's turn
numbers are the same), and a request is answered when a turn of its slot was answered with a reply
the satellite got. Per turn also: what opened it (the wake word, or speech without it: a
continuation, a barge-in, a follow-up) and whether the talker gate ever heard the talker in it.

    .venv/bin/python bench/turn_talker_score.py DIR [DIR ...]   # re-score kept run directories
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.turn_background import COMMANDS, TV  # noqa: E402

_SAT = re.compile(r'^ts=(\S+) level=\w+ logger=(\S+) msg="(.*)"$')


def _wall(ts: str) -> float:
    return dt.datetime.fromisoformat(ts).replace(tzinfo=dt.UTC).timestamp()


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def grams(text: str, n: int) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


TV_GRAMS = set().union(*[grams(t, 3) for t in TV + COMMANDS])


def satellite_turns(log: str, wall0: float) -> dict[int, dict[str, Any]]:
    """Per satellite turn: start (scenario s), what opened it, the gate's summary, the reply text."""
    turns: dict[int, dict[str, Any]] = {}
    last: dict[str, Any] | None = None
    wake_at = trigger_at = float("-inf")
    trigger = ""
    for line in log.splitlines():
        m = _SAT.match(line)
        if not m:
            continue
        t, msg = _wall(m.group(1)) - wall0, m.group(3)
        if "wake word okay_nabu detected" in msg:
            wake_at = t
        elif s := re.match(r"state (\S+) -> streaming on (\S+)", msg):
            trigger, trigger_at = f"{s.group(1)}/{s.group(2)}", t
        elif s := re.match(r"turn (\d+) local run-pipeline", msg):
            opened = "wake word" if t - wake_at < 0.05 else trigger if t - trigger_at < 0.05 else "?"
            last = turns[int(s.group(1))] = {"start": round(t, 2), "opened": opened, "reply": None}
        elif last is not None and (s := re.match(r"talker gate: (\d+) of (\d+) .* talker heard: (\w+)", msg)):
            last["gated"] = f"{s.group(1)}/{s.group(2)}"
            last["talker_heard"] = s.group(3) == "True"
        elif last is not None and msg.startswith("reply text="):
            last["reply"] = (last["reply"] or "") + msg[len("reply text=") :].replace('\\"', '"').strip("'\"")
        elif last is not None and msg.startswith("controller error code="):
            last["error"] = msg.split()[1].removeprefix("code=")
    return turns


def orchestrator_turns(log: str) -> dict[int, tuple[str, str]]:
    """Per orchestrator turn: answered/cancelled and its transcript."""
    out = {}
    for line in log.splitlines():
        try:
            msg = json.loads(line)["msg"]
        except (ValueError, KeyError, TypeError):
            continue
        if m := re.search(r"^turn (\d+) (answered|cancelled);? .*?transcript=(.*) continued=\w+$", msg):
            text = m.group(3).replace('\\"', '"')
            out[int(m.group(1))] = (m.group(2), text[1:-1] if text[:1] in "'\"" else text)
    return out


def score(slots: list[dict[str, Any]], sat_log: str, orch_log: str, wall0: float) -> dict[str, Any]:
    """Per slot its turns (by start), and the summary."""
    sat, orch = satellite_turns(sat_log, wall0), orchestrator_turns(orch_log)
    request_grams = set().union(*[grams(s["request"], 3) for s in slots if s["request"]])
    rows = []
    for n, turn in sorted(sat.items()):
        kind, text = orch.get(n, ("?", ""))
        rows.append({"turn": n, **turn, "outcome": kind, "transcript": text,
                     "tv_words": bool((grams(text, 3) & TV_GRAMS) - request_grams)})  # fmt: skip
    for i, slot in enumerate(slots):
        end = slots[i + 1]["at"] if i + 1 < len(slots) else float("inf")
        slot["turns"] = [r for r in rows if slot["at"] <= r["start"] < end]
    tv = [s for s in slots if s["request"] is None]
    said = [s for s in slots if s["request"] is not None]

    def answered(s: dict[str, Any]) -> bool:
        return any(r["outcome"] == "answered" and r["transcript"].strip() and r["reply"] for r in s["turns"])

    def word_for_word(s: dict[str, Any]) -> bool:
        return any(grams(s["request"], 2) <= grams(r["transcript"], 2) for r in s["turns"])

    return {
        "turns": len(rows),
        "turns_without_the_wake_word": sum(r["opened"] != "wake word" for r in rows),
        "turns_the_talker_was_never_heard_in_without_the_wake_word": sum(
            r["opened"] != "wake word" and r.get("talker_heard") is False for r in rows
        ),
        "turns_with_tv_words": sum(r["tv_words"] for r in rows),
        "tv_sessions": len(tv),
        "tv_sessions_with_a_transcript": sum(any(r["transcript"].strip() for r in s["turns"]) for s in tv),
        "tv_sessions_with_a_reply": sum(any(r["reply"] for r in s["turns"]) for s in tv),
        "tv_sessions_error_only": sum(
            bool(s["turns"]) and all(r.get("error") and not r["reply"] for r in s["turns"]) for s in tv
        ),
        "requests": len(said),
        "requests_answered": sum(answered(s) for s in said),
        "requests_word_for_word": sum(word_for_word(s) for s in said),
    }


def plan(sessions: int) -> list[dict[str, Any]]:
    """The slots ``turn_talker_live.write_scenario`` lays out (without writing the audio)."""
    from bench.turn_corpus import build
    from bench.turn_talker_live import SLOT

    requests = [r for r in build() if r.split == "tune" and r.noise_dbfs is None][: sessions // 2]
    return [
        {"at": 3.0 + i * SLOT, "request": requests[i // 2].text if i % 2 else None,
         "id": requests[i // 2].id if i % 2 else "tv"}
        for i in range(sessions)
    ]  # fmt: skip


def rescore(run: Path, sessions: int) -> dict[str, Any]:
    """A kept run directory: the scenario's start on the wall clock from the satellite's
    ``audio-stop ... at mic X s`` lines (mic time from the room's mic reader connecting; the first
    and last line of a run agree within 0.02 s; the first wake word may have been missed)."""
    result = json.loads((run / "result.json").read_text())
    sat_log = (run / "run.log").read_text(errors="replace")
    reader = next(e["t"] for e in result["devices"] if e["event"] == "reader connected")
    wall0 = next(
        _wall(m.group(1)) - float(a.group(1)) - reader
        for line in sat_log.splitlines()
        if (m := _SAT.match(line)) and (a := re.search(r"audio-stop to the controller at mic ([\d.]+)s", m.group(3)))
    )
    slots = plan(sessions)
    summary = score(slots, sat_log, (run / "orchestrator.log").read_text(errors="replace"), wall0)
    return {"summary": summary, "slots": slots}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--sessions", type=int, default=20)
    args = parser.parse_args()
    for run in args.runs:
        scored = rescore(run, args.sessions)
        print(run, json.dumps(scored["summary"]))
        for slot in scored["slots"]:
            print(" ", slot["id"], repr(slot["request"]))
            for r in slot["turns"]:
                print("     ", r)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
