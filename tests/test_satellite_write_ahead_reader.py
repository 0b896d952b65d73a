"""A sound command that reads late (satellite.write_ahead ``waits_for_reader``, satellite.speakers.CommandSink).

A sound command just (re)started reads its pipe only once its program has loaded: the room's Python
player 27-58 ms after the satellite's first write. The card plays nothing before that, but the
write-ahead used to count its level down from the first write: the start-up stayed in the card as a
lead it did not know of, for good (session 25: room_bench's replies played 48 ms after they were
written with a 20 ms lead, all ten of them; the player had read its first bytes 27.5 ms late). Now
the level counts nothing as played until the sink saw its reader read, and the idle trim gives the
excess back, told to the canceller in whole units. All fail on session 24's code (the last one by 0.09 s
of frames it dropped but counted).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from test_satellite_write_ahead import FRAME, FRAME_S, LOUD, RATE, UNIT_S, CardModel, frame_samples

from satellite import write_ahead
from satellite.audio_io import CommandSink
from satellite.write_ahead import WriteAhead
from voice_runtime.clock import ManualClock

STARTUP_S = 0.045  # the reader's first read, after the first write


def _reply_after_late_reader(waits_for_reader: bool) -> tuple[float, WriteAhead]:
    """Ticks of silence into a card whose reader starts ``STARTUP_S`` after the first write (all that
    was written by then plays from that moment), 3 s idle, then a reply: how long after its first frame
    was written it plays."""
    clock = ManualClock()
    ahead, card = WriteAhead(RATE, clock=clock, waits_for_reader=waits_for_reader), CardModel(buffer_s=1.0)
    unread = b""
    start = clock.now()
    for n in range(101):
        tick = start + n * FRAME_S
        if unread and tick >= start + STARTUP_S:  # between two ticks the reader reads it all
            clock.advance(start + STARTUP_S - clock.now())
            ahead.reader_started()
            card.write(clock.now(), unread)
            unread = b""
        clock.advance(max(0.0, tick - clock.now()))
        size = frame_samples(n)
        pcm = LOUD[: size * 2] if n == 100 else bytes(size * 2)
        out = ahead.plan(pcm)
        if out is None:
            continue
        if clock.now() < start + STARTUP_S:
            unread += out
            continue
        plays = max(clock.now(), card.end) + (len(out) - len(pcm)) / (2 * RATE)
        card.write(clock.now(), out)
    return plays - clock.now(), ahead


def test_a_reader_that_starts_late_costs_the_next_reply_nothing() -> None:
    waited, ahead = _reply_after_late_reader(waits_for_reader=True)
    assert 0.02 <= waited < 0.02 + UNIT_S, waited
    assert ahead.trimmed > 0 and ahead.trimmed % write_ahead.trim_unit(RATE) == 0  # told to the canceller
    assert ahead.underruns == 0


def test_counted_from_the_first_write_the_start_up_stays_in_the_card() -> None:
    waited, _ = _reply_after_late_reader(waits_for_reader=False)  # the sinks before session 25
    assert waited >= 0.02 + STARTUP_S - 0.001, waited


def test_a_reader_never_reported_counts_as_started_after_a_while() -> None:
    clock = ManualClock()
    ahead = WriteAhead(RATE, clock=clock, waits_for_reader=True)
    ahead.plan(bytes(FRAME))
    assert ahead.awaiting_reader
    clock.advance(write_ahead.READER_START_MAX_S)
    ahead.plan(bytes(FRAME))
    assert not ahead.awaiting_reader


async def test_the_command_speaker_sees_its_command_read_late(tmp_path: Path) -> None:
    go, out = tmp_path / "go", tmp_path / "played.raw"
    os.mkfifo(go)
    clock = ManualClock()
    sink = CommandSink(["sh", "-c", f"read _ < {go}; exec cat > {out}"], RATE, max_queue_ms=10_000, clock=clock)
    await sink.open()
    try:
        for _ in range(4):  # the command has not read yet: nothing plays, the level is all that was written
            clock.advance(FRAME_S)
            await sink.write(bytes(FRAME))
        assert sink.ahead.awaiting_reader
        assert abs(sink.ahead.level_s - (0.02 + 4 * FRAME / 2 / RATE)) < 1e-9

        def release() -> None:
            with open(go, "w") as f:
                f.write("go\n")

        await asyncio.to_thread(release)
        async with asyncio.timeout(10):
            while sink.ahead.awaiting_reader:  # noqa: ASYNC110 (another process's read; the sink polls its pipe)
                await asyncio.sleep(0.002)
        held = sink.ahead.level_s
        assert abs(held - (0.02 + 4 * FRAME / 2 / RATE)) < 1e-9  # nothing played before the read
        for _ in range(60):  # idle: the excess is trimmed back to the lead
            clock.advance(FRAME_S)
            await sink.write(bytes(FRAME))
        assert 0.02 <= sink.ahead.level_s < 0.02 + UNIT_S + FRAME / 2 / RATE
        assert sink.ahead.trimmed > 0
    finally:
        await sink.close()


async def test_a_frame_dropped_for_a_full_pipe_is_not_in_the_level(tmp_path: Path) -> None:
    go = tmp_path / "go"
    os.mkfifo(go)
    clock = ManualClock()
    sink = CommandSink(["sh", "-c", f"read _ < {go}; exec cat > /dev/null"], RATE, clock=clock)  # 40 ms queue
    await sink.open()
    try:
        clock.advance(FRAME_S)
        for _ in range(4):  # a burst (a stall's backlog); the start (lead + frame, 50 ms) fills the pipe past 40 ms
            await sink.write(bytes(FRAME))
        assert sink.dropped_frames == 3
        assert abs(sink.ahead.level_s - (0.02 + FRAME / 2 / RATE)) < 1e-9  # what the pipe really holds

        def release() -> None:
            with open(go, "w") as f:
                f.write("go\n")

        await asyncio.to_thread(release)
    finally:
        await sink.close()
