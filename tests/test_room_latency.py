"""The room's per-turn latency breakdown says why a turn was slow (bench/room_latency.py slow_cause)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: bench/

from bench.room_latency import slow_cause


def test_a_weak_end_names_whisper_s_last_unfinished_judgement() -> None:
    # held-60 of the lead's session-17 run: "next song" (no final period) waited 1.23 s of silence.
    judged = [(10.2, False, "no final punctuation", "next song")]
    row = {"eot_silence": 1.23, "offset_early_s": 0.05}
    assert slow_cause(row, judged) == (
        "weak end: whisper heard 1.23 s of silence after 'no final punctuation' on 'next song'")


def test_the_room_s_early_mark_and_a_quick_turn() -> None:
    assert slow_cause({"eot_silence": 0.27, "offset_early_s": 1.08}, []) == "room's mark 1.08 s before the clip's end"
    assert slow_cause({"eot_silence": 0.27, "offset_early_s": 0.1}, [(1.0, True, "finished", "Lights off.")]) == ""
    assert slow_cause({"eot_silence": None, "offset_early_s": None}, []) == ""
