"""Set-up's start check of a ``llama-server`` build: does it load the default model and answer?

A native build can compile and still crash at its first start: session 19's VM advertised AMX
(amx_tile, amx_int8) that a process could not use, and its build died with SIGSEGV in the AMX
weight-repacking path while it loaded the model. Set-up finds that once, right after the build,
instead of the household's first question: it starts the build on the default model, waits for
``/health``, and on a crash at start-up tries again with ``--no-repack``. The verdict is kept next
to the executable (``start-check.json``), so later set-ups take seconds and ``wyoming_llama``
starts with the flags that worked from its first start (no crash, no core dump, each start).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from voice_runtime.procs import free_port

CHECK_FILE = "start-check.json"
NO_REPACK = "--no-repack"
CRASHES = (-signal.SIGSEGV, -signal.SIGILL, -signal.SIGBUS)  # llama-server's exit codes when it crashes


@dataclass(frozen=True)
class StartCheck:
    """``flags`` made the build start (``None``: it crashed with every set of flags tried)."""

    flags: tuple[str, ...] | None
    detail: str  # what happened, for set-up's output

    @property
    def works(self) -> bool:
        return self.flags is not None


def _health(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_once(exe: Path, model: Path, flags: tuple[str, ...], *, timeout: float = 180.0) -> int | None:
    """Start ``exe`` on ``model``; ``None`` once ``/health`` answers 200, else its exit code.

    Bounded by ``timeout`` while it neither answers nor exits (a hang counts as exit code 0)."""
    port = free_port()
    command = [str(exe), "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
               "--ctx-size", "512", "--parallel", "1", "--no-webui", *flags]
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if _health(f"http://127.0.0.1:{port}"):
                return None
            try:
                return proc.wait(timeout=0.2)  # exited (crashed, or refused the flags)
            except subprocess.TimeoutExpired:
                continue
        return 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def check(exe: Path, model: Path, *, start: Callable[[Path, Path, tuple[str, ...]], int | None] = start_once
          ) -> StartCheck:
    """Try the build as is, then (after a crash, not after any other failure) with ``--no-repack``."""
    code = start(exe, model, ())
    if code is None:
        return StartCheck((), "starts and answers")
    if code not in CRASHES:
        return StartCheck(None, f"did not start (exit code {code})")
    again = start(exe, model, (NO_REPACK,))
    if again is None:
        return StartCheck((NO_REPACK,), f"crashed at start-up (signal {-code}); starts with {NO_REPACK}")
    return StartCheck(None, f"crashed at start-up (signal {-code}), and with {NO_REPACK} too (exit {again})")


def save(exe: Path, result: StartCheck) -> None:
    target = exe.resolve().parent / CHECK_FILE
    tmp = target.with_suffix(".tmp")
    flags = list(result.flags) if result.flags is not None else None
    tmp.write_text(json.dumps({"flags": flags, "detail": result.detail}) + "\n")
    tmp.replace(target)


def load(exe: Path) -> StartCheck | None:
    """The kept verdict for this build (``exe`` may be the cache's symlink), if set-up checked it."""
    try:
        data = json.loads((exe.resolve().parent / CHECK_FILE).read_text())
    except (OSError, ValueError):
        return None
    flags = data.get("flags") if isinstance(data, dict) else None
    detail = str(data.get("detail", "")) if isinstance(data, dict) else ""
    if flags is None or not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        return StartCheck(None, detail)
    return StartCheck(tuple(flags), detail)
