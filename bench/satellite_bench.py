"""Satellite benchmark: CPU while idle-listening, and barge-in reaction time.

    python bench/satellite_bench.py [--idle-seconds 20] [--runs 3] [--json results.json]

* Idle CPU: ``python -m satellite`` armed by a controller (which pings every 2 s, like Home
  Assistant), the mic a WAV of silence streamed in real time, the speaker a command (``cat``
  into /dev/null, as ``aplay`` would be). The satellite process's own CPU time over the
  window, as a percentage of one core (target ≤ 5 %).
* Barge-in reaction: a question, a long reply, the user interrupting 2.4 s after the
  question. Read off the speaker's timeline (written frame by frame with the mic): from the
  interruption's speech onset to the last sample of reply played (target ≤ 150 ms), and to
  the barge-in decision (the new turn's ``run-pipeline``, after ``--barge-in-min-seconds``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
from piper import PiperVoice
from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import async_read_event, async_write_event
from wyoming.ping import Ping
from wyoming.pipeline import RunPipeline
from wyoming.satellite import RunSatellite
from wyoming.snd import Played

from voice_runtime.audio import PCM16_MONO_16K, AudioFormat, convert, read_wav, write_wav
from voice_runtime.models import resolve_piper
from voice_runtime.procs import free_port

ROOT = Path(__file__).resolve().parent.parent
MS = 32



def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))


@contextlib.asynccontextmanager
async def satellite(*flags: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        # The scripted controller never ends a question itself: the satellite's VAD ends it after
        # 0.6 s, as before the 2 s --controller-end-seconds fallback (the script times the
        # interruption to land in the reply).
        sys.executable, "-m", "satellite", "--uri", f"tcp://127.0.0.1:{port}", "--no-wake-word",
        "--controller-end-seconds", "0.6", *flags,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=str(ROOT),
    )
    assert proc.stderr is not None
    while b"listening uri=" not in (line := await proc.stderr.readline()):
        if not line:
            raise RuntimeError("satellite did not start")
    drain = asyncio.create_task(proc.stderr.read())
    try:
        yield proc, port
    finally:
        proc.terminate()
        await proc.wait()
        await drain


class Controller:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, replies: list[bytes]) -> None:
        self.reader, self.writer, self.replies = reader, writer, replies
        self.turns: list[list[AudioChunk]] = []
        self.done = asyncio.Event()

    async def ping(self) -> None:
        while True:
            await asyncio.sleep(2.0)
            await async_write_event(Ping().event(), self.writer)

    async def run(self, turns_wanted: int) -> None:
        while (event := await async_read_event(self.reader)) is not None:
            if RunPipeline.is_type(event.type):
                self.turns.append([])
            elif AudioChunk.is_type(event.type):
                self.turns[-1].append(AudioChunk.from_event(event))
            elif AudioStop.is_type(event.type):
                if len(self.turns) >= turns_wanted:
                    self.done.set()
                    continue
                reply = self.replies[min(len(self.turns), len(self.replies)) - 1]
                await async_write_event(Transcript(text="x").event(), self.writer)
                await async_write_event(AudioStart(22050, 2, 1).event(), self.writer)
                for i in range(0, len(reply), 2048):
                    await async_write_event(AudioChunk(22050, 2, 1, reply[i:i + 2048]).event(), self.writer)
                await async_write_event(AudioStop().event(), self.writer)
            elif Played.is_type(event.type):
                self.done.set()


@contextlib.asynccontextmanager
async def controller(port: int, replies: list[bytes], turns_wanted: int) -> AsyncIterator[Controller]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    ctl = Controller(reader, writer, replies)
    await async_write_event(RunSatellite().event(), writer)
    tasks = [asyncio.create_task(ctl.run(turns_wanted)), asyncio.create_task(ctl.ping())]
    try:
        yield ctl
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()


async def idle_cpu(tmp: Path, seconds: float) -> dict[str, float]:
    write_wav(str(tmp / "silence.wav"), bytes(32000), PCM16_MONO_16K)
    async with satellite("--mic-wav", str(tmp / "silence.wav"), "--snd-command", "cat") as (proc, port), \
            controller(port, [], 1):
        await asyncio.sleep(2.0)  # settle
        start_cpu, start = cpu_seconds(proc.pid), time.monotonic()
        await asyncio.sleep(seconds)
        used, wall = cpu_seconds(proc.pid) - start_cpu, time.monotonic() - start
        rss_kb = rss_kib(proc.pid)
    return {"idle_cpu_percent_of_one_core": round(100.0 * used / wall, 2), "rss_mb": round(rss_kb / 1024, 1)}


def onset_ms(pcm: bytes, after_ms: int) -> int:
    samples = np.frombuffer(pcm, "<i2").astype(np.float64) / 32768.0
    step = 160  # 10 ms
    for i in range(after_ms * 16, len(samples) - step, step):
        if np.sqrt(np.mean(samples[i:i + step] ** 2)) > 0.01:
            return i // 16
    raise ValueError("no onset")


async def barge_in(tmp: Path, voice: PiperVoice, run: int) -> dict[str, float]:
    def say(text: str) -> bytes:
        return b"".join(c.audio_int16_bytes for c in voice.synthesize(text))

    question = convert(say("What is the weather like in Paris today?"), AudioFormat(22050, 2, 1), PCM16_MONO_16K)
    interruption = convert(say("Stop, tell me about London."), AudioFormat(22050, 2, 1), PCM16_MONO_16K)
    reply = bytes(13230) + say("The weather in Paris is sunny with a light breeze from the west, and the "
                               "temperature will reach twenty two degrees in the afternoon.")
    lead = bytes(16000) + question + bytes(int((2.2 + 0.2 * run) * 16000) * 2)
    mic_pcm = lead + interruption + bytes(48000)
    write_wav(str(tmp / "mic.wav"), mic_pcm, PCM16_MONO_16K)
    out = tmp / f"speaker{run}.wav"
    async with satellite("--mic-wav", str(tmp / "mic.wav"), "--snd-wav", str(out), "--snd-rate", "16000",
                         "--no-tones") as (_proc, port), controller(port, [reply, reply], 2) as ctl:
        await asyncio.wait_for(ctl.done.wait(), 60)
        turns = ctl.turns
    played, _ = read_wav(str(out))
    onset = onset_ms(mic_pcm, len(lead) // MS)
    end = (len(lead) + len(interruption)) // MS
    nonzero = np.flatnonzero(np.frombuffer(played[: end * MS], "<i2"))
    last_sound = int(nonzero[-1]) // 16 if nonzero.size else -1
    first = turns[1][0] if len(turns) > 1 else None
    decided = (first.timestamp or 0) + len(first.audio) // MS if first is not None else -1
    return {"onset_to_silent_ms": last_sound - onset, "onset_to_new_turn_ms": decided - onset,
            "new_turn_starts_before_onset_ms": onset - (first.timestamp or 0) if first else -1}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--idle-seconds", type=float, default=20.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json", help="also write the results here")
    return p


async def bench(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        results: dict[str, object] = dict(await idle_cpu(tmp, args.idle_seconds))
        voice = PiperVoice.load(resolve_piper())
        runs = [await barge_in(tmp, voice, i) for i in range(args.runs)]
    for key in runs[0]:
        values = [r[key] for r in runs]
        results[key] = {"median": statistics.median(values), "max": max(values), "runs": values}
    return results


def run() -> None:
    args = parser().parse_args()
    results = asyncio.run(bench(args))
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    run()
