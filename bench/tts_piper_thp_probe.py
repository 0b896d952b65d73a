"""Piper's first piece with glibc's malloc on transparent huge pages, paired (session 28, llm).

``ShrinkingSession`` gives onnxruntime's arena back after every run, so every first piece maps its
~30 MB of buffers again: ~7,400 page faults of 4 KiB each (session 27 found the kept arena 0.03-0.05 s
faster, for +60-122 MB). ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1`` makes glibc ``madvise`` its large
blocks for transparent huge pages (the kernel's ``enabled`` is ``madvise`` here): the same memory is
still given back after each run, but mapped again in 2 MiB pages (~20 faults).

One worker process per arm (a tunable, and onnxruntime's shared arena, are per process): ``shrink``
(main's: ``PiperEngine(kept_arena_mb=0)``, the arena given back after every run), ``kept96`` (this
branch's ``PiperEngine()`` default: the arena's first 96 MB kept, ``engine.kept_cpu_arena``),
``shrink+thp`` (main's, the tunable set; ``--thp``), ``no-shrink`` (the whole arena kept). Each arm
calls the engine's own ``synthesize`` (the service's path) up to its first audio.
The room's 9 uncached first pieces (``tts_piper_arena_probe.PIECES``), each arm in turn (the
order rotating), ``--rounds`` rounds; per arm the call -> first audio p50 / p95, the page faults per
call, the resident memory after every piece (max) and the paired difference against ``shrink``. After
each first piece the arm also speaks a reply's rest (``REST``, 100-120 characters, untimed), as a room
turn does before the next turn's first piece.

    .venv/bin/python bench/tts_piper_thp_probe.py --rounds 4 [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tts_piper_arena_probe import PIECES  # noqa: E402

THP = "glibc.malloc.hugetlb=1"
REST = ("which is the highest mountain on Earth and stands tall above the clouds, about 8,849 meters above "
        "the level of the sea.")
ARMS: dict[str, tuple[str, str | None]] = {"shrink": ("shrink", None), "kept96": ("kept96", None),
                                           "shrink+thp": ("shrink", THP), "no-shrink": ("keep", None)}


def worker(kind: str) -> int:
    """Reads a piece per line, answers ``seconds faults rss_mb`` per line."""
    import resource
    from collections.abc import Callable

    from bench.tts_piper_arena_probe import first_audio, voice
    from voice_runtime.models import resolve_piper
    from wyoming_kokoro.piper_engine import PiperEngine

    call: Callable[[str], float]
    if kind == "keep":
        piper = voice(shrink=False)

        def call(text: str) -> float:
            return first_audio(piper, text)
    else:
        engine = PiperEngine({"joe": resolve_piper()}, kept_arena_mb=96 if kind == "kept96" else 0)
        engine.load("joe")

        def call(text: str) -> float:
            started = time.monotonic()
            next(iter(engine.synthesize(text, "joe")))
            return time.monotonic() - started
    call("Warm up.")
    print("ready", flush=True)
    for line in sys.stdin:
        if line.startswith("REST:"):
            call(line[5:].strip())
            print("0 0 0", flush=True)
            continue
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        seconds = call(line.strip())
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        with open("/proc/self/statm") as fh:
            rss = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
        print(f"{seconds:.5f} {faults} {rss:.1f}", flush=True)
    return 0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--out", default=None)
    parser.add_argument("--thp", action="store_true", help="also the shrink+thp arm")
    parser.add_argument("--worker", choices=("shrink", "kept96", "keep"), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker)
    arms = {name: arm for name, arm in ARMS.items() if args.thp or name != "shrink+thp"}
    procs: dict[str, subprocess.Popen[str]] = {}
    for name, (kind, tunable) in arms.items():
        env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
        if tunable:
            env["GLIBC_TUNABLES"] = tunable
        procs[name] = subprocess.Popen([sys.executable, __file__, "--worker", kind],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    for proc in procs.values():
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    names = list(arms)
    rows: dict[str, list[tuple[float, int, float]]] = {name: [] for name in names}
    start = (time.strftime("%H:%M:%S", time.gmtime()), os.getloadavg()[0])
    for r in range(args.rounds):
        for i, piece in enumerate(PIECES):
            k = (r + i) % len(names)
            for name in names[k:] + names[:k]:
                proc = procs[name]
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(piece + "\n")
                proc.stdin.flush()
                answer = proc.stdout.readline().split()
                rows[name].append((float(answer[0]), int(answer[1]), float(answer[2])))
                proc.stdin.write("REST:" + REST + "\n")
                proc.stdin.flush()
                proc.stdout.readline()
    end = (time.strftime("%H:%M:%S", time.gmtime()), os.getloadavg()[0])
    for proc in procs.values():
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)
    print(f"{start[0]}-{end[0]} UTC, load {start[1]:.1f}-{end[1]:.1f}, n={len(rows[names[0]])} per arm")
    base = [row[0] for row in rows["shrink"]]
    summary: dict[str, Any] = {"utc": [start[0], end[0]], "load": [start[1], end[1]], "arms": {}}
    for name in names:
        times = [row[0] for row in rows[name]]
        diff = [a - b for a, b in zip(times, base, strict=True)]
        faults = statistics.median(row[1] for row in rows[name])
        rss = max(row[2] for row in rows[name])
        summary["arms"][name] = {"p50": statistics.median(times), "p95": pct(times, 0.95), "faults_p50": faults,
                                 "rss_max_mb": rss, "paired_p50": statistics.median(diff),
                                 "faster": sum(d < 0 for d in diff), "n": len(diff), "times": times}
        print(f"{name:11s} p50 {statistics.median(times):.3f} p95 {pct(times, 0.95):.3f}  faults/call {faults:>6.0f}  "
              f"rss max {rss:4.0f} MB  paired vs shrink p50 {statistics.median(diff):+.3f}, "
              f"faster in {sum(d < 0 for d in diff)}/{len(diff)}")
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
