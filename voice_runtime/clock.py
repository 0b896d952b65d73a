"""Injectable clocks, so timing logic is tested without sleeping."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    """The real clock."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ManualClock:
    """A clock that moves only when told to; ``sleep`` returns once time has been advanced.

    For tests of retry/backoff/timeout logic: ``advance()`` wakes every sleeper whose
    deadline has passed.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []
        self.slept: list[float] = []
        self._sleeps: asyncio.Queue[float] = asyncio.Queue(maxsize=1000)  # for next_sleep()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self._sleeps.put_nowait(seconds)
        if seconds <= 0:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + seconds, fut))
        await fut

    async def next_sleep(self) -> float:
        """Wait until the code under test calls ``sleep`` (each call is reported once, in
        order); how long it asked to sleep. A test steps through a schedule with it."""
        return await self._sleeps.get()

    def advance(self, seconds: float) -> None:
        self._now += seconds
        keep: list[tuple[float, asyncio.Future[None]]] = []
        for deadline, fut in self._sleepers:
            if deadline <= self._now:
                if not fut.done():
                    fut.set_result(None)
            else:
                keep.append((deadline, fut))
        self._sleepers = keep

    @property
    def sleeping(self) -> int:
        return sum(1 for _, fut in self._sleepers if not fut.done())
