"""A program run to its exit by a test (a start-up check that must stop it with a message)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from helpers import ROOT


@dataclass(frozen=True)
class Exited:
    code: int
    stdout: str
    stderr: str


async def run_to_exit(*argv: str, timeout: float = 60.0) -> Exited:
    """Run ``argv`` in the repository (no stdin) until it exits; a program still running after
    ``timeout`` s (or when the test is cancelled) is killed, never left behind."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(ROOT),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Exited(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))
