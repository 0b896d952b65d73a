"""Test helpers: run a service as a user does (a subprocess on a free port) and talk to it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from wyoming.event import Event, Eventable, async_read_event, async_write_event

from orchestrator.intents import IntentRecognizer
from voice_runtime.procs import ROOT, ServiceProcess, free_port, start_service

__all__ = ["ROOT", "Client", "ServiceProcess", "connected", "free_port", "start_service"]


class Client:
    """A minimal Wyoming client over TCP for tests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1") -> Client:
        reader, writer = await asyncio.open_connection(host, port, limit=16 * 1024 * 1024)
        return cls(reader, writer)

    async def send(self, event: Event | Eventable) -> None:
        await async_write_event(event if isinstance(event, Event) else event.event(), self.writer)

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def recv(self, timeout: float = 60.0) -> Event | None:
        return await asyncio.wait_for(async_read_event(self.reader), timeout)

    async def recv_until(self, event_type: str, timeout: float = 120.0) -> list[Event]:
        """Every event up to and including the first of ``event_type``."""
        events: list[Event] = []
        async with asyncio.timeout(timeout):
            while True:
                event = await async_read_event(self.reader)
                if event is None:
                    raise ConnectionError(f"closed before {event_type}; got {[e.type for e in events]}")
                events.append(event)
                if event.type == event_type:
                    return events

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def connected(port: int) -> AsyncIterator[Client]:
    client = await Client.connect(port)
    try:
        yield client
    finally:
        await client.close()


def long_answer_intents(folder: Path, answer: str) -> IntentRecognizer:
    """The built-in intents plus "read me the house rules", answered with ``answer`` (long, so a
    test can break the TTS or the link while the reply is still being spoken)."""
    extra = folder / "house_rules.yaml"
    extra.write_text(
        "language: en\nintents:\n  HouseRules:\n"
        f"    response: \"{answer}\"\n"
        "    data:\n      - sentences:\n          - \"(tell | read) me [the] house rules\"\n",
        encoding="utf-8",
    )
    return IntentRecognizer((extra,))
