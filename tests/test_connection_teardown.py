"""A controller connection cancelled while it tears down still detaches and stays cancelled.

Every service's connection (:class:`voice_runtime.handler.ServiceHandler.run`) ends by stopping
its worker, telling the subclass the client is gone (``disconnect``: the satellite forgets its
controller) and closing the socket. The server stopping it cancels it, and that cancel can land
at any point of the teardown. Two holes, both checked here at every loop position on a real
socket, the satellite's own handler and a real :class:`Satellite`:

* a cancel landing while the worker was being stopped skipped the rest (no ``disconnect``: the
  satellite kept a dead controller and would send it the next wake word's turn);
* Python 3.11's ``asyncio.wait_for`` around the socket's close returned normally when the close
  completed in the same loop pass as the cancel (the cancel was lost).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from wyoming.satellite import RunSatellite

from satellite.audio_io import MemorySink
from satellite.core import Satellite, SatelliteConfig
from satellite.handler import SatelliteHandler, satellite_info


class IdleMic:
    """The satellite is never started here: nothing reads the mic."""

    frame_bytes = 960

    async def open(self) -> None:
        return None

    async def read(self) -> bytes:
        raise EOFError

    async def close(self) -> None:
        return None


@contextlib.asynccontextmanager
async def socket_pair() -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter, asyncio.StreamWriter]]:
    """The server side's reader and writer, and the client's writer, of one real TCP connection."""
    accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = \
        asyncio.get_running_loop().create_future()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result((reader, writer))

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, client = await asyncio.open_connection("127.0.0.1", port)
    try:
        reader, writer = await accepted
        yield reader, writer, client
    finally:
        client.close()
        with contextlib.suppress(ConnectionError):
            await client.wait_closed()
        server.close()
        await server.wait_closed()


async def test_a_cancel_during_a_controller_connections_teardown_is_kept_and_it_still_detaches() -> None:
    satellite = Satellite(SatelliteConfig(), IdleMic(), MemorySink(16000))
    lost: list[int] = []
    kept_controller: list[int] = []
    still_open: list[int] = []
    tried = 0
    for passes in range(1, 17):  # cancel after 1, 2, 3 … loop passes (0: run() never starts)
        async with socket_pair() as (reader, writer, client):
            handler = SatelliteHandler(reader, writer, satellite=satellite,
                                       info=lambda: satellite_info("test", None))
            await handler.handle_event(RunSatellite().event())
            assert satellite.controller is handler
            client.close()  # the controller goes away: the connection tears itself down
            running = asyncio.create_task(handler.run())
            for _ in range(passes):
                await asyncio.sleep(0)
            cancelled = not running.done()
            if cancelled:
                tried += 1
                running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            if cancelled and not running.cancelled():
                lost.append(passes)
            if satellite.controller is handler:
                kept_controller.append(passes)
                satellite.detach(handler)
            if not writer.is_closing():
                still_open.append(passes)
    assert tried >= 4  # the teardown really was interrupted at several points
    assert kept_controller == [], f"a cancel after {kept_controller} passes left the controller attached"
    assert still_open == [], f"a cancel after {still_open} passes left the socket open"
    assert lost == [], f"the cancel was swallowed after {lost} loop passes"
