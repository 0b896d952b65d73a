"""The orchestrator's link dials a satellite that is not there yet quickly at first and then
backs off: a satellite started just after the orchestrator is reached within a second (it was
a fixed 10 s wait), a missing one is not hammered, and a session that served a while resets it.

Real sockets (a refused loopback port, then a real listening one); the clock is a ManualClock
so the waits are read, not slept."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import pytest
from wyoming.event import async_read_event

from orchestrator.pipeline import Pipeline
from orchestrator.satellite_link import LinkConfig, SatelliteLink
from orchestrator.services import ServicePool
from voice_runtime.clock import ManualClock


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_absent_satellite_is_retried_after_half_a_second_doubling_to_the_cap() -> None:
    clock = ManualClock()
    port = _free_port()  # nothing listens: every dial is refused at once
    pipeline = Pipeline(ServicePool("asr", []), ServicePool("handle", []), ServicePool("tts", []))
    link = SatelliteLink(LinkConfig(f"tcp://127.0.0.1:{port}", reconnect_delay=10.0), pipeline, clock=clock)
    task = asyncio.create_task(link.run())
    waits = []
    try:
        for _ in range(7):
            waits.append(await clock.next_sleep())
            clock.advance(waits[-1])
        # The satellite comes up: the next dial (after the capped wait) connects.
        connected = asyncio.Event()

        async def satellite(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            event = await async_read_event(reader)
            if event is not None and event.type == "run-satellite":
                connected.set()
            with contextlib.suppress(Exception):
                while await async_read_event(reader) is not None:
                    pass
            writer.close()

        server = await asyncio.start_server(satellite, "127.0.0.1", port)
        try:
            while not connected.is_set():
                wait = await clock.next_sleep()
                clock.advance(wait)
                if wait == 10.0:
                    break
            await connected.wait()
        finally:
            server.close()
    finally:
        await link.stop()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert link.sessions == 1


async def test_an_unreachable_satellite_is_logged_once_per_outage(caplog: pytest.LogCaptureFixture) -> None:
    # A satellite unplugged for an hour used to add an INFO line every 10 s (one per dial).
    clock = ManualClock()
    port = _free_port()
    pipeline = Pipeline(ServicePool("asr", []), ServicePool("handle", []), ServicePool("tts", []))
    config = LinkConfig(f"tcp://127.0.0.1:{port}", ping_interval=1000.0, reconnect_delay=10.0)
    link = SatelliteLink(config, pipeline, clock=clock)
    caplog.set_level(logging.DEBUG, logger="orchestrator.satellite_link")

    def said() -> list[int]:
        return [r.levelno for r in caplog.records if "unreachable" in r.getMessage()]

    async def dials(count: int) -> None:
        while len(said()) < count:
            wait = await clock.next_sleep()
            if wait != 1000.0:  # (the pinger of a session)
                clock.advance(wait)

    task = asyncio.create_task(link.run())
    try:
        await dials(8)
        assert said() == [logging.INFO] + [logging.DEBUG] * 7
        connected = asyncio.Event()

        async def satellite(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await async_read_event(reader)
            connected.set()
            writer.close()  # the satellite goes away again

        server = await asyncio.start_server(satellite, "127.0.0.1", port)
        try:
            while not connected.is_set():  # the next dial reaches it
                wait = await clock.next_sleep()
                if wait != 1000.0:
                    clock.advance(wait)
        finally:
            server.close()
            await server.wait_closed()
        before = len(said())
        await dials(before + 3)  # a new outage: said once again
        assert said()[before:] == [logging.INFO, logging.DEBUG, logging.DEBUG]
    finally:
        await link.stop()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
    assert link.sessions == 1
