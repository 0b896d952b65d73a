"""The command speaker (satellite.audio_io.CommandSink): bounded latency and an immediate stop.

Real processes: a command that never reads its input (a stalled sound device) and ``cat``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from satellite.audio_io import CommandSink

FRAME = b"\x01\x00" * 1323  # 60 ms at 22050 Hz (audible: silence while idle is not written)


async def test_a_stalled_device_drops_frames_instead_of_blocking_the_mic_loop() -> None:
    sink = CommandSink(["sleep", "30"], 22050, max_queue_ms=40)
    await sink.open()
    try:
        # 100 frames = 6 s of audio into a device that plays nothing: without the bound the
        # second write would wait for the pipe forever (and the mic with it).
        await asyncio.wait_for(_write(sink, 100), 10)
        assert sink.dropped_frames >= 95
    finally:
        sink.abort()
        await sink.close()


async def _write(sink: CommandSink, frames: int) -> None:
    for _ in range(frames):
        await sink.write(FRAME)


async def test_abort_kills_the_device_and_the_next_write_starts_it_again(tmp_path: Path) -> None:
    out = tmp_path / "played.raw"
    sink = CommandSink(["sh", "-c", f"cat >> {out}"], 22050)
    await sink.open()
    first = sink._proc
    assert first is not None
    await sink.write(b"\x01\x00" * 100)
    sink.abort()
    assert sink.aborts == 1 and sink._proc is None
    await sink.write(b"\x02\x00" * 100)  # waits for the killed one, starts a new one
    second = sink._proc
    assert second is not None and second.pid != first.pid
    assert first.returncode is not None  # killed (with its process group: no stray cat)
    assert second.stdin is not None
    second.stdin.close()  # end of input: cat writes everything and exits
    assert await asyncio.wait_for(second.wait(), 10) == 0
    assert out.read_bytes().endswith(b"\x02\x00" * 100)
    await sink.close()
