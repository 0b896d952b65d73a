"""bench/turn_talker_live.py's scoring (bench/turn_talker_score.py, session 20): a turn belongs to the
slot the satellite started it in, and a request is answered only by a turn answered with a reply.

Session 19 counted the orchestrator's turn lines by the time they were logged: the request below
(its turn cancelled when the next slot's wake word came) counted as answered AND as a transcript
in the TV-only slot after it. Logs in the satellite's and the orchestrator's formats, two slots.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.turn_talker_score import score

WALL0 = "2026-12-03T15:53:00.000"


def sat(second: float, msg: str) -> str:
    return f'ts=2026-12-03T15:53:{second:06.3f} level=info logger=satellite.core msg="{msg}"'


def orch(second: float, msg: str) -> str:
    return json.dumps({"ts": f"2026-12-03T15:53:{second:06.3f}", "level": "info", "logger": "x", "msg": msg})


SAT_LOG = "\n".join([
    sat(3.9, "wake word okay_nabu detected state=listening"),
    sat(3.9, "turn 1 local run-pipeline preroll_ms=30"),
    sat(6.0, "talker gate: 30 of 104 frames streamed as silence, 2 openings, talker heard: True"),
    sat(6.3, "state waiting -> streaming on speech-start"),  # the TV, right after the question
    sat(6.3, "turn 2 local run-pipeline preroll_ms=180"),
    sat(8.5, "talker gate: 81 of 81 frames streamed as silence, 0 openings, talker heard: False"),
    sat(14.2, "wake word okay_nabu detected state=waiting"),  # the next slot's wake word: the reply never came
    sat(14.2, "turn 3 local run-pipeline preroll_ms=0"),
    sat(19.2, "controller error code=no-speech text=no speech was recognised"),
    sat(19.2, "talker gate: 168 of 168 frames streamed as silence, 0 openings, talker heard: False"),
])  # fmt: skip
ORCH_LOG = "\n".join([
    orch(6.3, "turn 1 cancelled; 0 late audio chunk(s); transcript='How far away is the moon?' continued=False"),
    orch(14.2, "turn 2 cancelled; 0 late audio chunk(s); transcript='How far away is the moon?' continued=True"),
    orch(19.2, "turn 3 answered transcript='' continued=False"),
])  # fmt: skip


def test_turns_belong_to_the_slot_they_started_in_and_a_cancelled_turn_answers_nothing() -> None:
    import datetime as dt

    wall0 = dt.datetime.fromisoformat(WALL0).replace(tzinfo=dt.UTC).timestamp()
    slots: list[dict[str, Any]] = [
        {"at": 3.0, "request": "How far away is the moon?", "id": "tune-01"},
        {"at": 14.0, "request": None, "id": "tv"},
    ]
    summary = score(slots, SAT_LOG, ORCH_LOG, wall0)
    assert [r["turn"] for r in slots[0]["turns"]] == [1, 2] and [r["turn"] for r in slots[1]["turns"]] == [3]
    assert summary["requests_answered"] == 0  # session 19's count: 1 (a turn line in its slot)
    assert summary["requests_word_for_word"] == 1
    assert summary["tv_sessions_with_a_transcript"] == 0  # session 19's count: 1 (turn 2 logged at 14.2 s)
    assert summary["tv_sessions_error_only"] == 1  # the user heard the error tone, nothing else
    assert slots[0]["turns"][1]["opened"] == "waiting/speech-start"
    assert summary["turns_the_talker_was_never_heard_in_without_the_wake_word"] == 1
