"""Event hooks: tell an LED ring, a script or another Wyoming service what the satellite does.

* ``--event-command CMD``: CMD runs once per event with the event as one line of JSON on its
  stdin: ``{"type": "transcript", "data": {"text": "what time is it"}}``.
* ``--event-uri URI``: a Wyoming client (``tcp://host:port``) that sends each event as a
  Wyoming event of that type and data, as wyoming-satellite's ``--event-uri`` does.

Events: ``wake-detected`` (name), ``streaming-started``, ``streaming-stopped``,
``transcript`` (text), ``speaking`` (what: reply | announcement), ``played``,
``timer-ringing`` (id, name), ``timer-stopped`` (reason), ``error`` (code, text),
``muted`` (the controller paused the satellite).

Never blocks the audio loop: :meth:`EventHooks.emit` is synchronous and only puts the event
on a bounded queue (when full, the oldest event is dropped, logged once per burst). One
task delivers them in order; a command gets ``command_timeout`` seconds and is killed after
that; a Wyoming peer that cannot be reached is retried on a later event, at most every
``retry_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from wyoming.client import AsyncClient
from wyoming.event import Event

from voice_runtime.tasks import cancel_and_wait

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class HooksConfig:
    command: tuple[str, ...] = ()
    uri: str | None = None
    max_queued: int = 64
    command_timeout: float = 5.0
    retry_seconds: float = 5.0

    @property
    def enabled(self) -> bool:
        return bool(self.command or self.uri)


class EventHooks:
    def __init__(self, config: HooksConfig) -> None:
        self.config = config
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(config.max_queued)
        self._task: asyncio.Task[None] | None = None
        self._client: AsyncClient | None = None
        self._next_connect = 0.0
        self.delivered = 0
        self.dropped = 0

    def emit(self, name: str, data: dict[str, Any]) -> None:
        event = (name, {key: value for key, value in data.items() if value is not None})
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._queue.get_nowait()
            self._queue.put_nowait(event)
            if self.dropped == 0 or self.dropped % 100 == 0:
                _LOGGER.warning("event hook is slow: dropped the oldest event (%d so far)", self.dropped + 1)
            self.dropped += 1

    async def start(self) -> None:
        self._task = asyncio.create_task(self._deliver(), name="event hooks")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self._client is not None:
            with contextlib.suppress(OSError):
                await self._client.disconnect()
            self._client = None

    async def flush(self) -> None:
        """Wait until every queued event has been delivered (for tests)."""
        await self._queue.join()

    async def _deliver(self) -> None:
        while True:
            name, data = await self._queue.get()
            try:
                if self.config.command:
                    await self._run_command(name, data)
                if self.config.uri:
                    await self._forward(name, data)
                self.delivered += 1
            finally:
                self._queue.task_done()

    async def _run_command(self, name: str, data: dict[str, Any]) -> None:
        line = json.dumps({"type": name, "data": data}, default=str).encode() + b"\n"
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.config.command, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        except OSError as err:
            _LOGGER.error("event command cannot start: %s", err)
            return
        try:
            async with asyncio.timeout(self.config.command_timeout):
                await proc.communicate(line)
        except TimeoutError:
            _LOGGER.warning("event command took longer than %.1f s: killed", self.config.command_timeout)
            proc.kill()
            await proc.wait()
        if proc.returncode:
            _LOGGER.debug("event command exited with %s for %s", proc.returncode, name)

    async def _forward(self, name: str, data: dict[str, Any]) -> None:
        assert self.config.uri is not None
        loop = asyncio.get_running_loop()
        if self._client is None:
            if loop.time() < self._next_connect:
                return
            client = AsyncClient.from_uri(self.config.uri)
            try:
                async with asyncio.timeout(self.config.command_timeout):
                    await client.connect()
            except (OSError, TimeoutError) as err:
                self._next_connect = loop.time() + self.config.retry_seconds
                _LOGGER.warning("event uri %s unreachable: %s", self.config.uri, err)
                return
            self._client = client
        try:
            async with asyncio.timeout(self.config.command_timeout):
                await self._client.write_event(Event(type=name, data=data))
        except (OSError, TimeoutError) as err:
            _LOGGER.warning("event uri %s: %s; reconnecting later", self.config.uri, err)
            with contextlib.suppress(OSError):
                await self._client.disconnect()
            self._client = None
            self._next_connect = loop.time() + self.config.retry_seconds
