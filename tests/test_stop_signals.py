"""SIGTERM/SIGINT stop every long-running program the same way (voice_runtime.signals): a real
process gets a real signal, exits 0 and says why it stopped."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest
from helpers import ROOT, ServiceProcess, free_port, start_service

from voice_runtime.procs import start_process

ECHO = str(ROOT / "tests" / "echo_service.py")


async def _stopped_cleanly(service: ServiceProcess, sig: signal.Signals) -> None:
    code = await service.stop(sig, timeout=30)
    assert code == 0, service.log[-20:]
    assert any(f"stopping on signal {sig.name}" in line for line in service.log), service.log[-20:]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_server_stops_on_a_signal(sig: signal.Signals) -> None:
    service = await start_service("echo", command=[sys.executable, ECHO])
    await _stopped_cleanly(service, sig)


async def test_the_session_recorder_stops_on_sigterm(tmp_path: Path) -> None:
    record = ["record", "--listen", f"tcp://127.0.0.1:{free_port()}", "--server", f"tcp://127.0.0.1:{free_port()}"]
    service = await start_process(
        [sys.executable, "-m", "voice_runtime.session", *record, "--out", str(tmp_path / "s.jsonl")],
        ready_marker="listening uri=",
        timeout=60,
    )
    await _stopped_cleanly(service, signal.SIGTERM)


async def test_hearth_and_its_orchestrator_stop_on_sigterm(tmp_path: Path) -> None:
    # No engines (nothing answers at port 9 of loopback) and no satellite: the orchestrator serves
    # and re-dials; SIGTERM to the supervisor reaches it as SIGTERM too.
    nowhere = "tcp://127.0.0.1:9"
    config = tmp_path / "hearth.toml"
    config.write_text(f"""
state_dir = "{tmp_path / "state"}"
satellites = ["tcp://127.0.0.1:{free_port()}"]
[whisper]
enabled = false
[kokoro]
enabled = false
[llama]
enabled = false
[orchestrator]
args = ["--asr", "{nowhere}", "--tts", "{nowhere}", "--handle", "{nowhere}", "--data-dir", "{tmp_path / "data"}"]
""")
    home = await start_process(
        [sys.executable, "-m", "voice_runtime.home", "serve", "--config", str(config)],
        ready_marker="serving satellites=",
        timeout=60,
    )
    await _stopped_cleanly(home, signal.SIGTERM)
    orchestrator = [line for line in home.log if "service=orchestrator" in line]
    assert any("stopping on signal SIGTERM" in line for line in orchestrator), orchestrator[-20:]
    assert any("all services stopped" in line for line in home.log)
