"""Start a service as a child process and wait until it listens (demo, bench, tests)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

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

    @property
    def pid(self) -> int:
        return self.proc.pid

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


async def _pump_stderr(
    stream: asyncio.StreamReader, log: list[str], ready: asyncio.Event, marker: str, echo: bool
) -> None:
    while line := await stream.readline():
        text = line.decode(errors="replace").rstrip()
        log.append(text)
        if len(log) > 2000:
            del log[:1000]
        if echo:
            print(text, file=sys.stderr, flush=True)
        if marker in text:
            ready.set()


async def start_service(
    module: str,
    *args: str,
    port: int | None = None,
    ready_marker: str = "listening uri=",
    timeout: float = 300.0,
    env: dict[str, str] | None = None,
    echo: bool = False,
    python: str | None = None,
    command: list[str] | None = None,
) -> ServiceProcess:
    """Start ``python -m module --uri tcp://127.0.0.1:PORT args``; return once it logs ``ready_marker``.

    ``command`` replaces ``python -m module`` (a script, or a peer's console script).
    """
    port = port or free_port()
    uri = f"tcp://127.0.0.1:{port}"
    proc = await asyncio.create_subprocess_exec(
        *(command or [python or sys.executable, "-m", module]), "--uri", uri, *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, cwd=str(ROOT), env={**os.environ, **(env or {})},
    )
    assert proc.stderr is not None
    service = ServiceProcess(proc, uri, port)
    ready = asyncio.Event()
    service._pump = asyncio.create_task(_pump_stderr(proc.stderr, service.log, ready, ready_marker, echo))
    waiter = asyncio.create_task(ready.wait())
    exited = asyncio.create_task(proc.wait())
    await asyncio.wait({waiter, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for task in (waiter, exited):
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
    if not ready.is_set():
        await service.stop(signal.SIGKILL)
        raise RuntimeError(f"{module} did not start:\n" + "\n".join(service.log[-40:]))
    return service
