"""A speaker command that exits is started again; a satellite without a sound card says so at start.

Real processes: ``sh -c 'head -c N >/dev/null'`` is a player that dies after N bytes (a sound
server restarted, a USB speaker unplugged); ``python -m satellite`` with a PortAudio device
index no machine has. The backoff runs on an injected clock (no sleeps).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import pytest
from proc import run_to_exit
from test_satellite_service import ScriptedController, Speech, satellite, silence, speech  # noqa: F401

from satellite.audio_io import CommandSink
from voice_runtime.audio import PCM16_MONO_16K, write_wav
from voice_runtime.clock import ManualClock

FRAME = b"\x01\x00" * 1323  # 60 ms at 22050 Hz (audible: silence while idle is not written)


async def _write_until_it_exits(sink: CommandSink) -> int:
    proc = sink._proc
    assert proc is not None
    await sink.write(FRAME)  # more than the player takes: it exits after reading its share
    return await asyncio.wait_for(proc.wait(), 10)


async def test_a_speaker_command_that_exits_is_started_again_with_a_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    sink = CommandSink(["sh", "-c", "head -c 1000 >/dev/null"], 22050, clock=clock)
    await sink.open()
    first = sink._proc
    assert first is not None
    try:
        with caplog.at_level(logging.INFO, logger="satellite"):
            assert await _write_until_it_exits(sink) == 0
            await sink.write(FRAME)  # it died young: not at once (no restart loop), the frame dropped
            assert sink._proc is None and sink.dropped_frames == 1  # counted: the echo path moves
            clock.advance(0.5)
            await sink.write(FRAME)
            second = sink._proc
            assert second is not None and second.pid != first.pid  # the old code never restarted it
            await asyncio.wait_for(second.wait(), 10)  # it took that frame and exited again
            await sink.write(FRAME)
            clock.advance(0.9)
            await sink.write(FRAME)
            assert sink._proc is None  # the backoff doubled to 1 s
            clock.advance(0.1)
            await sink.write(FRAME)
            assert sink._proc is not None and sink._proc.pid not in (first.pid, second.pid)
        exits = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(exits) == 1, [r.getMessage() for r in exits]  # logged once, not per frame or exit
        assert "speaker command exited (code 0)" in exits[0].getMessage()
        assert sink.exits == 2
    finally:
        await sink.close()


async def test_a_player_that_ran_a_while_is_started_again_at_once() -> None:
    clock = ManualClock()
    sink = CommandSink(["sh", "-c", "head -c 1000 >/dev/null"], 22050, clock=clock)
    await sink.open()
    try:
        first = sink._proc
        assert first is not None
        clock.advance(60)  # a minute of playing, then the sound server restarts
        assert await _write_until_it_exits(sink) == 0
        await sink.write(FRAME)
        assert sink._proc is not None and sink._proc.pid != first.pid
    finally:
        await sink.close()


async def test_a_closed_speaker_does_not_start_its_command_again() -> None:
    clock = ManualClock()
    sink = CommandSink(["sh", "-c", "head -c 1000 >/dev/null"], 22050, clock=clock)
    await sink.open()
    assert await _write_until_it_exits(sink) == 0
    await sink.close()
    clock.advance(60)
    await sink.write(FRAME)
    assert sink._proc is None


async def test_without_a_usable_sound_card_the_satellite_exits_2_at_start_saying_why() -> None:
    # Device 999 exists on no machine (this one has no card at all). The old code announced
    # itself and failed only when a controller connected ("Invalid input device", exit 1).
    exited = await run_to_exit(
        sys.executable,
        "-m",
        "satellite",
        "--uri",
        "tcp://127.0.0.1:0",
        "--no-tones",
        "--mic-device",
        "999",
        "--snd-command",
        "cat",
    )
    assert exited.code == 2
    assert "voice-satellite: error: no usable audio input: device '999'" in exited.stderr


async def test_a_player_that_stops_reading_but_runs_on_is_killed_and_replaced(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    os.mkfifo(ready)
    clock = ManualClock()
    sink = CommandSink(["sh", "-c", f"exec 0<&-; echo closed > {ready}; exec sleep 30"], 22050, clock=clock)
    await sink.open()
    first = sink._proc
    assert first is not None
    try:
        assert (await asyncio.wait_for(asyncio.to_thread(ready.read_text), 10)).strip() == "closed"
        await sink.write(FRAME)  # no reader left: a broken pipe, the process itself still runs
        assert sink.exits == 1 and sink._proc is None
        assert await asyncio.wait_for(first.wait(), 10) == -9  # killed, not left behind
        clock.advance(0.5)
        await sink.write(FRAME)
        assert sink._proc is not None and sink._proc.pid != first.pid
    finally:
        await sink.close()


async def test_the_user_hears_replies_again_after_the_satellites_player_died(
    speech: Speech,  # noqa: F811
    tmp_path: Path,
) -> None:
    # The player takes 0.25 s of 16 kHz audio and exits (the tones alone are longer). The old
    # satellite sent `played` for the reply while nothing was heard after the first 8000 bytes.
    mic = silence(0.5) + speech.mic("What is the weather like in Paris today?") + silence(1.0)
    write_wav(str(tmp_path / "mic.wav"), mic, PCM16_MONO_16K)
    out = tmp_path / "heard.raw"
    player = f"sh -c 'head -c 8000 >> {out}'"
    flags = ("--mic-wav", str(tmp_path / "mic.wav"), "--mic-wav-fast", "--snd-command", player,
             "--snd-rate", "16000", "--no-aec")  # fmt: skip
    async with (
        satellite(*flags) as sat,
        ScriptedController.connect(
            sat.port, lambda _turn: speech.reply("It is sunny in Paris today, with a light breeze.")
        ) as ctl,
    ):
        await ctl.wait(lambda: "played" in ctl.events)
        await sat.wait_log("speaker command exited (code")  # a broken pipe or code 0
    assert out.stat().st_size >= 2 * 8000  # a restarted player got the rest of the reply
