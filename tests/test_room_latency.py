"""The room's per-turn latency breakdown says why a turn was slow (bench/room_latency.py slow_cause)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: bench/

from bench.room_latency import first_reply, slow_cause
from bench.room_latency_steps import kind, step_table


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


def test_a_reply_begun_before_the_room_s_mark_is_a_cut_not_its_restart() -> None:
    # session 30's held-55 (quiet rt-h2): the reply began at 47.51 s, 0.05 s before the room's mark, was
    # cut by the "please" over it and played again from 47.92 s; that restart was taken for the turn's
    # first sound (sat->speaker 0.474 s, the intents p95 0.244 s)
    held55 = {"onset": 46.106, "offset": 47.556}
    replies = [{"start": 34.34}, {"start": 47.51}, {"start": 47.92}, {"start": 63.26}]
    assert first_reply(held55, 59.963, replies) == 47.51
    assert first_reply({"onset": 60.263, "offset": 62.093}, 74.421, replies) == 63.26
    assert first_reply({"onset": 48.5, "offset": 49.0}, 50.0, replies) is None


def test_a_cut_is_in_no_latency_figure() -> None:
    whole = {"intent": "HassTurnOn", "clip_end": 4.2, "vad": 4.19, "sat": 4.42, "speaker": 4.50, "speaker_s": 0.5,
             "speaker_clip_s": 0.3}
    cut = whole | {"sat": 4.0, "speaker": 4.474, "speaker_s": 0.364, "before_mark": True}
    assert kind(cut) == "cut" and kind(whole) == "intents"
    table = step_table([whole, cut]).splitlines()
    assert table[-2] == "| **first sound from the clip's end** | 0.300 / 0.300 (n=1) | - |"
