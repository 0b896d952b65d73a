"""The scripted controller of ``bench/room_bench.py``: it drives the satellite in the room over
Wyoming TCP as Home Assistant would (run-satellite, a ping every 2 s), answers each question with a
long spoken reply and a turn that interrupted a reply with a short one, keeps what the satellite
streamed for each interrupting question, and samples the satellite's CPU from /proc."""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.ping import Ping
from wyoming.pipeline import RunPipeline
from wyoming.satellite import RunSatellite


class Controller:
    """Answers each turn: a long reply, or a short one for a turn that interrupted a reply."""

    def __init__(self, port: int, long_reply: bytes, short_reply: bytes, *, early: bool = False) -> None:
        self.port = port
        self.long_reply, self.short_reply = long_reply, short_reply
        # --barge-early: the first interruption of a cycle is answered with the long reply (it plays on the
        # speaker its hold restarted) and a second one lands early in it; that one's audio is kept apart.
        self.early = early
        self.in_a_row = 0  # interrupting turns since the last turn that was not one
        self.early_audio: list[bytes] = []
        self.turns = 0
        self.replying = False
        self.barge_turns = 0
        self.early_turns = 0
        self.barge_audio: list[bytes] = []  # what the satellite streamed for each interrupting question
        self.cpu: list[tuple[float, float]] = []  # (wall s, satellite CPU s) samples

    def sample_cpu(self) -> None:
        """The satellite process's CPU seconds so far (utime + stime), found by its --uri."""
        marker = f"tcp://127.0.0.1:{self.port}".encode()
        for stat in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                cmdline = stat.read_bytes()
                # the python, not its sh -c
                if marker not in cmdline or not re.search(rb"-m\0(satellite|bench\.sat_tap)\0", cmdline):
                    continue
                fields = (stat.parent / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks = os.sysconf("SC_CLK_TCK")
            self.cpu.append((time.monotonic(), (int(fields[11]) + int(fields[12])) / ticks))
            del self.cpu[1:-1]  # the first and the last sample are enough
            return

    async def run(self, ready: Path) -> None:
        for _ in range(200):
            try:
                client = AsyncTcpClient("127.0.0.1", self.port)
                await client.connect()
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            raise RuntimeError("satellite did not start")
        await client.write_event(RunSatellite().event())
        pinger = asyncio.create_task(self._ping_every(client, 2.0))  # as Home Assistant does (the idle timeout)
        # A turn opened on the room's noise right after arming (the start-up false trigger, issue
        # 15 item 4) gets an empty reply; the scenario clock starts once that has settled.
        started = asyncio.get_running_loop().time() + 2.0
        starter = asyncio.create_task(self._start_later(ready, 2.0))
        sampler = asyncio.create_task(self._sample_cpu_every(1.0, after=2.0))
        interrupted = False
        while (event := await client.read_event()) is not None:
            if asyncio.get_running_loop().time() < started:
                if AudioStop.is_type(event.type):
                    self.early_turns += 1
                    for early in (Transcript(text="").event(), AudioStart(rate=16000, width=2, channels=1).event(),
                                  AudioStop().event()):
                        await client.write_event(early)
                continue
            if RunPipeline.is_type(event.type):
                self.turns += 1
                interrupted = self.replying
                self.barge_turns += interrupted
                self.in_a_row = self.in_a_row + 1 if interrupted else 0
                if interrupted and len(self.barge_audio) < 100:
                    self.barge_audio.append(b"")
                if self.early and self.in_a_row == 2 and len(self.early_audio) < 100:
                    self.early_audio.append(b"")
            elif AudioChunk.is_type(event.type) and interrupted and self.barge_audio:
                self.barge_audio[-1] += AudioChunk.from_event(event).audio
                if self.early and self.in_a_row == 2 and self.early_audio:
                    self.early_audio[-1] += AudioChunk.from_event(event).audio
            elif AudioStop.is_type(event.type):
                await client.write_event(Transcript(text="question").event())
                audio = self.short_reply if interrupted and not (self.early and self.in_a_row == 1) else self.long_reply
                await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
                for pos in range(0, len(audio), 3200):
                    await client.write_event(AudioChunk(rate=16000, width=2, channels=1,
                                                        audio=audio[pos:pos + 3200]).event())
                await client.write_event(AudioStop().event())
                self.replying = True
            elif event.type == "played":
                self.replying = False
        sampler.cancel()
        pinger.cancel()
        await starter

    @staticmethod
    async def _ping_every(client: AsyncTcpClient, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            await client.write_event(Ping().event())

    async def _sample_cpu_every(self, seconds: float, after: float) -> None:
        await asyncio.sleep(after)
        while True:
            await asyncio.to_thread(self.sample_cpu)
            await asyncio.sleep(seconds)

    @staticmethod
    async def _start_later(ready: Path, delay: float) -> None:
        await asyncio.sleep(delay)
        await asyncio.to_thread(ready.touch)
