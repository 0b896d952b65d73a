"""Piper's kept arena through the real TTS server, paired (session 28, llm).

Two ``wyoming_kokoro --provider piper --engines piper --cache-mb 0`` servers from this tree: ``main``
(``--piper-kept-arena-mb 0``: the arena given back after every run, as main does) and ``kept`` (the
default). For each of the room's 9 first pieces (``tts_piper_arena_probe.PIECES``), each server in turn
(the order rotating) speaks a reply's 120-character rest (untimed) and then the piece, as one
``synthesize`` request each; per piece the request -> first audio-chunk time and the server process's
minor page faults (``/proc/PID/stat``) while it made the piece. ``--rounds`` rounds. Prints per arm p50 /
p95 and the paired difference.

    .venv/bin/python bench/tts_piper_kept_server_probe.py --rounds 3 [--out FILE.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tts_first_piece_bench import replay  # noqa: E402
from bench.tts_piper_arena_probe import PIECES  # noqa: E402
from bench.tts_piper_thp_probe import REST, pct  # noqa: E402
from voice_runtime.procs import ServiceProcess, start_service  # noqa: E402

ARMS = {"main": ("--piper-kept-arena-mb", "0"), "kept": ()}


def minflt(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[7])


async def run(rounds: int) -> dict[str, Any]:
    servers: dict[str, ServiceProcess] = {}
    try:
        for name, extra in ARMS.items():
            servers[name] = await start_service("wyoming_kokoro", "--provider", "piper", "--engines", "piper",
                                                "--cache-mb", "0", *extra)
            await replay(servers[name].uri, [(0.0, "Hello there.")])
        names = list(ARMS)
        rows: dict[str, list[tuple[float, int]]] = {name: [] for name in names}
        start = (time.strftime("%H:%M:%S", time.gmtime()), os.getloadavg()[0])
        for r in range(rounds):
            for i, piece in enumerate(PIECES):
                k = (r + i) % len(names)
                for name in names[k:] + names[:k]:
                    server = servers[name]
                    await replay(server.uri, [(0.0, REST)])
                    before = minflt(server.pid)
                    first, _gaps, _longest = await replay(server.uri, [(0.0, piece)])
                    rows[name].append((first, minflt(server.pid) - before))
        end = (time.strftime("%H:%M:%S", time.gmtime()), os.getloadavg()[0])
    finally:
        for server in servers.values():
            await server.stop()
    print(f"{start[0]}-{end[0]} UTC, load {start[1]:.1f}-{end[1]:.1f}, n={len(rows['main'])} per arm")
    base = [t for t, _f in rows["main"]]
    out: dict[str, Any] = {"utc": [start[0], end[0]], "load": [start[1], end[1]], "arms": {}}
    for name in names:
        times = [t for t, _f in rows[name]]
        diff = [a - b for a, b in zip(times, base, strict=True)]
        faults = statistics.median(f for _t, f in rows[name])
        out["arms"][name] = {"p50": statistics.median(times), "p95": pct(times, 0.95), "faults_p50": faults,
                             "paired_p50": statistics.median(diff), "faster": sum(d < 0 for d in diff),
                             "rows": rows[name]}
        print(f"{name:5s} p50 {statistics.median(times):.3f} p95 {pct(times, 0.95):.3f}  faults/piece {faults:>6.0f}  "
              f"paired vs main p50 {statistics.median(diff):+.3f}, faster in {sum(d < 0 for d in diff)}/{len(diff)}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = asyncio.run(run(args.rounds))
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
