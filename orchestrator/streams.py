"""Stream helpers of a turn: the next event of a service within its inactivity timeout, and the
satellite's audio raced against the speech-to-text service's own end of speech."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from wyoming.audio import AudioChunk
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


async def until_endpoint(audio: AsyncIterator[AudioChunk], reader: asyncio.Task[str]) -> AsyncIterator[AudioChunk]:
    """``audio`` until it ends or the speech-to-text service has answered (it found the end of
    speech itself). A reader that failed (connection lost) stops the race: the audio is still
    wanted, for another replica."""
    source = aiter(audio)
    racing = True
    while True:
        step = asyncio.ensure_future(anext(source))
        try:
            if racing:
                await asyncio.wait({step, reader}, return_when=asyncio.FIRST_COMPLETED)
                if not step.done():
                    if reader.cancelled() or reader.exception() is None or isinstance(reader.exception(), TurnError):
                        return
                    racing = False
            chunk = await step
        except StopAsyncIteration:
            return
        finally:
            await cancel_and_wait(step)
        yield chunk
