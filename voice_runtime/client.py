"""The client side of a Wyoming connection, where more than one program needs it: opening a
``tcp://``/``unix://`` URI and asking a service what it is (``describe`` -> ``info``).

Used by the orchestrator (its service pools, discovery, the TTS voice list) and by `hearth serve`
(whether an engine is ready yet); voice_runtime imports nothing of the orchestrator.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlparse

from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Describe, Info

READ_LIMIT = 16 * 1024 * 1024  # a line of an event header may be long (an info with many voices)


async def open_uri(
    uri: str, timeout: float | None = 5.0, limit: int = READ_LIMIT
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to ``tcp://HOST:PORT`` or ``unix://PATH`` within ``timeout`` s (ValueError: another URI)."""
    parsed = urlparse(uri)
    async with asyncio.timeout(timeout):
        if parsed.scheme == "tcp" and parsed.hostname and parsed.port:
            return await asyncio.open_connection(parsed.hostname, parsed.port, limit=limit)
        if parsed.scheme == "unix":
            return await asyncio.open_unix_connection(parsed.path, limit=limit)
    raise ValueError(f"unsupported service URI {uri!r}: use tcp://HOST:PORT or unix://PATH")


async def read_event(reader: asyncio.StreamReader, uri: str) -> Event:
    """The next event from ``uri``; ConnectionResetError when it closed the connection (or cut it
    inside a frame) instead."""
    try:
        event = await async_read_event(reader)
    except asyncio.IncompleteReadError as err:
        raise ConnectionResetError(f"{uri} cut the connection mid-frame") from err
    if event is None:
        raise ConnectionResetError(f"{uri} closed the connection")
    return event


async def describe(uri: str, timeout: float = 3.0) -> Info:
    """The ``info`` of the service at ``uri``: connect, ``describe``, read up to its answer.

    TimeoutError: no answer within ``timeout`` (for the connect, and again for the answer);
    ConnectionResetError: the service closed the connection first; OSError: not reachable.
    """
    reader, writer = await open_uri(uri, timeout)
    try:
        await async_write_event(Describe().event(), writer)
        async with asyncio.timeout(timeout):
            while not Info.is_type((event := await read_event(reader, uri)).type):
                pass  # (an error left in the connection, a late event of an earlier request)
            return Info.from_event(event)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await writer.wait_closed()
