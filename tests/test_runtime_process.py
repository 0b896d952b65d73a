"""The runtime as a real process: stdio://, SIGTERM shutdown with zeroconf unregistered."""

from __future__ import annotations

import asyncio
import signal
import sys

from helpers import ROOT, connected, free_port
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Describe, Info

from voice_runtime.discovery import browse
from voice_runtime.procs import start_service

ECHO = str(ROOT / "tests" / "echo_service.py")


async def test_stdio_server_answers_and_exits_at_end_of_input() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, ECHO, "--uri", "stdio://",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    await async_write_event(Describe().event(), proc.stdin)  # type: ignore[arg-type]
    info = await asyncio.wait_for(async_read_event(proc.stdout), 30)
    assert info is not None and Info.from_event(info).intent[0].name == "echo"
    await async_write_event(Event("echo", {"n": 1}, b"xyz"), proc.stdin)  # type: ignore[arg-type]
    echo = await asyncio.wait_for(async_read_event(proc.stdout), 30)
    assert echo is not None and echo.data == {"n": 1} and echo.payload == b"xyz"
    proc.stdin.close()
    assert await asyncio.wait_for(proc.wait(), 30) == 0


async def test_sigterm_cancels_work_closes_connections_and_unregisters_zeroconf() -> None:
    name = f"hearth-echo-{free_port()}"
    service = await start_service(
        "echo", "--zeroconf", "--zeroconf-name", name, command=[sys.executable, ECHO],
        ready_marker="zeroconf advertised",
    )
    try:
        found = await browse(timeout=5.0, interface="127.0.0.1", want=name)
        assert any(f.name == name and f.port == service.port for f in found)
        async with connected(service.port) as client:
            await client.send(Event("hang"))
            await client.send(Describe())
            assert (await client.recv(timeout=10)) is not None  # served while work hangs
            code = await service.stop(signal.SIGTERM, timeout=20)
            assert code == 0, service.log[-20:]
            assert await client.recv(timeout=10) is None  # our connection was closed
        assert any("stopping on signal" in line for line in service.log)
        gone = await browse(timeout=1.5, interface="127.0.0.1")
        assert all(f.name != name for f in gone)
    finally:
        await service.stop(signal.SIGKILL)
