"""A loopback TCP proxy that injects network faults (reliability tests, soak runs).

Modes, switchable while connections are open:

* ``pass``: forward everything;
* ``delay``: hold every chunk ``delay`` seconds before forwarding it;
* ``drop``: keep connections open but forward nothing (a black hole, like lost Wi-Fi);
* ``truncate``: forward ``truncate_after`` bytes of the server's answer, then close both sides
  (a stream cut mid-audio);
* ``reset``: abort every connection with a TCP reset (``SO_LINGER`` 0), new ones too.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["pass", "delay", "drop", "truncate", "reset"]


@dataclass
class FaultProxy:
    target_host: str
    target_port: int
    mode: Mode = "pass"
    delay: float = 0.2
    truncate_after: int = 1024
    listen_host: str = "127.0.0.1"
    port: int = 0
    connections: int = 0
    _server: asyncio.AbstractServer | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

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

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _accept(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        if self.mode == "reset":
            _reset(c_writer)
            return
        try:
            s_reader, s_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            _reset(c_writer)
            return
        self.connections += 1
        self._writers.update((c_writer, s_writer))
        pumps = [asyncio.create_task(self._pump(c_reader, s_writer, limit=False)),
                 asyncio.create_task(self._pump(s_reader, c_writer, limit=True))]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            for task in pumps:
                with contextlib.suppress(BaseException):
                    await task
            for writer in (c_writer, s_writer):
                self._writers.discard(writer)
                writer.close()
            self._tasks.difference_update(pumps)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, limit: bool) -> None:
        sent = 0
        while data := await reader.read(65536):
            if self.mode == "drop":
                continue
            if self.mode == "delay":
                await asyncio.sleep(self.delay)
            if self.mode == "truncate" and limit:
                room = self.truncate_after - sent
                if room <= 0:
                    return
                data = data[:room]
            writer.write(data)
            sent += len(data)
            await writer.drain()
            if self.mode == "truncate" and limit and sent >= self.truncate_after:
                return


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
