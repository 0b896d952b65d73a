"""The room's per-step latency shares from the clip's end (bench/room_latency_steps.py): a turn the
orchestrator's command end ended is measured on whisper's clock, with its own decode."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: bench/

from bench.room_latency_steps import end_waits, kind, shares, with_end


def turn(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "onset": 2.0, "offset": 4.0, "clip_end": 4.2, "vad": 4.19, "start": 4.30, "spec": 4.39, "eot": None,
        "asr": 4.40, "text": 4.401, "tts": 4.41, "sat": 4.42, "speaker": 4.50, "intent": "HassTurnOn",
    }
    return row | changes


def test_a_command_end_is_its_transcript_and_the_decode_before_it() -> None:
    # held-46 of s23-fast-1: the command end's wall-clock line fell 0.02 s before its decode on
    # whisper's clock; an earlier decode (the pause's, 1.2 s before) was taken for it
    starts, ends = [3.0, 4.30], [3.1, 4.39]
    row = with_end(turn(spec=None, start=None), [4.37], starts, ends)
    assert row["ended_by"] == "command" and row["end"] == 4.40
    assert (row["start"], row["spec"]) == (4.30, 4.39)
    got = shares(row)
    assert got["decode"] == 0.09 and got["text->end"] == 0.01 and got["silero->decode"] == 0.11


def test_whisper_s_end_when_no_command_end_came_first() -> None:
    row = with_end(turn(eot=4.45), [], [4.30], [4.39])
    assert row["ended_by"] == "whisper" and row["end"] == 4.45
    assert shares(row)["text->end"] == 0.06
    assert kind(row) == "intents" and kind(turn(intent="-")) == "llm"


def test_the_shares_add_up_to_the_first_sound_from_the_clip_s_end() -> None:
    row = with_end(turn(eot=4.45, text=4.451, tts=4.46), [], [4.30], [4.39])
    assert abs(sum(v for v in shares(row).values() if v is not None) - (row["speaker"] - row["clip_end"])) < 1e-9


def test_the_wait_after_the_text_is_split_by_what_ended_the_turn() -> None:
    # whisper's own end waits its base silence after the text; the command end does not
    rows = [with_end(turn(eot=4.45), [], [4.30], [4.39]), with_end(turn(spec=None, start=None), [4.37], [4.30], [4.39]),
            with_end(turn(eot=4.50, intent="-"), [], [4.30], [4.39])]
    table = end_waits(rows).splitlines()
    assert table[2] == "| command | 0.010 / 0.010 (n=1) | - |"
    assert table[3] == "| whisper | 0.060 / 0.060 (n=1) | 0.110 / 0.110 (n=1) |"
