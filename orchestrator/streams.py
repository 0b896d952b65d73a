"""Stream helpers of a turn: the error a stage ends a turn with, and the next event of a service
within its inactivity timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from wyoming.event import Event

from voice_runtime.tasks import cancel_and_wait

from .services import Connection


class TurnError(Exception):
    """A turn failed with an error code sent to the satellite (documented in ARCHITECTURE.md)."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


async def next_event(conn: Connection, timeout: float, excused: Callable[[], bool] | None = None) -> Event:
    """The next event of ``conn``: TimeoutError after ``timeout`` s without one, unless
    ``excused()`` says the silence is ours (the service still waits for our input). The read is
    never interrupted mid-frame, so waiting on is safe."""
    reading = asyncio.ensure_future(conn.recv())
    try:
        while True:
            done, _ = await asyncio.wait({reading}, timeout=timeout)
            if done:
                return reading.result()
            if excused is None or not excused():
                raise TimeoutError(f"{conn.uri}: nothing for {timeout:.0f}s")
    finally:
        await cancel_and_wait(reading)
