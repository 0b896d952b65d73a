"""The clock's answer warmed and pinned (``orchestrator/warm_replies.keep_clock_warm``): what it saves, what it costs.

Starts a real ``wyoming_kokoro`` server (``--provider`` as given, default piper; ``--cache-mb`` as
given) and, per round, takes a minute no earlier round used:

* ``main``: the turn asks for the clock line cold (main's code never warms it): first audio-chunk;
* ``warm``: the line is pinned first (``synthesize`` with ``{"hearth_cache_pin": "clock-K"}``, what
  the orchestrator sends before each minute), ``--others`` other short replies pass through the
  server's LRU, then the turn asks: first audio-chunk. The warm-up's own cost is the server
  process's CPU seconds during it (``/proc/PID/stat`` utime+stime, 10 ms ticks) and its wall time.

Then, offline with Piper itself: where the hour and the minute fall in the spoken line (the length of
"It is", "It is four", "It is 4:17" spoken alone, leading silence trimmed), for ``answers.SPOKEN_AHEAD``.

    python -m bench.tts_clock_warm_probe [--rounds 8] [--others 20] [--cache-mb 16]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from bench.warm_replies_probe import first_audio
from orchestrator.warm_replies import clock_line, clock_slot, synthesize_once
from voice_runtime.models import resolve_piper
from voice_runtime.procs import start_service
from wyoming_kokoro.engine import trim_leading_silence
from wyoming_kokoro.piper_engine import PiperEngine


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def p50(values: list[float]) -> float:
    return round(statistics.median(values), 4)


async def run(rounds: int, others: int, provider: str, cache_mb: float) -> dict[str, object]:
    server = await start_service("wyoming_kokoro", "--provider", provider, "--engines", provider,
                                 "--cache-mb", str(cache_mb))
    cold: list[float] = []
    warm: list[float] = []
    warm_cpu: list[float] = []
    warm_wall: list[float] = []
    try:
        await first_audio(server.uri, "Warming up the engine.")
        for k in range(rounds):
            minute = dt.datetime(2026, 1, 1, 13, 0) + dt.timedelta(minutes=2 * k)
            cold.append(await first_audio(server.uri, clock_line(minute)))
            later = minute + dt.timedelta(minutes=1)
            cpu, began = cpu_seconds(server.pid), time.monotonic()
            await synthesize_once(server.uri, clock_line(later), None, pin=clock_slot(later))
            warm_wall.append(time.monotonic() - began)
            warm_cpu.append(cpu_seconds(server.pid) - cpu)
            for n in range(others):
                await synthesize_once(server.uri, f"Turned on light number {k * others + n}.", None)
            warm.append(await first_audio(server.uri, clock_line(later)))
    finally:
        await server.stop()
    return {"main_cold_first_audio_p50_s": p50(cold), "main_cold_s": [round(x, 4) for x in cold],
            "warm_first_audio_p50_s": p50(warm), "warm_s": [round(x, 4) for x in warm],
            "warm_up_cpu_p50_s": p50(warm_cpu), "warm_up_cpu_s": [round(x, 3) for x in warm_cpu],
            "warm_up_wall_p50_s": p50(warm_wall)}


def word_times() -> dict[str, float]:
    engine = PiperEngine({"joe": resolve_piper()})
    out: dict[str, float] = {}
    for text in ("It is", "It is four", "It is 4:17", "It is 4:17 PM."):
        audio = trim_leading_silence(np.concatenate(list(engine.synthesize(text, "joe"))), engine.sample_rate)
        out[text] = round(len(audio) / engine.sample_rate, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--others", type=int, default=20)
    parser.add_argument("--provider", default="piper", choices=("piper", "kokoro"))
    parser.add_argument("--cache-mb", type=float, default=16.0)
    args = parser.parse_args()
    load0, when = os.getloadavg()[0], time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    result = asyncio.run(run(args.rounds, args.others, args.provider, args.cache_mb))
    result.update({"provider": args.provider, "rounds": args.rounds, "others": args.others, "cache_mb": args.cache_mb,
                   "when": when, "load_start": round(load0, 2), "load_end": round(os.getloadavg()[0], 2),
                   "piper_spoken_lengths_s": word_times()})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
