"""The shared server runtime on real sockets and real zeroconf on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from helpers import Client, connected
from wyoming.error import Error
from wyoming.event import Event, async_read_event, async_write_event
from wyoming.info import Attribution, Describe, HandleModel, HandleProgram, Info
from wyoming.ping import Ping

from voice_runtime.discovery import browse
from voice_runtime.handler import ServiceHandler
from voice_runtime.limits import Limits
from voice_runtime.server import ServerConfig, WyomingServer

INFO = Info(
    handle=[
        HandleProgram(
            name="echo", description="test echo", attribution=Attribution("t", ""), installed=True,
            version="1", models=[HandleModel(name="echo", description="", attribution=Attribution("t", ""),
                                             installed=True, version="1", languages=["en"])],
        )
    ]
)


class EchoHandler(ServiceHandler):
    """Echoes 'echo' events; 'slow' blocks the worker until released (to prove describe still answers)."""

    release: asyncio.Event

    async def handle_event(self, event: Event) -> bool:
        if event.type == "echo":
            await self.write_event(Event("echo", event.data, event.payload))
            return True
        if event.type == "slow":
            await self.release.wait()
            await self.write_event(Event("slow-done"))
            return True
        if event.type == "boom":
            raise RuntimeError("handler bug")
        if event.type == "bye":
            return False
        return await super().handle_event(event)


@pytest.fixture(params=[False])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[WyomingServer]:
    release = asyncio.Event()

    def factory(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> EchoHandler:
        limits = Limits(max_payload_bytes=1024, max_connections=3)
        handler = EchoHandler(reader, writer, info=lambda: INFO, limits=limits)
        handler.release = release
        return handler

    srv = WyomingServer(
        ServerConfig(uri="tcp://127.0.0.1:0", program="echo", zeroconf=request.param,
                     zeroconf_name="hearth-test-echo",
                     limits=Limits(max_connections=3)),
        factory,
    )
    await srv.start()
    srv.release = release  # type: ignore[attr-defined]
    try:
        yield srv
    finally:
        release.set()
        await srv.stop()


@pytest.mark.parametrize("server", [True], indirect=True)
async def test_zeroconf_discover_describe_garbage_and_healthy_second_client(server: WyomingServer) -> None:
    found = await browse(timeout=5.0, interface="127.0.0.1", want="hearth-test-echo")
    match = [f for f in found if f.name == "hearth-test-echo"]
    assert match, f"not discovered; saw {found}"
    assert match[0].host == "127.0.0.1" and match[0].port == server.port

    async with connected(match[0].port) as client:
        await client.send(Describe())
        info = await client.recv()
        assert info is not None and Info.from_event(info).handle[0].name == "echo"

        await client.send_raw(b"this is not json\n")
        err = await client.recv()
        assert err is not None and err.type == "error" and Error.from_event(err).code == "bad-json"

        # The same connection keeps working after a non-fatal error.
        await client.send(Event("echo", {"x": 1}, b"abc"))
        echo = await client.recv()
        assert echo is not None and echo.data == {"x": 1} and echo.payload == b"abc"

    async with connected(server.port or 0) as second:
        await second.send(Event("echo", {"y": 2}))
        echo = await second.recv()
        assert echo is not None and echo.data == {"y": 2}


async def test_oversized_payload_is_refused_and_closes_only_that_connection(server: WyomingServer) -> None:
    async with connected(server.port or 0) as bad, connected(server.port or 0) as good:
        header = json.dumps({"type": "echo", "payload_length": 10_000_000}).encode() + b"\n"
        await bad.send_raw(header)
        err = await bad.recv()
        assert err is not None and Error.from_event(err).code == "frame-too-large"
        assert await bad.recv() is None  # closed

        await good.send(Event("echo", {"ok": True}))
        echo = await good.recv()
        assert echo is not None and echo.data == {"ok": True}


async def test_describe_and_ping_answer_while_worker_is_busy(server: WyomingServer) -> None:
    async with connected(server.port or 0) as client:
        await client.send(Event("slow"))
        await client.send(Describe())
        info = await client.recv(timeout=5)
        assert info is not None and info.type == "info"
        await client.send(Ping(text="p"))
        pong = await client.recv(timeout=5)
        assert pong is not None and pong.type == "pong" and pong.data.get("text") == "p"
        server.release.set()  # type: ignore[attr-defined]
        done = await client.recv(timeout=5)
        assert done is not None and done.type == "slow-done"


async def test_handler_exception_and_unknown_event_get_errors(server: WyomingServer) -> None:
    async with connected(server.port or 0) as client:
        await client.send(Event("boom"))
        err = await client.recv()
        assert err is not None and Error.from_event(err).code == "internal-error"
        await client.send(Event("no-such-event"))
        err = await client.recv()
        assert err is not None and Error.from_event(err).code == "unknown-event"
        await client.send(Event("echo", {"still": "alive"}))
        echo = await client.recv()
        assert echo is not None and echo.data == {"still": "alive"}


async def test_connection_limit(server: WyomingServer) -> None:
    clients = [await Client.connect(server.port or 0) for _ in range(3)]
    try:
        for c in clients:  # make sure all three are being served
            await c.send(Event("echo"))
            assert await c.recv() is not None
        extra = await Client.connect(server.port or 0)
        err = await extra.recv()
        assert err is not None and Error.from_event(err).code == "too-many-connections"
        await extra.close()
    finally:
        for c in clients:
            await c.close()


async def test_handler_returning_false_closes_connection(server: WyomingServer) -> None:
    async with connected(server.port or 0) as client:
        await client.send(Event("bye"))
        assert await client.recv() is None


@pytest.fixture
async def strict_server() -> AsyncIterator[WyomingServer]:
    limits = Limits(max_payload_bytes=65536, frame_timeout=0.5, write_timeout=0.5, queue_size=8)
    srv = WyomingServer(ServerConfig(uri="tcp://127.0.0.1:0", limits=limits),
                        lambda r, w: EchoHandler(r, w, info=lambda: INFO, limits=limits))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def test_slowloris_header_is_cut_off(strict_server: WyomingServer) -> None:
    async with connected(strict_server.port or 0) as client:
        await client.send_raw(b'{"type": "ec')  # ... and never the rest
        err = await client.recv(timeout=10)
        assert err is not None and Error.from_event(err).code == "frame-timeout"
        assert await client.recv(timeout=10) is None
    await asyncio.wait_for(strict_server.wait_connections(0), 10)


async def test_client_that_never_reads_is_dropped_and_others_are_served(strict_server: WyomingServer) -> None:
    port = strict_server.port or 0
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await async_write_event(Describe().event(), writer)
    assert (await async_read_event(reader)) is not None  # being served
    assert strict_server.connections == 1
    payload = b"x" * 60000
    frame = json.dumps({"type": "echo", "payload_length": len(payload)}).encode() + b"\n" + payload

    async def flood() -> None:
        try:
            for _ in range(2000):  # ~120 MB of echoes we never read
                writer.write(frame)
                await writer.drain()
        except ConnectionError:
            pass

    flooding = asyncio.create_task(flood())
    try:
        await asyncio.wait_for(strict_server.wait_connections(0), 30)  # the server let go of it
        async with connected(port) as good:
            await good.send(Event("echo", {"ok": 1}))
            echo = await good.recv(timeout=10)
            assert echo is not None and echo.data == {"ok": 1}
    finally:
        flooding.cancel()
        with contextlib.suppress(BaseException):
            await flooding
        writer.close()
