"""Process faults of wyoming_llama and its llama-server (``llama``: its own service for this module,
tests/conftest.py; the tests kill processes, in file order): llama-server killed
mid-reply or hung is restarted; our server killed leaves no orphan llama-server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from helpers import ServiceProcess, connected
from llama_service_harness import ask, check_reply, llama_child, not_running, ready_url
from wyoming.asr import Transcript
from wyoming.error import Error


async def test_sigkill_of_llama_server_mid_reply_then_automatic_restart(llama: ServiceProcess) -> None:
    await ready_url(llama)
    old_pid, _ = llama_child(llama)
    async with connected(llama.port) as client:
        await client.send(Transcript(text="Tell me a long story.", context={"conversation_id": "k"}))
        await client.recv_until("handled-chunk")
        os.kill(old_pid, signal.SIGKILL)
        events = await client.recv_until("error", timeout=60)
        assert "handled" not in [e.type for e in events]
        assert Error.from_event(events[-1]).code.startswith("llm-")  # type: ignore[union-attr]
        after = await ask(client, "What is two plus two?", "k")
    assert check_reply(after, "k").strip()
    new_pid, _ = llama_child(llama)
    assert new_pid != old_pid
    assert any("restarting llama-server, attempt 1/5" in line for line in llama.log)
    # the new llama-server's prompt cache is warmed again (the first start's warm-up was the first)
    assert await llama.wait_log("warm-up: system prompt evaluated into 1 slot(s)", count=2)


async def test_hung_llama_server_is_restarted(llama: ServiceProcess) -> None:
    await ready_url(llama)
    old_pid, _ = llama_child(llama)
    os.kill(old_pid, signal.SIGSTOP)  # alive but not answering: only the health check can tell
    try:
        async with connected(llama.port) as client:
            events = await ask(client, "Hello again.", "hang")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(old_pid, signal.SIGCONT)
    assert check_reply(events, "hang").strip()
    assert llama_child(llama)[0] != old_pid
    assert any("hung; killing and restarting" in line for line in llama.log)


async def test_sigkill_of_our_server_leaves_no_orphan(llama: ServiceProcess) -> None:
    await ready_url(llama)
    child, _ = llama_child(llama)
    pidfd = os.pidfd_open(child)
    try:
        exited: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def readable() -> None:
            if not exited.done():
                exited.set_result(True)

        asyncio.get_running_loop().add_reader(pidfd, readable)
        try:
            await llama.stop(signal.SIGKILL)
            await asyncio.wait_for(exited, 30)
        finally:
            asyncio.get_running_loop().remove_reader(pidfd)
    finally:
        os.close(pidfd)
    assert not_running(child)
