"""The end-to-end bench's servers: started together, their CPU and memory read from /proc."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from voice_runtime.procs import ServiceProcess, start_service


def proc_usage(pid: int) -> dict[str, float]:
    """Peak RSS (MB, VmHWM) and CPU seconds of a process and its children (llama-server)."""
    total_cpu, peak = 0.0, 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                pids += [int(p) for p in fh.read().split()]
    for p in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total_cpu += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak += int(line.split()[1]) / 1024
    return {"peak_rss_mb": round(peak, 1), "cpu_seconds": round(total_cpu, 2)}


def self_usage() -> dict[str, float]:
    """The bench process = the orchestrator (pipeline, satellite links) plus a little bench code."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2)}


OURS = ("wyoming_whisper", "wyoming_llama", "wyoming_kokoro")


class Stack:
    def __init__(self) -> None:
        self.procs: dict[str, ServiceProcess] = {}

    async def start_all(self, modules: dict[str, tuple[str, ...]],
                        others: dict[str, Coroutine[Any, Any, ServiceProcess]]) -> None:
        """Start our servers (name → module and flags) and ``others`` at once. Every one that started
        is kept for :meth:`stop` even when another failed (that failure is then raised)."""
        print(f"  starting {', '.join([*modules, *others])} …", flush=True)
        starts = {name: start_service(module, *flags) for name, (module, *flags) in modules.items()} | others
        results = await asyncio.gather(*starts.values(), return_exceptions=True)
        for name, result in zip(starts, results, strict=True):
            if isinstance(result, ServiceProcess):
                self.procs[name] = result
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def usage(self) -> dict[str, dict[str, float]]:
        out = {name: proc_usage(proc.pid) for name, proc in self.procs.items()}
        out["orchestrator (bench process)"] = self_usage()
        return out

    async def stop(self, logdir: Path) -> dict[str, int]:
        """Stop every server; keep its log in ``logdir``; return its count of warning/error lines."""
        problems = {}
        for name, proc in self.procs.items():
            await proc.stop()
            (logdir / f"{name}.log").write_text("\n".join(proc.log) + "\n")
            problems[name] = sum(("WARNING" in line or "ERROR" in line) for line in proc.log)
        return problems
