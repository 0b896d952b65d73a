"""Fuzz every server with mutated Wyoming frames while a well-behaved client keeps using it.

For each server (run as a real process on its default models): N frames (default 100,000)
built from valid events of every kind the servers accept, then mutated — flipped bytes,
wrong or huge lengths, broken or non-object JSON, wrong field types, random event orders,
truncated frames — sent over many short connections. Meanwhile a well-behaved client sends
``describe`` every 0.5 s and must get ``info`` within 1 s. Reported per server: frames sent,
``error`` events received, connections the server closed, process still alive, RSS before and
after, the slowest ``describe``.

    .venv/bin/python bench/fuzz_bench.py [--frames 100000] [--servers whisper,tts,llama,satellite]
                                         [--atheris-runs 100000]
With ``atheris`` importable (the ``bench`` extra, in ``all``; x86-64 Linux), the frame reader
``voice_runtime.protocol.read_frame`` is also fuzzed in-process, coverage-guided, for that many
inputs: any exception other than ``ProtocolError`` is counted by type (the run goes on).
Results: bench/results/fuzz.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wyoming.event import Event, async_read_event, async_write_event  # noqa: E402
from wyoming.info import Describe  # noqa: E402

from voice_runtime.audio import PCM16_MONO_16K, write_wav  # noqa: E402
from voice_runtime.procs import ServiceProcess, start_service  # noqa: E402

SERVERS = {
    "whisper": ("wyoming_whisper", ["--model", "tiny.en"]),
    "tts": ("wyoming_kokoro", ["--provider", "piper", "--engines", "piper"]),
    "llama": ("wyoming_llama", ["--max-tokens", "8"]),
    # A real (silent) mic and speaker: a fuzzed run-satellite arms the satellite, which then
    # opens them; with /dev/null as its mic it would exit, as it should when its mic is gone.
    "satellite": ("satellite", ["--no-wake-word", "--mic-wav", "{tmp}/mic.wav", "--snd-wav", "{tmp}/speaker.wav",
                                "--no-tones"]),
}
SEEDS: list[Event] = [
    Event("describe"),
    Event("transcribe", {"language": "en"}),
    Event("audio-start", {"rate": 16000, "width": 2, "channels": 1}),
    Event("audio-chunk", {"rate": 16000, "width": 2, "channels": 1}, b"\x00\x01" * 160),
    Event("audio-stop"),
    Event("synthesize", {"text": "Hi."}),
    Event("synthesize-start", {}),
    Event("synthesize-chunk", {"text": "Hel"}),
    Event("synthesize-stop"),
    Event("transcript", {"text": "", "context": {"conversation_id": "fuzz"}}),
    Event("run-satellite"),
    Event("pause-satellite"),
    Event("ping", {"text": "x"}),
    Event("played"),
    Event("run-pipeline", {"start_stage": "asr", "end_stage": "tts"}),
]


def encode(event: Event) -> bytes:
    header: dict[str, object] = {"type": event.type}
    data = json.dumps(event.data).encode() if event.data else b""
    if data:
        header["data_length"] = len(data)
    if event.payload:
        header["payload_length"] = len(event.payload)
    return json.dumps(header).encode() + b"\n" + data + (event.payload or b"")


def mutate(rng: random.Random) -> bytes:
    event = rng.choice(SEEDS)
    raw = bytearray(encode(event))
    kind = rng.randrange(9)
    if kind == 0:  # flip bytes anywhere
        for _ in range(rng.randrange(1, 6)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    elif kind == 1:  # lie about the payload length (small lies only: huge ones are refused outright)
        header = {"type": event.type, "payload_length": rng.choice([-1, 0, 3, 10_000_000, "7", None])}
        raw = bytearray(json.dumps(header).encode() + b"\n" + b"\x00" * rng.randrange(8))
    elif kind == 2:  # not an object / not JSON
        raw = bytearray(rng.choice([b"[]\n", b"42\n", b"null\n", b"{\n", b"\xff\xfe\n", b"\n"]))
    elif kind == 3:  # fields of the wrong type
        data: dict[str, Any] = {k: rng.choice([None, 1, "x", [], {}, -5, 1e300]) for k in (event.data or {"text": 0})}
        raw = bytearray(encode(Event(event.type, data, event.payload)))
    elif kind == 4:  # truncated
        raw = raw[: rng.randrange(len(raw))]
    elif kind == 5:  # unknown type
        raw = bytearray(encode(Event(rng.choice(["", "x" * 50, "audio", "💥"]), event.data)))
    elif kind == 8:  # JSON the parser itself chokes on: deep nesting, integers past 4,300 digits
        raw = bytearray(rng.choice([b"[" * 5000 + b"\n", b'{"type": "ping", "n": ' + b"7" * 5000 + b"}\n"]))
    # 6, 7: the valid event, in a random place of a random order
    return bytes(raw)


@dataclass
class Report:
    server: str
    frames: int = 0
    errors_received: int = 0
    connections: int = 0
    closed_by_server: int = 0
    alive: bool = True
    rss_mb_before: float = 0.0
    rss_mb_after: float = 0.0
    slowest_describe_s: float = 0.0
    failed_describes: int = 0
    unhandled_exceptions: int = 0  # tracebacks in the server's log (a frame not answered with an error)
    seconds: float = 0.0
    error_codes: dict[str, int] = field(default_factory=dict)


class CountingLog(list[str]):
    """A server's log lines (as ServiceProcess keeps them, capped), counting tracebacks as they come."""

    tracebacks = 0

    def append(self, line: str) -> None:
        if line.startswith("Traceback"):
            self.tracebacks += 1
        super().append(line)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def attack(proc: ServiceProcess, frames: int, rng: random.Random, report: Report) -> None:
    sent = 0
    while sent < frames:
        if proc.proc.returncode is not None:
            report.alive = False
            return  # the server died: stop, do not spin on refused connections
        report.connections += 1
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", proc.port, limit=1 << 24)
        except OSError:
            await asyncio.sleep(0.05)
            continue

        async def drain_answers(reader: asyncio.StreamReader = reader) -> None:
            with contextlib.suppress(Exception):
                while (event := await async_read_event(reader)) is not None:
                    if event.type == "error":
                        report.errors_received += 1
                        code = str(event.data.get("code"))
                        report.error_codes[code] = report.error_codes.get(code, 0) + 1
                report.closed_by_server += 1

        answers = asyncio.create_task(drain_answers())
        try:
            for _ in range(rng.randrange(5, 60)):
                writer.write(mutate(rng))
                sent += 1
                report.frames += 1
                if sent % 20 == 0:
                    await writer.drain()
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


async def watchdog(port: int, report: Report, stop: asyncio.Event) -> None:
    while not stop.is_set():
        start = time.monotonic()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1.0)
            try:
                await async_write_event(Describe().event(), writer)
                while True:
                    event = await asyncio.wait_for(async_read_event(reader), 1.0)
                    if event is None or event.type == "info":
                        break
                if event is None:
                    report.failed_describes += 1
            finally:
                writer.close()
        except (OSError, TimeoutError):
            report.failed_describes += 1
        report.slowest_describe_s = max(report.slowest_describe_s, time.monotonic() - start)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def fuzz(name: str, frames: int, workers: int, seed: int) -> Report:
    module, template = SERVERS[name]
    report = Report(name)
    tmp = Path(tempfile.mkdtemp(prefix="fuzz-"))
    write_wav(str(tmp / "mic.wav"), bytes(32000), PCM16_MONO_16K)
    args = [a.format(tmp=tmp) for a in template]
    proc: ServiceProcess = await start_service(module, *args)
    log = CountingLog(proc.log)
    proc.log = log
    try:
        report.rss_mb_before = round(rss_mb(proc.pid), 1)
        stop = asyncio.Event()
        dog = asyncio.create_task(watchdog(proc.port, report, stop))
        started = time.monotonic()
        rng = random.Random(seed)
        await asyncio.gather(*(attack(proc, frames // workers, random.Random(rng.random()), report)
                               for _ in range(workers)))
        report.seconds = round(time.monotonic() - started, 1)
        stop.set()
        await dog
        report.alive = report.alive and proc.proc.returncode is None
        report.rss_mb_after = round(rss_mb(proc.pid), 1) if report.alive else 0.0
        report.unhandled_exceptions = log.tracebacks
    finally:
        await proc.stop()
    return report


def atheris_child(runs: int, out: Path) -> None:
    """Runs inside a child process: libFuzzer exits the process when it is done."""
    import atheris  # type: ignore[import-not-found,import-untyped,unused-ignore]

    with atheris.instrument_imports():
        from voice_runtime.limits import Limits
        from voice_runtime.protocol import ProtocolError, read_frame
    limits = Limits()
    loop = asyncio.new_event_loop()
    found: dict[str, dict[str, object]] = {}
    count = [0]

    async def read_all(data: bytes) -> None:
        reader = asyncio.StreamReader(limit=limits.max_header_bytes + 1)
        reader.feed_data(data)
        reader.feed_eof()
        while True:
            try:
                if await read_frame(reader, limits) is None:
                    return
            except ProtocolError as err:
                if err.fatal:
                    return

    def one_input(data: bytes) -> None:
        count[0] += 1
        try:
            loop.run_until_complete(read_all(data))
        except Exception as err:  # what the reader should have turned into an error event
            entry = found.setdefault(type(err).__name__, {"count": 0, "example": data[:200].decode("latin-1")})
            entry["count"] = int(str(entry["count"])) + 1
        if count[0] % 500 == 0 or count[0] >= runs:  # libFuzzer ends the process with _exit
            out.write_text(json.dumps({"inputs": count[0], "unexpected_exceptions": found}))

    corpus = Path(tempfile.mkdtemp(prefix="fuzz-corpus-"))
    for index, seed in enumerate(SEEDS):  # start from valid frames of every kind
        (corpus / f"seed-{index}").write_bytes(encode(seed))
    atheris.Setup([sys.argv[0], f"-runs={runs}", "-max_len=8192", "-seed=1", str(corpus)], one_input)
    atheris.Fuzz()


async def run_atheris(runs: int, out_dir: Path) -> dict[str, object]:
    out = out_dir / "fuzz_atheris.json"
    out.unlink(missing_ok=True)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--atheris-child", str(runs), "--out", str(out_dir),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    if not out.exists():
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        return {"inputs": 0, "error": tail[0]}
    return dict(json.loads(out.read_text()))


async def main(args: argparse.Namespace) -> int:
    reports = []
    atheris_result: dict[str, object] | None = None
    if args.atheris_runs:
        print(f"atheris: {args.atheris_runs} inputs into read_frame …", flush=True)
        args.out.mkdir(parents=True, exist_ok=True)
        atheris_result = await run_atheris(args.atheris_runs, args.out)
        print(json.dumps(atheris_result), flush=True)
    for name in filter(None, args.servers.split(",")):
        print(f"fuzzing {name} with {args.frames} frames …", flush=True)
        report = await fuzz(name, args.frames, args.workers, args.seed)
        print(json.dumps(asdict(report)), flush=True)
        reports.append(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fuzz.json").write_text(json.dumps({"servers": [asdict(r) for r in reports],
                                                   "atheris": atheris_result}, indent=2))
    lines = ["# Fuzzing", "", f"{args.frames} mutated frames per server, {args.workers} attacking connections at "
             "a time, a well-behaved client sending `describe` every 0.5 s (1 s deadline).", "",
             "| server | frames | errors back | closed by server | alive | RSS before → after (MB) "
             "| slowest describe (s) | failed describes | unhandled exceptions | time (s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in reports:
        lines.append(f"| {r.server} | {r.frames} | {r.errors_received} | {r.closed_by_server} | {r.alive} | "
                     f"{r.rss_mb_before} → {r.rss_mb_after} | {r.slowest_describe_s:.3f} | {r.failed_describes} | "
                     f"{r.unhandled_exceptions} | {r.seconds} |")
    lines += ["", "Error codes sent back:", ""]
    lines += [f"- {r.server}: " + ", ".join(f"`{k}` {v}" for k, v in sorted(r.error_codes.items())) for r in reports]
    if atheris_result is not None:
        lines += ["", f"atheris (coverage-guided) on `read_frame`: {json.dumps(atheris_result)}"]
    (args.out / "fuzz.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    bad = [r for r in reports if not r.alive or r.failed_describes or r.unhandled_exceptions]
    return 1 if bad or (atheris_result or {}).get("unexpected_exceptions") else 0


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--atheris-runs", type=int, default=100_000, help="0: skip the atheris run")
    parser.add_argument("--atheris-child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.atheris_child:
        atheris_child(args.atheris_child, args.out / "fuzz_atheris.json")
        return 0
    return asyncio.run(main(args))


if __name__ == "__main__":
    sys.exit(cli())
