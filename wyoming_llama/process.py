"""The managed ``llama-server`` child process: start, health checks, restarts, stop.

* Started without a shell on a free loopback port; the child asks the kernel to SIGKILL it
  when its parent dies (``prctl(PR_SET_PDEATHSIG)``), so even a SIGKILL of our server leaves
  no orphan. The spawn happens on the event-loop thread: the death signal follows the
  *thread* that forked, and a worker thread may exit at any time.
* Ready when ``/health`` answers 200 (polled, bounded by ``startup_timeout``; a child that
  exits meanwhile fails at once). A failed first start is retried like a crash.
* A monitor task notices an exit at once and probes ``/health`` every ``health_interval``
  seconds; ``health_failures`` failed probes in a row count as a hang, unless a reply streamed
  a token (or was sent) within the last health period (a probe starved by CPU load is not a hang; a
  stopped process streams nothing, so it is still caught). Either way the
  process is killed and restarted, up to ``max_restarts`` attempts with ``restart_delays``
  between them. If it cannot come back the state becomes ``failed`` and every waiter gets
  :class:`LlamaUnavailable` at once instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from voice_runtime import llama_check
from voice_runtime.clock import Clock, MonotonicClock
from voice_runtime.procs import free_port
from voice_runtime.setup_models import gpu_present
from voice_runtime.tasks import TaskSet, cancel_and_wait, race

_LOGGER = logging.getLogger(__name__)

State = Literal["stopped", "starting", "ready", "restarting", "failed"]
PR_SET_PDEATHSIG = 1


class LlamaUnavailable(RuntimeError):
    """llama-server is not running and could not be (re)started."""


@dataclass(frozen=True)
class LlamaServerConfig:
    exe: Path
    model: Path
    context_size: int = 8192
    threads: int | None = None  # generation threads (None: llama-server's default, the physical cores)
    threads_batch: int | None = None  # prompt evaluation threads (None: as ``threads``)
    poll: int | None = None  # how hard idle worker threads busy-wait, 0-100 (None: llama-server's default, 50)
    # llama-server's --flash-attn (None: its own choice, "auto": on for this CPU). Off, its CPU attention
    # no longer slows with the conversation (bench/results/s29_llm.md, s30_llm.md): wyoming_llama's default
    # on a CPU (default_flash_attn); other numerics, so other greedy replies.
    flash_attn: str | None = None
    gpu_layers: int = -1  # -1: all layers (no effect without a GPU)
    parallel: int = 4  # slots: replies generated at once (batched), sharing one KV pool
    # llama-server's host prompt cache for conversations that lost their slot (its default: 8192 MiB).
    # 0: off; each conversation's prompt stays in the shared KV cache instead (see __main__).
    cache_ram_mib: int = 0
    # CPU priority of llama-server (nice, 0-19; 0: the same as the other services). Session 19
    # measured the default 10 against 0 on this 2-core box: in the room (held 2/2, paired) nice 10
    # made an LLM turn's first sound 4.2 s later (p50) and 4 of 7 went unanswered for >12 s vs 1,
    # while with another satellite's reply being written, nice 10 saved whisper's final decode
    # only ~0.06 s p50 (bench/llama_nice_whisper_bench.py): the LLM is on every LLM turn's path.
    nice: int = 0
    # nice while llama-server only writes a reply's rest or a prefill (priority.py; <= nice: off)
    tail_nice: int = 10
    host: str = "127.0.0.1"
    startup_timeout: float = 120.0
    health_interval: float = 30.0
    health_timeout: float = 10.0
    health_failures: int = 2
    max_restarts: int = 5
    restart_delays: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 8.0)
    extra_args: tuple[str, ...] = ()

    def command(self, port: int) -> list[str]:
        args = [
            str(self.exe), "--model", str(self.model), "--host", self.host, "--port", str(port),
            "--ctx-size", str(self.context_size), "--n-gpu-layers", str(self.gpu_layers),
            "--parallel", str(self.parallel), "--cache-prompt", "--cache-ram", str(self.cache_ram_mib),
            "--no-webui", "--metrics",
        ]
        if self.cache_ram_mib == 0:
            args.append("--no-cache-idle-slots")  # needs the prompt cache (llama-server warns otherwise)
        if self.parallel > 1:
            args.append("--kv-unified")  # one KV pool of --ctx-size: any slot may use all of it
        if self.threads:
            args += ["--threads", str(self.threads)]
        if self.threads_batch:
            args += ["--threads-batch", str(self.threads_batch)]
        if self.poll is not None:
            args += ["--poll", str(self.poll)]
        if self.flash_attn is not None:
            args += ["--flash-attn", self.flash_attn]
        return args + list(self.extra_args)


# Session 21 (bench/llama_threads_bench.py, bench/results/s21_llm.md): on this 2-CPU box one thread
# evaluated the prompt and streamed the reply faster than llama-server's default of two, at p50 and far
# more at p95, whenever anything else ran (always: whisper, the TTS, the satellite): two threads
# wait on each other at every op, and one of them is off the CPU whenever another task runs.
SMALL_BOX_CPUS = 2


def default_threads(cpus: int | None = None) -> int | None:
    """llama-server's ``--threads`` when none is given: 1 on a box of ``SMALL_BOX_CPUS`` CPUs or fewer
    (measured), else None (llama-server's own default, the physical cores: not measured here)."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0))
    return 1 if cpus <= SMALL_BOX_CPUS else None


def default_flash_attn(gpu_layers: int, gpu: bool | None = None) -> str | None:
    """llama-server's ``--flash-attn`` when none is given: "off" where the model runs on the CPU (no GPU,
    ``gpu`` None: looked up, or no layer offloaded), else None (llama-server's own choice). On this 2-CPU
    box its CPU kernel made a prompt token cost 34 ms against 18 off and a written one 63 against 52 over the
    room's LLM questions at load 3-7 (16 against 9 at load ~1.5; in a light-load room run no net change of the first
    audio: bench/results/s30_llm.md); greedy replies change as much as when a conversation
    lands in another slot (same server: 4 of 16 the same between two slots), and no more often on a rerun."""
    if gpu is None:
        gpu = gpu_present()
    return "off" if gpu_layers == 0 or not gpu else None


def _child_setup(parent: int, nice: int) -> None:
    """Runs in the child between fork and exec: SIGKILL me when my parent dies; lower my
    priority by ``nice`` (every thread llama-server starts inherits it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)
    if nice > 0:
        os.nice(nice)


class LlamaServerProcess:
    """Owns one llama-server child; :meth:`start` returns once it is healthy."""

    def __init__(self, config: LlamaServerConfig, *, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or MonotonicClock()
        self.state: State = "stopped"
        self.url = ""
        self.restarts = 0  # successful restarts since start
        self._proc: asyncio.subprocess.Process | None = None
        self._pump: asyncio.Task[None] | None = None
        self._monitor: asyncio.Task[None] | None = None
        self._tasks = TaskSet()  # owns the monitor and each child's log pump
        self._changed = asyncio.Condition()
        self._http = httpx.AsyncClient(timeout=config.health_timeout)
        self._log: deque[str] = deque(maxlen=40)
        self._progress_at = float("-inf")  # when a reply last streamed something
        # Started with --no-repack after a crash at start-up (a CPU whose weight-repacking path
        # crashes: AMX advertised but not usable in this VM, 2026-12-03: SIGSEGV in
        # ggml_backend_amx_mul_mat while the model loads).
        self.no_repack = False
        kept = llama_check.load(config.exe)  # set-up's start check of this build, if it made one
        if kept is not None and kept.flags is not None and llama_check.NO_REPACK in kept.flags:
            self.no_repack = True  # set-up saw it crash with repacking: no crash (and core dump) per start
            _LOGGER.info("llama-server starts with %s (set-up's start check: %s)", llama_check.NO_REPACK, kept.detail)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # -- public ------------------------------------------------------------------------
    async def start(self) -> None:
        """Start llama-server and wait until healthy; raises :class:`LlamaUnavailable`."""
        await self._set_state("starting")
        try:
            await self._spawn_and_wait()
        except LlamaUnavailable as err:  # e.g. the free port was taken meanwhile: retry like a crash
            _LOGGER.warning("llama-server failed to start: %s", err)
            if not await self._recover():
                raise
        else:
            await self._set_state("ready")
        self._monitor = self._tasks.spawn(self._watch(), name="llama-server monitor")

    async def wait_ready(self, timeout: float) -> str:
        """The base URL once llama-server is ready; raises at once when it has failed."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(self._settled)
        except TimeoutError as err:
            raise LlamaUnavailable(f"llama-server not ready within {timeout:.0f}s (state {self.state})") from err
        if self.state != "ready":
            raise LlamaUnavailable(f"llama-server is {self.state}")
        return self.url

    async def wait_for_state(self, *states: State, timeout: float | None) -> None:
        """Wait until the state is one of ``states`` (tests, tools; None: no time limit)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: self.state in states)

    def note_progress(self) -> None:
        """A reply is streaming: the server works, even if ``/health`` answers slowly."""
        self._progress_at = self.clock.now()

    def _busy_but_alive(self) -> bool:
        window = max(self.config.health_interval, self.config.health_timeout)
        return self.clock.now() - self._progress_at < window

    def _settled(self) -> bool:
        if self.state == "ready":  # a crash not yet noticed by the monitor is not ready
            return self._proc is not None and self._proc.returncode is None
        return self.state in ("failed", "stopped")

    async def stop(self) -> None:
        await cancel_and_wait(self._monitor)
        self._monitor = None
        await self._kill(graceful=True)
        await self._set_state("stopped")
        await self._tasks.close()
        await self._http.aclose()

    async def healthy(self) -> bool:
        try:
            response = await self._http.get(f"{self.url}/health")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    # -- internals ---------------------------------------------------------------------
    async def _set_state(self, state: State) -> None:
        async with self._changed:
            self.state = state
            self._changed.notify_all()

    async def _spawn_and_wait(self) -> None:
        port = free_port()
        command = self.config.command(port)
        if self.no_repack and llama_check.NO_REPACK not in command:
            command.append(llama_check.NO_REPACK)
        self.url = f"http://{self.config.host}:{port}"
        parent, nice = os.getpid(), self.config.nice
        try:
            proc = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE, preexec_fn=lambda: _child_setup(parent, nice),
            )
        except OSError as err:
            raise LlamaUnavailable(f"cannot run {command[0]}: {err}") from err
        self._proc = proc
        assert proc.stderr is not None
        self._pump = self._tasks.spawn(self._drain(proc.stderr), name="llama-server log")
        _LOGGER.info("llama-server starting pid=%d url=%s model=%s", proc.pid, self.url, self.config.model.name)
        try:
            async with TaskSet() as watching, asyncio.timeout(self.config.startup_timeout):
                exited = watching.spawn(proc.wait(), name="llama-server exit", awaited=True)
                while not await self.healthy():
                    await asyncio.wait({exited}, timeout=0.1)  # poll, but notice an exit at once
                    if exited.done():
                        break
        except TimeoutError:
            await self._kill(graceful=False)
            raise LlamaUnavailable(
                f"llama-server not healthy within {self.config.startup_timeout:.0f}s: {self._tail()}"
            ) from None
        if proc.returncode is not None:
            code = proc.returncode
            await self._kill(graceful=False)
            if code in llama_check.CRASHES and not self.no_repack:
                self.no_repack = True
                _LOGGER.warning("llama-server crashed at start-up (signal %d): starting it again without weight "
                                "repacking (--no-repack; its CPU-specific paths, e.g. AMX, are not used)", -code)
                return await self._spawn_and_wait()  # the same start: no restart counted, no back-off
            raise LlamaUnavailable(f"llama-server exited with code {code}: {self._tail()}")
        _LOGGER.info("llama-server ready pid=%d url=%s", proc.pid, self.url)

    async def _watch(self) -> None:
        """Restart on exit (noticed at once) or on ``health_failures`` failed probes in a row."""
        failures = 0
        while True:
            proc = self._proc
            assert proc is not None
            await race(proc.wait(), self.clock.sleep(self.config.health_interval))
            if proc.returncode is not None:
                _LOGGER.warning("llama-server pid=%d exited code=%s; restarting", proc.pid, proc.returncode)
            else:
                if await self.healthy():
                    failures = 0
                    continue
                if self._busy_but_alive():
                    # Replies are streaming, so the server is not hung: a probe starved by CPU load
                    # must not get a working server killed mid-reply.
                    _LOGGER.warning("llama-server health check failed while a reply streams; not counted")
                    failures = 0
                    continue
                failures += 1
                _LOGGER.warning("llama-server health check failed (%d/%d)", failures, self.config.health_failures)
                if failures < self.config.health_failures:
                    continue
                _LOGGER.warning("llama-server pid=%d hung; killing and restarting", proc.pid)
            failures = 0
            if not await self._recover():
                return

    async def _recover(self) -> bool:
        await self._set_state("restarting")
        await self._kill(graceful=False)
        for attempt in range(self.config.max_restarts):
            delays = self.config.restart_delays
            delay = delays[min(attempt, len(delays) - 1)] if delays else 0.0
            if delay > 0:
                await self.clock.sleep(delay)
            _LOGGER.warning("restarting llama-server, attempt %d/%d", attempt + 1, self.config.max_restarts)
            try:
                await self._spawn_and_wait()
            except LlamaUnavailable as err:
                _LOGGER.warning("restart attempt %d failed: %s", attempt + 1, err)
                continue
            self.restarts += 1
            await self._set_state("ready")
            return True
        _LOGGER.error("llama-server could not be restarted after %d attempts; answering errors",
                      self.config.max_restarts)
        await self._set_state("failed")
        return False

    async def _kill(self, *, graceful: bool) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
            try:
                async with asyncio.timeout(10.0):
                    await proc.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._pump is not None:
            await asyncio.wait({self._pump}, timeout=2.0)  # the rest of its output, then stop it
            await cancel_and_wait(self._pump)
            self._pump = None

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            self._log.append(text)
            _LOGGER.debug("llama-server: %s", text)

    def _tail(self) -> str:
        return " | ".join(list(self._log)[-5:]) or "(no output)"

