"""The llama-server manager when llama-server cannot (re)start: errors at once, no hanging.

A real llama-server is started through a small wrapper script that execs it only while a
flag file exists; removing the flag makes every later start fail like a broken install.
"""

from __future__ import annotations

import logging
import os
import signal
import stat
from pathlib import Path

import pytest
from helpers import connected
from wyoming.asr import Transcript
from wyoming.error import Error
from wyoming.info import Info

from voice_runtime.models import resolve_llama_server, resolve_llm
from voice_runtime.server import ServerConfig, WyomingServer
from wyoming_llama.handler import LlamaHandler, LlamaService
from wyoming_llama.llm import GenerationSettings, LlmError, LocalProvider, ReplyStats
from wyoming_llama.process import LlamaServerConfig, LlamaServerProcess, LlamaUnavailable


def wrapper(tmp_path: Path, flag: Path) -> Path:
    script = tmp_path / "llama-server-wrapper"
    script.write_text(f'#!/bin/sh\n[ -e "{flag}" ] || exit 3\nexec "{resolve_llama_server()}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def config(exe: Path) -> LlamaServerConfig:
    return LlamaServerConfig(exe=exe, model=resolve_llm(), context_size=512, threads=1, startup_timeout=120,
                             restart_delays=(0.0, 0.05))


async def test_stop_ends_llama_server(tmp_path: Path) -> None:
    flag = tmp_path / "allowed"
    flag.touch()
    process = LlamaServerProcess(config(wrapper(tmp_path, flag)))
    await process.start()
    pid = process.pid
    assert pid is not None and process.state == "ready" and await process.healthy()
    await process.stop()
    assert process.state == "stopped" and process.pid is None
    assert gone(pid)  # our child, reaped by stop()


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


async def test_start_failure_is_reported_with_the_exit_code(tmp_path: Path) -> None:
    process = LlamaServerProcess(config(wrapper(tmp_path, tmp_path / "absent")))
    with pytest.raises(LlamaUnavailable, match="exited with code 3"):
        await process.start()
    assert process.state == "failed"
    with pytest.raises(LlamaUnavailable, match="is failed"):
        await process.wait_ready(60)
    await process.stop()


async def test_when_restarts_fail_every_request_gets_an_error_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wyoming_llama.process")
    flag = tmp_path / "allowed"
    flag.touch()
    process = LlamaServerProcess(config(wrapper(tmp_path, flag)))
    await process.start()
    provider = LocalProvider(process=process, ready_timeout=60)
    service = LlamaService(provider=provider, info=Info, system_prompt="", settings=GenerationSettings(max_tokens=4))
    server = WyomingServer(ServerConfig(uri="tcp://127.0.0.1:0"), lambda r, w: LlamaHandler(r, w, service=service))
    await server.start()
    try:
        assert process.state == "ready" and process.pid is not None
        flag.unlink()
        os.kill(process.pid, signal.SIGKILL)
        # Five attempts, each exiting with code 3, then "failed"; waiters are told at once.
        await process.wait_for_state("failed", timeout=60)
        with pytest.raises(LlamaUnavailable, match="is failed"):
            await process.wait_ready(60)
        assert process.state == "failed" and process.restarts == 0
        attempts = [r.getMessage() for r in caplog.records if "restarting llama-server, attempt" in r.getMessage()]
        assert attempts == [f"restarting llama-server, attempt {i}/5" for i in range(1, 6)]
        with pytest.raises(LlmError) as caught:
            async for _ in provider.stream([{"role": "user", "content": "hi"}], service.settings, ReplyStats()):
                pass
        assert caught.value.code == "llm-unavailable" and not caught.value.transient
        async with connected(server.port or 0) as client:
            await client.send(Transcript(text="Hello?"))
            events = await client.recv_until("error", timeout=10)
        assert [e.type for e in events] == ["error"]
        assert Error.from_event(events[0]).code == "llm-unavailable"
    finally:
        await server.stop()
        await process.stop()
        await provider.aclose()
    assert process.state == "stopped"
