"""Recorded client sessions replayed against our live engine servers (tests/sessions/*.jsonl).

Turn a bad live session into a regression test: record it with ``wyoming-session record``,
put the file here and add it below with the server it was recorded against and the rule
for its text (LLM replies vary from run to run, so their text is not compared).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from stack import Stack

from voice_runtime.session import CompareRules, load_session, replay_session

SESSIONS = Path(__file__).parent / "sessions"


@pytest.mark.parametrize(
    ("name", "server", "text_rule"),
    [
        ("whisper_command.jsonl", "whisper", "normalized"),
        ("tts_one_shot.jsonl", "tts", "normalized"),
        ("llama_question.jsonl", "llama", "ignore"),
    ],
)
async def test_recorded_session_replays_identically(name: str, server: str, text_rule: str, stack: Stack) -> None:
    session = load_session(SESSIONS / name)
    rules = CompareRules(text=text_rule)  # type: ignore[arg-type]
    report = await replay_session(session, getattr(stack, server).uri, rules=rules, timeout=120)
    assert report.ok, report.describe()
    assert len(report.received) >= 3
