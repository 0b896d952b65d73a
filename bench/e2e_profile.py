"""py-spy sampling of the end-to-end bench's processes (``bench/e2e_bench.py --profile DIR``)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

PLUMBING = ("<frozen", "threading.py", "asyncio/", "concurrent/futures", "__main__.py", "<module>")


class Profiler:
    """py-spy (``--profile``, install it into the venv) sampling processes during one phase."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: dict[str, asyncio.subprocess.Process] = {}

    async def start(self, pids: dict[str, int]) -> None:
        spy = Path(sys.executable).parent / "py-spy"
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, pid in pids.items():
            self.procs[name] = await asyncio.create_subprocess_exec(
                str(spy), "record", "--pid", str(pid), "--rate", "100", "--nonblocking", "--format", "raw",
                "--output", str(self.folder / f"{name}.txt"),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)

    async def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(2)  # SIGINT: py-spy writes its output and exits
        for proc in self.procs.values():
            await proc.wait()

    def summary(self, turns: int, top: int = 8) -> list[str]:
        """Per process: active CPU samples per turn and the functions holding the most samples."""
        lines = []
        for name in self.procs:
            path = self.folder / f"{name}.txt"
            if not path.is_file():
                continue
            leaf: dict[str, int] = {}
            inclusive: dict[str, int] = {}
            total = 0
            for line in path.read_text().splitlines():
                stack, _, count_text = line.rpartition(" ")
                if not count_text.isdigit():
                    continue
                count = int(count_text)
                total += count
                frames = stack.split(";")
                leaf[frames[-1]] = leaf.get(frames[-1], 0) + count
                for frame in set(frames):
                    inclusive[frame] = inclusive.get(frame, 0) + count
            lines += ["", f"### {name}: {total / 100 / max(turns, 1):.2f} s of active samples per turn", "",
                      "| self % | function (file:line) |", "|---|---|"]
            for frame, count in sorted(leaf.items(), key=lambda kv: -kv[1])[:top]:
                lines.append(f"| {100 * count / max(total, 1):.0f} | `{frame[:110]}` |")
            lines += ["", "| inclusive % | function (start-up and event-loop frames left out) |", "|---|---|"]
            ours_frames = {f: c for f, c in inclusive.items() if not any(x in f for x in PLUMBING)}
            for frame, count in sorted(ours_frames.items(), key=lambda kv: -kv[1])[:top]:
                lines.append(f"| {100 * count / max(total, 1):.0f} | `{frame[:110]}` |")
        return lines
