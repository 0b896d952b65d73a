"""Start a service as a child process and wait until it listens (demo, bench, tests)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .tasks import TaskSet

ROOT = Path(__file__).resolve().parent.parent


_BELOW_EPHEMERAL = 12000  # how many ports under the kernel's ephemeral range free_port draws from


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def free_port() -> int:
    """A loopback TCP port free now, drawn at random from just under the kernel's ephemeral range.

    ``bind(0)`` hands out a port from the ephemeral range, the same range every outgoing connection takes its
    local port from: between this call and the child's own bind, another test's client socket could take it
    (CI on session 26's merge: "address already in use" for a satellite under xdist). Under that range no
    outgoing connection takes it; ``bind(0)`` where the range starts too low to leave room."""
    top = _ephemeral_start()
    if top - _BELOW_EPHEMERAL >= 1024:
        for _ in range(50):
            port = random.randrange(top - _BELOW_EPHEMERAL, top)
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """A child process whose stderr log is collected and can be waited on."""

    def __init__(self, proc: asyncio.subprocess.Process, uri: str, port: int, *, echo: bool = False) -> None:
        self.proc = proc
        self.uri = uri
        self.port = port
        self.log: list[str] = []
        self.echo = echo
        self._changed = asyncio.Condition()
        assert proc.stderr is not None
        self._tasks = TaskSet()  # the log reader: ended by stop() even if a grandchild keeps stderr open
        self._pump = self._tasks.spawn(self._read(proc.stderr), name=f"log of pid {proc.pid}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            if self.echo:
                print(text, file=sys.stderr, flush=True)
            async with self._changed:
                self.log.append(text)
                if len(self.log) > 4000:
                    del self.log[:2000]
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    async def wait_log(self, text: str, count: int = 1, timeout: float = 60.0) -> bool:
        """Wait until ``text`` has appeared in ``count`` log lines; False if the process exited first."""
        return await self.wait_lines(lambda line: text in line, count, timeout)

    async def wait_lines(self, match: Callable[[str], bool], count: int = 1, timeout: float = 60.0) -> bool:
        """Wait until ``count`` log lines ``match``; False if the process exited first."""

        def seen() -> bool:
            return sum(map(match, self.log)) >= count or self._pump.done()

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(seen)
        return sum(map(match, self.log)) >= count

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            try:
                async with asyncio.timeout(timeout):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await asyncio.wait({self._pump}, timeout=5)  # the rest of the log
        await self._tasks.close()
        return int(self.proc.returncode or 0)


async def start_process(
    command: Sequence[str],
    *,
    ready_marker: str,
    timeout: float = 300.0,
    env: dict[str, str] | None = None,
    echo: bool = False,
    uri: str = "",
    port: int = 0,
    name: str | None = None,
) -> ServiceProcess:
    """Start ``command`` (stderr collected, run from the repository); return once it logs
    ``ready_marker``, else kill it and raise RuntimeError with its last log lines (``name``:
    what that error calls it, default the command's first words)."""
    proc = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(ROOT),
        env={**os.environ, **(env or {})},
    )
    service = ServiceProcess(proc, uri, port, echo=echo)
    try:
        ready = await service.wait_log(ready_marker, timeout=timeout)
    except TimeoutError:
        ready = False
    if not ready:
        await service.stop(signal.SIGKILL)
        raise RuntimeError(f"{name or ' '.join(command[:3])} did not start:\n" + "\n".join(service.log[-40:]))
    return service


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
    return await start_process([*(command or [python or sys.executable, "-m", module]), "--uri", uri, *args],
                               ready_marker=ready_marker, timeout=timeout, env=env, echo=echo, uri=uri, port=port,
                               name=module)
