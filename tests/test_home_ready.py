"""``hearth serve`` starts the orchestrator once the engines answer ``describe``. Before: it
started alongside them, and the first turn (5 s after start) got ``services-unavailable`` while
whisper was still loading its model. Real engines (wyoming-whisper tiny.en, piper)."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from helpers import ROOT, free_port

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
