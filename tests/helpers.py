"""Test helpers: run a service as a user does (a subprocess on a free port) and talk to it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from wyoming.event import Event, Eventable, async_read_event, async_write_event

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServiceProcess:
    proc: asyncio.subprocess.Process
    uri: str
    port: int
    log: list[str] = field(default_factory=list)
    _pump: asyncio.Task[None] | None = None

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._pump is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._pump, 5)
        return int(self.proc.returncode or 0)


async def _pump_stderr(stream: asyncio.StreamReader, log: list[str], ready: asyncio.Event, marker: str) -> None:
    while line := await stream.readline():
        text = line.decode(errors="replace").rstrip()
        log.append(text)
        if marker in text:
            ready.set()


async def start_service(
    module: str, *args: str, ready_marker: str = "listening uri=", timeout: float = 180.0,
    env: dict[str, str] | None = None,
) -> ServiceProcess:
    """Start ``python -m module --uri tcp://127.0.0.1:PORT args`` and wait for its 'listening' log line."""
    port = free_port()
    uri = f"tcp://127.0.0.1:{port}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, "--uri", uri, *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, cwd=str(ROOT), env={**os.environ, **(env or {})},
    )
    assert proc.stderr is not None
    service = ServiceProcess(proc, uri, port)
    ready = asyncio.Event()
    service._pump = asyncio.create_task(_pump_stderr(proc.stderr, service.log, ready, ready_marker))
    waiter = asyncio.create_task(ready.wait())
    exited = asyncio.create_task(proc.wait())
    done, _ = await asyncio.wait({waiter, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if exited not in done:
        exited.cancel()
    if not ready.is_set():
        await service.stop(signal.SIGKILL)
        raise RuntimeError(f"{module} did not start:\n" + "\n".join(service.log[-40:]))
    return service


class Client:
    """A minimal Wyoming client over TCP for tests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1") -> Client:
        reader, writer = await asyncio.open_connection(host, port, limit=16 * 1024 * 1024)
        return cls(reader, writer)

    async def send(self, event: Event | Eventable) -> None:
        await async_write_event(event if isinstance(event, Event) else event.event(), self.writer)

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def recv(self, timeout: float = 60.0) -> Event | None:
        return await asyncio.wait_for(async_read_event(self.reader), timeout)

    async def recv_until(self, event_type: str, timeout: float = 120.0) -> list[Event]:
        """Every event up to and including the first of ``event_type``."""
        events: list[Event] = []
        async with asyncio.timeout(timeout):
            while True:
                event = await async_read_event(self.reader)
                if event is None:
                    raise ConnectionError(f"closed before {event_type}; got {[e.type for e in events]}")
                events.append(event)
                if event.type == event_type:
                    return events

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def connected(port: int) -> AsyncIterator[Client]:
    client = await Client.connect(port)
    try:
        yield client
    finally:
        await client.close()
