"""Recorded client sessions replayed against our live engine servers (tests/sessions/*.jsonl).

Turn a bad live session into a regression test: record it with ``wyoming-session record``,
put the file here and add it below with the server it was recorded against.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from stack import Stack

from voice_runtime.session import load_session, replay_session

SESSIONS = Path(__file__).parent / "sessions"


@pytest.mark.parametrize(("name", "server"), [("whisper_command.jsonl", "whisper")])
async def test_recorded_session_replays_identically(name: str, server: str, stack: Stack) -> None:
    session = load_session(SESSIONS / name)
    report = await replay_session(session, getattr(stack, server).uri, timeout=120)
    assert report.ok, report.describe()
    assert any(e.type == "transcript" and "timer" in str(e.data.get("text", "")).lower() for e in report.received)
