"""The runtime as a real process: stdio://, SIGTERM shutdown with zeroconf unregistered."""

from __future__ import annotations

import asyncio
import signal
import sys

from helpers import ROOT, connected, free_port
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Describe, Info
from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncZeroconf

from voice_runtime.discovery import SERVICE_TYPE, browse
from voice_runtime.procs import start_service

ECHO = str(ROOT / "tests" / "echo_service.py")


async def test_stdio_server_answers_and_exits_at_end_of_input() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, ECHO, "--uri", "stdio://",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    await async_write_event(Describe().event(), proc.stdin)
    info = await asyncio.wait_for(async_read_event(proc.stdout), 30)
    assert info is not None and Info.from_event(info).intent[0].name == "echo"
    await async_write_event(Event("echo", {"n": 1}, b"xyz"), proc.stdin)
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
    watcher = ZeroconfWatcher(name)
    await watcher.start()
    try:
        found = await browse(timeout=5.0, interface="127.0.0.1", want=name)
        assert any(f.name == name and f.port == service.port for f in found)
        await asyncio.wait_for(watcher.added.wait(), 10)  # the watcher, started before the stop, sees it
        async with connected(service.port) as client:
            await client.send(Event("hang"))
            await client.send(Describe())
            assert (await client.recv(timeout=10)) is not None  # served while work hangs
            assert not watcher.removed.is_set()
            code = await service.stop(signal.SIGTERM, timeout=20)
            assert code == 0, service.log[-20:]
            assert await client.recv(timeout=10) is None  # our connection was closed
        assert any("stopping on signal" in line for line in service.log)
        # The goodbye packet: without it the record would live on until its TTL (minutes).
        await asyncio.wait_for(watcher.removed.wait(), 10)
    finally:
        await watcher.stop()
        await service.stop(signal.SIGKILL)


class ZeroconfWatcher:
    """A browser on loopback that notes when the service ``name`` is added and removed."""

    def __init__(self, name: str) -> None:
        self.full_name = f"{name}.{SERVICE_TYPE}"
        self.added = asyncio.Event()
        self.removed = asyncio.Event()
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
            if name != self.full_name:
                return
            event = self.removed if state_change is ServiceStateChange.Removed else self.added
            loop.call_soon_threadsafe(event.set)

        self._zc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
        self._browser = AsyncServiceBrowser(self._zc.zeroconf, [SERVICE_TYPE], handlers=[on_change])

    async def stop(self) -> None:
        if self._browser is not None:
            await self._browser.async_cancel()
        if self._zc is not None:
            await self._zc.async_close()
