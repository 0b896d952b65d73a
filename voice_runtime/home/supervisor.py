"""Run the home server's services as child processes and keep them running.

Each enabled service is started (engines and the local satellite first); the orchestrator is
started once every engine answers ``describe`` (it listens: its model is loaded), or after
``READY_SECONDS`` with a warning, so the first turn does not meet a service still loading; a
restart of the orchestrator (after it exited) waits for the engines the same way. Its
output goes to the supervisor's stderr, each line prefixed with ``service=NAME``. A child
that exits is started again after a backoff (1, 2, 4 … 60 s; back to 1 s once a run lasted
``STABLE_SECONDS``), while the others keep running. ``status.json`` in the state directory says
what runs (written atomically at every change; ``hearth status`` reads it). SIGTERM/SIGINT stop
every child (SIGTERM, then SIGKILL after ``STOP_SECONDS``) and the supervisor exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

from ..backoff import Backoff, BackoffPolicy
from ..client import describe
from ..signals import on_stop_signal
from .config import ENGINES, HomeConfig  # ENGINES: what the orchestrator's turns need

_LOGGER = logging.getLogger(__name__)
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
STABLE_SECONDS = 60.0
SERVICE_BACKOFF = BackoffPolicy(first=BACKOFF_FIRST, cap=BACKOFF_MAX, healthy_after=STABLE_SECONDS)
STOP_SECONDS = 20.0
START_ORDER = ("whisper", "kokoro", "llama", "satellite", "orchestrator")
READY_SECONDS = 300.0  # the orchestrator starts then at the latest
READY_LOG_SECONDS = 10.0  # a progress line this often while waiting


async def answers(uri: str, timeout: float = 2.0) -> bool:
    """True if the service at ``uri`` answers describe within ``timeout`` s."""
    try:
        async with asyncio.timeout(timeout):
            await describe(uri, timeout)
    except (OSError, TimeoutError, ValueError):
        return False
    return True


@dataclass
class ChildStatus:
    name: str
    command: list[str]
    state: str = "starting"  # starting, waiting (the orchestrator, for the engines), running, backoff, stopped
    pid: int | None = None
    restarts: int = 0
    last_exit: int | None = None
    started: float | None = None  # wall clock of the current run
    next_start: float | None = None  # wall clock, while in backoff


@dataclass
class Supervisor:
    config: HomeConfig
    python: str = sys.executable
    out: TextIO = field(default=sys.stderr)
    ready_seconds: float = READY_SECONDS
    children: dict[str, ChildStatus] = field(default_factory=dict)
    _procs: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def status_path(self) -> Path:
        return self.config.state_dir / "status.json"

    async def run(self) -> None:
        """Start everything and supervise until :meth:`stop` (or SIGTERM/SIGINT)."""
        names = [n for n in START_ORDER if self.config.spec(n).enabled]
        if not names:
            raise SystemExit("nothing to run: every service is disabled")
        for name in names:
            self.children[name] = ChildStatus(name, self.config.command(name, self.python))
        try:
            with on_stop_signal(self._stopping.set):  # before the line a watcher may act on
                _LOGGER.info("supervising services=%s state=%s", ",".join(names), self.status_path)
                async with asyncio.TaskGroup() as group:
                    for name in names:
                        wait = self._engines_ready if name == "orchestrator" else None
                        group.create_task(self._keep_running(name, wait), name=f"supervise {name}")
                    group.create_task(self._stop_all_on_request(), name="supervisor stop")
        finally:
            self._write_status()
        _LOGGER.info("all services stopped")

    def stop(self) -> None:
        self._stopping.set()

    async def _engines_ready(self, name: str) -> None:
        """Return once every enabled engine answers, or after ``ready_seconds`` (a warning), or
        on stop: ``name`` (the orchestrator) starts then, at its first start and every restart."""
        waiting = [n for n in ENGINES if n in self.children]
        child = self.children[name]
        child.state = "waiting"
        self._write_status()
        began = time.monotonic()
        logged = began
        while waiting and not self._stopping.is_set():
            checks = await asyncio.gather(*(answers(self.config.uri(n)) for n in waiting))
            waiting = [n for n, ok in zip(waiting, checks, strict=True) if not ok]
            waited = time.monotonic() - began
            if not waiting:
                _LOGGER.info("service=%s starting: the engines answer after %.1fs", name, waited)
            elif waited >= self.ready_seconds:
                _LOGGER.warning(
                    "service=%s starting anyway: services=%s not ready after %.0fs (turns get "
                    "services-unavailable until they are)",
                    name,
                    ",".join(waiting),
                    waited,
                )
                break
            else:
                if time.monotonic() - logged >= READY_LOG_SECONDS:
                    logged = time.monotonic()
                    _LOGGER.info(
                        "service=%s waits for services=%s (%.0fs of at most %.0fs)",
                        name,
                        ",".join(waiting),
                        waited,
                        self.ready_seconds,
                    )
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):  # poll again, or stop at once
                        await self._stopping.wait()

    async def _keep_running(self, name: str, wait: Callable[[str], Awaitable[None]] | None = None) -> None:
        """Run ``name``, starting it again after each exit (backoff); ``wait`` before every start."""
        child = self.children[name]
        backoff = Backoff(SERVICE_BACKOFF)
        while not self._stopping.is_set():
            if wait is not None:
                await wait(name)
                if self._stopping.is_set():
                    break
            backoff.started()
            proc = await asyncio.create_subprocess_exec(
                *child.command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
            self._procs[name] = proc
            child.state, child.pid, child.started, child.next_start = "running", proc.pid, time.time(), None
            self._write_status()
            _LOGGER.info("service=%s started pid=%d", name, proc.pid)
            assert proc.stdout is not None
            await self._relay(name, proc.stdout)
            code = await proc.wait()
            child.last_exit, child.pid = code, None
            if self._stopping.is_set():
                break
            ran = backoff.lived()
            delay = backoff.after_exit()  # a run of STABLE_SECONDS resets the doubling
            child.restarts += 1
            child.state, child.next_start = "backoff", time.time() + delay
            self._write_status()
            _LOGGER.warning(
                "service=%s exited code=%d after %.1fs; restart %d in %.0fs (the others keep running)",
                name,
                code,
                ran,
                child.restarts,
                delay,
            )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stopping.wait()
        child.state = "stopped"
        self._write_status()

    async def _relay(self, name: str, stream: asyncio.StreamReader) -> None:
        prefix = f"service={name} "
        while line := await stream.readline():
            self.out.write(prefix + line.decode(errors="replace"))
            self.out.flush()

    async def _stop_all_on_request(self) -> None:
        await self._stopping.wait()
        _LOGGER.info("stopping services=%d", len(self._procs))
        # The orchestrator first (it holds the satellites), then the rest, all at once.
        procs = sorted(self._procs.items(), key=lambda item: item[0] != "orchestrator")
        for _name, proc in procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in procs:
            try:
                async with asyncio.timeout(STOP_SECONDS):
                    await proc.wait()
            except TimeoutError:
                _LOGGER.warning("service=%s did not stop in %.0fs; killing it", name, STOP_SECONDS)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()

    def _write_status(self) -> None:
        state = {
            "pid": os.getpid(),
            "updated": time.time(),
            "stopping": self._stopping.is_set(),
            "services": {n: asdict(c) for n, c in self.children.items()},
            "uris": {n: self.config.uri(n) for n in self.children if n != "orchestrator"},
        }
        try:
            self.config.state_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.status_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(state, indent=1))
            tmp.replace(self.status_path)
        except OSError as err:
            _LOGGER.warning("cannot write %s: %s", self.status_path, err)
