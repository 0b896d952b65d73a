"""``hearth serve`` starts the orchestrator once the engines answer ``describe``. Before: it
started alongside them, and the first turn (5 s after start) got ``services-unavailable`` while
whisper was still loading its model. Real engines (wyoming-whisper tiny.en, piper)."""

from __future__ import annotations

import asyncio
import io
import logging
import signal
import sys
from pathlib import Path

import pytest
from helpers import ROOT, free_port

from voice_runtime.home.config import load_config
from voice_runtime.home.supervisor import Supervisor
from voice_runtime.procs import ServiceProcess


async def test_serve_starts_the_orchestrator_after_the_engines_answer(tmp_path: Path) -> None:
    stt, tts, sat = free_port(), free_port(), free_port()
    config = tmp_path / "hearth.toml"
    config.write_text(f"""
state_dir = "{tmp_path / "state"}"
satellites = ["tcp://127.0.0.1:{sat}"]
[whisper]
port = {stt}
args = ["--model", "tiny.en"]
[kokoro]
port = {tts}
args = ["--provider", "piper", "--engines", "piper", "--no-warmup"]
[llama]
enabled = false
[orchestrator]
args = ["--handle", "tcp://127.0.0.1:9", "--data-dir", "{tmp_path / "data"}"]
""")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voice_runtime.home",
        "serve",
        "--config",
        str(config),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(ROOT),
    )
    home = ServiceProcess(proc, "", 0)
    try:
        assert await home.wait_log("service=orchestrator started", timeout=240), home.log[-30:]
        log = list(home.log)
    finally:
        code = await home.stop(signal.SIGTERM, timeout=60)
    assert code == 0, home.log[-20:]

    def first(*parts: str) -> int:
        return next((i for i, line in enumerate(log) if all(p in line for p in parts)), len(log))  # len: never

    started = first("service=orchestrator started")
    assert first("service=whisper", "listening uri=") < started, log
    assert first("service=kokoro", "listening uri=") < started, log
    assert first("service=orchestrator starting: the engines answer after") < started, log


class _Watch(io.StringIO):
    """The supervisor's relayed output; ``seen`` is set once a line holds ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = asyncio.Event()

    def write(self, s: str) -> int:
        if self.text in s:
            self.seen.set()
        return super().write(s)


async def test_an_engine_that_never_answers_delays_the_orchestrator_only_so_long(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="voice_runtime.home.supervisor")
    config = tmp_path / "hearth.toml"
    config.write_text(f"""
state_dir = "{tmp_path / "state"}"
satellites = ["tcp://127.0.0.1:{free_port()}"]
[whisper]
port = {free_port()}
args = ["--model", "no-such-model"]
[kokoro]
enabled = false
[llama]
enabled = false
[orchestrator]
args = ["--tts", "tcp://127.0.0.1:9", "--handle", "tcp://127.0.0.1:9", "--data-dir", "{tmp_path / "data"}"]
""")
    out = _Watch("service=orchestrator ")
    supervisor = Supervisor(load_config(config), out=out, ready_seconds=1.5)
    running = asyncio.create_task(supervisor.run())
    try:
        await asyncio.wait_for(out.seen.wait(), 120)  # the orchestrator runs, whisper or not
    finally:
        supervisor.stop()
        await asyncio.wait_for(running, 60)
    said = [r.getMessage() for r in caplog.records]
    assert any("service=orchestrator starting anyway: services=whisper not ready after" in m for m in said), said
