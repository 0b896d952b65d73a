"""The llama-server manager when llama-server cannot (re)start: errors at once, no hanging.

A real llama-server is started through a small wrapper script that execs it only while a
flag file exists; removing the flag makes every later start fail like a broken install.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import connected, start_service
from wyoming.asr import Transcript
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Info

from voice_runtime.models import resolve_llama_server, resolve_llm
from voice_runtime.server import ServerConfig, WyomingServer
from wyoming_llama.handler import LlamaHandler, LlamaService
from wyoming_llama.history import ChatMessage
from wyoming_llama.llm import GenerationSettings, LlmError, LocalProvider, ReplyStats
from wyoming_llama.process import LlamaServerConfig, LlamaServerProcess, LlamaUnavailable


def wrapper(tmp_path: Path, flag: Path) -> Path:
    script = tmp_path / "llama-server-wrapper"
    script.write_text(f'#!/bin/sh\n[ -e "{flag}" ] || exit 3\nexec "{resolve_llama_server()}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def config(exe: Path) -> LlamaServerConfig:
    return LlamaServerConfig(
        exe=exe, model=resolve_llm(), context_size=512, threads=1, startup_timeout=120, restart_delays=(0.0, 0.05)
    )


async def test_stop_ends_llama_server(tmp_path: Path) -> None:
    flag = tmp_path / "allowed"
    flag.touch()
    process = LlamaServerProcess(replace(config(wrapper(tmp_path, flag)), nice=10))
    await process.start()
    pid = process.pid
    assert pid is not None and process.state == "ready" and await process.healthy()
    # Every llama-server thread runs at the lower priority (--nice 10: 10 above ours).
    expected = min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
    threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    assert len(threads) > 1 and {os.getpriority(os.PRIO_PROCESS, t) for t in threads} == {expected}
    await process.stop()
    assert state(process) == "stopped" and process.pid is None
    assert gone(pid)  # our child, reaped by stop()


def state(process: LlamaServerProcess) -> str:
    """Its state now (read through a call: an earlier assert on ``process.state`` does not narrow it)."""
    return process.state


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
        assert state(process) == "failed" and process.restarts == 0
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
    assert state(process) == "stopped"


class StarvedHealth(LlamaServerProcess):
    """Fault injection: ``/health`` fails while ``starved`` is set, as a probe does when the CPU
    is so loaded that it times out, although llama-server itself keeps generating."""

    starved = False
    refused = 0  # probes failed while starved

    async def healthy(self) -> bool:
        if self.starved:
            self.refused += 1
            return False
        return await super().healthy()


async def test_failed_health_checks_while_a_reply_streams_do_not_kill_the_server(tmp_path: Path) -> None:
    flag = tmp_path / "allowed"
    flag.touch()
    cfg = replace(config(wrapper(tmp_path, flag)), health_interval=0.05, health_timeout=3.0, health_failures=2)
    process = StarvedHealth(cfg)
    await process.start()
    provider = LocalProvider(process=process, ready_timeout=60)
    try:
        pid = process.pid
        process.starved = True
        stats = ReplyStats()
        # 60 tokens (was 150): the reply only has to outlast more failed probes than make a hang.
        settings = GenerationSettings(max_tokens=60, temperature=0.0, extra={"ignore_eos": True})
        messages: list[ChatMessage] = [{"role": "user", "content": "Count from one to one hundred in words."}]
        pieces = [piece async for piece in provider.stream(messages, settings, stats)]
        refused_during_reply = process.refused
        # Many probes failed during the reply; none was counted: same process, whole reply.
        assert refused_during_reply > 2 * cfg.health_failures  # enough to have been a hang twice over
        assert process.pid == pid and process.restarts == 0 and process.state == "ready"
        assert stats.finish_reason == "length" and stats.completion_tokens == 60 and len(pieces) > 40
        # With no reply streaming, failed probes are a hang again: killed and restarted.
        await process.wait_for_state("restarting", timeout=30)
        process.starved = False
        await process.wait_for_state("ready", timeout=120)
        assert process.restarts == 1 and process.pid != pid
    finally:
        await process.stop()
        await provider.aclose()


async def test_real_llama_server_error_mid_reply_ends_it_with_an_error() -> None:
    """llama-server's shared KV cache (512 tokens for 2 slots) fills up while two long replies
    are generated: it reports "Context size has been exceeded." inside both streams, after
    tokens were sent. Each client gets an error after its chunks, never handled/handled-stop."""
    service = await start_service(
        "wyoming_llama",
        "--context-size",
        "512",
        "--parallel",
        "2",
        "--max-tokens",
        "440",
        "--temperature",
        "0",
        "--llm-option",
        "ignore_eos=true",
        "--threads",
        "1",
        "--max-sentences",
        "0",
        "--warm-up-slots",
        "0",
    )

    async def ask(conversation: str) -> list[Event]:
        async with connected(service.port) as client:
            await client.send(
                Transcript(
                    text="Tell me a very long story about a dragon and a knight.",
                    context={"conversation_id": conversation},
                )
            )
            return await client.recv_until("error", timeout=120)

    try:
        replies = await asyncio.gather(ask("a"), ask("b"))
    finally:
        await service.stop()
    for events in replies:
        types = [e.type for e in events]
        assert types[0] == "handled-start" and types.count("handled-chunk") >= 5, types
        assert "handled" not in types and "handled-stop" not in types
        error = Error.from_event(events[-1])
        assert error.code == "llm-failed" and "Context size has been exceeded" in (error.text or ""), error
