"""Replay a recorded satellite session against the orchestrator (the orchestrator connects to the
replayed satellite, as it would to a real one) and compare what it sends with the recording.

To add one: record a live session with ``wyoming-session record --listen tcp://127.0.0.1:PORT
--server tcp://SATELLITE`` and point the orchestrator at PORT; drop the file in tests/sessions/.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from test_orchestrator_satellite import link_to

from orchestrator.intents import IntentRecognizer
from orchestrator.pipeline import Pipeline
from orchestrator.services import ServicePool
from voice_runtime.procs import ServiceProcess
from voice_runtime.session import CompareRules, load_session, replay_as_server

SESSIONS = Path(__file__).parent / "sessions"


def scene_file(folder: Path) -> Path:
    """The session was recorded when that command had a fixed answer; a user's own template
    (``--intents``, with its ``response``) gives the same answer today."""
    path = folder / "scene.yaml"
    path.write_text('language: en\nintents:\n  KitchenScene:\n    response: "Turned on the kitchen lights."\n'
                    '    data:\n      - sentences:\n          - "turn on [the] kitchen light[s]"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["satellite_intent_turn.jsonl"])
async def test_recorded_satellite_session(name: str, peers: tuple[ServiceProcess, ServiceProcess],
                                          tmp_path: Path) -> None:
    whisper, piper = peers
    session = load_session(SESSIONS / name)
    rules = CompareRules(ignore_types=frozenset({"ping", "pong", "info"}))
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    replay = asyncio.create_task(replay_as_server(session, started=port, rules=rules, step_timeout=90))
    pipeline = Pipeline(ServicePool("asr", [whisper.uri]), ServicePool("handle", []),
                        ServicePool("tts", [piper.uri]), intents=IntentRecognizer((scene_file(tmp_path),)))
    async with link_to(await port, pipeline) as link:
        report = await asyncio.wait_for(replay, 180)
        assert link.turns and link.turns[0].reply == "Turned on the kitchen lights."
    assert report.ok, report.describe()
