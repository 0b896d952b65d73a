"""One orchestrator per data dir: a second ``serve`` on the same timers.json used to load the
first's timers and then overwrite its file with its own set at every change; now it stops at
start and says which process holds the folder."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest
from helpers import ROOT, ServiceProcess, free_port

from orchestrator.timers import DataDirBusy, claim_data_dir
from voice_runtime.procs import start_process

NOWHERE = "tcp://127.0.0.1:9"  # nothing answers: the orchestrator serves and re-dials


def serve_command(data_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "orchestrator",
        "serve",
        "--asr",
        NOWHERE,
        "--tts",
        NOWHERE,
        "--handle",
        NOWHERE,
        "--satellite",
        f"tcp://127.0.0.1:{free_port()}",
        "--data-dir",
        str(data_dir),
    ]


async def serving(data_dir: Path) -> ServiceProcess:
    return await start_process(serve_command(data_dir), ready_marker="serving satellites=", timeout=60)


async def test_a_second_serve_on_the_same_data_dir_stops_at_start_and_leaves_the_timers_alone(
    tmp_path: Path,
) -> None:
    timers = tmp_path / "timers.json"
    kept = {
        "version": 1,
        "timers": [
            {
                "id": "a1",
                "owner": "tcp://kitchen:10700",
                "total_seconds": 600,
                "state": "paused",
                "deadline": None,
                "left": 300.0,
            }
        ],
    }
    timers.write_text(json.dumps(kept))
    first = await serving(tmp_path)
    try:
        second = await asyncio.create_subprocess_exec(
            *serve_command(tmp_path),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(ROOT),
        )
        _, err = await asyncio.wait_for(second.communicate(), 60)
        said = err.decode().strip().splitlines()
        assert second.returncode == 1, said
        assert said[-1] == (
            f"another orchestrator (pid {first.pid}) keeps its timers in {tmp_path}: stop it, "
            "or give this one its own --data-dir"
        ), said
    finally:
        assert await first.stop(signal.SIGTERM, timeout=30) == 0, first.log[-20:]
    assert json.loads(timers.read_text()) == kept
    again = await serving(tmp_path)  # the folder is free once the first has gone
    assert await again.stop(signal.SIGTERM, timeout=30) == 0


def test_a_claim_is_held_until_released(tmp_path: Path) -> None:
    claim = claim_data_dir(tmp_path / "new")  # the folder is made
    assert claim is not None
    with pytest.raises(DataDirBusy):
        claim_data_dir(tmp_path / "new")
    claim.release()
    again = claim_data_dir(tmp_path / "new")
    assert again is not None
    again.release()
    assert claim_data_dir(None) is None
