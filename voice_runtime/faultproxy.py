"""A loopback TCP proxy that injects network faults (reliability tests, soak runs).

Modes, switchable while connections are open:

* ``pass``: forward everything;
* ``delay``: hold every chunk ``delay`` seconds before forwarding it;
* ``drop``: keep connections open but forward nothing (a black hole, like lost Wi-Fi);
* ``truncate``: forward ``truncate_after`` bytes in the ``truncate_direction`` (``down``, the
  server's answer, by default; ``up``, what the client sends), then close both sides (a
  stream cut mid-audio);
* ``reset``: abort every connection with a TCP reset (``SO_LINGER`` 0), new ones too;
* ``loss``: packet loss as an application sees it over TCP (flaky Wi-Fi): each chunk is, with
  probability ``loss_rate``, held ``retransmit_delay`` seconds (the retransmission timeout),
  and everything behind it waits too. TCP never reorders or loses bytes for the application,
  so stalls are what loss and reordering become (seeded, so a test run is repeatable).

A fault can also be armed to strike at a point of a stream: :meth:`FaultProxy.fault_at`
(e.g. "cut the connection 32,000 bytes after the first ``audio-start`` the client sends").
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from dataclasses import dataclass, field
from typing import Literal

from .tasks import cancel_and_wait, race

Mode = Literal["pass", "delay", "drop", "truncate", "reset", "loss"]
Direction = Literal["up", "down"]  # up: client -> server; down: server -> client


@dataclass
class ArmedFault:
    """Strike ``mode`` once ``after`` bytes have followed the ``occurrence``-th ``marker`` in
    ``direction`` (``after`` may be negative, down to ``-len(marker)``: strike before the end
    of the marker, e.g. at a frame boundary when the marker starts a header line).

    ``truncate`` cuts the connection the marker was seen on (the proxy's mode is unchanged);
    any other mode becomes the proxy's mode (``reset`` aborts every open connection).
    """

    marker: bytes
    mode: Mode
    after: int = 0
    direction: Direction = "up"
    occurrence: int = 1
    fired: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class FaultProxy:
    target_host: str
    target_port: int
    mode: Mode = "pass"
    delay: float = 0.2
    truncate_after: int = 1024
    truncate_direction: Direction = "down"
    loss_rate: float = 0.1
    retransmit_delay: float = 0.2
    seed: int = 1
    stalls: int = 0  # chunks held back by the loss mode so far
    listen_host: str = "127.0.0.1"
    port: int = 0
    connections: int = 0
    _server: asyncio.AbstractServer | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _armed: ArmedFault | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _random: random.Random = field(default_factory=random.Random)
    _stopped: bool = False

    def __post_init__(self) -> None:
        self._random.seed(self.seed)

    @property
    def uri(self) -> str:
        return f"tcp://{self.listen_host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.listen_host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        if mode == "reset":
            for writer in list(self._writers):
                _reset(writer)

    def fault_at(self, marker: bytes, mode: Mode, *, after: int = 0, direction: Direction = "up",
                 occurrence: int = 1) -> ArmedFault:
        """Arm a one-shot fault (see :class:`ArmedFault`); ``await fault.fired.wait()`` to see it strike."""
        self._armed = ArmedFault(marker, mode, after, direction, occurrence)
        return self._armed

    async def idle(self) -> None:
        """Wait until no connection is open through the proxy."""
        async with self._changed:
            await self._changed.wait_for(lambda: not self._writers)

    @property
    def open_connections(self) -> int:
        return len(self._writers) // 2

    async def stop(self) -> None:
        self._stopped = True  # a connection still being set up is cut as soon as it is
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            await cancel_and_wait(task)
        if self._server is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self._server.wait_closed()

    async def _accept(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        if self.mode == "reset":
            _reset(c_writer)
            return
        try:
            s_reader, s_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            _reset(c_writer)
            return
        if self._stopped:  # stop() ran while this connection was being set up
            s_writer.close()
            _reset(c_writer)
            return
        self.connections += 1
        self._writers.update((c_writer, s_writer))
        pumps = [asyncio.create_task(self._pump(c_reader, s_writer, "up")),
                 asyncio.create_task(self._pump(s_reader, c_writer, "down"))]
        self._tasks.update(pumps)
        try:
            await race(*pumps)
        finally:
            for task in pumps:
                await cancel_and_wait(task)
            for writer in (c_writer, s_writer):
                self._writers.discard(writer)
                writer.close()
            self._tasks.difference_update(pumps)
            async with self._changed:
                self._changed.notify_all()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: Direction) -> None:
        sent = 0
        seen = b""  # the stream's tail, until an armed fault's marker is found in it
        found_count = 0
        countdown: int | None = None  # bytes to forward before the armed fault strikes
        while data := await reader.read(65536):
            armed = self._armed
            if armed is not None and armed.direction == direction and not armed.fired.is_set():
                if countdown is None:
                    # Keep len(marker) - 1 bytes of the previous chunks: a marker may span two.
                    tail = len(seen)
                    seen += data
                    start = 0
                    while countdown is None and (found := seen.find(armed.marker, start)) >= 0:
                        found_count += 1
                        start = found + len(armed.marker)
                        if found_count == armed.occurrence:
                            # Bytes of ``data`` before the strike point.
                            countdown = found + len(armed.marker) + armed.after - tail - len(data)
                    seen = seen[max(start, len(seen) - len(armed.marker) + 1):]
                else:
                    countdown -= len(data)
                if countdown is not None and countdown <= 0:
                    keep = max(0, len(data) + countdown)  # forward up to the fault point, then strike
                    await self._forward(writer, data[:keep])
                    armed.fired.set()
                    self._armed = None
                    if armed.mode == "truncate":
                        return
                    self.set_mode(armed.mode)
                    data = data[keep:]
                    if not data:
                        continue
            if self.mode == "drop":
                continue
            if self.mode == "delay":
                await asyncio.sleep(self.delay)
            elif self.mode == "loss" and self._random.random() < self.loss_rate:
                self.stalls += 1
                await asyncio.sleep(self.retransmit_delay)
            truncating = self.mode == "truncate" and direction == self.truncate_direction
            if truncating:
                room = self.truncate_after - sent
                if room <= 0:
                    return
                data = data[:room]
            await self._forward(writer, data)
            sent += len(data)
            if truncating and sent >= self.truncate_after:
                return

    async def _forward(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        if data and self.mode not in ("drop", "reset"):
            writer.write(data)
            await writer.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
