"""How long after the satellite writes a reply's first frame a card fed by a sound command plays it.

Offline, no room run: a stand-in card of our own (``--card``, a process of its own) reads a FIFO as
the room simulator's speaker does (``/work/shared/room/README.md``: 10 ms ticks, a 100 ms queue,
the FIFO shrunk to one page, reading stops while the queue is full, silence when it is empty) and
stamps when each sound's first sample plays (CLOCK_MONOTONIC, shared by all processes). The sound
command between the satellite and the FIFO is the room's own ``--player`` (a Python program: it
reads its stdin only once it has loaded). The satellite side is :class:`satellite.audio_io.CommandSink`
of whatever code ``PYTHONPATH`` points at, driven at 30 ms ticks of silence with a short loud
sound every ``--every`` s; after each sound the sink is aborted (as a barge-in does: the command
is killed and started again at the next write) unless ``--no-restart``.

    python -m bench.speaker_start_probe --sounds 10 --out /tmp/x.json

``--tap DIR... [--reader-ms ...]``: offline, no processes: a tapped room run's write times replayed
through the write-ahead and the sink's pipe rule into a card whose reader starts that many ms after each
(re)start, session 24's sink against session 25's (the replay of session 24's bench20b tap with the
player's measured 27.5 ms gives its live 0.048 s).

Printed: written -> played per sound (the card's level when the frame was written, plus the wait
for the card's next 10 ms tick), p50 / p95, and the sink's own estimate of the level then.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RATE = 22050
FRAME_S = 0.03
PLAYER = "/work/shared/room/room.py"


def card(fifo: str, out: str, seconds: float, block_s: float = 0.01, buffer_s: float = 0.1) -> None:
    """The room's speaker model (its FIFO read, its queue, its ticks); stamps each sound's first sample."""
    import fcntl

    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 4096)
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    qmax = int(buffer_s * RATE) * 2
    queue = bytearray()
    t0 = time.monotonic()
    sounds: list[float] = []
    firsts: list[float] = []  # the first data after each (re)open: the sound command has read and copied
    fresh = True
    quiet = 1.0  # seconds of silence played before the block
    k = 0
    with open(out + ".ready", "w"):
        pass
    while (due := t0 + (k + 1) * block_s) < t0 + seconds:
        while (left := due - time.monotonic()) > 0:
            room = qmax - len(queue)
            poller.modify(fd, select.POLLIN if room > 0 else 0)
            for _, ev in poller.poll(left * 1000):
                data = None
                if ev & select.POLLIN and room > 0:
                    try:
                        data = os.read(fd, room)
                    except BlockingIOError:
                        data = None
                if data:
                    if fresh:
                        firsts.append(time.monotonic())
                        fresh = False
                    queue += data
                elif ev & select.POLLHUP or data == b"":  # the writer went: drop what it left, reopen
                    queue.clear()
                    fresh = True
                    poller.unregister(fd)
                    os.close(fd)
                    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
                    fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 4096)
                    poller.register(fd, select.POLLIN)
        n = round((k + 2) * block_s * RATE) - round((k + 1) * block_s * RATE)
        take = min(len(queue), n * 2) // 2 * 2
        block = np.frombuffer(bytes(queue[:take]), "<i2")
        del queue[:take]
        loud = np.flatnonzero(np.abs(block) > 1000)
        if len(loud) and quiet >= 0.3:
            sounds.append(t0 + (k + 1) * block_s + loud[0] / RATE)  # this block plays from this tick on
        quiet = 0.0 if len(loud) else quiet + block_s
        k += 1
    Path(out).write_text(json.dumps({"sounds": sounds, "firsts": firsts}))


async def satellite(
    fifo: str, sounds: int, every: float, restart: bool, startup: float | None
) -> tuple[list[dict[str, float]], list[float]]:
    from satellite.audio_io import CommandSink

    argv = [sys.executable, PLAYER, "--player", fifo]
    if startup is not None:  # a sound program that loads in a known time, then copies as fast as cat
        argv = ["sh", "-c", f"sleep {startup}; exec cat > {fifo}"]
    sink = CommandSink(argv, RATE)  # the satellite's own queue limit
    await sink.open()
    silent = bytes(662 * 2)
    loud = (np.full(662, 8000, "<i2")).tobytes()
    writes: list[dict[str, float]] = []
    start = time.monotonic()
    n = 0
    next_sound = 1.5 + every  # the first sound after a settled start
    sound_ticks = round(0.3 / FRAME_S)
    in_sound = 0
    starts: list[float] = []
    while len(writes) < sounds or in_sound:
        n += 1
        if sink.ahead._fresh:  # (a probe: the next write is a start)
            starts.append(time.monotonic())
        await asyncio.sleep(max(0.0, start + n * FRAME_S - time.monotonic()))
        elapsed = time.monotonic() - start
        if not in_sound and elapsed >= next_sound:
            in_sound = sound_ticks
            level = sink.ahead.level_s
            writes.append(
                {
                    "written": time.monotonic(),
                    "level_estimate": level,
                    "underruns": sink.ahead.underruns,
                    "trimmed": sink.ahead.trimmed,
                }
            )
        if in_sound:
            await sink.write(loud)
            in_sound -= 1
            if not in_sound:
                next_sound = elapsed + every
                if restart:
                    await sink.write(silent)
                    sink.abort()
        else:
            await sink.write(silent)
    await sink.close()
    return writes, starts


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 4) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sounds", type=int, default=10)
    parser.add_argument("--every", type=float, default=2.5, help="seconds between sounds")
    parser.add_argument("--no-restart", action="store_true", help="do not abort the sink after each sound")
    parser.add_argument(
        "--startup-s",
        type=float,
        default=None,
        help="instead of the room's player: a command that starts reading after this (sleep; cat)",
    )
    parser.add_argument("--out", default=None)
    parser.add_argument("--card", nargs=3, metavar=("FIFO", "OUT", "SECONDS"), help=argparse.SUPPRESS)
    parser.add_argument("--tap", nargs="+", default=None, help="replay these taps instead (offline, no card process)")
    parser.add_argument("--reader-ms", type=float, nargs="+", default=[0, 10, 27.5, 45, 60, 100])
    args = parser.parse_args()
    if args.tap:
        for folder in args.tap:
            for ms in args.reader_ms:
                for new in (False, True):
                    print(json.dumps(replay(Path(folder), ms / 1000, new)))
        return
    if args.card:
        card(args.card[0], args.card[1], float(args.card[2]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        fifo, result = os.path.join(tmp, "snd.fifo"), os.path.join(tmp, "card.json")
        os.mkfifo(fifo)
        seconds = 2.0 + (args.sounds + 1) * (args.every + 0.3)
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.speaker_start_probe", "--card", fifo, result, str(seconds)],
            env=os.environ.copy(),
        )
        while not os.path.exists(result + ".ready"):
            time.sleep(0.01)
        writes, starts = asyncio.run(satellite(fifo, args.sounds, args.every, not args.no_restart, args.startup_s))
        proc.wait()
        card_log = json.loads(Path(result).read_text())
        played = card_log["sounds"]
    startup = [min((f for f in card_log["firsts"] if f >= s), default=s) - s for s in starts]
    waits, excess = [], []
    for w in writes:
        after = [p for p in played if p >= w["written"]]
        if after and after[0] - w["written"] < 0.5:
            waits.append(after[0] - w["written"])
            excess.append(waits[-1] - w["level_estimate"])  # what the card held that the sink did not know of
    report: dict[str, Any] = {
        "code": os.environ.get("PYTHONPATH", ""),
        "restart": not args.no_restart,
        "command": "room player" if args.startup_s is None else f"sleep {args.startup_s}; cat",
        "n": len(waits),
        "written_to_played_p50_p95_s": [_pct(waits, 50), _pct(waits, 95)],
        "all_s": [round(x, 4) for x in waits],
        "estimate_s": [round(w["level_estimate"], 4) for w in writes],
        "underruns_trimmed_so_far": [(int(w["underruns"]), int(w["trimmed"])) for w in writes],
        "excess_p50_p95_s": [_pct(excess, 50), _pct(excess, 95)],
        "excess_s": [round(x, 4) for x in excess],
        "underruns": int(writes[-1]["underruns"]) if writes else 0,
        "command_startup_s": [round(x, 4) for x in startup],
        "utc": time.strftime("%H:%M:%S", time.gmtime()),
        "load1": os.getloadavg()[0],
    }
    print(json.dumps(report))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))


def replay(folder: Path, reader_s: float, waits_for_reader: bool, max_queue_ms: float = 40.0) -> dict[str, Any]:
    """A tapped room run's write times through the write-ahead and the command sink's pipe rule, into a card
    (plays what arrived in order, silence when dry) whose reader starts ``reader_s`` after the first write
    and after each restart (a hold's kill). ``waits_for_reader``: session 25's sink (a frame dropped for a
    full pipe before the plan, the level counted from the read); else session 24's (plan, then drop).
    Per sound (>= 0.5 s of silence before): its first frame's write -> the card playing it."""
    from bench.echo_replay import ticks
    from bench.write_ahead_probe import _QUIET_BEFORE, _TapClock
    from satellite.write_ahead import WriteAhead

    clock = _TapClock()
    ahead = WriteAhead(RATE, clock=clock, waits_for_reader=waits_for_reader)
    max_pipe = RATE * 2 * max_queue_ms / 1000
    card_end, unread, reader_at, aborts, quiet = 0.0, 0, None, 0, 0
    first_write: float | None = None
    delays: list[float] = []
    for t in ticks(folder):
        clock.t = t.read
        if t.aborts_after != aborts:  # the live speaker was killed at this tick: a new command
            aborts = t.aborts_after
            ahead.dropped()
            card_end, unread, first_write, reader_at = 0.0, 0, None, None
        if reader_at is not None and unread and t.read >= reader_at:
            unread = 0  # the reader took the pipe at reader_at (already in the card below)
        if waits_for_reader and reader_at is not None and ahead.awaiting_reader and t.read >= reader_at:
            clock.t = reader_at
            ahead.reader_started()
            clock.t = t.read
        if waits_for_reader and unread > max_pipe:
            continue  # dropped before the plan
        out = ahead.plan(t.ref)
        if out is None or (not waits_for_reader and unread > max_pipe):
            continue  # trimmed away / dropped after the plan
        if first_write is None:
            first_write, reader_at = t.read, t.read + reader_s
        arrival = max(t.read, reader_at or t.read)
        if arrival > t.read:
            unread += len(out)
        starts_at = max(arrival, card_end) + (len(out) - len(t.ref)) / (2 * RATE)
        card_end = max(arrival, card_end) + len(out) / (2 * RATE)
        audible = bool(t.ref.strip(b"\0"))
        if audible and quiet >= _QUIET_BEFORE:
            delays.append(starts_at - t.read)
        quiet = 0 if audible else quiet + 1
    return {
        "tap": str(folder),
        "reader_ms": reader_s * 1000,
        "session25": waits_for_reader,
        "n": len(delays),
        "written_to_played_p50_p95_s": [_pct(delays, 50), _pct(delays, 95)],
        "underruns": ahead.underruns,
        "trimmed": ahead.trimmed,
    }


if __name__ == "__main__":
    main()
