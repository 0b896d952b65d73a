"""A protocol handler driven directly (its own ``preempt``/``handle_event``, no server) over a
real socket pair: the test plays the reader, and reads what the handler writes."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from wyoming.event import Event, async_read_event

from voice_runtime.handler import ServiceHandler

H = TypeVar("H", bound=ServiceHandler)


@contextlib.asynccontextmanager
async def handler_pair(
    make: Callable[[asyncio.StreamReader, asyncio.StreamWriter], H],
) -> AsyncIterator[tuple[H, asyncio.StreamReader]]:
    """``make(reader, writer)`` on one end; yields it and the reader of the other end."""
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    client_reader, client_writer = await asyncio.open_connection(sock=theirs)
    handler = make(reader, writer)
    try:
        yield handler, client_reader
    finally:
        await handler.disconnect()
        for w in (writer, client_writer):
            w.close()
            await w.wait_closed()


async def read_until(reader: asyncio.StreamReader, event_type: str, timeout: float = 60.0) -> list[Event]:
    """What the handler wrote, up to and including the first ``event_type`` (each event within ``timeout``)."""
    got: list[Event] = []
    while not got or got[-1].type != event_type:
        event = await asyncio.wait_for(async_read_event(reader), timeout)
        assert event is not None, f"closed before {event_type}; got {[e.type for e in got]}"
        got.append(event)
    return got
