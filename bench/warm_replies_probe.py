"""What warming the known intent replies saves (``orchestrator/warm_replies.py``): first audio, uncached vs cached.

Starts a real ``wyoming_kokoro`` server (``--provider`` as given, default piper) and, per round, asks
for each known reply with a text no earlier round asked (the date of another day, the no-home line
with a round number in its first clause), once uncached and once again (cached), timing the request to its
first ``audio-chunk`` as the orchestrator's ``speak_text`` does.

    python -m bench.warm_replies_probe [--rounds 5] [--provider piper]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import time

from wyoming.audio import AudioChunk, AudioStop
from wyoming.tts import Synthesize

from orchestrator.answers import clock_answer
from orchestrator.intents import NO_HOME_REPLY
from orchestrator.services import Connection
from voice_runtime.procs import start_service


async def first_audio(uri: str, text: str) -> float:
    conn = await Connection.open(uri)
    try:
        began = time.monotonic()
        await conn.send(Synthesize(text=text).event())
        first = None
        while True:
            event = await conn.recv(timeout=30)
            if first is None and AudioChunk.is_type(event.type):
                first = time.monotonic() - began
            if AudioStop.is_type(event.type):
                return first if first is not None else float("nan")
    finally:
        await conn.close()


async def run(rounds: int, provider: str) -> dict[str, object]:
    server = await start_service("wyoming_kokoro", "--provider", provider, "--engines", provider)
    try:
        await first_audio(server.uri, "Warming up the engine.")
        rows: dict[str, list[tuple[float, float]]] = {"date": [], "no_home": [], "clock": []}
        for k in range(rounds):
            day = dt.date(2026, 1, 1) + dt.timedelta(days=k)
            texts = {"date": clock_answer("HassGetCurrentDate", dt.datetime.combine(day, dt.time())),
                     # (a new first clause each round: the server caches each piece it speaks)
                     "no_home": NO_HOME_REPLY.replace("control", f"control {k} of the") if k else NO_HOME_REPLY,
                     # the clock's answer (not warmed: it changes every minute), another minute each round
                     "clock": clock_answer("HassGetCurrentTime", dt.datetime(2026, 1, 1, 15, 7 * k + 3))}
            for name, text in texts.items():
                rows[name].append((await first_audio(server.uri, text), await first_audio(server.uri, text)))
    finally:
        await server.stop()
    return {
        "provider": provider,
        "loadavg": os.getloadavg(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        **{name: {"uncached_p50_s": round(statistics.median(a for a, _ in r), 4),
                  "cached_p50_s": round(statistics.median(b for _, b in r), 4),
                  "uncached_s": [round(a, 4) for a, _ in r], "cached_s": [round(b, 4) for _, b in r]}
           for name, r in rows.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--provider", default="piper", choices=("piper", "kokoro"))
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.rounds, args.provider))))


if __name__ == "__main__":
    main()
