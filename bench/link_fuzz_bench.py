"""Fuzz the two ends of the satellite ↔ orchestrator link with malformed frames.

* ``link``: the orchestrator's :class:`SatelliteLink` (the dialing side) talks to a
  fault-injecting satellite (``FuzzingSatellite``, a TCP server): on every connection the
  link makes, it sends 5–60 frames from ``bench/fuzz_bench.py``'s mutator (flipped bytes,
  lying lengths, non-JSON, wrong field types, truncated frames, unknown types, valid
  satellite events in random orders: run-pipeline, audio, played…), then a ``ping`` probe,
  then closes. The link must answer bad events with an ``error`` and keep the session, drop a
  session whose stream can no longer be read, and always dial again.
* ``controller``: a real satellite process (``python -m satellite``, a silent WAV as its mic)
  is dialed by fuzzing controllers: ``run-satellite`` (the connection becomes the controller),
  then mutated frames. Afterwards the orchestrator's real link dials it and must be served:
  connected, ``info`` received, pings answered.

Counted: frames, ``error`` events back (by code), sessions, probes answered, the side still
alive, unhandled exceptions (an ``ERROR`` log record with a traceback from the orchestrator's
loggers, a task that died with an exception, or a traceback in the satellite's log), and
whether the link was re-established at the end.

    python bench/link_fuzz_bench.py [--frames 100000] [--targets link,controller]
Results: bench/results/link_fuzz.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wyoming.event import Event, async_read_event, async_write_event  # noqa: E402
from wyoming.ping import Ping, Pong  # noqa: E402
from wyoming.satellite import RunSatellite  # noqa: E402

from bench.fuzz_bench import CountingLog, encode, mutate  # noqa: E402
from orchestrator.pipeline import Pipeline  # noqa: E402
from orchestrator.satellite_link import LinkConfig, SatelliteLink  # noqa: E402
from orchestrator.services import ServicePool  # noqa: E402
from voice_runtime.audio import PCM16_MONO_16K, write_wav  # noqa: E402
from voice_runtime.procs import ServiceProcess, start_service  # noqa: E402
from voice_runtime.tasks import race  # noqa: E402


@dataclass
class LinkReport:
    target: str
    frames: int = 0
    errors_received: int = 0
    error_codes: dict[str, int] = field(default_factory=dict)
    sessions: int = 0
    probes_answered: int = 0
    probes_unanswered: int = 0
    alive: bool = True
    unhandled_exceptions: int = 0
    reestablished: bool = False
    seconds: float = 0.0

    def error(self, event: Event) -> None:
        self.errors_received += 1
        code = str(event.data.get("code"))
        self.error_codes[code] = self.error_codes.get(code, 0) + 1


class TracebackCounter(logging.Handler):
    """Counts log records that carry a traceback (an exception nobody turned into an error)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.examples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or "exception" in record.getMessage().lower():
            self.count += 1
            if len(self.examples) < 3:
                self.examples.append(self.format(record)[-600:])


class FuzzingSatellite:
    """A satellite that sends malformed frames to whoever dials it (fault injection)."""

    def __init__(self, frames: int, rng: random.Random, report: LinkReport) -> None:
        self.frames = frames
        self.rng = rng
        self.report = report
        self.done = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.port = 0
        self.serving: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop accepting; let the connections in progress end (each within ~1 s)."""
        if self.server is not None:
            self.server.close()
            await asyncio.wait(self.serving, timeout=5.0) if self.serving else None
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.serving.add(task)
        task.add_done_callback(self.serving.discard)
        pong = asyncio.Event()
        probe = f"probe-{self.report.sessions}"

        async def answers() -> None:
            with contextlib.suppress(Exception):
                while (event := await async_read_event(reader)) is not None:
                    if event.type == "error":
                        self.report.error(event)
                    elif Ping.is_type(event.type):
                        await async_write_event(Pong(text=Ping.from_event(event).text).event(), writer)
                    elif Pong.is_type(event.type) and Pong.from_event(event).text == probe:
                        pong.set()

        reading = asyncio.create_task(answers(), name="fuzzing satellite reader")
        try:
            if self.done.is_set():
                return
            for _ in range(self.rng.randrange(5, 60)):
                writer.write(mutate(self.rng))
                self.report.frames += 1
            writer.write(b"\n" + encode(Ping(text=probe).event()))  # a newline ends a cut-short header
            await writer.drain()
            waiter = asyncio.create_task(pong.wait())
            await asyncio.wait({waiter}, timeout=1.0)
            waiter.cancel()
            if pong.is_set():
                self.report.probes_answered += 1
            else:
                self.report.probes_unanswered += 1
            if self.report.frames >= self.frames:
                self.done.set()
        except OSError:
            pass
        finally:
            reading.cancel()
            with contextlib.suppress(BaseException):
                await reading
            writer.close()


async def fuzz_link(frames: int, seed: int) -> LinkReport:
    report = LinkReport("orchestrator satellite link")
    counter = TracebackCounter()
    logging.getLogger().addHandler(counter)
    died: list[str] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, ctx: died.append(f"{ctx.get('message')}: {ctx.get('task')!r}"[:600]))
    satellite = FuzzingSatellite(frames, random.Random(seed), report)
    await satellite.start()
    pipeline = Pipeline(ServicePool("asr", []), ServicePool("handle", []), ServicePool("tts", []))
    link = SatelliteLink(LinkConfig(f"tcp://127.0.0.1:{satellite.port}", reconnect_delay=0.01, ping_interval=0.5,
                                    ping_timeout=1.0), pipeline)
    started = time.monotonic()
    task = asyncio.create_task(link.run(), name="link under fuzz")
    try:
        await race(task, satellite.done.wait())
        report.alive = not task.done()
        report.sessions = link.sessions
        report.reestablished = link.sessions > 1 and report.alive
    finally:
        report.seconds = round(time.monotonic() - started, 1)
        await link.stop()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        await pipeline.close()
        await satellite.stop()
        logging.getLogger().removeHandler(counter)
        loop.set_exception_handler(None)
    report.unhandled_exceptions = counter.count + len(died)
    for example in counter.examples + died[:3]:
        print(example, file=sys.stderr)
    return report


async def fuzz_controller(frames: int, seed: int) -> LinkReport:
    report = LinkReport("satellite controller link")
    tmp = Path(tempfile.mkdtemp(prefix="link-fuzz-"))
    write_wav(str(tmp / "mic.wav"), bytes(32000), PCM16_MONO_16K)
    proc: ServiceProcess = await start_service("satellite", "--mic-wav", str(tmp / "mic.wav"), "--snd-wav",
                                               str(tmp / "speaker.wav"), "--no-tones")
    log = CountingLog(proc.log)
    proc.log = log
    rng = random.Random(seed)
    started = time.monotonic()
    try:
        while report.frames < frames and proc.proc.returncode is None:
            report.sessions += 1
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", proc.port, limit=1 << 24)
            except OSError:
                await asyncio.sleep(0.05)
                continue

            async def drain(reader: asyncio.StreamReader = reader) -> None:
                with contextlib.suppress(Exception):
                    while (event := await async_read_event(reader)) is not None:
                        if event.type == "error":
                            report.error(event)

            answers = asyncio.create_task(drain())
            try:
                writer.write(encode(RunSatellite().event()))
                for _ in range(rng.randrange(5, 60)):
                    writer.write(mutate(rng))
                    report.frames += 1
                await writer.drain()
                writer.write_eof()
                await asyncio.wait_for(answers, 2.0)
            except (OSError, TimeoutError):
                pass
            finally:
                answers.cancel()
                with contextlib.suppress(BaseException):
                    await answers
                writer.close()
        report.alive = proc.proc.returncode is None
        # The orchestrator dials the satellite again and is served.
        pipeline = Pipeline(ServicePool("asr", []), ServicePool("handle", []), ServicePool("tts", []))
        link = SatelliteLink(LinkConfig(proc.uri, ping_interval=0.5, ping_timeout=1.0), pipeline)
        task = asyncio.create_task(link.run(), name="link after fuzz")
        try:
            await asyncio.wait_for(link.connected.wait(), 5.0)
            await asyncio.sleep(1.5)  # pings go back and forth (a missed pong would drop the session)
            report.reestablished = link.connected.is_set() and link.info is not None and link.sessions == 1
        except TimeoutError:
            report.reestablished = False
        finally:
            await link.stop()
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            await pipeline.close()
        report.probes_answered = 1 if report.reestablished else 0
        report.unhandled_exceptions = log.tracebacks
    finally:
        report.seconds = round(time.monotonic() - started, 1)
        await proc.stop()
    return report


def write_results(reports: list[LinkReport], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "link_fuzz.json").write_text(json.dumps([asdict(r) for r in reports], indent=2))
    lines = ["| target | frames | `error`s back | sessions | probes answered / not | alive | re-established "
             "| unhandled exceptions | time (s) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in reports:
        lines.append(f"| {r.target} | {r.frames} | {r.errors_received} | {r.sessions} | {r.probes_answered} / "
                     f"{r.probes_unanswered} | {r.alive} | {r.reestablished} | {r.unhandled_exceptions} "
                     f"| {r.seconds} |")
    lines += ["", "Error codes sent back:", ""]
    lines += [f"- {r.target}: " + ", ".join(f"`{k}` {v}" for k, v in sorted(r.error_codes.items())) for r in reports]
    (out / "link_fuzz.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


async def main(frames: int, targets: list[str], seed: int, out: Path) -> int:
    reports = []
    for target in targets:
        print(f"fuzzing the {target} link with {frames} frames …", flush=True)
        report = await (fuzz_link(frames, seed) if target == "link" else fuzz_controller(frames, seed))
        print(json.dumps(asdict(report)), flush=True)
        reports.append(report)
    write_results(reports, out)
    return 0 if all(r.alive and r.reestablished and not r.unhandled_exceptions for r in reports) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--targets", default="link,controller")
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.frames, args.targets.split(","), args.seed, args.out)))
