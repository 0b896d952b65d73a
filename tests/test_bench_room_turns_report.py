"""The room-turns report counts paused requests by their real pause and the word before it
(bench/room_turns_report.py by_pause)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: bench/

from bench.room_turns_report import by_pause, outcome


def row(
    pause: float, kind: str, *, whole: bool = True, miss: str | None = None, turns: int = 1, over: bool = False
) -> dict[str, Any]:
    return {
        "pause": pause,
        "pause_kind": kind,
        "whole": whole,
        "miss": miss,
        "turns_answered": turns,
        "excluded": False,
        "over_a_reply": over,
    }


def test_outcomes() -> None:
    assert outcome(row(0.9, "open")) == "whole"
    assert outcome(row(0.9, "open", whole=False, miss="cut")) == "cut"
    assert outcome(row(0.9, "open", whole=False, turns=0)) == "lost"
    assert outcome(row(0.9, "open", over=True)) == "excluded"


def test_by_pause_counts_cut_misheard_lost_per_pause_and_kind() -> None:
    rows = [
        row(0.9, "open", whole=False, miss="cut"),
        row(0.9, "can-end"),
        row(0.3, "open", whole=False, miss="misheard"),
        row(0.3, "can-end", whole=False, turns=0),
        row(0.6, "open", over=True),
        row(0.0, ""),
    ]
    lines = by_pause(
        [
            {"split": "held", "label": "x", "corpus_generation": 2, "rows": rows},
            {"split": "held", "label": "old", "rows": rows},
        ]
    )  # generation 1: not tabled
    table = [line for line in lines if line.startswith("| held/")]
    assert table == [
        "| held/x | 0 / 1 / 1 of 2 | 0 / 0 / 0 of 0 | 0 / 0 / 0 of 0 | 0 / 0 / 0 of 0 | 1 / 0 / 0 of 2 "
        "| 1 / 1 / 0 of 2 | 0 / 0 / 1 of 2 | 1 / 1 / 1 of 4 |"
    ]


def test_a_turn_heard_whole_with_wrong_words_is_counted_misheard() -> None:
    """Session 26's held-47 was scored whole ("Set the film to stop 2. 20 degrees.": 5 of its 6
    words heard, no cut) and nothing said it was misheard: its word error rate is 0.5 (one word
    replaced, two inserted) and the summary counts it, without calling it cut."""
    from bench.room_turns_report import fill_wer, summary
    from bench.turn_bench import word_error_rate

    said = "Set the thermostat to twenty degrees."
    assert word_error_rate(said, "Set the film to stop 2. 20 degrees.") == 0.5
    assert word_error_rate(said, "Set the thermostat to 20 degrees.") == 0.0
    assert word_error_rate("Yes.", "Yeah.") == 1.0
    rows = [
        {**row(0.9, "open"), "text": said, "answered": "Set the film to stop 2. 20 degrees."},
        {**row(0.9, "open"), "text": said, "answered": "Set the thermostat to 20 degrees."},
        {**row(0.0, ""), "text": "Yes.", "answered": "Yeah.", "whole": False, "miss": "misheard"},
    ]
    for r in rows:
        r.update(first_audio_s=0.5, intent="-", reply_heard_log_s=[], reply_heard_room_s=[], merges=0, method="whole")
    fill_wer(rows)
    assert [r["misheard"] for r in rows] == [True, False, False]  # the cut rule's own miss is not counted twice
    s = summary(rows)
    assert s["whole_misheard"] == "1/2"
    assert s["wer"] == "0.500 / 1.000 (n=3)"
    assert s["cut_paused"] == "0/2"  # "cut" means what it meant
