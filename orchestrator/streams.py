"""Stream helpers of a turn: the error a stage ends a turn with, and the next event of a service
within its inactivity timeout."""

from __future__ import annotations

from collections.abc import Callable

from wyoming.event import Event

from voice_runtime.tasks import TaskSet, race

from .services import Connection


class TurnError(Exception):
    """A turn failed with an error code sent to the satellite (documented in ARCHITECTURE.md)."""

    spoken: str | None = None  # said to the user instead of the general apology

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


async def next_event(conn: Connection, timeout: float, excused: Callable[[], bool] | None = None) -> Event:
    """The next event of ``conn``: TimeoutError after ``timeout`` s without one, unless
    ``excused()`` says the silence is ours (the service still waits for our input). The read is
    never interrupted mid-frame, so waiting on is safe."""
    async with TaskSet() as tasks:
        reading = tasks.spawn(conn.recv(), name=f"read {conn.uri}", awaited=True)
        while await race(reading, timeout=timeout) is None:
            if excused is None or not excused():
                raise TimeoutError(f"{conn.uri}: nothing for {timeout:.0f}s")
        return reading.result()
